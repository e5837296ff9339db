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

# Lint first: a style or type error fails fast, before the slow suites.
test: $(STAMP) system-deps
	@$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest

# Real components the tests start need Debian packages: Chromium (the report's browser test),
# Prometheus + promtool (the Prometheus import test) and a Java runtime (PySpark's local-mode
# JVM, test_spark_engine). CI (CI=true, root) installs what is missing; elsewhere those tests
# skip with a clear reason when a binary is absent.
SYSTEM_PACKAGES := chromium:chromium prometheus:prometheus promtool:prometheus java:default-jre-headless

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

# Same tools and pins as .pre-commit-config.yaml. sqlfluff compiles the dbt project once
# against the in-memory `lint` target (.sqlfluff), so it needs no warehouse.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/sqlfluff lint --disable-progress-bar models tests analyses
	$(BIN)/pre-commit validate-config .pre-commit-config.yaml

bench: $(STAMP)
	$(BIN)/python bench/run_bench.py

clean:
	rm -rf target logs data warehouse
