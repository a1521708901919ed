"""Stage 1b - preprocessing: scale pixel values for the networks."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from .utils.input_pipeline import aligned_empty
from .utils.validation import as_images, check_image_shape, validate_pixels

_MAX_PIXEL = 255.0
_CHUNK = 512  # rows processed at a time: temporaries of 6 MB for 32x32 RGB images


def _fitted_on_flat_rows(scaler):
    """True before fit and after a fit on flat rows; else an AttributeError saying why.

    scikit-learn's pandas/polars output (``set_output``) wraps a transformer's
    output only when it has ``get_feature_names_out``; images have no columns,
    so for them the method is absent (``available_if``).
    """
    shape = getattr(scaler, "input_shape_", None)
    if shape is not None and len(shape) != 1:
        raise AttributeError(
            "Feature names are defined for flat (n_samples, n_features) input only; this "
            f"{type(scaler).__name__} was fitted on images of shape {shape}, which have no "
            "columns (its transform returns arrays even under pandas output)."
        )
    return True


class PixelScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale pixel values from [0, 255] to floats in [0, 1].

    The scikit-learn form of the reference notebook's ``X / 255.0``, without
    its float64 copies: the output is ``float16`` by default (0.3 GB for the
    CIFAR-10 training set, against 1.2 GB in float64) or ``float32``,
    computed in chunks into memory the classifiers read batch by batch
    without a copy.

    Parameters
    ----------
    standardize : bool, default=False
        If True, also standardise each colour channel with the mean and
        standard deviation of the scaled pixels learned in :meth:`fit`.
    dtype : {"float16", "float32"}, default="float16"
        Output type. float16 keeps 11 significant bits: each of the 256 pixel
        levels stays distinct, within 1/16 of a level of its exact value
        (JPEG noise is larger), which is more than the networks keep when
        they compute in bfloat16 (8 bits); the classifiers widen each batch
        to float32 as they read it. ``"float32"`` doubles the memory, for
        other estimators downstream that want it.
    image_shape : tuple of int or None, default=None
        ``(height, width, channels)`` of the images that flat rows were
        flattened from: it tells ``standardize`` where the colour channels
        are. None applies the classifiers' image-shape rule
        (:mod:`skcifar.utils.validation`).

    Attributes
    ----------
    mean_ : ndarray of shape (n_channels,) or None
        Per-channel mean of the scaled pixels (None unless ``standardize``).
    scale_ : ndarray of shape (n_channels,) or None
        Per-channel standard deviation (1 where a channel is constant;
        None unless ``standardize``).
    n_features_in_ : int
        Number of values per sample seen in :meth:`fit`.
    input_shape_ : tuple of int
        Per-sample shape seen in :meth:`fit`; transform requires the same.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame.

    Notes
    -----
    Input may be images ``(n, H, W, C)`` or flat rows ``(n, H*W*C)``; the
    output has the input's shape. Values outside [0, 255], NaN and infinity
    raise ``ValueError``: they are not pixels.

    Under ``sklearn.set_config(transform_output="pandas")`` (or
    ``set_output``), flat rows come out as a DataFrame with the input's
    column names, as for any scikit-learn transformer; images have no
    columns and always come out as arrays, so image pipelines work the same
    under either setting.

    Examples
    --------
    >>> import numpy as np
    >>> from skcifar import PixelScaler
    >>> X = np.array([[[[0, 128, 255]]]], dtype=np.uint8)  # one 1x1 RGB image
    >>> PixelScaler().fit_transform(X)
    array([[[[0.   , 0.502, 1.   ]]]], dtype=float16)
    """

    _parameter_constraints: dict = {
        "standardize": ["boolean"],
        "dtype": [StrOptions({"float32", "float16"})],
        "image_shape": [tuple, list, None],
    }

    def __init__(self, standardize=False, dtype="float16", image_shape=None):
        self.standardize = standardize
        self.dtype = dtype
        self.image_shape = image_shape

    def _validate(self, X, reset):
        X = validate_pixels(self, X, reset=reset)
        # Reduce over the array itself: no float copy of the whole input.
        low, high = np.min(X), np.max(X)
        if low < 0 or high > _MAX_PIXEL:
            what = "Negative values in data" if low < 0 else "Values above 255 in data"
            raise ValueError(
                f"{what} passed to {type(self).__name__}: pixel values must lie in [0, 255]; "
                f"got values in [{low}, {high}]. Pass raw pixels (uint8 or 0-255 floats), not "
                "data that is already scaled or centred."
            )
        return X

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the input shape and, if ``standardize``, per-channel statistics.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, H*W*C)
            Pixel values in [0, 255].
        y : None
            Ignored.

        Returns
        -------
        self : PixelScaler
            The fitted transformer.
        """
        check_image_shape(self.image_shape)
        X = self._validate(X, reset=True)
        self.mean_ = self.scale_ = None
        if self.standardize:
            images = as_images(X, self.image_shape)
            n_channels = images.shape[-1]
            total = np.zeros(n_channels)
            total_sq = np.zeros(n_channels)
            for start in range(0, len(images), _CHUNK):
                chunk = images[start : start + _CHUNK].reshape(-1, n_channels)
                chunk = chunk.astype(np.float64) / _MAX_PIXEL
                total += chunk.sum(axis=0)
                total_sq += np.square(chunk).sum(axis=0)
            count = images.size / n_channels
            mean = total / count
            std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
            std[std < 1e-6] = 1.0
            self.mean_ = mean.astype(np.float32)
            self.scale_ = std.astype(np.float32)
        return self

    def _apply(self, X, forward):
        out = aligned_empty(X.shape, self.dtype if forward else np.float32)
        flat_out, flat_in = as_images(out, self.image_shape), as_images(X, self.image_shape)
        for start in range(0, len(X), _CHUNK):
            block = flat_in[start : start + _CHUNK].astype(np.float32)
            if forward:
                block *= np.float32(1.0 / _MAX_PIXEL)
                if self.mean_ is not None:
                    block -= self.mean_
                    block /= self.scale_
            else:
                if self.mean_ is not None:
                    block *= self.scale_
                    block += self.mean_
                block *= np.float32(_MAX_PIXEL)
            flat_out[start : start + _CHUNK] = block
        return out

    def transform(self, X):
        """Scale pixels to ``dtype`` values in [0, 1] (then standardise if asked).

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, H*W*C)
            Pixel values in [0, 255], with the per-sample shape seen in fit.

        Returns
        -------
        X_scaled : ndarray of ``dtype``, same shape as X
            The scaled pixels.
        """
        check_is_fitted(self)
        return self._apply(self._validate(X, reset=False), forward=True)

    def inverse_transform(self, X):
        """Map scaled values back to pixel values in [0, 255] (float32).

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, H*W*C)
            Output of :meth:`transform`.

        Returns
        -------
        X_pixels : ndarray of float32, same shape as X
            Pixel values.
        """
        check_is_fitted(self)
        X = validate_pixels(self, X, reset=False)
        return self._apply(X, forward=False)

    @available_if(_fitted_on_flat_rows)
    def get_feature_names_out(self, input_features=None):
        """Output feature names: the input's, one to one (flat input only).

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; defaults to ``feature_names_in_`` or
            ``x0 .. x{n-1}``.

        Returns
        -------
        feature_names_out : ndarray of str
            Same names as the input features.
        """
        check_is_fitted(self)
        return super().get_feature_names_out(input_features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.transformer_tags.preserves_dtype = [self.dtype]
        return tags
