"""Stage 3, fit path step 1: what the network trains on, from validated ``(X, y)``.

Per-sample weights (``sample_weight`` times ``class_weight``), the images as
one shareable array, and the split of rows into training and validation.
Plain functions of their arguments: the estimator supplies its parameters.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import _check_sample_weight

from ..utils.input_pipeline import aligned_empty, shareable
from ..utils.validation import FLOAT32_MAX, as_images


def _check_class_weight(class_weight):
    """Raise ValueError unless each weight of a ``class_weight`` dict is one the loss can use."""
    if not isinstance(class_weight, dict):
        return  # None or "balanced"
    for label, weight in class_weight.items():
        number = isinstance(weight, Real) and not isinstance(weight, bool)
        if not (number and 0 <= weight <= FLOAT32_MAX):  # False for NaN
            raise ValueError(
                f"class_weight[{label!r}] is {weight!r}: class weights must be finite, "
                f"non-negative numbers within float32's range (up to {FLOAT32_MAX:.3g}); "
                "0 leaves the class out of training. Pass such a weight for each class, "
                "or class_weight='balanced'."
            )


def _check_weight_range(weights, what):
    if weights.size and float(weights.max()) > FLOAT32_MAX:
        raise ValueError(
            f"{what} reaches {float(weights.max()):.3g}, beyond float32's range (up to "
            f"{FLOAT32_MAX:.3g}), the precision of the loss: the loss would be infinite. "
            "Scale the weights down by a common factor: their ratios weigh the samples."
        )


def combined_weights(X, y, sample_weight, class_weight):
    """float32 weights ``sample_weight * class_weight`` per sample, or None if neither is set.

    Raises ValueError when a weight is negative, not finite or beyond float32's
    range, or when every weight is 0: there would be nothing to train on.
    """
    weights = None
    if sample_weight is not None:
        weights = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        _check_weight_range(weights, "sample_weight")
    if class_weight is not None:
        _check_class_weight(class_weight)
        class_weights = compute_sample_weight(class_weight, y)
        weights = class_weights if weights is None else weights * class_weights
        _check_weight_range(weights, "sample_weight times class_weight")
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
