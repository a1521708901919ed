"""Input validation shared by the transformer and the classifiers.

.. _image-shape-rule:

The image-shape rule (the one place it is written; the docs link here)
-----------------------------------------------------------------------
Images are ``(n, H, W, C)`` arrays and are used as they are. A 2-D array
``(n, w)`` holds flat rows, read in NumPy's C order (what
``X.reshape(len(X), -1)`` gives for ``(n, H, W, C)`` images):

* with ``image_shape=(H, W, C)`` given, each row becomes an ``(H, W, C)``
  image (``w`` must equal ``H * W * C``);
* else a width of 3072 is CIFAR-10's flat layout, ``(32, 32, 3)``;
* any other width is tabular data: a one-pixel-high strip ``(1, w, 1)``,
  which is never augmented or flipped (too small to be an image).

Nothing else is guessed from the width: a 64-column table stays a table.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data

from .sizes import check_sizes

#: Width of CIFAR-10's flat rows, read as 32x32 RGB images.
CIFAR_FLAT_WIDTH = 3072
CIFAR_IMAGE_SHAPE = (32, 32, 3)
#: The largest magnitude float32, the precision the networks compute in, holds.
FLOAT32_MAX = float(np.finfo(np.float32).max)
# Values per block of the float32 range check: a cache-sized view, never a copy.
_RANGE_BLOCK = 1 << 17


def check_image_shape(image_shape):
    """Validate an ``image_shape`` parameter: None or ``(H, W, C)`` positive ints.

    Examples
    --------
    >>> check_image_shape((8, 8, 3))
    (8, 8, 3)
    """
    if image_shape is None:
        return None
    sizes = check_sizes("image_shape", image_shape)
    if len(sizes) != 3:
        raise ValueError(
            "The 'image_shape' parameter must be None or (height, width, channels), e.g. "
            f"image_shape=(32, 32, 3); got {image_shape!r}."
        )
    return sizes


def image_shape_for(n_features, image_shape=None):
    """Return the ``(H, W, C)`` image shape that flat rows of this width are read as.

    Parameters
    ----------
    n_features : int
        Width of the flat rows.
    image_shape : tuple of int or None, default=None
        The shape asked for; its size must be ``n_features``.

    Returns
    -------
    tuple of int
        ``(H, W, C)`` following the image-shape rule of this module.

    Examples
    --------
    >>> image_shape_for(3072)
    (32, 32, 3)
    >>> image_shape_for(64)
    (1, 64, 1)
    >>> image_shape_for(64, image_shape=(8, 8, 1))
    (8, 8, 1)
    """
    shape = check_image_shape(image_shape)
    if shape is not None:
        if int(np.prod(shape)) != n_features:
            raise ValueError(
                f"image_shape={shape} holds {int(np.prod(shape))} values per sample, but the "
                f"flat rows of X have {n_features}; pass the (height, width, channels) of the "
                "images the rows were flattened from."
            )
        return shape
    if n_features == CIFAR_FLAT_WIDTH:
        return CIFAR_IMAGE_SHAPE
    return (1, int(n_features), 1)


def as_images(X, image_shape=None):
    """View ``X`` as ``(n, H, W, C)`` images (no copy for C-contiguous input)."""
    if X.ndim == 4:
        return X
    return X.reshape((X.shape[0], *image_shape_for(X.shape[1], image_shape)))


def _describe(shape):
    return "(n, " + ", ".join(str(s) for s in shape) + ")"


def _finite_half(X):
    """Whether ``X`` is a float16 array of finite values only, by an exact float32 sum.

    scikit-learn's check sums in float16, which overflows and falls back to a slow check.
    """
    if not (isinstance(X, np.ndarray) and X.dtype == np.float16):
        return False
    return bool(np.isfinite(X.sum(dtype=np.float32)))


def _check_float32_range(X, name):
    """Raise ValueError when finite values of ``X`` (of estimator ``name``) exceed float32.

    The networks compute in float32 (or less), where such a value becomes
    infinite and every output NaN. Wider floats are checked in blocks of rows.
    """
    if X.dtype.kind != "f" or X.dtype.itemsize <= 4 or X.size == 0:
        return
    rows = max(1, _RANGE_BLOCK // max(1, int(np.prod(X.shape[1:]))))
    low, high = np.inf, -np.inf
    for start in range(0, len(X), rows):
        block = X[start : start + rows]
        low, high = min(low, float(block.min())), max(high, float(block.max()))
    if low < -FLOAT32_MAX or high > FLOAT32_MAX:
        raise ValueError(
            f"X holds values in [{low:.3g}, {high:.3g}], beyond float32's range "
            f"(magnitudes up to {FLOAT32_MAX:.3g}), the precision {name} computes in: they "
            "would become infinite and the outputs NaN. Scale the input first, e.g. "
            "PixelScaler for pixels or sklearn.preprocessing.StandardScaler for other "
            "features."
        )


def validate_pixels(estimator, X, *, reset, dtype="numeric"):
    """Validate image or flat-row input and record/check its per-sample shape.

    On ``reset`` the estimator gets ``n_features_in_`` (values per sample) and
    ``input_shape_`` (per-sample shape); otherwise ``X`` must match them. An
    estimator with an ``image_shape`` parameter gets it checked against ``X``
    (4-D input must have that shape; flat rows that size).
    Raises ``TypeError`` for sparse input and ``ValueError`` for wrong
    dimensions, non-numeric, complex, NaN or infinite values, finite values
    beyond float32's range, or empty input.
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
    check_finite = not _finite_half(X)  # else known finite already
    if ndim == 2:
        X = validate_data(estimator, X, reset=reset, dtype=dtype, ensure_all_finite=check_finite)
    else:
        X = check_array(
            X, allow_nd=True, dtype=dtype, ensure_all_finite=check_finite, input_name="X"
        )
        if reset:
            # Images carry no column names: drop any left by an earlier 2-D fit.
            estimator.__dict__.pop("feature_names_in_", None)
            estimator.n_features_in_ = int(np.prod(X.shape[1:]))
    _check_float32_range(X, name)
    if reset:
        estimator.input_shape_ = tuple(int(s) for s in X.shape[1:])
        image_shape = check_image_shape(getattr(estimator, "image_shape", None))
        if X.ndim == 4 and image_shape is not None and estimator.input_shape_ != image_shape:
            raise ValueError(
                f"{name} has image_shape={image_shape}, but X holds images of shape "
                f"{estimator.input_shape_}; leave image_shape=None for 4-D input, or pass "
                "matching images."
            )
        if X.ndim == 2:
            image_shape_for(X.shape[1], image_shape)  # the size must match
    elif X.shape[1:] != estimator.input_shape_:
        raise ValueError(
            f"X has per-sample shape {X.shape[1:]}, but {name} was fitted on "
            f"{_describe(estimator.input_shape_)} input; pass X of shape "
            f"{_describe(estimator.input_shape_)} (images and flat rows are not mixed)."
        )
    return X
