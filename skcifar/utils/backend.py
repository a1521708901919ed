"""Keras runtime helpers: the backend, quiet imports and calls, thread limits, seeding.

skcifar runs on Keras' TensorFlow (the default), JAX and PyTorch backends; the
backend is Keras' own choice (``KERAS_BACKEND``, read when Keras is imported).
Everything that touches process-wide backend state lives here, so the rest
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


#: The install extra of each Keras backend skcifar supports.
BACKEND_EXTRAS = {"tensorflow": "tensorflow-cpu", "jax": "jax", "torch": "torch"}


def backend_name():
    """The Keras backend in use: ``"tensorflow"``, ``"jax"`` or ``"torch"``.

    Keras reads it from ``KERAS_BACKEND`` (or ``~/.keras/keras.json``) when it
    is first imported; it cannot change within a process.

    Examples
    --------
    >>> from skcifar.utils.backend import backend_name
    >>> backend_name() in ("tensorflow", "jax", "torch")
    True
    """
    return import_keras().backend.backend()


def import_tensorflow():
    """Import and return :mod:`tensorflow` with its start-up output silenced.

    Raises
    ------
    ImportError
        TensorFlow is not installed; the message names the extra that installs it.
    """
    import_keras()
    try:
        return import_quietly("tensorflow")
    except ModuleNotFoundError as exc:
        if exc.name != "tensorflow":
            raise
        raise ImportError(
            "This needs TensorFlow, which is not installed: pip install "
            "'skcifar[tensorflow-cpu]' (or 'skcifar[tensorflow]' for the GPU build)."
        ) from exc


def require_tensorflow_backend(what):
    """Raise unless Keras runs on TensorFlow: ``what`` (e.g. "SavedModel export") needs it.

    Raises
    ------
    ImportError
        TensorFlow is not installed (the message names the extra).
    RuntimeError
        TensorFlow is installed but Keras runs on another backend.
    """
    import_tensorflow()
    name = backend_name()
    if name != "tensorflow":
        raise RuntimeError(
            f"{what} runs on Keras' TensorFlow backend, and Keras runs on {name!r} in this "
            "process. Save the model (skcifar.save), then load it and run this in a process "
            "started with KERAS_BACKEND=tensorflow."
        )


def backend_versions():
    """The versions of the backend's libraries, which decide a network's numbers with Keras'.

    ``{"tensorflow": ...}`` (as imported: its distribution may be named
    tensorflow-cpu, tf-nightly, ...), ``{"jax": ..., "jaxlib": ...}`` or
    ``{"torch": ...}``.
    """
    name = backend_name()
    if name == "tensorflow":
        return {"tensorflow": import_tensorflow().__version__}
    if name == "jax":
        import jax
        import jaxlib

        return {"jax": jax.__version__, "jaxlib": jaxlib.__version__}
    import torch

    return {"torch": torch.__version__}


def to_numpy(tensor):
    """A tensor (or ``keras.Variable``) of the backend as a NumPy array.

    ``keras.ops.convert_to_numpy`` goes through ``__array__`` of PyTorch's
    tensors and of TensorFlow's variables, which NumPy 2 warns about (they
    take no ``copy`` keyword); their own conversions are used instead.
    """
    keras = import_keras()
    name = backend_name()
    if name == "tensorflow":  # TensorFlow's own conversion (np.array warns of a variable)
        return np.asarray(tensor.numpy() if hasattr(tensor, "numpy") else tensor)
    if isinstance(tensor, keras.Variable):
        tensor = tensor.value
    if name == "torch":
        import torch

        tensor = tensor.detach().cpu()
        return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()
    return keras.ops.convert_to_numpy(tensor)


def values_of(variables):
    """The values of Keras ``variables``, as NumPy arrays (copies).

    ``keras.Variable.numpy()`` goes through ``__array__``, which NumPy 2 warns
    about on JAX and PyTorch; the backend's tensors are converted instead.
    """
    return [np.array(to_numpy(variable.value)) for variable in variables]


def sync_state(model):
    """Write the values a running ``fit`` holds outside ``model`` back into its variables.

    Keras on JAX keeps the variables' values apart from the model while it
    trains; code that reads or assigns variables in a callback calls this
    first (Keras' ``Callback.model`` does so too). On the other backends, and
    outside ``fit``, it does nothing.
    """
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()


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
    """Apply the thread budget to the backend once, before its runtime starts.

    TensorFlow's and PyTorch's thread pools take it; JAX (XLA) sizes its
    pools when it starts, from ``XLA_FLAGS``, so there the budget does nothing.
    """
    global _THREADS_CONFIGURED
    if _THREADS_CONFIGURED:
        return
    _THREADS_CONFIGURED = True
    n = _thread_budget()
    if n is None:
        return
    name = backend_name()
    if name == "torch":
        import torch

        torch.set_num_threads(n)
        return
    if name != "tensorflow":
        return
    tf = import_tensorflow()
    # Where the runtime is initialised already (something ran an op first), the
    # limit cannot change any more, which only costs speed.
    with contextlib.suppress(RuntimeError):
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(min(n, 2))


def intra_op_threads():
    """The threads the backend's operations run on: 0 is the backend's own choice (all cores).

    TensorFlow's intra-op setting, ``torch.get_num_threads()``; None on JAX,
    which has no such setting after it started.
    """
    name = backend_name()
    if name == "tensorflow":
        return import_tensorflow().config.threading.get_intra_op_parallelism_threads()
    if name == "torch":
        import torch

        return torch.get_num_threads()
    return None


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
    """Seed Python, NumPy, Keras and the backend for the block; restore them after.

    With ``seed=None`` nothing is touched. On TensorFlow this is
    ``keras.utils.set_random_seed``; on JAX, Keras' own generators are all
    there is (no TensorFlow is imported); on PyTorch, ``torch.manual_seed``
    too. On exit the global generators of Python and NumPy get their states
    back, and Keras' and the backend's global seeds their earlier values, so
    fitting an estimator does not change the random streams of the
    surrounding program.
    """
    if seed is None:
        yield
        return
    keras = import_keras()
    name = backend_name()
    py_state, np_state = random.getstate(), np.random.get_state()
    keras_state = keras_random_state()
    if name == "tensorflow":
        tf = import_tensorflow()
        tf_seed = tensorflow_global_seed()
    elif name == "torch":
        import torch

        # The CPU's generator and, where CUDA runs, every GPU's (manual_seed seeds them all).
        gpus = range(torch.cuda.device_count()) if torch.cuda.is_available() else []
        torch_states = torch.random.get_rng_state(), [torch.cuda.get_rng_state(g) for g in gpus]
    try:
        if name == "tensorflow":
            keras.utils.set_random_seed(seed)
        else:  # what set_random_seed does, less importing TensorFlow to seed it
            restore_keras_random_state((seed, None))
            random.seed(seed)
            np.random.seed(seed)
            if name == "torch":
                torch.manual_seed(seed)
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        restore_keras_random_state(keras_state)
        if name == "tensorflow":
            tf.random.set_seed(tf_seed)
        elif name == "torch":
            torch.random.set_rng_state(torch_states[0])
            for gpu, state in zip(gpus, torch_states[1], strict=True):
                torch.cuda.set_rng_state(state, gpu)


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
