# tuningsweep: every target works on a fresh machine (it installs what it needs).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/.tools/bin:$(PATH)

.PHONY: install system-deps test test-fast lint typecheck bench crds check-crds demo chart image clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,operator,trainer]'
	touch $(STAMP)

## install: create .venv and install the project with its test and trainer dependencies
install: $(STAMP)

## system-deps: Debian packages (prometheus, pushgateway, chromium) and helm, as root
system-deps:
	bash scripts/install-system-deps.sh

## test: install everything, then run the whole suite (services start and stop themselves)
test: system-deps install
	$(PY) -m pytest tests

## test-fast: the pure-core tests only (seconds)
test-fast: install
	$(PY) -m pytest tests/core -q

## lint: ruff and mypy (strict)
lint: install
	$(VENV)/bin/ruff check operator trainer-image tests bench
	$(VENV)/bin/mypy

## bench: performance figures, written to bench/out/*.json and printed
bench: system-deps install
	$(PY) bench/run_all.py

## crds: regenerate crds/tuningsweep.yaml from the API schema
crds: install
	$(PY) -c "from tuningsweep.core.crd import render_crd; open('crds/tuningsweep.yaml','w').write(render_crd())"

## demo: a small real sweep on synthetic data, locally, in fast mode
demo: install
	$(VENV)/bin/tuningsweep run examples/quickstart.yaml --results ./tuningsweep-results

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache tuningsweep-results bench/out
