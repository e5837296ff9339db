# Two entry points for a fresh clone: `make run` (build the warehouse end to end on the
# embedded default) and `make test` (the whole suite). Both create the virtualenv on demand.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test system-deps browser lint bench clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/capfc run

test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# Real components the tests start need Debian packages: Chromium (the report's browser test)
# and Prometheus + promtool (the Prometheus import test). CI (CI=true, root) installs what is
# missing; elsewhere those tests skip with a clear reason when a binary is absent.
SYSTEM_PACKAGES := chromium:chromium prometheus:prometheus promtool:prometheus

system-deps:
	@if [ "$$CI" = "true" ]; then \
	  missing=""; \
	  for pair in $(SYSTEM_PACKAGES); do \
	    command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; \
	  done; \
	  missing=$$(echo $$missing | tr ' ' '\n' | sort -u | tr '\n' ' ' | sed 's/ *$$//'); \
	  if [ -n "$$missing" ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	    || echo "warning: could not install $$missing; the tests that need them will skip"; \
	  fi; \
	fi

browser: system-deps

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/run_bench.py

clean:
	rm -rf target logs data warehouse
