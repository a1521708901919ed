"""time_budget: fit plans its epochs from timed steps; n_iter_ repeats the run."""

import math
import types

import numpy as np
import pytest
from _callbacks import CountSteps
from sklearn.base import clone

from skcifar import ANNClassifier, CNNClassifier, ResNetClassifier
from skcifar.architectures import SCHEDULES, schedule_steps
from skcifar.cli import main
from skcifar.cli._common import duration
from skcifar.estimators import _base, _budget
from skcifar.estimators._steps import StepLimit
from skcifar.utils.backend import import_keras

# Float results here depend on the CPU: make test-isa runs them again under other settings.
pytestmark = pytest.mark.cpu_numerics

keras = import_keras()


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    return rng.rand(240, 8, 8, 3).astype(np.float32), np.arange(240) % 3


@pytest.mark.parametrize(
    "clf",
    [
        ResNetClassifier(widths=(4, 8), stem_filters=4, batch_size=40, random_state=0,
                         validation_fraction=0.2, time_budget=3),
        CNNClassifier(filters=(4,), dense_units=4, batch_size=40, random_state=0, time_budget=2),
    ],
    ids=["resnet", "cnn"],
)  # fmt: skip
def test_epochs_n_iter_repeats_the_budgeted_run(clf, data, monkeypatch):
    X, y = data
    # Tiny networks' step times vary by far more than the re-planning
    # tolerance; the repeat is exact as long as the plan is kept.
    monkeypatch.setattr(_budget, "TIME_BUDGET_TOLERANCE", float("inf"))
    budgeted = clone(clf).fit(X, y)
    assert budgeted.n_iter_ > 0 and len(budgeted.history_["loss"]) == math.ceil(budgeted.n_iter_)
    again = clone(clf).set_params(time_budget=None, epochs=budgeted.n_iter_).fit(X, y)
    # Exact: the timed steps are undone, so both fits compute the same steps on the same
    # batches in this process.
    np.testing.assert_array_equal(budgeted.predict_proba(X), again.predict_proba(X))


class _FrozenClock:
    """time.perf_counter for _base: no time passes, so only the step time counts."""

    @staticmethod
    def perf_counter():
        return 100.0


@pytest.mark.parametrize(
    "validation_fraction, budget, n_steps, expected_steps",
    [
        # 240 rows in batches of 40: 6 steps of 0.01 s an epoch; 0.33 s holds 33.
        (0.0, 0.33, 6, 33),
        # 180 rows train (5 steps), 60 validate (2 batches at a third of a step
        # each, after every epoch, the partial last one too): 29 steps take
        # 0.29 s + 6 validations of 0.0067 s = 0.33 s; 30 would take 0.34 s.
        (0.25, 0.335, 5, 29),
    ],
)
def test_epochs_fill_the_budget_to_the_batch(
    data, monkeypatch, validation_fraction, budget, n_steps, expected_steps
):
    X, y = data
    monkeypatch.setattr(_base, "time", _FrozenClock)
    monkeypatch.setattr(_budget, "time", _FrozenClock)
    monkeypatch.setattr(_budget, "TIME_BUDGET_TOLERANCE", float("inf"))  # no time passes
    monkeypatch.setattr(_budget._StepClock, "seconds_per_step", lambda self: 0.01)
    counter = CountSteps()
    clf = ResNetClassifier(widths=(4,), stem_filters=4, batch_size=40, time_budget=budget,
                           validation_fraction=validation_fraction,
                           callbacks=[counter])  # fmt: skip
    clf.fit(X, y)
    assert counter.steps == expected_steps
    assert clf.n_iter_ == pytest.approx(expected_steps / n_steps)
    assert len(clf.history_["loss"]) == math.ceil(expected_steps / n_steps)
    assert schedule_steps(clf.model_) == expected_steps
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(_schedule_end(clf))


def test_a_budget_too_small_still_trains_one_batch(data):
    X, y = data
    counter = CountSteps()
    clf = ANNClassifier(hidden_layer_sizes=(4,), epochs=50, time_budget=1e-3, batch_size=40,
                        callbacks=[counter])  # fmt: skip
    with pytest.warns(_budget.TimeBudgetWarning, match="0.17 epochs"):
        clf.fit(X, y)
    assert counter.steps == 1 and clf.n_iter_ == pytest.approx(1 / 6)


@pytest.mark.parametrize("epochs, steps", [(2.5, 15), (0.5, 3), (1 / 3, 2), (0.01, 1), (2.0, 12)])
def test_fractional_epochs_train_that_share_of_the_last_epoch(data, epochs, steps):
    X, y = data  # 240 rows in batches of 40: 6 steps an epoch
    counter = CountSteps()
    clf = ANNClassifier(hidden_layer_sizes=(4,), epochs=epochs, batch_size=40,
                        callbacks=[counter], random_state=0).fit(X, y)  # fmt: skip
    assert counter.steps == steps
    assert clf.n_iter_ == (steps // 6 if steps % 6 == 0 else pytest.approx(steps / 6))
    assert type(clf.n_iter_) is (int if steps % 6 == 0 else float)
    assert len(clf.history_["loss"]) == math.ceil(steps / 6)


def test_resnet_schedule_spans_a_fractional_run(data):
    X, y = data
    clf = ResNetClassifier(widths=(4,), stem_filters=4, batch_size=40, epochs=1.5).fit(X, y)
    assert schedule_steps(clf.model_) == 9
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(_schedule_end(clf))


def test_a_continued_budgeted_fit_keeps_the_schedule_of_the_build(data, monkeypatch):
    X, y = data
    monkeypatch.setattr(_budget, "TIME_BUDGET_TOLERANCE", float("inf"))
    clf = ResNetClassifier(widths=(4,), stem_filters=4, batch_size=40, epochs=1, warm_start=True)
    clf.fit(X, y)  # 6 steps: the schedule of the build, run out
    clf.set_params(time_budget=1.0).fit(X, y)
    steps = int(clf.model_.optimizer.iterations.numpy())
    assert steps >= 7 and schedule_steps(clf.model_) == 6  # the budget's plan left it
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(_schedule_end(clf))
    fresh = clone(clf).set_params(warm_start=False).fit(X, y)  # a fresh fit's spans its plan
    assert schedule_steps(fresh.model_) == int(fresh.model_.optimizer.iterations.numpy())


def _schedule_end(clf):
    """The rate at the end of a ResNet's schedule: the last step was reached."""
    return clf.learning_rate_ * SCHEDULES[clf.schedule]["end_fraction"]


@pytest.mark.parametrize(
    "done, steps, expected",
    [
        (0, 25, 25 * 0.01 + 3 * 0.1),  # epoch ends at 10, 20, and the partial one at 25
        (0, 20, 20 * 0.01 + 2 * 0.1),
        (10, 0, 0.1),  # the validation owed by the epoch that just ended
        (13, 7, 7 * 0.01 + 1 * 0.1),
        (13, 0, 0.1),  # stopping now ends a partial epoch: one pass
    ],
)
def test_seconds_for_counts_every_validation_pass(done, steps, expected):
    assert _budget.seconds_for(done, steps, 10, 0.01, 0.1) == pytest.approx(expected)


def test_steps_within_is_the_most_that_fit():
    for seconds in (0.0, 0.05, 0.3, 1.234, 5.0):
        steps = _budget.steps_within(seconds, 3, 10, 0.01, 0.1)
        assert _budget.seconds_for(3, steps, 10, 0.01, 0.1) <= seconds + 1e-12 or steps == 0
        assert _budget.seconds_for(3, steps + 1, 10, 0.01, 0.1) > seconds


class _FakeClock:
    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


def _drive(limit, clock, step_seconds, validation_seconds):
    """Run ``limit`` as model.fit would: epochs of batches, a validation pass after each."""
    limit.set_model(types.SimpleNamespace(stop_training=False))
    while not limit.model.stop_training:
        limit.on_epoch_begin(0)
        for _ in range(limit.steps_per_epoch):
            clock.now += step_seconds(limit.trained)
            limit.on_train_batch_end(0)
            if limit.model.stop_training:
                break
        limit.on_test_begin()
        clock.now += validation_seconds
        limit.on_test_end()
    return clock.now


@pytest.mark.parametrize(
    "speed, expect",
    [
        (1.0, "kept"),  # as timed: the plan stands, the run is exactly repeatable
        (1.01, "kept"),  # noise within the tolerance changes nothing
        (2.0, "shorter"),  # the machine halves its speed after 20 steps
        (0.5, "longer"),  # ... or doubles it: the run grows, up to max_steps
    ],
)
def test_a_budget_run_is_planned_again_when_the_machine_changes_speed(monkeypatch, speed, expect):
    clock = _FakeClock()
    monkeypatch.setattr(_budget, "time", clock)
    # Planned: 100 steps of 0.01 s in epochs of 10, each followed by a 0.01 s
    # validation pass: 1.1 s, the whole budget.
    plans = []
    budget = _budget.Budget(1.1)
    limit = budget.start(1.1, 1.1, steps_per_epoch=10, per_step=0.01, per_validation=0.01,
                         tell=plans.append)  # fmt: skip
    assert (limit.limit, budget.max_steps, plans) == (100, 125, [100])
    end = _drive(limit, clock, lambda step: 0.01 if step < 20 else 0.01 * speed, 0.01)
    assert end <= 1.1 + 0.022 + 0.02  # on time, within the tolerance (2% of 1.1 s) and a step
    if expect == "kept":
        assert (limit.trained, budget.replanned, plans) == (100, 0, [100])
    elif expect == "shorter":
        assert 55 <= limit.trained < 100 and plans[-1] == limit.trained and budget.replanned
    else:
        assert limit.trained == 125 and plans[-1] == 125 and budget.replanned


def test_a_step_limit_counts_the_steps_done_before_and_stops_at_its_limit():
    limit = StepLimit(12, 5, done=10)  # resumed after two whole epochs
    limit.set_model(types.SimpleNamespace(stop_training=False))
    assert limit.epochs() == 2 and type(limit.epochs()) is int
    limit.on_train_batch_end(0)
    assert not limit.model.stop_training and limit.epochs() == pytest.approx(11 / 5)
    limit.on_train_batch_end(1)
    assert limit.model.stop_training and limit.trained == 12 == limit.max_steps


def test_n_iter_counts_the_epochs_trained(data):
    X, y = data
    clf = ANNClassifier(hidden_layer_sizes=(4,), epochs=3).fit(X, y)
    assert clf.n_iter_ == 3
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 1 and clf.current_epoch == 4
    stopped = ANNClassifier(hidden_layer_sizes=(4,), epochs=50, callbacks=[_StopAfter(3)])
    assert stopped.fit(X, y).n_iter_ == 3


class _StopAfter(keras.callbacks.Callback):
    """Stop training after ``n`` epochs, as early stopping would."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 >= self.n:
            self.model.stop_training = True


@pytest.mark.parametrize(
    "text, seconds", [("90", 90.0), ("90s", 90.0), ("3m", 180.0), ("1.5h", 5400.0)]
)
def test_durations(text, seconds):
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-3m", "3 minutes", "m", "inf", "nan"])
def test_bad_durations_are_refused(text, capsys):
    assert main(["train", "--time-budget", text]) == 2
    assert "time-budget" in capsys.readouterr().err


def test_epochs_and_time_budget_exclude_each_other(capsys):
    assert main(["train", "--epochs", "3", "--time-budget", "3m"]) == 2
    assert "exclude each other" in capsys.readouterr().err
