"""What a fit is made of beyond validate, build, feed and ``model.fit``: plug-ins.

The training loop (:meth:`KerasImageClassifier._train`) knows the features
of a fit only through :class:`TrainingPlugin`'s hooks. A classifier lists
its plug-ins in ``_plugins``; each lives in a module of its own, with its
own state:

* :class:`skcifar.estimators._resume.Resume` - ``memory``: resume from the
  cached checkpoint of a shorter run, store this one's;
* :class:`skcifar.estimators._budget.Budget` - ``time_budget``: time the
  first steps, plan the fit's steps, plan again when the machine changes
  speed, and tell the other plug-ins each plan;
* :class:`skcifar.estimators._recipe.Recipe` - the ResNet's recipe:
  alternating flips, the whitening layer's bias freeze, lookahead, and the
  schedule laid out over the planned steps;
* :class:`UserCallbacks` and :class:`EarlyStopping` (here).

The loop asks every plug-in in order: :meth:`~TrainingPlugin.resume` (steps
already trained), :meth:`~TrainingPlugin.batches` (options of the training
batches), :meth:`~TrainingPlugin.step_limit` (the first one given counts),
:meth:`~TrainingPlugin.callbacks` (Keras callbacks, in the plug-ins' order)
and, once training ends, :meth:`~TrainingPlugin.finish`. A plan of the fit's
steps (a budget's, at the start and whenever it re-plans) reaches every
plug-in's :meth:`~TrainingPlugin.plan`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..utils.backend import import_keras


@dataclass
class Fit:
    """One call of ``fit`` or ``partial_fit``: what its plug-ins may read.

    Attributes
    ----------
    estimator : KerasImageClassifier
        The classifier, built (``model_``, ``classes_`` set).
    X, y, weights : ndarray or None
        The network input, class indices and per-sample weights.
    rows, validation_rows : ndarray or None
        The rows trained on and those of the validation loss.
    seed : int or None
        The fit's seed.
    epochs : float
        The epochs asked for.
    n_steps : int
        Training steps (batches) per epoch.
    continuing : bool
        The fit trains the estimator's existing network (``warm_start``,
        ``partial_fit`` on a fitted estimator).
    partial : bool
        A ``partial_fit`` call: one epoch on all rows.
    started : float
        ``time.perf_counter()`` when the call began.
    initial_epoch : int
        The epoch number training starts at.
    plugins : list of TrainingPlugin
        The fit's plug-ins, in order.
    """

    estimator: object
    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None
    rows: np.ndarray
    validation_rows: np.ndarray | None
    seed: int | None
    epochs: float
    n_steps: int
    continuing: bool
    partial: bool
    started: float
    initial_epoch: int = 0
    plugins: list = field(default_factory=list)

    def replan(self, steps):
        """Tell every plug-in the fit's planned training steps (see :meth:`TrainingPlugin.plan`)."""
        for plugin in self.plugins:
            plugin.plan(self, steps)


class TrainingPlugin:
    """A feature of a fit; every hook does nothing unless a plug-in overrides it."""

    def resume(self, fit):
        """Steps of this run already trained (and loaded into the network); 0 to start anew."""
        return 0

    def batches(self, fit):
        """Keyword arguments of the training batches (see ``utils.input_pipeline.batches``)."""
        return {}

    def step_limit(self, fit, done):
        """The fit's :class:`~skcifar.estimators._budget.StepLimit`, or None to leave it to others.

        ``done`` steps were trained before (see :meth:`resume`).
        """
        return None

    def plan(self, fit, steps):
        """The fit is planned to train ``steps`` steps in all (a time budget's plan)."""

    def callbacks(self, fit):
        """Keras callbacks for ``model.fit``."""
        return []

    def finish(self, fit, limit):
        """Training ended normally after ``limit.steps`` steps (``limit``: the step limit)."""


class UserCallbacks(TrainingPlugin):
    """The ``callbacks`` parameter: the user's Keras callbacks, checked."""

    def callbacks(self, fit):
        keras = import_keras()
        callbacks = list(fit.estimator.callbacks or [])
        for callback in callbacks:
            if not isinstance(callback, keras.callbacks.Callback):
                raise TypeError(
                    "The 'callbacks' parameter must be a list of keras.callbacks.Callback "
                    f"instances; got an item of type {type(callback).__name__}."
                )
        return callbacks


class EarlyStopping(TrainingPlugin):
    """``early_stopping``: stop when the validation loss stops improving, keep the best weights.

    Parameters
    ----------
    patience : int
        Epochs without improvement before training stops (``n_iter_no_change``).
    """

    def __init__(self, patience):
        self.patience = int(patience)

    def callbacks(self, fit):
        keras = import_keras()
        return [
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=self.patience, restore_best_weights=True
            )
        ]
