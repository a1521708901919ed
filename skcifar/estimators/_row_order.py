"""Prediction in an order fixed by the rows' contents, not by their places in ``X``.

A network's float32 output for a row can depend, in its last bit, on where
the row sits in its batch: matrix products use other code for the rows of a
block's tail (FMA or not, another summation order) on some CPUs (AVX2 only,
or TensorFlow without oneDNN). Shuffling ``X`` would then change the
probabilities by about 6e-8. Predicting the distinct rows sorted by their
bytes gives every row the same neighbours, batch and place whatever the
order of ``X``, and identical rows one shared result.
"""

from __future__ import annotations

import numpy as np

# Rows compared whole at a time when looking for repeated rows (a chunk is copied).
_CHUNK = 1024
# Leading bytes compared first: rows that differ there are distinct.
_HEAD = 8


def content_order(X):
    """``X``'s distinct rows in the order of their bytes, and where each row's result is.

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
        C-contiguous rows (read, never copied whole).

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
    flat = np.ascontiguousarray(X).reshape(n, -1)
    width = flat.shape[1] * flat.itemsize
    keys = flat.view(np.dtype((np.void, width)))[:, 0]
    order = np.argsort(keys, kind="stable")
    # A row starts a group unless it repeats the one before it in that order; only
    # neighbours whose leading bytes agree are compared whole.
    head = flat.view(np.uint8)[order, :_HEAD]
    suspects = np.flatnonzero((head[1:] == head[:-1]).all(axis=1)) + 1
    starts = np.ones(n, dtype=bool)
    for begin in range(0, len(suspects), _CHUNK):
        rows = suspects[begin : begin + _CHUNK]
        starts[rows] = keys[order[rows]] != keys[order[rows - 1]]
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.cumsum(starts) - 1
    return order[starts], inverse
