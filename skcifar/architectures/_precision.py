"""The compute precision of a network: float32, or bfloat16 where it is faster."""

from __future__ import annotations

import functools
import time

import numpy as np

PRECISIONS = ("auto", "float32", "bfloat16")

_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}

# "auto" takes bfloat16 only when its convolutions run at least this many
# times as fast as float32's on this CPU (see resolve_precision).
MIN_BFLOAT16_SPEEDUP = 1.3


def _cpu_has_bf16():
    """True if the CPU has bfloat16 instructions (AMX or AVX512-BF16)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = f.read()
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


def _convolution_timer(x, kernel, dtype):
    """``run()``: one 3x3 convolution of ``x`` by ``kernel`` in ``dtype``, its seconds.

    Both are cast to ``dtype``; the convolution is traced and run once here,
    so every call times the same compiled work.
    """
    from ..utils.backend import backend_name, import_keras, import_tensorflow, to_numpy

    ops = import_keras().ops
    if backend_name() == "tensorflow":
        tf = import_tensorflow()
        function = tf.function(lambda x, kernel: tf.nn.conv2d(x, kernel, 1, "SAME"))
    else:
        function = lambda x, kernel: ops.conv(x, kernel, padding="same")  # noqa: E731
    x, kernel = ops.cast(x, dtype), ops.cast(kernel, dtype)
    to_numpy(function(x, kernel))  # trace and warm up

    def run():
        start = time.perf_counter()
        to_numpy(function(x, kernel))
        return time.perf_counter() - start

    return run


def convolution_seconds(x, kernel, dtype, repeats=10):
    """The best of ``repeats`` timings of one 3x3 convolution of ``x`` by ``kernel``.

    Both are cast to ``dtype``; the convolution is traced and run once before
    the timed runs. :func:`bfloat16_speedup` compares float32 and bfloat16 the
    same way, alternating the two precisions' runs.

    Parameters
    ----------
    x : array of shape (batch, height, width, channels_in)
        The input.
    kernel : array of shape (3, 3, channels_in, channels_out)
        The filters.
    dtype : str
        The precision, e.g. ``"float32"`` or ``"bfloat16"``.
    repeats : int, default=10
        Timed runs.

    Returns
    -------
    seconds : float
        The fastest run.
    """
    run = _convolution_timer(x, kernel, dtype)
    return min(run() for _ in range(repeats))


@functools.cache
def bfloat16_runs():
    """True if the backend computes bfloat16 convolutions and matrix products on this CPU.

    Runs one tiny convolution and one matrix product in bfloat16 once per
    process: on TensorFlow forward and backward, as training computes them; on
    JAX and PyTorch forward. False where the backend cannot run them, e.g.
    TensorFlow's oneDNN build on a CPU with bfloat16 instructions when oneDNN
    is held to an older instruction set (``ONEDNN_MAX_CPU_ISA=AVX2``, how
    other CPUs are tried out on one machine).

    Examples
    --------
    >>> from skcifar.architectures import bfloat16_runs
    >>> bfloat16_runs() in (True, False)
    True
    """
    from ..utils.backend import (
        backend_name,
        configure_threads,
        import_keras,
        import_tensorflow,
        quiet,
        to_numpy,
    )

    configure_threads()
    if backend_name() != "tensorflow":
        ops = import_keras().ops
        try:
            y = ops.conv(ops.ones((1, 4, 4, 8), "bfloat16"), ops.ones((3, 3, 8, 8), "bfloat16"))
            to_numpy(ops.matmul(ops.reshape(y, (4, 8)), ops.ones((8, 8), "bfloat16")))
        except Exception:  # noqa: BLE001 - whatever the backend raises: it does not run here
            return False
        return True
    tf = import_tensorflow()
    x = tf.ones((1, 4, 4, 8), tf.bfloat16)
    kernel = tf.Variable(tf.ones((3, 3, 8, 8), tf.bfloat16))
    weights = tf.Variable(tf.ones((8, 8), tf.bfloat16))
    try:
        with quiet(), tf.GradientTape() as tape:
            # Forward and backward, as training computes them.
            y = tf.nn.conv2d(x, kernel, 1, "SAME")
            loss = tf.reduce_sum(tf.linalg.matmul(tf.reshape(y, (16, 8)), weights))
        with quiet():
            for grad in tape.gradient(loss, [kernel, weights]):
                grad.numpy()
    except tf.errors.OpError:
        return False
    return True


@functools.cache
def bfloat16_speedup(repeats=10):
    """How many times faster a bfloat16 3x3 convolution runs than a float32 one here.

    Times one convolution of a training-sized shape (64 images of 16x16x64
    to 128 channels, about 2.4 GFLOP) in each precision, best of ``repeats``
    runs of each, the two precisions alternating (a burst of other work then
    slows both, not one), once per process (about half a second; the result
    is cached). Returns 0.0 on a CPU without bfloat16 instructions, or where
    the backend cannot compute in bfloat16 (:func:`bfloat16_runs`); nothing
    is timed then.

    Examples
    --------
    >>> from skcifar.architectures import bfloat16_speedup
    >>> bfloat16_speedup() >= 0.0
    True
    """
    if not (_cpu_has_bf16() and bfloat16_runs()):
        return 0.0
    from ..utils.backend import configure_threads, quiet

    configure_threads()
    rng = np.random.RandomState(0)  # a private generator: global seeds untouched
    x = rng.standard_normal((64, 16, 16, 64)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 64, 128)).astype(np.float32)
    best = {"float32": float("inf"), "bfloat16": float("inf")}
    with quiet():
        runs = {dtype: _convolution_timer(x, kernel, dtype) for dtype in best}
        for _ in range(repeats):
            for dtype, run in runs.items():
                best[dtype] = min(best[dtype], run())
    return best["float32"] / best["bfloat16"]


def float32_network(network):
    """``network`` itself, or a float32 copy with the same weights if it computes in bfloat16.

    Networks built with ``precision="bfloat16"`` keep float32 weights and
    compute in bfloat16 (Keras' ``mixed_bfloat16``); the copy computes the same
    function in float32, so its outputs differ from the original's by
    bfloat16's rounding. ONNX export and :func:`skcifar.load` (where
    :func:`bfloat16_runs` is False) use it.

    Parameters
    ----------
    network : keras.Model
        A functional or sequential Keras model.

    Returns
    -------
    keras.Model
        A model whose layers all compute in float32.
    """
    if all(layer.dtype_policy.compute_dtype != "bfloat16" for layer in network.layers):
        return network
    from ..utils.backend import import_keras

    keras = import_keras()

    def float32_layer(layer):
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    copy = keras.models.clone_model(network, clone_function=float32_layer)
    copy.set_weights(network.get_weights())
    return copy


def resolve_precision(precision):
    """Return the Keras dtype policy name for a ``precision`` setting.

    Parameters
    ----------
    precision : {"auto", "float32", "bfloat16"}
        ``"bfloat16"`` computes in bfloat16 with float32 weights (Keras'
        ``mixed_bfloat16``). ``"auto"`` picks it when the CPU has bfloat16
        instructions (AMX or AVX512-BF16) *and* :func:`bfloat16_speedup`
        measures its convolutions at least ``MIN_BFLOAT16_SPEEDUP`` (1.3)
        times as fast as float32's (some CPUs with the instructions run
        bfloat16 slower), and ``"float32"`` otherwise. The choice is made once
        per process; set ``precision`` explicitly for the same numbers on
        every machine.

    Raises
    ------
    ValueError
        For an unknown ``precision``, and for ``"bfloat16"`` where the backend
        cannot compute in bfloat16 on this CPU (:func:`bfloat16_runs`).

    Returns
    -------
    str
        ``"mixed_bfloat16"`` or ``"float32"``.

    Examples
    --------
    >>> from skcifar.architectures import resolve_precision
    >>> resolve_precision("float32")
    'float32'
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}.")
    if precision == "bfloat16" and not bfloat16_runs():
        raise ValueError(
            "precision='bfloat16': the backend cannot compute bfloat16 convolutions on this "
            "CPU (with these oneDNN settings). Use precision='float32', or 'auto' to pick "
            "the faster precision that runs here."
        )
    if precision == "auto":
        faster = bfloat16_speedup() >= MIN_BFLOAT16_SPEEDUP
        precision = "bfloat16" if faster else "float32"
    return _POLICIES[precision]
