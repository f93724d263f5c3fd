# tuningsweep: every target works on a fresh machine (it installs what it needs).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/.tools/bin:$(PATH)
CHART := helm/tuningsweep
HELM_HOME := $(CURDIR)/.tools/helm-home
HELM := HELM_CACHE_HOME=$(HELM_HOME)/cache HELM_CONFIG_HOME=$(HELM_HOME)/config HELM_DATA_HOME=$(HELM_HOME)/data $(CURDIR)/.tools/bin/helm
IMAGE ?= ghcr.io/tuningsweep/operator
IMAGE_TAG ?= $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' pyproject.toml)
CONTAINER_ENGINE ?= $(shell command -v docker || command -v podman)

.PHONY: install system-deps test test-fast lint bench crds demo chart image clean cluster-up cluster-down cluster-build

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

## test: install everything (the control plane's binaries are built once and cached), then
## run the whole suite (services and the local cluster start and stop themselves)
test: system-deps install cluster-build
	$(PY) -m pytest tests

## test-fast: the pure-core tests only (seconds)
test-fast: install
	$(PY) -m pytest tests/core -q

## lint: ruff, mypy (strict) and the import contracts (layers; pyproject's [tool.importlinter])
lint: install
	$(VENV)/bin/ruff check operator trainer-image tests bench cluster
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## bench: performance figures, written to bench/out/*.json and printed
bench: system-deps install
	$(PY) bench/run_all.py

## crds: regenerate crds/tuningsweep.yaml from the API schema (and the chart's copy)
crds: install
	$(PY) -c "from tuningsweep.core.kube.crd import render_crd; open('crds/tuningsweep.yaml','w').write(render_crd())"
	cp crds/tuningsweep.yaml $(CHART)/files/crds/tuningsweep.yaml

## chart: sync the chart's CRD copy, lint, run the chart tests, package into dist/
chart: system-deps install
	cp crds/tuningsweep.yaml $(CHART)/files/crds/tuningsweep.yaml
	$(HELM) lint --strict $(CHART)
	$(PY) -m pytest tests/chart -q
	$(HELM) package $(CHART) --destination dist

## image: build the operator image (docker with buildx, or podman); fails clearly without one
image:
	@engine="$(CONTAINER_ENGINE)"; \
	if [ -z "$$engine" ] || ! "$$engine" info >/dev/null 2>&1; then \
	  echo "make image: no working container engine (docker with buildx, or podman, with its daemon running); install or start one, or set CONTAINER_ENGINE=..." >&2; \
	  exit 1; \
	fi; \
	case "$$(basename "$$engine")" in \
	  podman*) "$$engine" build --ignorefile operator/Dockerfile.dockerignore -f operator/Dockerfile -t $(IMAGE):$(IMAGE_TAG) . ;; \
	  *) DOCKER_BUILDKIT=1 "$$engine" build -f operator/Dockerfile -t $(IMAGE):$(IMAGE_TAG) . ;; \
	esac

## cluster-build: build the local control plane's binaries (cached in ~/.cache/tuningsweep)
cluster-build:
	bash cluster/build.sh

## cluster-up: a real Kubernetes control plane on loopback with Kueue, stand-in GPU nodes,
## Prometheus, a GCS emulator and the operator; writes .cluster/env (docs/local-cluster.md)
cluster-up: system-deps install
	$(PY) -m cluster up

## cluster-down: stop everything cluster-up started
cluster-down:
	@if [ -x $(PY) ]; then $(PY) -m cluster down; else echo "cluster-down: not running"; fi

## demo: a small real sweep on synthetic data, locally, in fast mode
demo: install
	$(VENV)/bin/tuningsweep run examples/quickstart.yaml --results ./tuningsweep-results

clean:
	@if [ -x $(PY) ]; then $(PY) -m cluster down; fi
	rm -rf $(VENV) .cluster .tools .pytest_cache .mypy_cache .ruff_cache .import_linter_cache tuningsweep-results bench/out dist
