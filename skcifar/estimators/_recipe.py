"""The residual network's recipe: the plug-in :class:`Recipe` and its pieces.

``ResNetClassifier`` adds :class:`Recipe` to its fits' plug-ins
(:mod:`skcifar.estimators._plugins`). Its pieces act between epochs or steps:

* :class:`AlternatingFlip` - every image is mirrored on alternate epochs (a
  random half of them on even epochs, the other half on odd ones), instead
  of a coin toss per image and epoch: the input pipeline mirrors the images
  as it gathers them, from the epoch's number;

and the others are Keras callbacks:

* :class:`WhiteningBiasFreeze` - the patch-whitening layer's bias trains
  for the first epochs only;
* :class:`Lookahead` - every few steps the weights move to an exponential
  average of themselves, more strongly as training ends.
"""

from __future__ import annotations

import numpy as np

from ..architectures import schedule_steps, set_schedule_steps
from ..utils.backend import import_keras
from ._plugins import TrainingPlugin

keras = import_keras()


class AlternatingFlip:
    """Mirror each image on alternate epochs; which half starts is seeded.

    The ``flip`` of :func:`skcifar.utils.input_pipeline.batches`, which
    mirrors a row where ``rows`` differs from "the epoch is odd": a function
    of the epoch's number, so a resumed fit flips as a fit from scratch.

    Parameters
    ----------
    n_rows : int
        Rows of the training array (the flags cover all of them).
    seed : int or None
        Seed of the random half that is mirrored on even epochs.
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
    ``rho = decay ** every * (step / total_steps) ** power``: little
    averaging early, strong averaging at the end. Batch-norm statistics are
    averaged too. ``total_steps`` is what ``total_steps()`` gives, read at
    each averaging (a time budget may plan again; :class:`Recipe` passes the
    length of the network's learning-rate schedule), else, where it is None
    or gives None, the fit's own steps.
    """

    def __init__(self, start_epoch=3, every=5, decay=0.95, power=3.0, total_steps=None):
        super().__init__()
        self.start_epoch, self.every = int(start_epoch), int(every)
        self.decay, self.power = float(decay), float(power)
        self.total_steps = total_steps

    def on_train_begin(self, logs=None):
        self.step, self.average, self.epoch = 0, None, 0
        self._planned = max(int(self.params.get("steps") or 1) * int(self.params["epochs"]), 1)
        moving = [v for v in self.model.non_trainable_variables if "moving_" in v.path]
        self.variables = list(self.model.trainable_variables) + moving

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.epoch < self.start_epoch or self.step % self.every:
            return
        if self.average is None:
            self.average = [v.numpy() for v in self.variables]
            return
        rho = self.decay**self.every * (self.step / self._total()) ** self.power
        for variable, average in zip(self.variables, self.average, strict=True):
            average *= rho
            average += (1 - rho) * variable.numpy()
            variable.assign(average)

    def _total(self):
        """The fit's steps: ``total_steps()`` where it gives them, else the fit's own."""
        total = None if self.total_steps is None else self.total_steps()
        return self._planned if total is None else max(float(total), 1.0)

    def on_epoch_end(self, epoch, logs=None):
        if self.average is not None:  # the averaged weights, also for validation
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

    def __init__(self, *, alternating_flip, whiten_bias_epochs, lookahead):
        self.alternating_flip = bool(alternating_flip)
        self.whiten_bias_epochs = whiten_bias_epochs
        self.lookahead = bool(lookahead)

    def batches(self, fit):
        return {"flip": AlternatingFlip(len(fit.X), fit.seed)} if self.alternating_flip else {}

    def plan(self, fit, steps):
        set_schedule_steps(fit.estimator.model_, steps)  # the schedule spans the planned steps

    def callbacks(self, fit):
        callbacks = []
        if self.whiten_bias_epochs is not None:  # acts on a whitening layer, if there is one
            callbacks.append(WhiteningBiasFreeze(self.whiten_bias_epochs))
        if self.lookahead:  # averages over the schedule's length, as planned
            model = fit.estimator.model_
            callbacks.append(Lookahead(total_steps=lambda: schedule_steps(model)))
        return callbacks
