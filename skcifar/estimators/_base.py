"""Stage 3 - the path of every classifier from ``fit`` to Keras' ``model.fit``.

Read :meth:`KerasImageClassifier._train` top to bottom: validate -> encode ->
build (seeded) -> plug-ins -> feed -> train -> finish. The features
of a fit (``memory``, ``time_budget``, a recipe, callbacks, early stopping)
are plug-ins (:mod:`skcifar.estimators._plugins`).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from ..architectures import OPTIMIZERS
from ..utils.backend import (
    configure_threads,
    quiet,
    release_memory,
    released_gradient_registrations,
    seed_from,
    seeded,
)
from ..utils.input_pipeline import batches, distributed_batch_multiple, epoch_steps
from ..utils.validation import check_image_shape, image_shape_for, validate_pixels
from ._budget import Budget
from ._devices import distributed, place
from ._inference import run_inference
from ._inputs import combined_weights, network_input, split_rows, validation_fraction
from ._labels import encode_labels, fit_classes
from ._nonfinite import NonFiniteGuard, NonFiniteTrainingError
from ._pickling import network_from_bytes, network_to_bytes
from ._plugins import EarlyStopping, Fit, UserCallbacks
from ._resume import Resume
from ._row_order import content_order
from ._steps import StepLimit, training_steps

#: Smallest batch of prediction and of the validation loss (``batch_size`` may be larger).
MIN_INFERENCE_BATCH = 256


class _AnyCase(StrOptions):
    """Constraint: a str among ``options`` in any case (Keras' "AdamW", "RMSprop")."""

    def is_satisfied_by(self, val):
        return isinstance(val, str) and val.lower() in self.options

    def __str__(self):
        return f"{super().__str__()} (any case)"


#: The parameters of the notebook classifiers (ANN, CNN) beyond the shared ones.
NOTEBOOK_CONSTRAINTS = {
    "optimizer": [_AnyCase(set(OPTIMIZERS)), HasMethods(["get_config"])],
    "dropout": [Interval(Real, 0, 1, closed="left")],
}


class KerasImageClassifier(ClassifierMixin, BaseEstimator):
    """Base class: the fit path of the image classifiers.

    Subclasses define ``__init__`` (the hyperparameters) and
    ``_build_network``; they may override the other hooks:

    * ``_build_network(input_shape, n_classes, n_train, seed, **build_args)`` - the network;
    * ``_data_build_args(X, rows)`` - its ``build_args``, learned from the training images;
    * ``_check_architecture()`` - checks the parameter constraints cannot express;
    * ``_extra_plugins(fit)`` - plug-ins of the network's own training recipe;
    * ``_inference_batch()`` - rows per batch of prediction and the validation loss;
    * ``_wrap_inference(probabilities)`` - :meth:`inference_function` around the network's.

    ``ClassifierMixin`` comes first in the bases, as scikit-learn requires.
    """

    _parameter_constraints: dict = {
        "learning_rate": [Interval(Real, 0, None, closed="neither"), None],
        "epochs": [Interval(Real, 0, None, closed="neither")],
        "time_budget": [Interval(Real, 0, None, closed="neither"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left"), None],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "image_shape": [tuple, list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
        "warm_start": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "devices": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    }

    def _set_params_from(self, arguments):
        """Store ``__init__``'s ``arguments`` (its ``locals()``) unchanged, as scikit-learn asks."""
        vars(self).update((name, value) for name, value in arguments.items() if name != "self")

    # -- hooks for subclasses ------------------------------------------------
    def _build_network(self, input_shape, n_classes, n_train, seed, **build_args):
        raise NotImplementedError  # pragma: no cover

    def _check_architecture(self):
        pass

    def _data_build_args(self, X, rows):
        return {}

    def _extra_plugins(self, fit):
        return []

    def _batch(self):
        """Rows per training step: ``batch_size``, once resolved."""
        return self.batch_size

    def _resolve_sizes(self, data, seed, build_args, deadline):
        """Settle the parameters a fresh fit resolves, before the build (none here)."""

    def _timed_step(self):
        """``(trace, per_step)``: a first and a later training step's seconds, timed already.

        None: nothing was timed (``Budget`` times the network itself).
        """
        return None

    def _smaller_network(self, work):
        """Parameters of a network with ``work`` times less work per image, in words, or None."""
        return None

    def _wrap_inference(self, probabilities):
        return probabilities

    def _inference_batch(self):
        # Small training batches would make prediction several times slower;
        # over several devices a batch is a multiple of their count.
        multiple = distributed_batch_multiple()
        return -(-max(self._batch(), MIN_INFERENCE_BATCH) // multiple) * multiple

    # -- public API -------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on ``(X, y)`` for ``epochs`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, n_features)
            Images, or flat rows (read as images by the image-shape rule of
            the user guide, see ``image_shape``).
        y : array-like of shape (n_samples,)
            Class labels (ints or strings).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights in the loss; multiplied by ``class_weight``.
            Samples of weight 0 are left out of training.

        Returns
        -------
        self : object
            The fitted classifier.

        Raises
        ------
        NonFiniteTrainingError
            When the loss or the weights become NaN or infinite: a fresh fit
            leaves the estimator unfitted, a ``warm_start`` fit as it was.
        """
        continuing = self.warm_start and self.initialized_
        self._train(X, y, sample_weight, epochs=self.epochs, continuing=continuing)
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

        Raises
        ------
        NonFiniteTrainingError
            When the loss or the weights become NaN or infinite: the
            estimator is left as it was before the call.
        """
        continuing = self.initialized_
        self._train(
            X, y, sample_weight, epochs=1, continuing=continuing, partial=True, classes=classes
        )
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def initialize(self, X, y):
        """Build the network for ``(X, y)`` without training it.

        The classifier is then fitted in scikit-learn's sense: ``predict``
        uses the freshly initialised network, and ``partial_fit`` or a
        ``warm_start`` fit trains it further.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, n_features)
            Images or flat rows: their per-sample shape is recorded.
        y : array-like of shape (n_samples,)
            Class labels: ``classes_`` is recorded.

        Returns
        -------
        self : object
            The initialised classifier.
        """
        with quiet(), distributed(self.devices, self._batch()):
            self._set_up(X, y, None, continuing=False)
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
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def inference_function(self, network=None):
        """The computation of :meth:`predict_proba` on one batch: images to probabilities.

        :meth:`predict_proba` runs it, compiled, over ``X`` in batches, and
        :func:`skcifar.export` traces it into the exported graph: the one
        definition of what a classifier predicts. A :class:`ResNetClassifier`
        averages the network's outputs over the test-time views (``tta``,
        ``tta_shift``) and sharpens them by ``temperature``.

        Parameters
        ----------
        network : keras.Model, default=None
            The network to run: ``model_`` (None), or a copy of it with the
            same inputs and outputs (:func:`skcifar.export` with
            ``format="onnx"`` passes a float32 copy of a bfloat16 network).

        Returns
        -------
        function : callable
            Maps a batch of images, a tensor of shape ``(n, *image_shape_)``
            (uint8, float16 or float32: the network casts it), to the
            probabilities, a float32 tensor of shape ``(n, n_classes_)``, in
            operations of the Keras backend. It follows the parameter values at the
            time of the call: after ``set_params``, ask for it again.

        Raises
        ------
        NotFittedError
            If the classifier is not fitted.

        Examples
        --------
        >>> import numpy as np
        >>> from skcifar import ANNClassifier
        >>> X = np.random.default_rng(0).integers(0, 256, (20, 4, 4, 3), dtype=np.uint8)
        >>> clf = ANNClassifier(hidden_layer_sizes=(8,), epochs=1, random_state=0)
        >>> clf = clf.fit(X, np.arange(20) % 2)
        >>> probabilities = clf.inference_function()
        >>> tuple(probabilities(X[:3]).shape)
        (3, 2)
        """
        check_is_fitted(self)
        network = self.model_ if network is None else network

        def probabilities(images):
            return network(images, training=False)

        return self._wrap_inference(probabilities)

    def predict_proba(self, X):
        """Class probabilities for ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W, C) or (n_samples, n_features)
            Input with the per-sample shape seen in fit.

        Returns
        -------
        proba : ndarray of float32 of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``, in float32, the
            precision the network computes in (or above it: bfloat16 networks
            return float32 too). uint8, float16 and float32 input is read as
            it is; any other dtype is converted to float32 first.

        Notes
        -----
        The distinct rows of ``X`` are predicted once each, in an order set
        by their contents, so reordering ``X`` reorders the result exactly
        and identical rows get identical probabilities, on any CPU. A row
        predicted with other rows (a subset of ``X``, or a batch of another
        size) may differ by a few units in float32's last place where matrix
        products depend on a row's place in the batch (the user guide's
        "Reproducibility" section).
        """
        check_is_fitted(self)
        with quiet():
            X = network_input(validate_pixels(self, X, reset=False), self.image_shape_)
            rows, inverse = content_order(X)
            data = batches(X, batch_size=self._inference_batch(), indices=rows)
            return run_inference(self, data)[inverse]

    # -- the fit path -----------------------------------------------------------
    def _train(self, X, y, sample_weight, *, epochs, continuing, partial=False, classes=None):
        """validate -> encode -> build (seeded) -> plug-ins -> feed -> train -> finish.

        ``continuing`` trains the existing network (warm start, partial_fit);
        ``partial`` trains one epoch on all of ``X``, with no validation split
        or early stopping. The rest comes from the plug-ins (:meth:`_plugins`).
        With ``devices`` over several devices, all of it runs in the scope of
        their Keras distribution (:mod:`skcifar.estimators._devices`).
        """
        started = time.perf_counter()
        budgeted = self.time_budget is not None and not partial
        with quiet(), distributed(self.devices, self._batch()):
            seed, X, y, weights, rows, validation_rows = self._set_up(
                X, y, sample_weight, continuing, partial, classes,
                deadline=started + self.time_budget if budgeted else None,
            )  # fmt: skip
            initial_epoch = self.current_epoch if continuing else 0
            kept = {k: v for k, v in vars(self).items() if k in ("history_", "n_iter_")}
            multiple = distributed_batch_multiple()
            fit = Fit(self, X, y, weights, rows, validation_rows, seed, epochs,
                      steps_per_epoch=epoch_steps(len(rows), self._batch(), multiple),
                      continuing=continuing, partial=partial, started=started,
                      initial_epoch=initial_epoch)  # fmt: skip
            fit.plugins = self._plugins(fit)
            done = sum(plugin.resume(fit) for plugin in fit.plugins)
            fit.initial_epoch += done // fit.steps_per_epoch
            train, validation = self._feed(fit)  # first: a time budget's plan counts its cost
            limit = self._step_limit(fit, done)
            if limit.trained >= limit.limit:  # the cache held this very run: nothing to train
                return
            self.n_iter_ = 0
            callbacks = [c for plugin in fit.plugins for c in plugin.callbacks(fit)]
            guard = NonFiniteGuard(type(self).__name__, restore=continuing)
            with self._on_failure(continuing, kept):
                self._fit_network(fit, train, validation, [*callbacks, limit, guard], limit)
            for plugin in fit.plugins:
                plugin.finish(fit, limit)

    def _plugins(self, fit):
        """The fit's plug-ins, in the order the loop asks them (see ``_plugins.py``).

        Their callbacks run in this order too, before the step limit's and
        the non-finite guard's.
        """
        plugins = [Resume()] if self.memory is not None else []
        if self.time_budget is not None:
            timed = self._timed_step()  # taken either way; a continued fit times again
            plugins.append(Budget(self.time_budget, timed=None if fit.continuing else timed))
        plugins += self._extra_plugins(fit)
        plugins.append(UserCallbacks())
        if self.early_stopping:
            plugins.append(EarlyStopping(self.n_iter_no_change))
        return plugins

    def _step_limit(self, fit, done):
        """The first plug-in's step limit, else ``epochs`` epochs (``done`` steps trained)."""
        for plugin in fit.plugins:
            limit = plugin.step_limit(fit, done)
            if limit is not None:
                return limit
        steps = training_steps(fit.epochs, fit.steps_per_epoch)
        return StepLimit(steps, fit.steps_per_epoch, done=done)

    def _feed(self, fit):
        """The training batches (with the plug-ins' options) and the validation ones, or None."""
        train = batches(fit.X, fit.y, fit.weights, batch_size=self._batch(), indices=fit.rows,
                        shuffle=True, seed=fit.seed, first_epoch=fit.initial_epoch,
                        **fit.batch_options())  # fmt: skip
        if fit.validation_rows is None:
            return train, None
        validation = batches(
            fit.X,
            fit.y,
            fit.weights,
            batch_size=self._inference_batch(),
            indices=fit.validation_rows,
        )
        return train, validation

    @contextlib.contextmanager
    def _on_failure(self, continuing, kept):
        """Ctrl-C keeps the epochs ended; a non-finite fit is forgotten, or put back to ``kept``."""
        try:
            yield
        except KeyboardInterrupt:
            if not continuing and not self.history_.get("loss"):
                self._forget_fit()
            raise
        except NonFiniteTrainingError:
            if not continuing:
                self._forget_fit()
            else:
                for name in ("history_", "n_iter_"):
                    vars(self).pop(name, None)
                vars(self).update(kept)
            raise

    def _set_up(self, X, y, sample_weight, continuing, partial=False, classes=None,
                deadline=None):  # fmt: skip
        """check -> validate -> encode -> split -> resolve and build (unless ``continuing``).

        Returns the seed, the network input, the class indices, the weights and
        the rows to train and to validate on (none for ``partial_fit``).
        ``deadline``: the ``time.perf_counter()`` a budgeted fit ends by.
        """
        self._check_architecture()  # the checks beyond the constraints, before X is read
        fraction = validation_fraction(self.validation_fraction, self.early_stopping)
        check_image_shape(self.image_shape)
        configure_threads()
        seed = seed_from(self.random_state)
        X, y, weights = self._validate(X, y, sample_weight, reset=not continuing)
        y = self._encode(y, reset=not continuing, classes=classes)
        rows, validation_rows = split_rows(y, weights, 0.0 if partial else fraction, seed)
        if len(rows) < distributed_batch_multiple():  # before a budget times any step
            raise ValueError(
                f"{len(rows)} training rows cannot be split over "
                f"devices={distributed_batch_multiple()}: each device needs a row of every "
                "batch. Use fewer devices, or more data."
            )
        if not continuing:  # a fresh network, seeded, with no epoch trained
            build_args = self._data_build_args(X, rows)
            self._resolve_sizes((X, y, weights, rows, validation_rows), seed, build_args, deadline)
            self._build(len(rows), seed, **build_args)
            self.history_ = {}
        else:  # built before, maybe on other devices: onto this fit's
            place(self.model_)
        return seed, X, y, weights, rows, validation_rows

    def _validate(self, X, y, sample_weight, reset):
        """Validated network input, 1-D labels and per-sample weights (or None)."""
        X = validate_pixels(self, X, reset=reset)
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        if reset:
            self.image_shape_ = (
                self.input_shape_
                if X.ndim == 4
                else image_shape_for(self.n_features_in_, self.image_shape)
            )
        weights = combined_weights(X, y, sample_weight, self.class_weight)
        return network_input(X, self.image_shape_), y, weights

    def _encode(self, y, reset, classes=None):
        if reset:
            self.classes_ = fit_classes(y, classes)
            self.n_classes_ = len(self.classes_)
        return encode_labels(self.classes_, y)

    def _build(self, n_train, seed, **build_args):
        """A fresh compiled network for ``image_shape_`` and ``n_classes_``."""
        release_memory()  # free the networks of earlier fits first (grid searches)
        with seeded(seed):
            self.model_ = self._build_network(
                self.image_shape_, self.n_classes_, n_train, seed, **build_args
            )

    def _fit_network(self, fit, train, validation, callbacks, limit):
        """Keras' ``model.fit`` for ``limit``'s steps; every epoch it ends lands in ``history_``."""
        previous = getattr(self.model_, "history", None)
        history = {}
        try:
            with seeded(fit.seed), released_gradient_registrations():
                history = self.model_.fit(
                    train,
                    validation_data=validation,
                    epochs=fit.initial_epoch
                    + math.ceil((limit.max_steps - limit.trained) / fit.steps_per_epoch),
                    steps_per_epoch=fit.steps_per_epoch,  # the batches run on, epoch after epoch
                    initial_epoch=fit.initial_epoch,
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
            self.n_iter_ = limit.epochs()

    def _forget_fit(self):
        """Drop every fitted attribute: the estimator is unfitted again."""
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)

    # -- fitted state -----------------------------------------------------------
    @property
    def initialized_(self):
        """Whether the classifier has a network (fitted, or built by :meth:`initialize`)."""
        return hasattr(self, "model_")

    @property
    def current_epoch(self):
        """Epochs trained so far: the length of ``history_["loss"]`` (0 before any)."""
        return len(getattr(self, "history_", {}).get("loss", []))

    def __getstate__(self):
        """The state to pickle: ``model_`` as the bytes of its ``.keras`` archive."""
        state = super().__getstate__()
        if "model_" in state:
            state = {**state, "model_": network_to_bytes(state["model_"])}
        return state

    def __setstate__(self, state):
        if isinstance(state.get("model_"), bytes):
            state = {**state, "model_": network_from_bytes(state["model_"])}
        super().__setstate__(state)

    # -- scikit-learn protocol --------------------------------------------------
    def __sklearn_is_fitted__(self):
        return self.initialized_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags
