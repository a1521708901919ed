"""Feeding arrays to TensorFlow without copying them.

``model.fit(ndarray)`` converts the training array to a TensorFlow tensor, a
full copy (0.6 GB for CIFAR-10 in float32). TensorFlow can instead use the
array's own memory through DLPack, provided the buffer is C-contiguous,
writeable and aligned to 64 bytes (TensorFlow's CPU tensor alignment). The
helpers here allocate arrays that way and hand them over without a copy.
"""

from __future__ import annotations

import numpy as np

_ALIGN = 64


def aligned_empty(shape, dtype):
    """An uninitialised C-contiguous array whose data starts on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buffer = np.empty(nbytes + _ALIGN, dtype=np.uint8)
    start = -buffer.ctypes.data % _ALIGN
    return buffer[start : start + nbytes].view(dtype).reshape(shape)


def _shareable(X):
    return (
        X.flags.c_contiguous
        and X.flags.writeable
        and X.size > 0
        and X.ctypes.data % _ALIGN == 0
        and X.dtype.isnative
    )


def take_rows(X, indices):
    """``X[indices]`` (rows) into a new 64-byte-aligned array."""
    out = aligned_empty((len(indices),) + X.shape[1:], X.dtype)
    np.take(X, indices, axis=0, out=out)
    return out


def as_tensor(X):
    """A TensorFlow tensor of ``X``, sharing its memory when possible.

    An aligned, contiguous, writeable array is shared (no copy); any other
    array (read-only memory maps from joblib, views, NumPy's default
    16-byte alignment) is copied once, as Keras itself would.
    """
    import tensorflow as tf

    if X.size == 0:
        return tf.convert_to_tensor(X)
    if not _shareable(X):
        # DLPack has no byte order: copy byte-swapped arrays into native order.
        copy = aligned_empty(X.shape, X.dtype.newbyteorder("="))
        np.copyto(copy, X)
        X = copy
    return tf.experimental.dlpack.from_dlpack(X.__dlpack__())
