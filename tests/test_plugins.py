"""The training loop knows a fit's features only through the plug-in hooks."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from _synthetic import make_images

from skcifar import CNNClassifier
from skcifar.estimators import _budget
from skcifar.estimators._budget import Budget
from skcifar.estimators._plugins import EarlyStopping, TrainingPlugin, UserCallbacks
from skcifar.estimators._resume import Resume
from skcifar.estimators._steps import StepLimit
from skcifar.utils.backend import import_keras

keras = import_keras()
X, y = make_images(n=40, size=8)
TINY = dict(filters=(4,), dense_units=4, batch_size=8, random_state=0)  # 5 steps an epoch


class Recording(TrainingPlugin):
    """A plug-in that records the hooks called and can set the step limit."""

    def __init__(self, steps=None):
        self.calls, self.steps, self.plans = [], steps, []
        self.batch_ends = 0

    def resume(self, fit):
        self.calls.append("resume")
        return 0

    def batches(self, fit):
        self.calls.append("batches")
        return {}

    def step_limit(self, fit, done):
        self.calls.append("step_limit")
        return None if self.steps is None else StepLimit(self.steps, fit.steps_per_epoch, done=done)

    def plan(self, fit, steps):
        self.plans.append(steps)

    def callbacks(self, fit):
        self.calls.append("callbacks")
        plugin = self

        class Count(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                plugin.batch_ends += 1

        return [Count()]

    def finish(self, fit, limit):
        self.calls.append(f"finish after {limit.trained}")


def _with(*plugins, **params):
    class WithPlugin(CNNClassifier):
        def _extra_plugins(self, fit):
            return list(plugins)

    return WithPlugin(**{**TINY, **params})


def test_the_loop_calls_each_hook_once_in_order():
    plugin = Recording()
    _with(plugin, epochs=2).fit(X, y)
    assert plugin.calls == ["resume", "batches", "step_limit", "callbacks", "finish after 10"]
    assert plugin.batch_ends == 10  # its callback ran at every step
    assert plugin.plans == []  # nothing plans without a time budget


def test_a_plugins_step_limit_ends_the_fit():
    plugin = Recording(steps=7)
    clf = _with(plugin, epochs=5).fit(X, y)
    assert plugin.batch_ends == 7 and clf.n_iter_ == pytest.approx(7 / 5)
    assert len(clf.history_["loss"]) == 2  # one whole epoch and the 2 steps of the next


class Flipping(TrainingPlugin):
    """A plug-in that sets the batches' ``flip`` option."""

    def batches(self, fit):
        return {"flip": None}


def test_two_plugins_setting_one_batch_option_is_an_error_naming_both():
    with pytest.raises(RuntimeError, match="Flipping and Flipping both set .* option 'flip'"):
        _with(Flipping(), Recording(), Flipping(), epochs=1).fit(X, y)
    clf = _with(Flipping(), Recording(), epochs=1).fit(X, y)  # one is fine
    assert clf.n_iter_ == 1


def test_a_budget_plans_from_the_timed_step_and_tells_every_plugin(monkeypatch):
    class Frozen:  # no time passes: the plan depends on the pinned step time only
        @staticmethod
        def perf_counter():
            return 100.0

    monkeypatch.setattr(_budget, "time", Frozen)
    monkeypatch.setattr(_budget._StepClock, "seconds_per_step", lambda self: 0.01)
    plugin = Recording()
    clf = _with(plugin).set_params(time_budget=0.13)
    fit = SimpleNamespace(
        estimator=clf.initialize(X, y), X=np.asarray(X, np.float32) / 255, y=np.arange(40) % 2,
        weights=None, rows=np.arange(40), validation_rows=None, steps_per_epoch=5, started=100.0,
        partial=False, replan=lambda steps: plugin.plan(None, steps),
    )  # fmt: skip
    budget = Budget(0.13)
    limit = budget.step_limit(fit, done=0)
    assert budget.per_step == 0.01 and budget.deadline == 100.13
    assert limit.limit == 13 and plugin.plans == [13]  # 0.13 s of 0.01 s steps
    assert limit.max_steps == budget.max_steps == math.ceil(13 * _budget.MAX_GROWTH)
    with pytest.raises(RuntimeError, match="3 steps were resumed"):
        budget.step_limit(fit, done=3)  # a budget plans a fit from its start only


def test_partial_fit_ignores_the_budget_and_early_stopping():
    plugin = Recording()
    clf = _with(plugin, time_budget=0.001, early_stopping=True).partial_fit(X, y)
    assert plugin.calls[-1] == "finish after 5" and plugin.plans == []  # one epoch, unplanned
    assert set(clf.history_) == {"loss", "accuracy"}  # no validation: no early stopping


class Exact(TrainingPlugin):
    """A plug-in whose longer fits are no continuation of shorter ones."""

    continues_shorter_runs = False


def _spying_on_resume(*plugins, **params):
    """A classifier with ``plugins`` whose Resume plug-in records the steps it resumed from."""

    class Spied(Resume):
        def resume(self, fit):
            self.done = super().resume(fit)
            return self.done

    class WithSpy(CNNClassifier):
        def _extra_plugins(self, fit):
            return list(plugins)

        def _plugins(self, fit):
            plugins = super()._plugins(fit)
            index = next(i for i, p in enumerate(plugins) if isinstance(p, Resume))
            plugins[index] = self.resume_plugin = Spied()
            return plugins

    return WithSpy(**{**TINY, **params})


def test_resume_returns_the_steps_of_the_longest_usable_checkpoint(tmp_path):
    first = _spying_on_resume(epochs=2, memory=tmp_path).fit(X, y)
    assert first.resume_plugin.done == 0  # nothing cached yet; stored at 10 steps
    longer = _spying_on_resume(epochs=3, memory=tmp_path).fit(X, y)
    assert longer.resume_plugin.done == 10 and longer.n_iter_ == 3
    # A plug-in of exact runs only: the 13-step run may not continue the 10-step one,
    # but is cached itself.
    exact = _spying_on_resume(Exact(), epochs=2.6, memory=tmp_path).fit(X, y)
    assert exact.resume_plugin.done == 0 and exact.n_iter_ == pytest.approx(13 / 5)
    repeat = _spying_on_resume(Exact(), epochs=2.6, memory=tmp_path).fit(X, y)
    assert repeat.resume_plugin.done == 13  # the very run: nothing left to train
    assert repeat.history_ == exact.history_ and repeat.n_iter_ == exact.n_iter_


def test_resume_never_resumes_a_continued_fit(tmp_path):
    clf = _spying_on_resume(epochs=1, memory=tmp_path).fit(X, y)
    clf.partial_fit(X, y)
    assert clf.resume_plugin.done == 0 and clf.current_epoch == 2


def test_user_callbacks_are_checked_and_early_stopping_keeps_the_best_weights():
    fit = SimpleNamespace(
        estimator=SimpleNamespace(callbacks=[keras.callbacks.History(), "x"]), partial=False
    )
    with pytest.raises(TypeError, match="'callbacks' parameter must be a list of keras"):
        UserCallbacks().callbacks(fit)
    fit.estimator.callbacks = None
    assert UserCallbacks().callbacks(fit) == []
    (stopping,) = EarlyStopping(3).callbacks(fit)
    assert isinstance(stopping, keras.callbacks.EarlyStopping)
    assert (stopping.monitor, stopping.patience, stopping.restore_best_weights) == (
        "val_loss",
        3,
        True,
    )
    assert EarlyStopping(3).callbacks(SimpleNamespace(partial=True)) == []  # no validation
