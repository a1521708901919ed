"""The ResNet recipe's training pieces: the plug-in :class:`Recipe` and what it adds.

``ResNetClassifier`` (a ResNet-style network, plain by default;
``residual=True`` adds skip connections) adds :class:`Recipe` to its fits'
plug-ins (:mod:`skcifar.estimators._plugins`). Its pieces act between epochs
or steps:

* :class:`AlternatingFlip` - the input pipeline mirrors a seeded half of the
  images on even epochs and the other half on odd ones, so every image is
  mirrored on every other epoch (instead of a coin toss per image and epoch);

and the others are Keras callbacks:

* :class:`WhiteningBiasFreeze` - the patch-whitening layer's bias trains
  for the first epochs only;
* :class:`Lookahead` - every few steps the weights move to an exponential
  average of themselves, more strongly as training ends.
"""

from __future__ import annotations

import numpy as np

from ..architectures import schedule_steps, set_schedule_steps
from ..utils.backend import import_keras, sync_state, values_of
from ._plugins import TrainingPlugin

keras = import_keras()


class AlternatingFlip:
    """Which images each epoch mirrors: a seeded half on even epochs, the rest on odd ones.

    Every image is mirrored on every other epoch. ``rows`` flags the images
    mirrored on even epochs; :func:`skcifar.utils.input_pipeline.batches`
    (its ``flip``) mirrors row ``i`` in epoch ``e`` when ``rows[i]`` differs
    from "``e`` is odd". The choice depends on the epoch's number only, so a
    resumed fit flips as a fit from scratch.

    Parameters
    ----------
    n_rows : int
        Rows of the training array (the flags cover all of them).
    seed : int or None
        Seed of the half that is mirrored on even epochs.
    """

    def __init__(self, n_rows, seed):
        self.rows = np.random.RandomState(seed).rand(n_rows) < 0.5


class WhiteningBiasFreeze(keras.callbacks.Callback):
    """Train the patch-whitening layer's bias for ``epochs`` epochs, then freeze it."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = int(epochs)

    def on_epoch_begin(self, epoch, logs=None):
        training = epoch < self.epochs
        for layer in self.model.layers:
            if hasattr(layer, "bias_gate"):
                layer.bias_gate.assign(1.0 if training else 0.0)
                if not training and hasattr(self.model.optimizer, "reset_momentum"):
                    self.model.optimizer.reset_momentum(layer.bias)  # stop it at once


class Lookahead(keras.callbacks.Callback):
    """Pull the weights towards their running average every ``every`` steps.

    From epoch ``start_epoch`` on, every ``every`` steps the average moves
    towards the weights by ``1 - rho`` and the weights are set to it, with
    ``rho = decay ** every * min(step / total, 1) ** power``: little averaging
    early, strong averaging at the end. ``step`` counts the optimizer's steps
    of the whole run (its ``iterations``: a ``warm_start`` fit or
    ``partial_fit`` counts on), as the learning-rate schedule does; ``total``
    is the schedule's length (:func:`skcifar.architectures.schedule_steps`),
    read at each averaging, since a time budget may plan the fit again. A
    continued fit past the schedule's end averages as at its end.
    Batch-norm statistics are averaged too. The weights are set to the
    average at each epoch's end and before each validation pass, so the
    validation loss (and ``early_stopping``, which keeps the best epoch's
    weights) measures the weights the epoch ends with.
    """

    def __init__(self, start_epoch=3, every=5, decay=0.95, power=3.0):
        super().__init__()
        self.start_epoch, self.every = int(start_epoch), int(every)
        self.decay, self.power = float(decay), float(power)

    def on_train_begin(self, logs=None):
        self.step = int(values_of([self.model.optimizer.iterations])[0])  # 0 in a fresh fit
        self.average, self.epoch = None, 0
        moving = [v for v in self.model.non_trainable_variables if "moving_" in v.path]
        self.variables = list(self.model.trainable_variables) + moving

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.epoch < self.start_epoch or self.step % self.every:
            return
        model = self.model  # on JAX this writes the running fit's values into the variables
        if self.average is None:
            self.average = values_of(self.variables)
            return
        progress = min(self.step / schedule_steps(model), 1.0)
        rho = self.decay**self.every * progress**self.power
        for variable, value, average in zip(
            self.variables, values_of(self.variables), self.average, strict=True
        ):
            average *= rho
            average += (1 - rho) * value
            variable.assign(average)

    def on_test_begin(self, logs=None):
        self._set_to_average()  # Keras validates before on_epoch_end

    def on_epoch_end(self, epoch, logs=None):
        self._set_to_average()

    def _set_to_average(self):
        if self.average is not None:
            sync_state(self.model)
            for variable, average in zip(self.variables, self.average, strict=True):
                variable.assign(average)


class Recipe(TrainingPlugin):
    """The plug-in of the recipe's pieces for one fit of a ``ResNetClassifier``.

    Parameters
    ----------
    alternating_flip : bool
        Mirror each image on alternate epochs (:class:`AlternatingFlip`).
    whiten_bias_epochs : int or None
        Epochs the whitening layer's bias trains (:class:`WhiteningBiasFreeze`);
        None: no freeze.
    lookahead : bool
        Average the weights (:class:`Lookahead`).
    """

    # The network's schedule, and lookahead with it, spans the whole fit: a
    # longer fit is no continuation of a shorter one.
    continues_shorter_runs = False

    def __init__(self, *, alternating_flip, whiten_bias_epochs, lookahead):
        self.alternating_flip = bool(alternating_flip)
        self.whiten_bias_epochs = whiten_bias_epochs
        self.lookahead = bool(lookahead)

    def batches(self, fit):
        return {"flip": AlternatingFlip(len(fit.X), fit.seed)} if self.alternating_flip else {}

    def plan(self, fit, steps):
        """A fresh fit's schedule spans the planned steps; a continued fit keeps its schedule.

        The schedule is a function of the optimizer's steps since the network
        was built, so a continued fit (``warm_start``, budgeted or not) goes
        on along the schedule laid out when the network was built, and at
        its end rate once it has run out.
        """
        if not fit.continuing:
            set_schedule_steps(fit.estimator.model_, steps)

    def callbacks(self, fit):
        callbacks = []
        if self.whiten_bias_epochs is not None:  # acts on a whitening layer, if there is one
            callbacks.append(WhiteningBiasFreeze(self.whiten_bias_epochs))
        if self.lookahead:
            callbacks.append(Lookahead())
        return callbacks
