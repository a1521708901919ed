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
import warnings
from unittest import mock

import numpy as np
import pytest
from _callbacks import CountSteps
from _synthetic import make_images

from skcifar import ANNClassifier, CNNClassifier, ResNetClassifier
from skcifar.estimators import TimeBudgetWarning, _base, _budget
from skcifar.persistence import CheckpointCache

# Float results here depend on the CPU: make test-isa runs them again under other settings.
# They were recorded on TensorFlow; the other backends draw other random numbers.
pytestmark = [pytest.mark.cpu_numerics, pytest.mark.tensorflow]

RECORD = os.path.join(os.path.dirname(__file__), "data", "equivalence.json")
N_ROWS = 12  # the rows whose probabilities are recorded

# float32 fits differ across CPUs (AMX, AVX-512, AVX2, no oneDNN) and thread
# counts in the last bits, and training amplifies that over its steps.
# Recorded on an Intel CPU with AMX (oneDNN defaults, 2 threads), the largest
# probability differences of these fits under other settings were:
#                                   ann, cnn,   resnet_time   resnet
#                                   resumed     _budget       (15 steps)
#   ONEDNN_MAX_CPU_ISA=AVX512_CORE  0           0             0
#   ONEDNN_MAX_CPU_ISA=AVX2         6e-8        1.3e-6        3.7e-5
#   TF_ENABLE_ONEDNN_OPTS=0         6e-8        8e-7          3.7e-5
#   ONEDNN_MAX_CPU_ISA=SSE41        9e-8        2.2e-6        3.7e-5
#   1 thread (taskset)              3e-8        3e-7          2.4e-7
#   8 or 16 threads (oneDNN, TF)    3e-8        1.9e-6        3.7e-5
# ATOL is at least 10 times the largest of each fit's column. Relative
# tolerance adds nothing for probabilities, which are at most 1. A change of
# behaviour moves them by more: one training step more by 5e-3 (see
# test_one_step_more_is_told_apart), no lookahead in the recipe by 0.4, the
# whitening bias trained one epoch longer by 1.5e-4 (about half of the recipe
# fit's tolerance: changes that small are below what this check can tell
# from another CPU's rounding).
ATOL = {
    "ann": 3e-5,
    "cnn": 3e-5,
    "resnet": 4e-4,
    "resnet_time_budget": 3e-5,
    "cnn_memory_resumed": 3e-5,
}
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
        stack.enter_context(mock.patch.object(_budget, "TIME_BUDGET_TOLERANCE", float("inf")))
        stack.enter_context(
            mock.patch.object(_budget._StepClock, "seconds_per_step", lambda self: STEP_SECONDS)
        )
        yield


def _ann(counter):
    return ANNClassifier(hidden_layer_sizes=(16,), epochs=2, callbacks=[counter], **SHARED)


def _cnn(counter=None, **params):
    callbacks = None if counter is None else [counter]  # memory= resumes only without callbacks
    params = {**SHARED, "epochs": 2, **params}
    return CNNClassifier(filters=(4,), dense_units=8, callbacks=callbacks, **params)


def _resnet(counter, **params):
    return ResNetClassifier(callbacks=[counter], **{**RESNET, "epochs": 2, **params})


def _resnet_recipe(counter):
    # 3 steps an epoch for 5 epochs: the whitening bias trains for the first 3
    # epochs, and lookahead (from epoch 3, every 5 steps) keeps its average at
    # step 10 and pulls the weights to it at step 15.
    return _resnet(counter, batch_size=32, epochs=5)


def _fit_plain(make):
    def fit(X, y):
        counter = CountSteps()
        return make(counter).fit(X, y), {"steps": counter.steps}

    return fit


def _fit_budgeted(X, y):
    counter = CountSteps()
    clf = _resnet(counter, time_budget=BUDGET_STEPS * STEP_SECONDS)
    # Short on purpose (under 2 epochs): its TimeBudgetWarning is expected here.
    with _pinned_clock(), warnings.catch_warnings():
        warnings.simplefilter("ignore", TimeBudgetWarning)
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
    "resnet": _fit_plain(_resnet_recipe),
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
    assert sorted(recorded) == sorted(FITS) == sorted(ATOL)


@pytest.mark.parametrize("name", list(FITS))
def test_a_fit_reproduces_its_recorded_results(name, recorded):
    expected = recorded[name]
    result = _result(name)
    proba = result.pop("proba")
    # Exact: classes, epochs (int when whole), history length, steps and cache counts.
    assert result == {key: value for key, value in expected.items() if key != "proba"}
    assert type(result["n_iter"]) is type(expected["n_iter"])
    np.testing.assert_allclose(proba, expected["proba"], rtol=RTOL, atol=ATOL[name])


def test_the_pinned_budget_takes_the_planned_steps(recorded):
    # The budget holds BUDGET_STEPS steps of STEP_SECONDS: one 6-step epoch and 2 steps
    # of the next, so n_iter_ is 8 / 6 epochs, in two history entries.
    assert recorded["resnet_time_budget"]["steps"] == BUDGET_STEPS
    assert recorded["resnet_time_budget"]["n_iter"] == pytest.approx(BUDGET_STEPS / 6)
    assert recorded["resnet_time_budget"]["history_length"] == math.ceil(BUDGET_STEPS / 6)
    # The resumed fit stored its second epoch in the first fit's run.
    resumed = recorded["cnn_memory_resumed"]
    assert (resumed["cache_runs"], resumed["cache_checkpoints"], resumed["n_iter"]) == (1, 2, 2)


def test_one_step_more_is_told_apart(recorded):
    X, y = _data()
    longer = _ann(CountSteps()).set_params(epochs=13 / 6).fit(X, y)  # 13 steps, not 12
    difference = np.abs(longer.predict_proba(X[:N_ROWS]) - recorded["ann"]["proba"]).max()
    assert difference > 10 * ATOL["ann"]


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
