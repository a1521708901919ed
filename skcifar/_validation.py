"""Input validation shared by the transformer and the classifiers.

The reshaping rule for 2-D input (documented in the user guide)
---------------------------------------------------------------
Images are ``(n, H, W, C)`` arrays. A 2-D array ``(n, w)`` is read as images
flattened in NumPy's C order (what ``X.reshape(len(X), -1)`` gives for
``(n, H, W, C)`` images):

* ``w == 3 * k * k`` -> ``(n, k, k, 3)`` RGB images (``3072`` -> ``32x32x3``);
* ``w == k * k``     -> ``(n, k, k, 1)`` single-channel images;
* any other width (tabular, non-image data) -> ``(n, 1, w, 1)``, a one-pixel
  high strip, so the estimators still work on it.

No width satisfies both of the first two rules, so the rule is unambiguous.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data


def image_shape_for(n_features):
    """Return the ``(H, W, C)`` image shape that flat rows of this width encode.

    Parameters
    ----------
    n_features : int
        Width of the flat rows.

    Returns
    -------
    tuple of int
        ``(H, W, C)`` following the reshaping rule of this module.

    Examples
    --------
    >>> image_shape_for(3072)
    (32, 32, 3)
    >>> image_shape_for(4)
    (2, 2, 1)
    >>> image_shape_for(10)
    (1, 10, 1)
    """
    side = math.isqrt(n_features // 3)
    if n_features % 3 == 0 and 3 * side * side == n_features:
        return (side, side, 3)
    side = math.isqrt(n_features)
    if side * side == n_features:
        return (side, side, 1)
    return (1, n_features, 1)


def as_images(X):
    """View ``X`` as ``(n, H, W, C)`` images (no copy for C-contiguous input)."""
    if X.ndim == 4:
        return X
    return X.reshape((X.shape[0], *image_shape_for(X.shape[1])))


def _describe(shape):
    return "(n, " + ", ".join(str(s) for s in shape) + ")"


def validate_pixels(estimator, X, *, reset, dtype="numeric"):
    """Validate image or flat-row input and record/check its per-sample shape.

    On ``reset`` the estimator gets ``n_features_in_`` (values per sample) and
    ``input_shape_`` (per-sample shape); otherwise ``X`` must match them.
    Raises ``TypeError`` for sparse input and ``ValueError`` for wrong
    dimensions, non-numeric, complex, NaN or infinite values, or empty input.
    """
    name = type(estimator).__name__
    if X is None:
        raise ValueError(f"{name} needs X, got None.")
    if sp.issparse(X):
        raise TypeError(
            f"Sparse data was passed to {name}, but dense data is required: "
            "images are dense arrays. Use X.toarray() to convert."
        )
    ndim = getattr(X, "ndim", None)
    if not isinstance(ndim, int):  # lists, array-likes without .ndim
        ndim = np.asarray(X).ndim
    if ndim in (0, 1, 3) or ndim > 4:
        shape = np.shape(np.asarray(X))
        hints = {
            1: " Reshape your data: X.reshape(1, -1) for a single sample.",
            3: " Reshape your data: add a channel axis, X[..., None], for single-channel images.",
        }
        raise ValueError(
            f"{name} expects images of shape (n, height, width, channels) or flat rows "
            f"(n, height*width*channels); got a {ndim}-D array of shape {shape}."
            + hints.get(ndim, "")
        )
    if ndim == 2:
        X = validate_data(estimator, X, reset=reset, dtype=dtype, ensure_all_finite=True)
    else:
        X = check_array(X, allow_nd=True, dtype=dtype, ensure_all_finite=True, input_name="X")
        if reset:
            # Images carry no column names: drop any left by an earlier 2-D fit.
            estimator.__dict__.pop("feature_names_in_", None)
            estimator.n_features_in_ = int(np.prod(X.shape[1:]))
    if reset:
        estimator.input_shape_ = tuple(int(s) for s in X.shape[1:])
    elif X.shape[1:] != estimator.input_shape_:
        raise ValueError(
            f"X has per-sample shape {X.shape[1:]}, but {name} was fitted on "
            f"{_describe(estimator.input_shape_)} input; pass X of shape "
            f"{_describe(estimator.input_shape_)} (images and flat rows are not mixed)."
        )
    return X
