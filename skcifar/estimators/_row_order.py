"""Prediction in an order fixed by the rows' contents, not by their places in ``X``.

A network's float32 output for a row can depend, in its last bits, on where
the row sits in its batch: matrix products may use other code for the rows of
a block's tail (with or without FMA, another summation order). This was seen
with oneDNN held to AVX2 and with TensorFlow's kernels without oneDNN, for
batches whose size is not a multiple of 8. Shuffling ``X`` would then change
the probabilities by a few float32 units in the last place. Predicting the
distinct rows sorted by their bytes gives every row the same neighbours,
batch and place whatever the order of ``X``, and identical rows one shared
result.
"""

from __future__ import annotations

import numpy as np

# Bytes of rows compared whole at a time when looking for repeated rows (a chunk is copied).
_CHUNK_BYTES = 32 << 20
# Bytes sampled evenly across each row and compared first: rows that differ there
# are distinct, whatever their borders (images often share their first pixels).
_SAMPLED = 16


def content_order(X):
    """``X``'s distinct rows in the order of their bytes, and where each row's result is.

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
        Rows of any shape and dtype; copied only if not C-contiguous.

    Returns
    -------
    rows : ndarray of int of shape (n_distinct,)
        One row index per distinct row content, sorted by the rows' bytes.
    inverse : ndarray of int of shape (n_samples,)
        ``outputs[inverse]`` puts the outputs of ``X[rows]`` back in ``X``'s order.

    Examples
    --------
    >>> import numpy as np
    >>> from skcifar.estimators._row_order import content_order
    >>> X = np.array([[3, 1], [0, 2], [3, 1]], dtype=np.uint8)
    >>> rows, inverse = content_order(X)
    >>> rows.tolist(), inverse.tolist()
    ([1, 0], [1, 0, 1])
    >>> shuffled = X[[2, 1, 0]]
    >>> bool(np.array_equal(shuffled[content_order(shuffled)[0]], X[rows]))
    True
    """
    n = len(X)
    if n == 0:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    flat = np.ascontiguousarray(X).reshape(n, -1)
    width = flat.shape[1] * flat.itemsize
    if width == 0:
        # Rows without bytes are all the same row.
        return np.zeros(1, dtype=np.intp), np.zeros(n, dtype=np.intp)
    keys = flat.view(np.dtype((np.void, width)))[:, 0]
    order = np.argsort(keys, kind="stable")
    # A row starts a group unless it repeats the one before it in that order; only
    # neighbours whose sampled bytes agree are compared whole.
    sampled = np.unique(np.linspace(0, width - 1, _SAMPLED).astype(np.intp))
    probe = flat.view(np.uint8)[:, sampled][order]
    suspects = np.flatnonzero((probe[1:] == probe[:-1]).all(axis=1)) + 1
    starts = np.ones(n, dtype=bool)
    chunk = max(1, _CHUNK_BYTES // width)
    for begin in range(0, len(suspects), chunk):
        rows = suspects[begin : begin + chunk]
        starts[rows] = keys[order[rows]] != keys[order[rows - 1]]
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.cumsum(starts) - 1
    return order[starts], inverse
