"""Keras/TensorFlow runtime helpers: quiet imports and calls, thread limits, seeding.

Everything that touches process-wide TensorFlow state lives here, so the rest
of the package stays free of backend details. Nothing here changes the caller's
process for good: the log levels, warnings filters, environment and random
seeds it touches are restored when the import or the call that needed them
ends (:func:`quiet`, :func:`seeded`).
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
import time
import warnings

import numpy as np

from .keras_internals import (
    DATA_ADAPTERS_MODULE,
    gradient_registry,
    keras_random_state,
    restore_keras_random_state,
    tensorflow_global_seed,
)

_THREADS_CONFIGURED = False
_LOG_LEVEL_VAR = "TF_CPP_MIN_LOG_LEVEL"


@contextlib.contextmanager
def quiet():
    """Silence TensorFlow's and Keras' Python-side chatter for the block only.

    The ``tensorflow`` logger and absl are set to ERROR (tf.function retracing
    notices and the like) and Keras' data-adapter warnings are ignored; on exit
    the logger levels and the warnings filters are what they were.

    Examples
    --------
    >>> import logging
    >>> from skcifar.utils.backend import quiet
    >>> before = logging.getLogger("tensorflow").level
    >>> with quiet():
    ...     logging.getLogger("tensorflow").level
    40
    >>> logging.getLogger("tensorflow").level == before
    True
    """
    logger = logging.getLogger("tensorflow")
    level = logger.level
    absl_logging = sys.modules.get("absl.logging")
    absl_level = absl_logging.get_verbosity() if absl_logging else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=DATA_ADAPTERS_MODULE)
        logger.setLevel(logging.ERROR)
        if absl_logging:
            absl_logging.set_verbosity(absl_logging.ERROR)
        try:
            yield
        finally:
            logger.setLevel(level)
            if absl_logging:
                absl_logging.set_verbosity(absl_level)


def import_quietly(name):
    """Import a module with TensorFlow's start-up messages kept off stderr.

    TensorFlow's native code prints notices at import time, before it honours
    ``TF_CPP_MIN_LOG_LEVEL``, so file descriptor 2 points at /dev/null during
    the import, and ``TF_CPP_MIN_LOG_LEVEL`` (which its C++ logging reads once)
    is 2 unless the user set it. The environment, stderr and the global
    :mod:`random` and NumPy states (the import draws from them) are restored.
    """
    if name in sys.modules:
        return importlib.import_module(name)
    user_level = os.environ.get(_LOG_LEVEL_VAR)
    if user_level is not None and user_level < "2":  # the user asked to see them
        return importlib.import_module(name)
    os.environ[_LOG_LEVEL_VAR] = "2" if user_level is None else user_level
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2
        saved = None
    devnull = os.open(os.devnull, os.O_WRONLY)
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        if saved is not None:
            os.dup2(devnull, 2)
        with quiet():
            return importlib.import_module(name)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
        os.close(devnull)
        if user_level is None:
            os.environ.pop(_LOG_LEVEL_VAR, None)


def import_keras():
    """Import and return :mod:`keras` with TensorFlow's start-up output silenced."""
    return import_quietly("keras")


def import_tensorflow():
    """Import and return :mod:`tensorflow` with its start-up output silenced."""
    import_keras()
    return import_quietly("tensorflow")


def _thread_budget():
    """Threads TensorFlow may use, or None: ``SKCIFAR_NUM_THREADS``, else ``OMP_NUM_THREADS``.

    joblib's process workers get ``OMP_NUM_THREADS`` = cores // n_jobs: no oversubscription.
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
    tf = import_tensorflow()
    # Where the runtime is initialised already (something ran an op first), the
    # limit cannot change any more, which only costs speed.
    with contextlib.suppress(RuntimeError):
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(min(n, 2))


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
    """Seed Python, NumPy, TensorFlow and Keras for the block; restore them after.

    With ``seed=None`` nothing is touched. On exit the global generators of
    Python and NumPy get their states back, and Keras' and TensorFlow's global
    seeds their earlier values, so fitting an estimator does not change the
    random streams of the surrounding program.
    """
    if seed is None:
        yield
        return
    keras = import_keras()
    tf = import_tensorflow()
    py_state, np_state = random.getstate(), np.random.get_state()
    keras_state = keras_random_state()
    tf_seed = tensorflow_global_seed()
    try:
        keras.utils.set_random_seed(seed)
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        restore_keras_random_state(keras_state)
        tf.random.set_seed(tf_seed)


@contextlib.contextmanager
def released_gradient_registrations():
    """Drop the gradient functions TensorFlow registers globally while tracing.

    Keras' TensorFlow optimizer sums gradients with ``all_reduce``, built on
    ``tf.custom_gradient``: every graph trace registers a ``CustomGradient-<n>``
    function whose closure holds the whole train step, and TensorFlow never
    removes it (a grid search's process grows with each fit: docs/benchmarks.md). They are
    needed only while tracing, so those added during the block are removed
    when it ends. Where TensorFlow's private registry moved, this does nothing.
    """
    registry = gradient_registry()
    if registry is None:  # pragma: no cover - other TF versions
        yield
        return
    before = set(registry)
    try:
        yield
    finally:
        for name in set(registry) - before:
            if name.startswith("CustomGradient-"):
                registry.pop(name, None)


#: Most of the wall time that :func:`release_memory` spends collecting.
RELEASE_SHARE = 0.05
#: Growth of the resident size (bytes) since the last collection that makes
#: :func:`release_memory` collect at once.
RELEASE_GROWTH = 256 * 2**20
_last_release = None  # (when it ended, how long it took, resident size after it)


def _resident_bytes():
    """This process's resident size in bytes (None without /proc)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def release_memory():
    """Collect unreachable Keras models and hand freed memory back to the OS.

    Keras models hold reference cycles, so a discarded model is freed only by
    the cyclic garbage collector, and glibc keeps the freed blocks mapped.
    Called before each new network is built, it keeps long searches flat. A
    full collection is slow with TensorFlow loaded (docs/benchmarks.md), so it
    runs the first time, then only when the time since the last one is at least
    1 / ``RELEASE_SHARE`` times what that one took, or the resident size has
    grown by ``RELEASE_GROWTH`` since it.

    Returns
    -------
    collected : bool
        Whether a collection ran.
    """
    global _last_release
    now = time.perf_counter()
    if _last_release is not None:
        ended, took, resident = _last_release
        grown = resident is not None and _resident_bytes() - resident >= RELEASE_GROWTH
        if not grown and (now - ended) * RELEASE_SHARE < took:
            return False
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc (e.g. musl)
            ctypes.CDLL("libc.so.6").malloc_trim(0)
    ended = time.perf_counter()
    _last_release = (ended, ended - now, _resident_bytes())
    return True
