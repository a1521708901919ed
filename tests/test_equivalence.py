"""Recorded results of small seeded fits: a change inside the estimators must reproduce them.

``tests/data/equivalence.json`` holds, for each fit below, ``predict_proba``
on the first ``N_ROWS`` training rows, ``classes_``, ``n_iter_``, the length
of ``history_["loss"]`` and the training steps taken (for the memory= fit,
the checkpoint cache's runs and checkpoints instead). Record it again (only
when a change of results is intended) with::

    PYTHONPATH=$PWD python tests/test_equivalence.py --record

and print the largest differences of this machine's fits from the file with
``--diff``.
"""

import argparse
import contextlib
import json
import math
import os
import tempfile
from unittest import mock

import numpy as np
import pytest
from _synthetic import make_images

from skcifar import ANNClassifier, CNNClassifier, ResNetClassifier
from skcifar.estimators import _base, _budget
from skcifar.persistence import CheckpointCache
from skcifar.utils.backend import import_keras

# Float results here depend on the CPU: make test-isa runs them again under other settings.
pytestmark = pytest.mark.cpu_numerics

RECORD = os.path.join(os.path.dirname(__file__), "data", "equivalence.json")
N_ROWS = 12  # the rows whose probabilities are recorded

# float32 fits differ across CPUs (AMX, AVX-512, AVX2, no oneDNN) in the last
# bits, and the training steps amplify that. Recorded on an Intel CPU with AMX
# (oneDNN defaults), the largest probability differences of these fits were:
#   ONEDNN_MAX_CPU_ISA=AVX512_CORE  0 (every fit)
#   ONEDNN_MAX_CPU_ISA=AVX2         4.6e-6 (resnet; ann and cnn 6e-8)
#   TF_ENABLE_ONEDNN_OPTS=0         2.5e-6 (resnet; ann and cnn 6e-8)
#   ONEDNN_MAX_CPU_ISA=SSE41        1.1e-5 (resnet; ann and cnn 9e-8)
# ATOL is 20 times the settings make test-isa runs (9 times SSE4.1's); one
# training step more moves the probabilities by 5e-3, 50 times ATOL (see
# test_one_step_more_is_told_apart). Relative tolerance adds nothing for
# probabilities, which are at most 1.
ATOL = 1e-4
RTOL = 0.0

# 96 rows of 8x8x3 in batches of 16: 6 training steps an epoch.
SHARED = dict(batch_size=16, random_state=0)
RESNET = dict(widths=(8, 8), stem_filters=8, precision="float32", **SHARED)
# The budgeted fit's pinned step time and budget: 0.01 s a step, 0.08 s = 8 steps.
STEP_SECONDS = 0.01
BUDGET_STEPS = 8


def _data():
    X, y = make_images(96, size=8)
    return (X / 255).astype(np.float32), y


class _FrozenClock:
    """time.perf_counter for the budget's modules: no time passes."""

    @staticmethod
    def perf_counter():
        return 100.0


@contextlib.contextmanager
def _pinned_clock():
    """Makes a time_budget fit plan from a fixed step time instead of a measured one.

    A budget times a few training steps and re-plans from the step times seen
    during training; both depend on the machine's load. Freezing the clock of
    the two modules that read it, fixing the timed step at STEP_SECONDS and
    switching off re-planning (no time passes, so a plan would look early)
    makes the fit take budget / STEP_SECONDS steps on any machine, while
    everything else about the budgeted fit (the timed steps undone, the
    schedule laid out over the planned steps) runs as it does for users.
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(_base, "time", _FrozenClock))
        stack.enter_context(mock.patch.object(_budget, "time", _FrozenClock))
        stack.enter_context(mock.patch.object(_budget, "REPLAN_TOLERANCE", float("inf")))
        stack.enter_context(
            mock.patch.object(_budget._StepClock, "seconds_per_step", lambda self: STEP_SECONDS)
        )
        yield


class _CountSteps(import_keras().callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1


def _ann(counter):
    return ANNClassifier(hidden_layer_sizes=(16,), epochs=2, callbacks=[counter], **SHARED)


def _cnn(counter=None, **params):
    callbacks = None if counter is None else [counter]  # memory= resumes only without callbacks
    params = {**SHARED, "epochs": 2, **params}
    return CNNClassifier(filters=(4,), dense_units=8, callbacks=callbacks, **params)


def _resnet(counter, **params):
    return ResNetClassifier(callbacks=[counter], **{**RESNET, "epochs": 2, **params})


def _fit_plain(make):
    def fit(X, y):
        counter = _CountSteps()
        return make(counter).fit(X, y), {"steps": counter.steps}

    return fit


def _fit_budgeted(X, y):
    counter = _CountSteps()
    clf = _resnet(counter, time_budget=BUDGET_STEPS * STEP_SECONDS)
    with _pinned_clock():
        clf.fit(X, y)
    return clf, {"steps": counter.steps}


def _fit_resumed(X, y):
    """One epoch cached under memory=, then two, resumed from the first.

    memory= resumes only fits without callbacks, so the steps are not counted
    here; the cache's size shows the resume instead: one run, whose two epoch
    checkpoints the two fits stored (a fit that did not resume would be
    another run).
    """
    with tempfile.TemporaryDirectory() as memory:
        _cnn(epochs=1, memory=memory).fit(X, y)
        clf = _cnn(epochs=2, memory=memory).fit(X, y)
        info = CheckpointCache(memory).info()
    return clf, {"cache_runs": info["runs"], "cache_checkpoints": info["checkpoints"]}


FITS = {
    "ann": _fit_plain(_ann),
    "cnn": _fit_plain(_cnn),
    "resnet": _fit_plain(_resnet),
    "resnet_time_budget": _fit_budgeted,
    "cnn_memory_resumed": _fit_resumed,
}


def _result(name):
    X, y = _data()
    clf, counts = FITS[name](X, y)
    return {
        "proba": clf.predict_proba(X[:N_ROWS]).tolist(),
        "classes": clf.classes_.tolist(),
        "n_iter": clf.n_iter_,
        "history_length": len(clf.history_["loss"]),
        **counts,
    }


def _recorded():
    with open(RECORD) as file:
        return json.load(file)


@pytest.fixture(scope="module")
def recorded():
    return _recorded()


def test_the_record_covers_every_fit(recorded):
    assert sorted(recorded) == sorted(FITS)


@pytest.mark.parametrize("name", list(FITS))
def test_a_fit_reproduces_its_recorded_results(name, recorded):
    expected = recorded[name]
    result = _result(name)
    proba = result.pop("proba")
    # Exact: classes, epochs (int when whole), history length, steps and cache counts.
    assert result == {key: value for key, value in expected.items() if key != "proba"}
    assert type(result["n_iter"]) is type(expected["n_iter"])
    np.testing.assert_allclose(proba, expected["proba"], rtol=RTOL, atol=ATOL)


def test_the_pinned_budget_takes_the_planned_steps(recorded):
    # The budget (BUDGET_STEPS steps of STEP_SECONDS) ends after 8 of the 6-step epochs'
    # steps: n_iter_ is 8 / 6 epochs, in two history entries.
    assert recorded["resnet_time_budget"]["steps"] == BUDGET_STEPS
    assert recorded["resnet_time_budget"]["n_iter"] == pytest.approx(BUDGET_STEPS / 6)
    assert recorded["resnet_time_budget"]["history_length"] == math.ceil(BUDGET_STEPS / 6)
    # The resumed fit stored its second epoch in the first fit's run.
    resumed = recorded["cnn_memory_resumed"]
    assert (resumed["cache_runs"], resumed["cache_checkpoints"], resumed["n_iter"]) == (1, 2, 2)


def test_one_step_more_is_told_apart(recorded):
    X, y = _data()
    longer = _ann(_CountSteps()).set_params(epochs=13 / 6).fit(X, y)  # 13 steps, not 12
    difference = np.abs(longer.predict_proba(X[:N_ROWS]) - recorded["ann"]["proba"]).max()
    assert difference > 10 * ATOL


def _largest_differences():
    recorded = _recorded()
    out = {}
    for name in FITS:
        result = _result(name)
        difference = np.abs(np.subtract(result["proba"], recorded[name]["proba"]))
        same = all(result[key] == recorded[name][key] for key in result if key != "proba")
        out[name] = (float(difference.max()), same)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--record", action="store_true", help=f"write {RECORD}")
    action.add_argument("--diff", action="store_true", help="print the largest differences")
    args = parser.parse_args()
    if args.record:
        results = {name: _result(name) for name in FITS}
        os.makedirs(os.path.dirname(RECORD), exist_ok=True)
        with open(RECORD, "w") as file:
            json.dump(results, file, indent=1)
            file.write("\n")
    else:
        for name, (largest, same) in _largest_differences().items():
            print(f"{name}: largest |proba difference| {largest:.3g}, other values equal: {same}")
