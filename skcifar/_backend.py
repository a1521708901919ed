"""Keras/TensorFlow runtime helpers: quiet logging, thread limits, seeding.

Everything that touches process-wide TensorFlow state lives here, so the rest
of the package can stay free of backend details.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import logging
import os
import random
import sys
import warnings

import numpy as np

# C++ log lines ("oneDNN custom operations are on", CPU feature notices) are
# printed when TensorFlow is first imported: the level must be set before that.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_THREADS_CONFIGURED = False


def _quiet_python_logging():
    """Silence TensorFlow's Python-side warnings (e.g. tf.function retracing)."""
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="keras.src.trainers.data_adapters")
    try:  # absl is a TensorFlow dependency; quiet it when present
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # pragma: no cover - absl always ships with TensorFlow
        pass


def _import_silently(name):
    """Import a module while file descriptor 2 points at /dev/null.

    TensorFlow's native code prints "oneDNN custom operations are on" and an
    absl notice at import time, before ``TF_CPP_MIN_LOG_LEVEL`` is honoured.
    Exceptions still propagate normally once stderr is restored.
    """
    if name in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") < "2":
        return importlib.import_module(name)
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2
        return importlib.import_module(name)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        return importlib.import_module(name)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_keras():
    """Import and return :mod:`keras` with TensorFlow's log output silenced."""
    keras = _import_silently("keras")
    _quiet_python_logging()
    return keras


def _thread_budget():
    """Threads TensorFlow may use in this process, or None for its default.

    ``SKCIFAR_NUM_THREADS`` wins; otherwise the ``OMP_NUM_THREADS`` limit that
    joblib's process workers receive (cores // n_jobs) is respected, so that two
    GridSearchCV workers on a 2-core machine do not oversubscribe it.
    """
    for var in ("SKCIFAR_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def configure_threads():
    """Apply the thread budget to TensorFlow once, before its runtime starts."""
    global _THREADS_CONFIGURED
    if _THREADS_CONFIGURED:
        return
    _THREADS_CONFIGURED = True
    n = _thread_budget()
    if n is None:
        return
    import_keras()
    tf = _import_silently("tensorflow")

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(min(n, 2))
    except RuntimeError:
        # The runtime is already initialised (something ran an op first):
        # the limit cannot change any more, which only costs speed.
        pass


def seed_from(random_state):
    """Turn an sklearn ``random_state`` into an int seed, or None."""
    if random_state is None:
        return None
    if isinstance(random_state, np.random.RandomState):
        # Draw from a copy so the caller's generator is not advanced.
        copy = np.random.RandomState()
        copy.set_state(random_state.get_state())
        return int(copy.randint(np.iinfo(np.int32).max))
    return int(random_state)


@contextlib.contextmanager
def seeded(seed):
    """Seed Python, NumPy and Keras for the block; restore Python/NumPy after.

    With ``seed=None`` nothing is touched. The global generators of Python and
    NumPy are restored on exit so that fitting an estimator does not change the
    random streams of the surrounding program.
    """
    if seed is None:
        yield
        return
    keras = import_keras()
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        keras.utils.set_random_seed(seed)
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


@contextlib.contextmanager
def released_gradient_registrations():
    """Drop the gradient functions TensorFlow registers globally while tracing.

    Keras' TensorFlow optimizer sums gradients with ``all_reduce``, which is
    built on ``tf.custom_gradient``; in graph mode every trace registers a new
    ``CustomGradient-<n>`` function in TensorFlow's global gradient registry and
    never removes it. Its closure holds the whole traced train step, so each fit
    of a new model leaked several MB: 20 fits in a grid search grew the process
    by ~190 MB. The registrations are only needed while a graph is being traced
    (gradients are built into the graph at trace time), so the ones added during
    the block are removed when it ends. If TensorFlow's private registry moves,
    this does nothing.
    """
    try:
        from tensorflow.python.framework import ops

        registry = ops._gradient_registry._registry
    except (ImportError, AttributeError):  # pragma: no cover - other TF versions
        yield
        return
    before = set(registry)
    try:
        yield
    finally:
        for name in set(registry) - before:
            if name.startswith("CustomGradient-"):
                registry.pop(name, None)


def release_memory():
    """Collect unreachable Keras models and hand freed memory back to the OS.

    Keras models hold reference cycles, so a discarded model (a grid search
    drops one per fit) is freed only by the cyclic garbage collector, and glibc
    keeps the freed blocks mapped. Called before each new network is built, it
    keeps the resident size of long searches flat.
    """
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (e.g. musl)
            pass
