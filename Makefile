# Quickstart: `make train` (set up and run the main job), `make test` (set up and run the tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.skcifar-installed
# The Keras backend extra: tensorflow-cpu (small, CPU only) or tensorflow (GPU-capable).
BACKEND ?= tensorflow-cpu

# Use the shared copy of CIFAR-10 when it sits beside the checkout and nothing else is set.
SHARED_DATA := $(abspath ../shared/data/cifar10-jpg.tar.gz)
ifneq ($(wildcard $(SHARED_DATA)),)
export SKCIFAR_DATA ?= $(SHARED_DATA)
endif
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install train test test-min test-isa test-backends test-all lint docs docs-noplot bench bench-full clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[$(BACKEND),dev]"
	@touch $(STAMP)

train: $(STAMP)
	$(PY) -m skcifar train --model cnn --out runs/cnn-pipeline.skcifar --report runs/report

# Test files run in parallel, one per worker (module fixtures are built once).
TEST_WORKERS ?= 2

test: $(STAMP)
	$(PY) -m pytest -m "not slow" -n $(TEST_WORKERS) --dist loadfile

# The fast suite again, in a separate environment holding the lowest versions that
# pyproject.toml's floors allow for the direct dependencies (uv's lowest-direct
# resolution; uv comes with the dev extra). The docs page "Supported versions"
# lists what it installs.
VENV_MIN ?= .venv-min
PY_MIN := $(VENV_MIN)/bin/python
MIN_STAMP := $(VENV_MIN)/.skcifar-installed

# Built anew each time: uv would keep newer versions that still satisfy the floors.
$(MIN_STAMP): pyproject.toml $(STAMP)
	rm -rf $(VENV_MIN)
	$(PYTHON) -m venv $(VENV_MIN)
	$(VENV)/bin/uv pip install -q --python $(PY_MIN) --resolution lowest-direct \
		-e ".[$(BACKEND),test]"
	@touch $(MIN_STAMP)

test-min: $(MIN_STAMP)
	@$(PY_MIN) -c "from importlib.metadata import version as v; print('lowest versions:', \
		*(f'{d} {v(d)}' for d in ('numpy', 'scikit-learn', 'keras', '$(BACKEND)', 'scikeras', 'matplotlib')))"
	$(PY_MIN) -m pytest -m "not slow" -n $(TEST_WORKERS) --dist loadfile

# The tests whose float results depend on the CPU, again under settings that make
# this CPU compute as others do (docs/getting_started.rst, "Other CPUs"): oneDNN
# held to AVX2 (AMD Zen 3 and other CPUs without AVX-512), and TensorFlow's own
# kernels without oneDNN. Each setting changes float32 results on an AVX-512 CPU.
ISA_SETTINGS ?= ONEDNN_MAX_CPU_ISA=AVX2 TF_ENABLE_ONEDNN_OPTS=0

test-isa: $(STAMP)
	@for setting in $(ISA_SETTINGS); do \
		echo "== $$setting"; \
		env $$setting $(PY) -m pytest -m "cpu_numerics and not slow" \
			-n $(TEST_WORKERS) --dist loadfile || exit 1; \
	done

# The backend-dependent part of the fast suite on Keras' JAX and PyTorch
# backends, each in its own environment without TensorFlow (docs/backends.rst):
# the tests that need TensorFlow skip themselves there. TORCH names PyTorch's
# CPU build: pip finds torch 2.13.0's in the CI machine's local wheels (PyPI's
# torch is the CUDA build); elsewhere set it to e.g.
# "torch --index-url https://download.pytorch.org/whl/cpu".
TEST_BACKENDS ?= jax torch
TORCH ?= torch==2.13.0
# The tests of the code that runs on the backend (the estimators, their layers,
# optimizers, feed, inference, plug-ins and files) and the package's doctests;
# the data, file-format, CLI, docs and example tests, scikit-learn's estimator
# checks and the memory tests' three searches exercise logic that is the same on
# every backend (the grid search of tests/test_resnet.py runs here), and JAX
# compiles every network anew, so they stay in the TensorFlow runs.
BACKEND_TESTS ?= skcifar tests/test_estimators.py tests/test_resnet.py tests/test_architectures.py \
	tests/test_recipe.py tests/test_input_pipeline.py tests/test_inference.py \
	tests/test_time_budget.py tests/test_plugins.py tests/test_fit_path.py tests/test_bad_input.py \
	tests/test_devices.py tests/test_estimator_state.py tests/test_keras_internals.py \
	tests/test_persistence.py tests/test_skops.py tests/test_reliability.py \
	tests/test_cross_backend_files.py tests/test_mlflow.py tests/test_distributed.py \
	tests/test_memory.py tests/test_budget_choice.py \
	--deselect tests/test_memory.py::test_grid_search_over_epochs_trains_the_longest_epochs_only \
	--deselect tests/test_memory.py::test_randomized_search_and_validation_curve \
	--deselect tests/test_memory.py::test_halving_search_over_epochs_continues_its_earlier_rounds

.venv-%/.skcifar-installed: pyproject.toml
	rm -rf .venv-$*
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/python -m pip install -q --upgrade pip
	if [ "$*" = torch ]; then .venv-$*/bin/python -m pip install -q "$(TORCH)"; fi
	.venv-$*/bin/python -m pip install -q -e ".[$*,test]"
	@! .venv-$*/bin/python -c "import tensorflow" 2>/dev/null || \
		{ echo "TensorFlow is installed in .venv-$*: the backend run must do without it"; exit 1; }
	@touch $@

test-backends: $(foreach b,$(TEST_BACKENDS),.venv-$(b)/.skcifar-installed)
	@for backend in $(TEST_BACKENDS); do \
		echo "== KERAS_BACKEND=$$backend"; \
		KERAS_BACKEND=$$backend .venv-$$backend/bin/python -m pytest -m "not slow" \
			-n $(TEST_WORKERS) --dist loadfile $(BACKEND_TESTS) || exit 1; \
	done

test-all: $(STAMP)
	$(PY) -m pytest

# The whole site, warnings as errors: the gallery runs every example with --quick,
# on CIFAR-10 (SKCIFAR_DATA, as for make train; without it the build stops at once
# and says so). docs-noplot builds the same pages without running the examples.
docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

docs-noplot: $(STAMP)
	$(PY) -m sphinx -W --keep-going -D plot_gallery=0 -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

# make bench: about an hour on 2 cores, more when B is long; make bench-full adds
# the runs that do not fit (12x, the ResNetClassifier defaults, search_memory):
# docs/benchmarks.md.
bench: $(STAMP)
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

bench-full: $(STAMP)
	$(PY) benchmarks/run_all.py --full $(BENCH_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check skcifar tests examples benchmarks

clean:
	rm -rf $(VENV) $(VENV_MIN) .venv-jax .venv-torch build *.egg-info .pytest_cache .ruff_cache
	rm -rf docs/_build docs/generated docs/auto_examples docs/gen_modules docs/sg_execution_times.rst
