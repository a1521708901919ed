"""``time_budget``: the plug-in :class:`Budget` plans a fit's steps and keeps to the plan.

It plans from timed steps at the start, and again while training when the
machine changes speed, and tells the fit's plug-ins each plan (the recipe
lays its schedule out over it).
"""

from __future__ import annotations

import math
import time
import warnings
from collections import deque

import numpy as np

from ..utils.backend import import_keras, released_gradient_registrations, values_of
from ..utils.input_pipeline import batches
from ..utils.stacklevel import user_stacklevel
from ._plugins import TrainingPlugin, state_variables
from ._steps import StepLimit

# Training steps timed; the first (it traces the training step) is not counted.
TIMED_STEPS = 5
# A validation batch costs about a third of a training step (forward pass only).
VALIDATION_STEP_COST = 1 / 3
# A time_budget fit checks its plan after each such share of its steps, from
# the median of the last REPLAN_WINDOW step times, and plans again when it would
# end more than TIME_BUDGET_TOLERANCE of the budget late (or twice that early).
REPLAN_SHARE = 0.02
REPLAN_WINDOW = 20
#: Share of ``time_budget`` by which a fit may end late before it plans its steps
#: again (or twice that share early): a budgeted fit ends within
#: ``(1 + TIME_BUDGET_TOLERANCE) * time_budget``, barring a single slow step.
TIME_BUDGET_TOLERANCE = 0.02
# A later plan has at most this factor times the first plan's steps (the
# machine turned out faster).
MAX_GROWTH = 1.25
#: A first plan of fewer epochs than this warns (:class:`TimeBudgetWarning`).
MIN_PLAN_EPOCHS = 2.0


def seconds_for(done, steps, steps_per_epoch, per_step, per_validation):
    """Seconds to train ``steps`` more steps after ``done``, validation included.

    A validation pass follows every epoch end reached, the partial last
    epoch's too, and one is still owed when ``done`` ends an epoch.
    """
    end = done + steps
    passes = end // steps_per_epoch - done // steps_per_epoch + (end % steps_per_epoch > 0)
    passes += done > 0 and done % steps_per_epoch == 0
    return steps * per_step + passes * per_validation


def short_plan_message(seconds, epochs, per_step, estimator):
    """A :class:`TimeBudgetWarning`'s words: the plan, and what would train ``MIN_PLAN_EPOCHS``.

    ``estimator._smaller_network(work)`` names a network with ``work`` times
    less work per image, or None.
    """
    needed = MIN_PLAN_EPOCHS / max(epochs, 1e-9)
    smaller = estimator._smaller_network(needed)
    instead = f"a network with {needed:.1f}x less work per image ({smaller}) or " if smaller else ""
    return (
        f"time_budget={seconds:g} leaves time for {epochs:.2f} epochs of "
        f"{type(estimator).__name__}'s network ({per_step:.3g} s per training step): "
        f"fewer than {MIN_PLAN_EPOCHS:g}, too few to train it well. Set {instead}"
        f"a time_budget of about {seconds * needed:.3g} s to train {MIN_PLAN_EPOCHS:g} epochs."
    )


def steps_within(seconds, done, steps_per_epoch, per_step, per_validation):
    """The most steps after ``done`` that :func:`seconds_for` fits in ``seconds`` (maybe 0)."""
    low, high = 0, max(0, int(seconds / per_step)) + 1
    while low < high:  # seconds_for grows with steps: bisect
        middle = (low + high + 1) // 2
        if seconds_for(done, middle, steps_per_epoch, per_step, per_validation) <= seconds + 1e-9:
            low = middle
        else:
            high = middle - 1
    return low


class TimeBudgetWarning(UserWarning):
    """A ``time_budget`` leaves time for too few epochs to train the network well.

    ``fit`` warns when its first plan holds fewer than ``MIN_PLAN_EPOCHS``
    (2) epochs, naming a smaller network (a ``ResNetClassifier``'s widths) or
    the budget that would train that many.

    Examples
    --------
    >>> import warnings
    >>> from skcifar.estimators import TimeBudgetWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", TimeBudgetWarning)  # make it an error
    ...     issubclass(TimeBudgetWarning, UserWarning)
    True
    """


def time_steps(model, data, steps=TIMED_STEPS):
    """Seconds of the first training step of ``model`` on ``data`` and of each later one.

    Runs ``steps + 1`` steps on ``data`` (endless) and undoes them: every
    variable is put back. The first step traces the training function; the
    later ones give the median step time.
    """
    variables = state_variables(model)
    saved = values_of(variables)
    clock = _StepClock()
    try:
        with released_gradient_registrations():
            model.fit(data, epochs=1, steps_per_epoch=steps + 1, verbose=0, shuffle=False,
                      callbacks=[clock])  # fmt: skip
    finally:
        for variable, value in zip(variables, saved, strict=True):
            variable.assign(value)
    return clock.first_step(), clock.seconds_per_step()


class _StepClock(import_keras().callbacks.Callback):
    """Times training steps: the first one (tracing) apart from the others."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_begin(self, logs=None):
        self.times.append(time.perf_counter())

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())

    def first_step(self):
        """Seconds from the start of training to the end of the first step."""
        return self.times[1] - self.times[0]

    def seconds_per_step(self):
        """The median time of the steps after the first."""
        return float(np.median(np.diff(self.times[1:])))


class Budget(TrainingPlugin):
    """``time_budget``: the plug-in that plans a fit's steps and keeps to the plan.

    It times ``TIMED_STEPS + 1`` training steps on the network itself and
    undoes them (every variable is put back, and a fresh, unshuffled dataset
    leaves the training batches untouched), so the run that follows is the
    one ``epochs=n_iter_`` gives. It plans the steps that fill the rest of
    the budget, a validation pass following every epoch, and tells the
    plug-ins (:meth:`Fit.replan <skcifar.estimators._plugins.Fit.replan>`).
    Every ``REPLAN_SHARE`` of the steps it plans again (:meth:`check`) when
    the fit would end more than ``TIME_BUDGET_TOLERANCE`` of the budget late,
    or twice that early (growing by at most ``MAX_GROWTH``). ``partial_fit``
    ignores the budget. ``timed``: ``(trace, per_step)``, the seconds of the
    first and of a later training step measured already on this network's
    twin (the network a budget chose, :mod:`skcifar.estimators._choice`):
    nothing is timed again, the plan leaves time for the network's own first
    step (it traces), and the checks leave that step out. A first plan
    of fewer than ``MIN_PLAN_EPOCHS`` epochs warns (:class:`TimeBudgetWarning`),
    with the estimator's advice.
    """

    def __init__(self, seconds, timed=None):
        self.seconds = float(seconds)
        self._timed = timed
        self.deadline = None  # the time.perf_counter() value the fit is to end by
        self.per_step = self.per_validation = None  # seconds: timed, estimated then measured
        self.max_steps = None  # the most steps a later plan may have
        self.replanned = 0  # how often the plan changed while training
        self._tell = None

    def not_cached_because(self, fit):
        return "a time_budget fit's length depends on the clock"

    def step_limit(self, fit, done):
        if fit.partial:
            return None
        if done:  # not_cached_because keeps memory from resuming a budgeted fit
            raise RuntimeError(
                f"A time_budget fit plans its steps from the start, but {done} steps were "
                "resumed: a plug-in resumed a budgeted fit."
            )
        estimator = fit.estimator
        n_validation = 0 if fit.validation_rows is None else len(fit.validation_rows)
        # In training batches: the estimate is a share of a training step.
        n_validation_steps = math.ceil(n_validation / estimator._batch())
        # An endless feed on every backend (a shuffled one is), whatever the steps timed.
        data = batches(fit.X, fit.y, fit.weights, batch_size=estimator._batch(),
                       indices=fit.rows, shuffle=True, seed=0)  # fmt: skip
        deadline = fit.started + self.seconds
        seconds_left = deadline - time.perf_counter()  # the timed steps are the fit's own
        if self._timed is None:
            trace, per_step = 0.0, time_steps(estimator.model_, data)[1]
        else:  # the first step still traces
            trace, per_step = self._timed
        per_validation = VALIDATION_STEP_COST * n_validation_steps * per_step
        limit = self.start(deadline, seconds_left - trace, fit.steps_per_epoch, per_step,
                           per_validation, fit.replan)  # fmt: skip
        limit.traces = self._timed is not None
        epochs = limit.limit / fit.steps_per_epoch
        if epochs < MIN_PLAN_EPOCHS and not fit.continuing:  # a continuation may well be short
            warnings.warn(short_plan_message(self.seconds, epochs, per_step, estimator),
                          TimeBudgetWarning, stacklevel=user_stacklevel())  # fmt: skip
        return limit

    def start(self, deadline, seconds_left, steps_per_epoch, per_step, per_validation, tell):
        """The step limit of the plan filling ``seconds_left``; ``tell`` hears each plan's steps."""
        self.deadline, self.per_step, self.per_validation = deadline, per_step, per_validation
        self._tell = tell
        steps = max(steps_within(seconds_left, 0, steps_per_epoch, per_step, per_validation), 1)
        self.max_steps = math.ceil(steps * MAX_GROWTH)
        tell(steps)
        return _OnTime(self, steps, steps_per_epoch)

    def check(self, limit, now, per_step):
        """Plan ``limit`` again at ``now`` if it would miss the deadline (see the class)."""
        tolerance = TIME_BUDGET_TOLERANCE * self.seconds
        times = (limit.steps_per_epoch, per_step, self.per_validation)
        late = now + seconds_for(limit.trained, limit.limit - limit.trained, *times) - self.deadline
        if -2 * tolerance <= late <= tolerance:
            return
        more = steps_within(self.deadline - now, limit.trained, *times)
        steps = max(min(limit.trained + more, self.max_steps), limit.trained, 1)
        if steps != limit.limit:
            limit.limit = steps
            self.replanned += 1
            self._tell(steps)


class _OnTime(StepLimit):
    """A :class:`Budget`'s step limit: it times the steps and validation passes for the budget.

    Every ``REPLAN_SHARE`` of the first plan's steps, the budget checks the
    plan against the median of the last ``REPLAN_WINDOW`` step times.
    """

    def __init__(self, budget, limit, steps_per_epoch):
        super().__init__(limit, steps_per_epoch)
        self.budget = budget
        self.traces = False  # the first step traces the training step: no step time
        self.check_every = max(1, int(self.limit * REPLAN_SHARE))
        self._step_seconds = deque(maxlen=REPLAN_WINDOW)
        self._last = None
        self._test_started = None

    @property
    def max_steps(self):
        return self.budget.max_steps

    def on_epoch_begin(self, epoch, logs=None):
        self._last = time.perf_counter()

    def on_test_begin(self, logs=None):
        self._test_started = time.perf_counter()

    def on_test_end(self, logs=None):
        self.budget.per_validation = time.perf_counter() - self._test_started

    def _after_step(self):
        now = time.perf_counter()
        if self.traces:  # the step traced the training step: its time is no step's
            self.traces = False
        else:
            self._step_seconds.append(now - self._last)
        self._last = now
        if self._step_seconds and self.trained % self.check_every == 0:
            self.budget.check(self, now, max(float(np.median(self._step_seconds)), 1e-9))
