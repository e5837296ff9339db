# Two entry points for a fresh clone: `make run` (build the warehouse end to end on the
# embedded default) and `make test` (the whole suite). Both create the virtualenv on demand.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test browser lint bench clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/capfc run

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The report's browser test needs Debian's Chromium. CI (CI=true, root) installs it; elsewhere
# the test skips with a clear reason when Chromium is absent.
browser:
	@if [ "$$CI" = "true" ] && ! command -v chromium >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; the browser test will skip"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/run_bench.py

clean:
	rm -rf target logs data warehouse
