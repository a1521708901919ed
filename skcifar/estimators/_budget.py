"""How long a fit trains: epochs (the last may be a fraction), and the ``time_budget`` plug-in."""

from __future__ import annotations

import math
import time
from collections import deque

import numpy as np

from ..utils.backend import import_keras, released_gradient_registrations
from ..utils.input_pipeline import batches
from ._plugins import TrainingPlugin

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


class Budget(TrainingPlugin):
    """``time_budget``: the plug-in that plans a fit's steps to end by the deadline.

    Before training it runs ``TIMED_STEPS + 1`` training steps on the network
    itself with the first training batches (a fresh, unshuffled dataset: the
    training dataset's shuffling stays untouched), times them, and undoes
    them: every weight, batch-norm statistic, optimizer slot and
    random-layer state is put back, so the run that follows is the run that
    ``epochs=n_iter_`` gives. The training step traced here is the one the fit
    then uses. From the step time it plans the steps that fill what is left
    of the budget (a validation pass following every epoch, the last, partial
    one included; at least one step), tells the fit's plug-ins the plan
    (:meth:`Fit.replan <skcifar.estimators._plugins.Fit.replan>`: the recipe
    lays its schedule out over it) and returns the :class:`StepLimit` that
    keeps to it and plans again while training.

    Parameters
    ----------
    seconds : float
        The budget: the whole ``fit`` call ends within it.
    """

    def __init__(self, seconds):
        self.seconds = float(seconds)
        self.per_step = None

    def step_limit(self, fit, done):
        estimator = fit.estimator
        n_validation_steps = (
            0
            if fit.validation_rows is None
            # (in training batches: the estimate is a share of a training step)
            else math.ceil(len(fit.validation_rows) / estimator.batch_size)
        )
        data = batches(fit.X, fit.y, fit.weights, batch_size=estimator.batch_size, indices=fit.rows)
        deadline = fit.started + self.seconds
        seconds_left = deadline - time.perf_counter()  # the timed steps are the fit's own
        self.per_step = self._time_steps(estimator.model_, data)
        per_validation = VALIDATION_STEP_COST * n_validation_steps * self.per_step
        steps = max(steps_within(seconds_left, 0, fit.n_steps, self.per_step, per_validation), 1)
        fit.replan(steps)
        return StepLimit(
            steps,
            fit.n_steps,
            deadline=deadline,
            tolerance=REPLAN_TOLERANCE * self.seconds,
            max_steps=math.ceil(steps * MAX_GROWTH),
            per_validation=per_validation,
            replan=fit.replan,
        )

    @staticmethod
    def _time_steps(model, data):
        """Seconds of one training step of ``model`` on ``data``, timed and undone."""
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
        return clock.seconds_per_step()


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
    most ``max_steps``) and ``replan(steps)`` is called with it (the fit's
    plug-ins hear of it: the recipe lays its schedule out over it).
    ``replanned`` counts those changes. ``done`` steps were trained before
    this fit (it resumes a cached run): they count towards ``limit`` and
    :meth:`epochs`.
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
