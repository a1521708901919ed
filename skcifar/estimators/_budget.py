"""How long a fit trains: epochs (the last may be a fraction) and ``time_budget``."""

from __future__ import annotations

import math
import time
from collections import deque

import numpy as np

from ..utils.backend import import_keras, released_gradient_registrations

# Training steps timed; the first (it traces the training step) is not counted.
TIMED_STEPS = 5
# A validation batch costs about a third of a training step (forward pass only).
VALIDATION_STEP_COST = 1 / 3
# A time_budget fit checks its plan after each such share of its steps, from
# the median of the last REPLAN_WINDOW step times, and plans again when it would
# end more than REPLAN_TOLERANCE of the budget late (or twice that early).
REPLAN_SHARE = 0.02
REPLAN_WINDOW = 20
REPLAN_TOLERANCE = 0.02
# ... and may grow by up to this factor when the machine turns out faster.
MAX_GROWTH = 1.25


def training_steps(epochs, n_steps):
    """Optimiser steps in ``epochs`` epochs of ``n_steps`` batches; at least 1.

    A fractional ``epochs`` trains that share of the last epoch's batches
    (rounded to a whole batch).
    """
    return max(1, round(epochs * n_steps))


def as_epochs(steps, n_steps):
    """``steps`` in epochs: an int when whole, else a float (``training_steps`` inverts it)."""
    whole, rest = divmod(int(steps), n_steps)
    return whole if not rest else steps / n_steps


def seconds_for(done, steps, n_steps, per_step, per_validation):
    """Seconds to train ``steps`` more steps after ``done``, validation included.

    A validation pass (``per_validation`` seconds) follows every epoch end
    reached, the partial last epoch's too, and one still owed when ``done``
    ends an epoch.
    """
    end = done + steps
    passes = end // n_steps - done // n_steps + (end % n_steps > 0)
    passes += done > 0 and done % n_steps == 0
    return steps * per_step + passes * per_validation


def steps_within(seconds, done, n_steps, per_step, per_validation):
    """The most steps after ``done`` that :func:`seconds_for` fits in ``seconds`` (maybe 0)."""
    low, high = 0, max(0, int(seconds / per_step)) + 1
    while low < high:  # seconds_for grows with steps: bisect
        middle = (low + high + 1) // 2
        if seconds_for(done, middle, n_steps, per_step, per_validation) <= seconds + 1e-9:
            low = middle
        else:
            high = middle - 1
    return low


def steps_within_budget(model, data, *, n_steps, n_validation_steps, seconds_left):
    """The training steps that fill ``seconds_left``; at least one.

    ``TIMED_STEPS + 1`` training steps are run on ``model`` itself with the
    first batches of ``data`` (a fresh, unshuffled dataset: the training
    dataset's shuffling stays untouched), timed, and undone: every weight,
    batch-norm statistic, optimizer slot and random-layer state is put back,
    so the run that follows is the run that ``epochs=n_iter_`` gives. The
    training step traced here is the one the fit then uses. A validation
    pass follows every epoch, the last, partial one included.

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
    steps : int
        Training steps to take.
    per_step : float
        The seconds of one training step, as timed.
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
    per_step = clock.seconds_per_step()
    per_validation = VALIDATION_STEP_COST * n_validation_steps * per_step
    return max(steps_within(seconds_left, 0, n_steps, per_step, per_validation), 1), per_step


def budget_limit(model, data, *, n_steps, n_validation_steps, seconds, deadline, replan):
    """The :class:`StepLimit` of a ``time_budget`` fit: timed, planned, kept to.

    Plans with :func:`steps_within_budget`, calls ``replan(steps)`` with the
    plan (and with every new plan during training), and returns the limit
    that ends the fit by ``deadline`` (a ``time.perf_counter()`` value), the
    end of a budget of ``seconds``.
    """
    steps, per_step = steps_within_budget(
        model,
        data,
        n_steps=n_steps,
        n_validation_steps=n_validation_steps,
        seconds_left=deadline - time.perf_counter(),
    )
    replan(steps)
    return StepLimit(
        steps,
        n_steps,
        deadline=deadline,
        tolerance=REPLAN_TOLERANCE * seconds,
        max_steps=math.ceil(steps * MAX_GROWTH),
        per_validation=VALIDATION_STEP_COST * n_validation_steps * per_step,
        replan=replan,
    )


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


class StepLimit(import_keras().callbacks.Callback):
    """Counts the training steps of a fit and ends it after ``limit`` of them.

    With a ``deadline`` (a ``time.perf_counter()`` value), the plan is checked
    every ``REPLAN_SHARE`` of the steps against the recent step and
    validation times: when the fit would end more than ``tolerance`` seconds
    after the deadline (the machine slowed down) or ``2 * tolerance`` before
    it (it sped up), the limit is planned again to end at the deadline (at
    most ``max_steps``) and ``replan(steps)`` is called with it (the ResNet
    lays its schedule out over it). ``replanned`` counts those changes.
    ``done`` steps were trained before this fit (it resumes a cached run):
    they count towards ``limit`` and :meth:`epochs`.
    """

    def __init__(self, limit, n_steps, *, deadline=None, tolerance=0.0, max_steps=None,
                 per_validation=0.0, replan=None, done=0):  # fmt: skip
        super().__init__()
        self.limit = int(limit)
        self.n_steps = int(n_steps)
        self.steps = int(done)
        self.deadline = deadline
        self.tolerance = tolerance
        self.max_steps = max_steps or self.limit
        self.per_validation = per_validation
        self.replan = replan
        self.replanned = 0
        self.check_every = max(1, int(self.limit * REPLAN_SHARE))
        self._step_seconds = deque(maxlen=REPLAN_WINDOW)
        self._last = None
        self._test_started = None

    def epochs(self):
        """The epochs trained so far (see :func:`as_epochs`)."""
        return as_epochs(self.steps, self.n_steps)

    def on_epoch_begin(self, epoch, logs=None):
        self._last = time.perf_counter()  # validation and epoch ends are timed apart

    def on_test_begin(self, logs=None):
        self._test_started = time.perf_counter()

    def on_test_end(self, logs=None):
        self.per_validation = time.perf_counter() - self._test_started

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.deadline is not None:  # only a time budget needs the clock
            now = time.perf_counter()
            self._step_seconds.append(now - self._last)
            self._last = now
            if self.steps % self.check_every == 0:
                self._check_plan(now)
        if self.steps >= self.limit:
            self.model.stop_training = True

    def _check_plan(self, now):
        per_step = max(float(np.median(self._step_seconds)), 1e-9)
        times = (self.n_steps, per_step, self.per_validation)
        late = now + seconds_for(self.steps, self.limit - self.steps, *times) - self.deadline
        if -2 * self.tolerance <= late <= self.tolerance:
            return
        more = steps_within(self.deadline - now, self.steps, *times)
        limit = max(min(self.steps + more, self.max_steps), self.steps, 1)
        if limit != self.limit:
            self.limit = limit
            self.replanned += 1
            if self.replan is not None:
                self.replan(limit)
