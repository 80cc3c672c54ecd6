# make book   create .venv, install, run every chapter with PROFILE (default cpu), build the HTML book
# make test   create .venv, install, run the tests
# make bench  run the benchmarks of benchmarks/
# make lab    install JupyterLab into .venv (requirements-lab.txt) and open it on notebooks/
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= cpu
BIN := $(VENV)/bin

# Use the corpus shared beside this checkout when there is one (an explicit ADCRNN_EMODB wins).
SHARED_EMODB := $(abspath ../shared/emodb/wav)
ifneq ($(wildcard $(SHARED_EMODB)/*.wav),)
export ADCRNN_EMODB ?= $(SHARED_EMODB)
endif

.PHONY: book test bench lab clean

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	# librosa's numba kernels (pitch shift, peak picking) compile on first use, about 25 s on 2 cores:
	# compile them once into the environment's own numba cache, not in the first book chapter or test
	$(BIN)/python -c "import numpy, librosa; librosa.effects.pitch_shift(numpy.zeros(4096, 'float32'), sr=16000, n_steps=1)"
	touch $@

book: $(BIN)/.installed
	$(BIN)/adcrnn book --profile $(PROFILE) --download

# the test extras (requirements-test.txt: the CPU jax wheel for the JAX-backend tests, pytest-xdist), for make test only
$(BIN)/.installed-test: $(BIN)/.installed requirements-test.txt
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

# two pytest-xdist workers, whole modules each (tests/helpers/plugin.py: MODULE_ORDER); PYTEST_WORKERS=0: one process
PYTEST_WORKERS ?= 2
test: $(BIN)/.installed-test
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder $(PYTEST_ARGS)

# JupyterLab for exploring the chapters (requirements-lab.txt), for make lab only; the kernel every template
# names, python3, is registered as this environment's Python
$(BIN)/.installed-lab: $(BIN)/.installed requirements-lab.txt
	$(BIN)/python -m pip install --quiet -r requirements-lab.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3
	touch $@

# with no display (a server, an SSH session) no browser starts and JupyterLab prints the URL to open;
# LAB_ARGS='--no-browser --port 8899' and the like replace that. As root (a container) JupyterLab
# refuses to start without --allow-root, so it gets it.
LAB_ARGS ?= $(if $(DISPLAY)$(WAYLAND_DISPLAY)$(filter Darwin,$(shell uname -s)),,--no-browser)
lab: $(BIN)/.installed-lab
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# each benchmark exits 1 when it misses a goal; run them all and keep their results
bench: $(BIN)/.installed
	-$(BIN)/python benchmarks/bench_features.py --json benchmarks/results/bench_features.json
	-$(BIN)/python benchmarks/bench_train.py --json benchmarks/results/bench_train.json
	-$(BIN)/python benchmarks/bench_fold_setup.py --json benchmarks/results/bench_fold_setup.json
	-$(BIN)/python benchmarks/bench_predict.py --json benchmarks/results/bench_predict.json
	-$(BIN)/python benchmarks/bench_gan.py --json benchmarks/results/bench_gan.json
	-$(BIN)/python benchmarks/bench_timnet.py --json benchmarks/results/bench_timnet.json

clean:
	rm -rf _build book/*.ipynb
