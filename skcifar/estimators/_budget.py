"""Planning a ``time_budget`` fit: how many epochs fill the seconds left."""

from __future__ import annotations

import time

import numpy as np

from ..utils.backend import import_keras, released_gradient_registrations

# Training steps timed; the first (it traces the training step) is not counted.
TIMED_STEPS = 5
# A validation batch costs about a third of a training step (forward pass only).
VALIDATION_STEP_COST = 1 / 3


def epochs_within_budget(model, data, *, n_steps, n_validation_steps, seconds_left):
    """The number of epochs that fits in ``seconds_left``; at least 1.

    ``TIMED_STEPS + 1`` training steps are run on ``model`` itself with the
    first batches of ``data`` (a fresh, unshuffled dataset: the training
    dataset's shuffling stays untouched), timed, and undone: every weight,
    batch-norm statistic, optimizer slot and random-layer state is put back,
    so the run that follows is the run that ``epochs=n_iter_`` gives. The
    training step traced here is the one the fit then uses.

    Parameters
    ----------
    model : keras.Model
        The compiled network.
    data : tf.data.Dataset
        Training batches, in order.
    n_steps, n_validation_steps : int
        Training and validation batches of one epoch.
    seconds_left : float
        What is left of the budget.

    Returns
    -------
    int
        Epochs to train.
    """
    timed = data.repeat().take(TIMED_STEPS + 1)
    variables = list(model.variables) + list(model.optimizer.variables)
    saved = [variable.numpy() for variable in variables]
    clock = _StepClock()
    try:
        with released_gradient_registrations():
            model.fit(timed, epochs=1, verbose=0, shuffle=False, callbacks=[clock])
    finally:
        for variable, value in zip(variables, saved, strict=True):
            variable.assign(value)
    per_epoch = clock.seconds_per_step() * (n_steps + VALIDATION_STEP_COST * n_validation_steps)
    return max(1, int(seconds_left // per_epoch))


class _StepClock(import_keras().callbacks.Callback):
    """Times training steps; the first one (tracing) is left out."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())

    def seconds_per_step(self):
        """The median time of the steps after the first."""
        return float(np.median(np.diff(self.times)))
