"""time_budget: fit plans its epochs from timed steps; n_iter_ repeats the run."""

import numpy as np
import pytest
from sklearn.base import clone

from skcifar import ANNClassifier, CNNClassifier, ResNetClassifier
from skcifar.cli import main
from skcifar.cli._common import duration
from skcifar.estimators import _base, _budget
from skcifar.utils.backend import import_keras

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
def test_epochs_n_iter_repeats_the_budgeted_run(clf, data):
    X, y = data
    budgeted = clone(clf).fit(X, y)
    assert budgeted.n_iter_ >= 1 and len(budgeted.history_["loss"]) == budgeted.n_iter_
    again = clone(clf).set_params(time_budget=None, epochs=budgeted.n_iter_).fit(X, y)
    np.testing.assert_array_equal(budgeted.predict_proba(X), again.predict_proba(X))


class _FrozenClock:
    """time.perf_counter for _base: no time passes, so only the step time counts."""

    @staticmethod
    def perf_counter():
        return 100.0


def test_epochs_fill_the_budget(data, monkeypatch):
    X, y = data
    monkeypatch.setattr(_base, "time", _FrozenClock)
    monkeypatch.setattr(_budget._StepClock, "seconds_per_step", lambda self: 0.01)
    # 240 rows in batches of 40: 6 steps, 0.06 s an epoch; 0.33 s holds 5 epochs.
    clf = ResNetClassifier(widths=(4,), stem_filters=4, batch_size=40, time_budget=0.33)
    clf.fit(X, y)
    assert clf.n_iter_ == 5
    schedule = clf.model_.optimizer._learning_rate
    assert float(schedule.total_steps.numpy()) == 5 * 6
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)


def test_a_budget_too_small_still_trains_one_epoch(data):
    X, y = data
    clf = ANNClassifier(hidden_layer_sizes=(4,), epochs=50, time_budget=1e-3).fit(X, y)
    assert clf.n_iter_ == 1


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
