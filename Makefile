# dataeval_gpu — the two Quick start commands are `make run` and `make test`.
PY ?= python3
VENV ?= .venv
# absolute: scripts that change directory (fetch_photos.sh, gpu_check.sh) still find the interpreter
BIN := $(abspath $(VENV))/bin
EXTRAS ?= cpu,embeddings,lightning,data,report,test,parity
STAMP := $(VENV)/.installed-$(shell echo '$(EXTRAS)' | tr ',' '-')

.PHONY: setup run test test-slow test-integration test-all test-cuda bench photos fashion guide lint gpu-check clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	$(BIN)/python -m compileall -q dataeval_gpu >/dev/null  # bytecode now: where PYTHONDONTWRITEBYTECODE is set, every run compiled ~110 modules
	touch $(STAMP)

setup: $(STAMP)

## set everything up and run the main job on the bundled photos (no download)
run: $(STAMP)
	$(BIN)/dataeval-gpu scan --out out/scan

## the default test suite and the docstring examples as doctests (pyproject's addopts);
## slow and CUDA-only tests excluded; parity and integration tests included
test: $(STAMP)
	-@bash scripts/fetch_fashion_mnist.sh >/dev/null 2>&1 || echo "(Fashion-MNIST not fetched: its guide test will skip)"
	-@bash scripts/fetch_chromium.sh >/dev/null 2>&1 || echo "(Chromium not installed: the report's browser test will skip)"
	-@PYTHON=$(BIN)/python bash scripts/fetch_photos.sh >/dev/null 2>&1 || echo "(photos not fetched: 7 index and leakage tests will skip)"
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: $(STAMP) photos fashion
	$(BIN)/python -m pytest -m "slow" -q

## the end-to-end tests only (subprocesses, torchrun, Lightning fits, large data), slow ones too
test-integration: $(STAMP) photos fashion
	$(BIN)/python -m pytest -m "integration" -q

test-all: $(STAMP) photos fashion
	$(BIN)/python -m pytest -q

test-cuda: $(STAMP)
	$(BIN)/python -m pytest -m "cuda" --device cuda -q

## ~600 real JPEG photos from Debian packages into data_cache/photos (needs apt-get; Pillow from the venv)
photos: $(STAMP)
	PYTHON=$(BIN)/python bash scripts/fetch_photos.sh

fashion:
	bash scripts/fetch_fashion_mnist.sh

## the whole Data Cleaning Guide on Fashion-MNIST (writes out/guide/)
guide: $(STAMP) fashion
	$(BIN)/python scripts/data_cleaning_guide.py --out out/guide

bench: $(STAMP) photos
	$(BIN)/python scripts/bench.py

## on a CUDA machine: the CUDA tests and the GPU benchmark (says so and stops where there is no CUDA)
gpu-check: $(STAMP) photos
	PYTHON=$(BIN)/python bash scripts/gpu_check.sh

lint: $(STAMP)
	$(BIN)/ruff check dataeval_gpu tests scripts

## outputs and caches (keeps .venv and the downloaded data in data_cache/)
clean:
	rm -rf out dataeval_gpu_out data_cache/bench_scan .pytest_cache .ruff_cache .hypothesis
