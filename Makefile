# Two entry points on a fresh machine: `make run` and `make test`. Each creates .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: run test test-fast bench docs browser-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,docs,run,dask,otel,frames,client]'
	touch $(STAMP)

# JupyterLab on the quickstart notebook, with the server extension enabled.
run: $(STAMP)
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) notebooks/01_quickstart.ipynb

# Debian's Chromium for the browser tests (never a downloaded browser build).
browser-deps:
	@bash scripts/ensure-chromium.sh

# The whole suite. pytest's exit code 5 (no tests collected) is a failure, not a pass.
test: $(STAMP) browser-deps
	$(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-fast: $(STAMP)
	$(PY) -m pytest -m "not browser and not slow"

bench: $(STAMP)
	$(PY) -m bench

docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W -b html docs docs/_build/html

clean:
	rm -rf $(VENV) .bench build dist *.egg-info docs/_build test-artifacts
