# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export OPENLFR_DATA ?= $(abspath ../shared/data)
# This checkout's code always wins over whatever the virtualenv has installed (a shared or older editable one).
export PYTHONPATH := $(CURDIR)/src$(if $(PYTHONPATH),:$(PYTHONPATH))
# Extra pytest arguments, e.g. `make test PYTEST_ARGS=tests/store` for one suite.
PYTEST_ARGS ?=
# With the shared face data present nothing may be skipped: a skipped test fails the run (tests/require_all.py).
ifneq ($(wildcard $(OPENLFR_DATA)/.),)
export OPENLFR_REQUIRE_ALL ?= 1
endif
# The default .venv is reinstalled when pyproject.toml changes; a VENV given on the command line or in the
# environment (e.g. VENV=/work/main/.venv) is used as it is once installed, never reinstalled behind its back.
ifeq ($(origin VENV),file)
VENV_DEPS := pyproject.toml
endif

.PHONY: venv demo test lint docs docs-check bench bench-env clean

$(BIN)/.installed: $(VENV_DEPS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -U pip wheel setuptools
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

## Run the main job on the embedded default: a demo deployment on SQLite, a watchlist from the sample
## photos, and the live pipeline over the sample clip, printing alerts and the published record. Without the
## shared data, the sample is generated from public-domain images that installed packages carry.
demo: venv
	OPENLFR_DATA_DIR=$${OPENLFR_DATA_DIR:-var/demo} $(BIN)/openlfr demo

## Lint, types, architecture layers, then every test (real models, real images, real databases), with
## throwaway PostgreSQL and Redis servers and Debian's Chromium provided by scripts/test-services.sh.
## --durations=25: the CI log names the slowest tests, so a test that grows slow is seen.
test: venv lint docs-check
	scripts/test-services.sh $(BIN)/pytest -q -ra --durations=25 $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/ruff format --check src tests benchmarks docs
	$(BIN)/mypy
	$(BIN)/lint-imports

## The documentation site into site/ (MkDocs Material; no network). The configuration, CLI and API references
## are generated from the code by docs/hooks.py; docs/architecture.md is refreshed from the shared DESIGN.md.
docs: venv
	if [ -f "$(OPENLFR_DATA)/../DESIGN.md" ]; then cp "$(OPENLFR_DATA)/../DESIGN.md" docs/architecture.md; fi
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

## What `make test` checks of the site: it builds with --strict into a throwaway folder, so a broken link or anchor,
## a setting or command without a description, or an architecture page out of step with DESIGN.md fails the run.
## Never -q: quiet hides the warnings that --strict counts.
docs-check: venv
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -d "$$tmp"

bench: venv
	$(BIN)/python benchmarks/verification.py

## A separate environment for the peer libraries of benchmarks/live.py (never openlfr's own dependencies).
bench-env: venv
	$(PYTHON) -m venv .venv-bench
	echo "import site; site.addsitedir('$(abspath $(VENV))/lib/python3.11/site-packages')" \
		> .venv-bench/lib/python3.11/site-packages/openlfr-main.pth
	.venv-bench/bin/pip install -q --no-deps -r benchmarks/requirements-peers.txt

clean:
	rm -rf $(VENV) .venv-bench var site .pytest_cache .mypy_cache .ruff_cache
