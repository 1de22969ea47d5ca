# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export OPENLFR_DATA ?= $(abspath ../shared/data)

.PHONY: venv demo test lint bench bench-env clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -U pip wheel setuptools
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

## Run the main job on the embedded default: a demo deployment on SQLite, a watchlist from the sample
## photos, and the live pipeline over the sample clip, printing alerts and the published record.
demo: venv
	OPENLFR_DATA_DIR=$${OPENLFR_DATA_DIR:-var/demo} $(BIN)/openlfr demo

## Lint, types, architecture layers, then every test (real models, real images, real databases).
test: venv lint
	$(BIN)/pytest -q -ra

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: venv
	$(BIN)/python benchmarks/verification.py

## A separate environment for the peer libraries of benchmarks/live.py (never openlfr's own dependencies).
bench-env: venv
	$(PYTHON) -m venv .venv-bench
	echo "import site; site.addsitedir('$(abspath $(VENV))/lib/python3.11/site-packages')" \
		> .venv-bench/lib/python3.11/site-packages/openlfr-main.pth
	.venv-bench/bin/pip install -q --no-deps -r benchmarks/requirements-peers.txt

clean:
	rm -rf $(VENV) .venv-bench var .pytest_cache .mypy_cache .ruff_cache
