"""What a fit is made of beyond validate, build, feed and ``model.fit``: plug-ins.

The training loop (:meth:`KerasImageClassifier._train`) knows the features
of a fit only through :class:`TrainingPlugin`'s hooks. It asks the plug-ins
in order, hook by hook: every plug-in's ``resume``, then ``batches``, then
``step_limit`` until one gives a limit, then every ``callbacks`` and, once
training ends, every ``finish``; each plan of the fit's steps reaches every
plug-in's ``plan``. Each plug-in tells ``Resume`` what ``memory`` may do
with a fit (``continues_shorter_runs``, ``not_cached_because``). A
classifier lists its plug-ins in ``_plugins``: ``Resume`` (``memory``,
``_resume.py``), ``Budget`` (``time_budget``, ``_budget.py``), the ResNet's
``Recipe`` (``_recipe.py``), :class:`UserCallbacks` and
:class:`EarlyStopping` (here).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..utils.backend import import_keras


@dataclass
class Fit:
    """One call of ``fit`` or ``partial_fit``: what its plug-ins may read."""

    estimator: object  # the classifier, built (model_, classes_ set)
    X: np.ndarray  # the network input
    y: np.ndarray  # class indices
    weights: np.ndarray | None  # per-sample weights
    rows: np.ndarray  # the rows trained on
    validation_rows: np.ndarray | None  # the rows of the validation loss
    seed: int | None
    epochs: float  # the epochs asked for
    steps_per_epoch: int  # training steps (batches) per epoch
    continuing: bool  # it trains the existing network (warm_start, partial_fit)
    partial: bool  # a partial_fit call: one epoch on all rows
    started: float  # time.perf_counter() when the call began
    # The epoch training starts at: final only once every plug-in's resume ran.
    initial_epoch: int = 0
    plugins: list = field(default_factory=list)  # the fit's plug-ins, in order

    def replan(self, steps):
        """Tell every plug-in the fit's planned training steps (see :meth:`TrainingPlugin.plan`)."""
        for plugin in self.plugins:
            plugin.plan(self, steps)

    def batch_options(self):
        """The plug-ins' options of the training batches; two setting one is a RuntimeError."""
        options, givers = {}, {}
        for plugin in self.plugins:
            for name, value in plugin.batches(self).items():
                if name in options:
                    raise RuntimeError(
                        f"The plug-ins {type(givers[name]).__name__} and "
                        f"{type(plugin).__name__} both set the batches' option {name!r}: "
                        "only one plug-in of a fit may set an option."
                    )
                options[name], givers[name] = value, plugin
        return options


def state_variables(model):
    """The variables a run's state is in: the network's, then its optimizer's."""
    return [*model.variables, *model.optimizer.variables]


class TrainingPlugin:
    """A feature of a fit; every hook does nothing unless a plug-in overrides it."""

    #: Whether a fit with this plug-in continues a shorter run of itself, so
    #: that ``memory`` may resume it from a shorter run's checkpoint (False:
    #: from a checkpoint of exactly its own steps only).
    continues_shorter_runs = True

    def not_cached_because(self, fit):
        """Why ``memory`` can neither resume nor store this fit, or None (it can)."""
        return None

    def resume(self, fit):
        """Steps of this run already trained (and loaded into the network); 0 to start anew."""
        return 0

    def batches(self, fit):
        """Keyword arguments of the training batches (see ``utils.input_pipeline.batches``)."""
        return {}

    def step_limit(self, fit, done):
        """The fit's :class:`~skcifar.estimators._steps.StepLimit`, or None to leave it to others.

        The first plug-in returning a limit wins (none: ``epochs`` epochs).
        ``done`` is the steps the plug-ins' :meth:`resume` loaded: the limit
        counts them as trained.
        """
        return None

    def plan(self, fit, steps):
        """The fit is planned to train ``steps`` steps in all (a time budget's plan)."""

    def callbacks(self, fit):
        """Keras callbacks for ``model.fit``."""
        return []

    def finish(self, fit, limit):
        """Training ended normally after ``limit.trained`` steps (``limit``: the step limit)."""


class UserCallbacks(TrainingPlugin):
    """The ``callbacks`` parameter: the user's Keras callbacks, checked."""

    def not_cached_because(self, fit):
        return "callbacks cannot be compared between fits" if fit.estimator.callbacks else None

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
    """``early_stopping``: stop after ``patience`` epochs without a better validation loss.

    The best epoch's weights are kept, so a longer fit is no continuation of
    a shorter one. ``partial_fit`` (no validation rows) does not stop early.
    """

    continues_shorter_runs = False

    def __init__(self, patience):
        self.patience = int(patience)

    def callbacks(self, fit):
        if fit.partial:
            return []
        keras = import_keras()
        return [
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=self.patience, restore_best_weights=True
            )
        ]
