"""Stage 3, fit path step 1: what the network trains on, from validated ``(X, y)``.

Per-sample weights (``sample_weight`` times ``class_weight``), the images as
one shareable array, and the split of rows into training and validation.
Plain functions of their arguments: the estimator supplies its parameters.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import _check_sample_weight

from ..utils.input_pipeline import aligned_empty, shareable
from ..utils.validation import as_images


def combined_weights(X, y, sample_weight, class_weight):
    """float32 weights ``sample_weight * class_weight`` per sample, or None if neither is set.

    Raises ValueError when every weight is 0: there would be nothing to train on.
    """
    weights = None
    if sample_weight is not None:
        weights = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
    if class_weight is not None:
        class_weights = compute_sample_weight(class_weight, y)
        weights = class_weights if weights is None else weights * class_weights
    if weights is None:
        return None
    if not np.any(weights):
        raise ValueError(
            "Every sample has weight 0 (sample_weight times class_weight): there is "
            "nothing to train on. Give some samples a positive weight."
        )
    return weights.astype(np.float32)


def network_input(X, image_shape):
    """``X`` as ``(n, H, W, C)`` images that TensorFlow can share, copied at most once.

    The training, validation and timing datasets all read this one array.
    """
    X = as_images(X, image_shape)
    if X.dtype in (np.float32, np.float16, np.uint8):
        return shareable(X)
    converted = aligned_empty(X.shape, np.float32)
    np.copyto(converted, X, casting="unsafe")
    return converted


def validation_fraction(fraction, early_stopping):
    """The share of rows held out: ``fraction``, or 0.1 with early stopping when None."""
    if fraction is None:
        return 0.1 if early_stopping else 0.0
    if early_stopping and fraction == 0:
        raise ValueError(
            "early_stopping=True needs a validation set: set validation_fraction > 0 "
            "(or None for the default 0.1)."
        )
    return float(fraction)


def split_rows(y, weights, fraction, seed):
    """Row indices to train on and to validate on (None: no validation).

    Rows of weight 0 are left out by index, so ``X`` itself is never copied.
    The split is stratified where every class present has two rows or more
    and each side can hold every class. A ``fraction`` that leaves no row to
    train on raises ValueError.
    """
    rows = np.arange(len(y)) if weights is None else np.flatnonzero(weights)
    if not fraction:
        return rows, None
    n_val = max(int(round(fraction * len(rows))), 1)
    if n_val >= len(rows):
        counted = "rows" if weights is None else "rows of positive weight"
        raise ValueError(
            f"validation_fraction={fraction:g} holds out {n_val} of the {len(rows)} {counted}, "
            "leaving none to train on. Lower validation_fraction, set it to 0 (without "
            "early_stopping), or fit on more rows."
        )
    counts = np.bincount(y[rows])
    present = np.count_nonzero(counts)
    stratify = (
        y[rows]
        if counts[counts > 0].min() >= 2 and n_val >= len(counts) and len(rows) - n_val >= present
        else None
    )
    return train_test_split(rows, test_size=n_val, random_state=seed, stratify=stratify)
