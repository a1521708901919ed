"""Stage 3 - the shared scikit-learn/scikeras machinery of the image classifiers."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_consistent_length

from .._backend import (
    configure_threads,
    import_keras,
    release_memory,
    released_gradient_registrations,
    seed_from,
    seeded,
)
from .._memory import batches
from .._validation import as_images, image_shape_for, validate_pixels
from ..architectures import OPTIMIZERS
from ._labels import _ClassEncoder

import_keras()  # scikeras imports Keras at import time: silence TensorFlow's start-up first
from scikeras.wrappers import BaseWrapper  # noqa: E402

_OPTIMIZER_NAMES = {form for name in OPTIMIZERS for form in (name, name.upper(), name.title())}


def _layer_sizes(name, value):
    """Validate a layer-size parameter: a positive int or a sequence of them."""
    sizes = (value,) if isinstance(value, Integral) else value
    if not isinstance(sizes, (tuple, list)) or not all(
        isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes
    ):
        raise ValueError(
            f"The '{name}' parameter must be a positive int or a tuple of positive ints, "
            f"e.g. {name}=(32, 64); got {value!r}."
        )
    return tuple(int(s) for s in sizes)


class _KerasImageClassifier(ClassifierMixin, BaseWrapper):
    """Base class: scikeras' fitting machinery with scikit-learn conventions.

    Subclasses define ``__init__`` (the hyperparameters) and
    ``_build_network(input_shape, n_classes)``. Built on scikeras'
    ``BaseWrapper``, with ``ClassifierMixin`` first in the bases as
    scikit-learn requires.
    """

    _parameter_constraints: dict = {
        "optimizer": [StrOptions(_OPTIMIZER_NAMES), HasMethods(["get_config"])],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), None],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left"), None],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
        "warm_start": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "dropout": [Interval(Real, 0, 1, closed="left")],
    }

    # What scikeras' BaseWrapper routes from get_params() to Model.predict (fit
    # and compile are ours: the builders compile, _fit_keras_model fits).
    _predict_kwargs = {"batch_size"}

    # scikit-learn's parameter handling (signature based), not scikeras' routing.
    get_params = BaseEstimator.get_params
    set_params = BaseEstimator.set_params
    _get_param_names = BaseEstimator.__dict__["_get_param_names"]  # the classmethod itself
    __repr__ = BaseEstimator.__repr__

    # -- hooks for subclasses ------------------------------------------------
    def _build_network(self, input_shape, n_classes):  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_architecture(self):
        """Validate architecture parameters that constraints cannot express."""

    # -- validation ------------------------------------------------------------
    def _validation_fraction(self):
        if self.validation_fraction is None:
            return 0.1 if self.early_stopping else 0.0
        if self.early_stopping and self.validation_fraction == 0:
            raise ValueError(
                "early_stopping=True needs a validation set: set validation_fraction > 0 "
                "(or None for the default 0.1)."
            )
        return float(self.validation_fraction)

    def _validate_data(self, X=None, y=None, reset=False, y_numeric=False):
        """scikeras hook: check X (and y), return images ready for the network."""
        X = validate_pixels(self, X, reset=reset)
        if y is not None:
            y = column_or_1d(y, warn=True)
            check_consistent_length(X, y)
        if reset:
            self.image_shape_ = (
                self.input_shape_ if X.ndim == 4 else image_shape_for(self.n_features_in_)
            )
        X = as_images(X)
        if X.dtype not in (np.float32, np.float16, np.uint8):
            X = X.astype(np.float32)
        return X, y

    @property
    def target_encoder(self):
        return _ClassEncoder(classes=getattr(self, "_partial_classes", None))

    @property
    def feature_encoder(self):
        return FunctionTransformer()  # inputs are prepared by _validate_data

    # -- scikeras overrides: build and fit with our seeding -------------------
    def _initialize(self, X, y=None):
        X, y = self._validate_data(X, y, reset=True)
        self.target_encoder_ = self.target_encoder.fit(y)
        vars(self).update(self.target_encoder_.get_metadata())
        self.feature_encoder_ = self.feature_encoder.fit(X)
        self.model_ = self._build_keras_model()
        self._initialize_callbacks()
        return X, y

    def _build_keras_model(self):
        release_memory()  # free the networks of earlier fits first (grid searches)
        with seeded(self._seed):
            return self._build_network(self.image_shape_, self.n_classes_)

    def _split_validation(self, y):
        """Row indices of the training and validation parts (None: no validation)."""
        fraction = self._validation_fraction()
        rows = np.arange(len(y))
        if not fraction:
            return rows, None
        n_val = max(int(round(fraction * len(y))), 1)
        counts = np.bincount(y)
        stratify = y if counts[counts > 0].min() >= 2 and n_val >= len(counts) else None
        return train_test_split(rows, test_size=n_val, random_state=self._seed, stratify=stratify)

    def _fit_keras_model(
        self, X, y, sample_weight, warm_start, epochs, initial_epoch, partial=False, **kwargs
    ):
        keras = import_keras()
        self._initialize_callbacks()  # honour callbacks set since the model was built
        callbacks = list(self._fit_callbacks)
        rows, validation = np.arange(len(y)), None
        if not partial:
            rows, val_rows = self._split_validation(y)
            if val_rows is not None:
                validation = batches(
                    X, y, sample_weight, batch_size=self.batch_size, indices=val_rows
                )
            if self.early_stopping:
                callbacks.append(
                    keras.callbacks.EarlyStopping(
                        monitor="val_loss",
                        patience=self.n_iter_no_change,
                        restore_best_weights=True,
                    )
                )
        # Batches are gathered from X's own memory (no float32 copy of the data);
        # the order is reshuffled every epoch, reproducibly under random_state.
        seed = None if self._seed is None else self._seed + initial_epoch
        train = batches(
            X, y, sample_weight, batch_size=self.batch_size, indices=rows, shuffle=True, seed=seed
        )
        if not (warm_start or partial) or not hasattr(self, "history_"):
            self.history_ = {}
        previous = getattr(self.model_, "history", None)
        history = {}
        try:
            with seeded(self._seed), released_gradient_registrations():
                history = self.model_.fit(
                    train,
                    validation_data=validation,
                    epochs=initial_epoch + epochs,
                    initial_epoch=initial_epoch,
                    verbose=int(self.verbose),
                    shuffle=False,  # the batches are shuffled already
                    callbacks=callbacks,
                ).history
        except KeyboardInterrupt:
            # Keras attaches this fit's History to the model at each epoch end:
            # it holds the epochs completed before Ctrl-C (none if unchanged).
            current = getattr(self.model_, "history", None)
            history = current.history if current is not previous and current else {}
            raise
        finally:
            for key, values in history.items():
                self.history_.setdefault(key, []).extend(float(v) for v in values)

    def _predict_raw(self, X, **kwargs):
        """The network's outputs for ``X``, fed batch by batch from its memory."""
        if not self.initialized_:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        X, _ = self._validate_data(X)
        kwargs = {"verbose": 0, "callbacks": getattr(self, "_predict_callbacks", None), **kwargs}
        batch_size = kwargs.pop("batch_size", self.batch_size)
        return self._predict_batches(batches(X, batch_size=batch_size), **kwargs)

    def _predict_batches(self, data, **kwargs):
        """The network's outputs for a dataset of input batches (subclasses add to it)."""
        return self.model_.predict(data, **kwargs)

    # -- public API -------------------------------------------------------------
    def _prepare_fit(self, y, sample_weight):
        self._check_architecture()
        self._validation_fraction()
        configure_threads()
        self._seed = seed_from(self.random_state)
        if self.class_weight is not None:
            weights = compute_sample_weight(self.class_weight, column_or_1d(y))
            sample_weight = (
                weights
                if sample_weight is None
                else (np.asarray(sample_weight, dtype=np.float64) * weights)
            )
        return sample_weight

    def _interruptible_fit(self, X, y, **kwargs):
        """scikeras' ``_fit``, leaving a consistent estimator on Ctrl-C.

        Interrupted after at least one completed epoch, the estimator stays
        fitted: its network keeps the weights it had when interrupted and
        ``history_`` lists the completed epochs. A fresh (not warm-started) fit
        interrupted before its first epoch ends leaves the estimator unfitted. KeyboardInterrupt is
        re-raised either way, so a search or script still stops.
        """
        continuing = self.initialized_ and (self.warm_start or kwargs.get("warm_start", False))
        try:
            self._fit(X, y, **kwargs)
        except KeyboardInterrupt:
            if not continuing and not getattr(self, "history_", {}).get("loss"):
                for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
                    delattr(self, name)
            raise

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on ``(X, y)`` for ``epochs`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, n_features)
            Images, or flat rows (see the reshaping rule in the user guide).
        y : array-like of shape (n_samples,)
            Class labels (ints or strings).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights in the loss; multiplied by ``class_weight``.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        self._partial_classes = None
        sample_weight = self._prepare_fit(y, sample_weight)
        self._interruptible_fit(
            X,
            y,
            sample_weight=sample_weight,
            warm_start=self.warm_start,
            epochs=self.epochs,
            initial_epoch=0,
        )
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch on ``(X, y)``, continuing from the current state.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, n_features)
            Images or flat rows.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like of shape (n_classes,), default=None
            All classes; required on the first call if ``y`` may not hold
            every class, ignored afterwards.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights.

        Returns
        -------
        self : object
            The updated classifier.
        """
        if not self.initialized_:
            self._partial_classes = None if classes is None else np.unique(classes)
        sample_weight = self._prepare_fit(y, sample_weight)
        self._interruptible_fit(
            X,
            y,
            sample_weight=sample_weight,
            warm_start=True,
            epochs=1,
            initial_epoch=self.current_epoch,
            partial=True,
        )
        return self

    def predict(self, X):
        """Predicted class labels for ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, n_features)
            Input with the per-sample shape seen in fit.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The most probable class of each sample, from ``classes_``.
        """
        return super().predict(X)

    def predict_proba(self, X):
        """Class probabilities for ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, n_features)
            Input with the per-sample shape seen in fit.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        return self._predict_raw(X)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags
