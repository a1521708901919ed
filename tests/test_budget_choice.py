"""A time_budget with the sizes left to "auto" chooses the network from its frontier."""

import re
import warnings

import numpy as np
import pytest
from _callbacks import CountSteps
from sklearn.base import clone

from skcifar import ResNetClassifier
from skcifar.architectures import resnet_flops
from skcifar.estimators import BUDGET_NETWORKS, TimeBudgetWarning, _base, _budget, _choice
from skcifar.estimators._choice import frontier_accuracy
from skcifar.estimators._frontier import DEFAULT_NETWORK, BudgetNetwork
from skcifar.utils.backend import import_keras

keras = import_keras()

# Two tiny candidates for 8x8 images: 240 rows make 6 steps of 40 rows an
# epoch for "small", 3 steps of 80 for "default".
TINY = {
    "small": BudgetNetwork(
        dict(widths=(4,), batch_size=40, learning_rate=0.5),
        frontier=((1, 0.50, 0.50), (2, 0.60, 0.61), (4, 0.65, 0.65), (8, 0.66, 0.66)),
    ),
    DEFAULT_NETWORK: BudgetNetwork(
        dict(widths=(16, 16), batch_size=80, learning_rate=1.0),
        frontier=((1, 0.40, 0.40), (2, 0.60, 0.60), (4, 0.75, 0.76), (8, 0.80, 0.90)),
    ),
}
# Faked seconds of a training step, by the network's last width (no trace): per
# image, the larger network is 4x slower here, 3.9x by its FLOPs.
STEP_SECONDS = {4: 0.01, 16: 0.08}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    return rng.rand(240, 8, 8, 3).astype(np.float32), np.arange(240) % 3


class _FrozenClock:
    """time.perf_counter: no time passes, so only the (faked) step times count."""

    @staticmethod
    def perf_counter():
        return 100.0


@pytest.fixture
def tiny(monkeypatch):
    """The tiny candidates, faked step times on a frozen clock; yields the networks timed."""
    timed = []

    def time_steps(model, data, steps):
        timed.append(_last_width(model))
        return 0.0, STEP_SECONDS[timed[-1]]

    monkeypatch.setattr(_choice, "BUDGET_NETWORKS", TINY)
    monkeypatch.setattr(_choice, "time_steps", time_steps)
    # The budget's own timing, when nothing was chosen: not recorded.
    monkeypatch.setattr(
        _budget, "time_steps", lambda model, data: (0.0, STEP_SECONDS.get(_last_width(model), 0.01))
    )
    for module in (_base, _budget, _choice):
        monkeypatch.setattr(module, "time", _FrozenClock)
    monkeypatch.setattr(_budget, "TIME_BUDGET_TOLERANCE", float("inf"))  # no time passes
    return timed


def _budget_warning(record):
    """The TimeBudgetWarning's text among the warnings a backend may add."""
    return next(str(w.message) for w in record if issubclass(w.category, TimeBudgetWarning))


def _last_width(model):
    return [layer.filters for layer in model.layers if hasattr(layer, "filters")][-1]


def test_without_a_budget_auto_is_the_default_network(data):
    X, y = data
    clf = ResNetClassifier(random_state=0).initialize(X, y)
    default = BUDGET_NETWORKS[DEFAULT_NETWORK].params
    assert clf.get_params()["widths"] == "auto"  # __init__ stores what it is given
    assert (clf.widths_, clf.batch_size_, clf.learning_rate_) == (
        default["widths"], default["batch_size"], default["learning_rate"])  # fmt: skip
    assert clf.tta_shift_ == 0 and clf.network_choice_ is None
    assert _last_width(clf.model_) == 256


def test_a_short_budget_chooses_the_small_network_without_timing_the_large(data, tiny):
    X, y = data
    counter = CountSteps()
    # 0.12 s: 12 steps of "small" (2 epochs, 0.60); even 2x faster per FLOP than
    # "small", "default" would train 1 epoch (0.40): it is not timed.
    clf = ResNetClassifier(time_budget=0.12, callbacks=[counter], random_state=0).fit(X, y)
    assert clf.network_choice_["network"] == "small" and len(tiny) == 1
    assert clf.network_choice_["candidates"]["small"]["epochs"] == pytest.approx(2)
    assert clf.network_choice_["candidates"][DEFAULT_NETWORK]["timed"] is False
    assert (clf.widths_, clf.batch_size_, clf.learning_rate_) == ((4,), 40, 0.5)
    assert counter.steps == 12 and clf.n_iter_ == 2  # the plan from the choice's timing
    # 0.61 with the shifted views, whose 6 passes of this network cost less than 2
    # of the default network: chosen.
    assert clf.tta_shift_ == 1


def test_a_long_budget_chooses_the_large_network(data, tiny):
    X, y = data
    counter = CountSteps()
    # 1 s: "small" trains 16.7 epochs (0.66), "default" 12 steps, 4 epochs (0.75;
    # 0.76 with the shifted views, which would triple the default's prediction cost).
    clf = ResNetClassifier(time_budget=1.0, callbacks=[counter], random_state=0).fit(X, y)
    record = clf.network_choice_["candidates"]
    assert clf.network_choice_["network"] == DEFAULT_NETWORK and len(tiny) == 2
    assert record[DEFAULT_NETWORK]["epochs"] == pytest.approx(4)
    assert record[DEFAULT_NETWORK]["predicted_accuracy"] == pytest.approx(0.75)
    assert record["small"]["predicted_accuracy"] == pytest.approx(0.66)
    assert (clf.widths_, clf.batch_size_, clf.tta_shift_) == ((16, 16), 80, 0)
    assert counter.steps == 12 and clf.n_iter_ == 4
    assert _last_width(clf.model_) == 16


def test_explicit_sizes_win(data, tiny):
    X, y = data
    # widths given: the one candidate that has them, nothing timed to choose.
    clf = ResNetClassifier(widths=(4,), time_budget=1.0, random_state=0).fit(X, y)
    assert clf.network_choice_ is None and tiny == []
    assert (clf.widths_, clf.batch_size_, clf.learning_rate_) == ((4,), 40, 0.5)
    # batch_size and tta_shift given: one candidate has those batches, nothing to choose.
    clf = ResNetClassifier(batch_size=80, tta_shift=0, time_budget=1.0, random_state=0)
    clf.fit(X, y)
    assert clf.network_choice_ is None  # only "default" has batches of 80
    assert (clf.widths_, clf.batch_size_, clf.tta_shift_) == ((16, 16), 80, 0)
    # Sizes no candidate has: the given ones, the rest the default network's.
    clf = ResNetClassifier(widths=(6,), time_budget=1.0, random_state=0).fit(X, y)
    assert (clf.widths_, clf.batch_size_, clf.learning_rate_) == ((6,), 80, 1.0)


def test_the_chosen_settings_and_n_iter_repeat_the_model(data, tiny):
    X, y = data
    clf = ResNetClassifier(time_budget=1.0, random_state=0).fit(X, y)
    again = ResNetClassifier(widths=clf.widths_, batch_size=clf.batch_size_,
                             learning_rate=clf.learning_rate_, tta_shift=clf.tta_shift_,
                             epochs=clf.n_iter_, random_state=0).fit(X, y)  # fmt: skip
    # Exact: the candidates' timing runs on networks thrown away, and both fits
    # compute the same steps on the same batches in this process.
    np.testing.assert_array_equal(clf.predict_proba(X), again.predict_proba(X))


def test_a_set_tta_shift_wins_over_the_chosen_one_at_prediction(data, tiny):
    X, y = data
    clf = ResNetClassifier(time_budget=0.12, random_state=0).fit(X, y)
    assert clf.tta_shift_ == 1
    shifted = clf.predict_proba(X)
    flip_only = clf.set_params(tta_shift=0).predict_proba(X)
    assert not np.allclose(shifted, flip_only, atol=1e-6)
    np.testing.assert_allclose(clf.set_params(tta_shift="auto").predict_proba(X), shifted,
                               atol=1e-6)  # fmt: skip


def test_a_plan_of_too_few_epochs_warns_and_names_a_smaller_network(data, monkeypatch):
    X, y = data
    for module in (_base, _budget):
        monkeypatch.setattr(module, "time", _FrozenClock)
    monkeypatch.setattr(_budget, "TIME_BUDGET_TOLERANCE", float("inf"))
    monkeypatch.setattr(_budget._StepClock, "seconds_per_step", lambda self: 0.08)
    clf = ResNetClassifier(widths=(64, 64), batch_size=80, time_budget=0.08, random_state=0)
    with pytest.warns(TimeBudgetWarning, match=r"0\.33 epochs") as record:
        clf.fit(X, y)  # 1 step of 3 an epoch
    message = _budget_warning(record)
    assert "a time_budget of about 0.48 s to train 2 epochs" in message
    assert "batch_size=80, learning_rate=1.5" in message  # the halved widths' other sizes
    needed = 2 / (1 / 3)
    smaller = tuple(int(w) for w in re.search(r"widths=\(([\d, ]+)\)", message)[1].split(","))
    full = resnet_flops((8, 8, 3), 3, widths=(64, 64))
    assert full / resnet_flops((8, 8, 3), 3, widths=smaller) >= needed  # it needs 6x less work
    with warnings.catch_warnings():
        warnings.simplefilter("error", TimeBudgetWarning)  # 2 epochs: no warning
        clone(clf).set_params(time_budget=0.48).fit(X, y)


def test_without_test_time_views_nothing_shifted_is_chosen(data, tiny):
    X, y = data
    # The short budget above, but predict_proba averages no views: the small
    # network is ranked by its flip-only frontier (0.60) and gets no shifted views.
    clf = ResNetClassifier(time_budget=0.12, tta=False, random_state=0).fit(X, y)
    assert clf.network_choice_["network"] == "small" and clf.tta_shift_ == 0
    assert clf.network_choice_["candidates"]["small"]["predicted_accuracy"] == pytest.approx(0.60)


def test_a_short_plan_of_a_network_chosen_over_a_smaller_one_asks_only_for_time(
    data, tiny, monkeypatch
):
    X, y = data
    # A default network whose 1.5 epochs (0.36 s) are worth more (0.76) than the
    # small one's 6 (0.66): chosen with a plan of 1.33 epochs; the small network
    # lost, so the warning names no network.
    networks = dict(TINY)
    frontier = ((1, 0.70, 0.70), (2, 0.80, 0.80), (4, 0.85, 0.85), (8, 0.90, 0.90))
    networks[DEFAULT_NETWORK] = BudgetNetwork(TINY[DEFAULT_NETWORK].params, frontier=frontier)
    monkeypatch.setattr(_choice, "BUDGET_NETWORKS", networks)
    with pytest.warns(TimeBudgetWarning, match=r"1\.33 epochs") as record:
        clf = ResNetClassifier(time_budget=0.36, random_state=0).fit(X, y)
    assert clf.network_choice_["network"] == DEFAULT_NETWORK
    message = _budget_warning(record)
    assert "widths=" not in message and "Set a time_budget of about" in message


@pytest.mark.parametrize("epochs, expected", [(1, 0.5), (2, 0.6), (3, 0.6 + 0.05 * np.log2(1.5)),
                                              (8, 0.66), (100, 0.66), (0.5, 0.4)])  # fmt: skip
def test_the_frontier_is_read_between_and_beyond_its_points(epochs, expected):
    assert frontier_accuracy(TINY["small"].frontier, epochs) == pytest.approx(expected)


def test_the_measured_frontier_is_well_formed():
    for network in BUDGET_NETWORKS.values():
        epochs = [point[0] for point in network.frontier]
        assert epochs == sorted(epochs) and len(epochs) >= 2
        assert all(0.1 < value < 1 for point in network.frontier for value in point[1:])
    widths = [resnet_flops(widths=network.params["widths"]) for network in BUDGET_NETWORKS.values()]
    assert widths == sorted(widths)  # smallest first: the first is timed always


def test_the_resolved_sizes_survive_save_and_load(data, tiny, tmp_path):
    from skcifar import load, save

    X, y = data
    clf = ResNetClassifier(time_budget=1.0, random_state=0).fit(X, y)
    save(clf, tmp_path / "clf.skcifar")
    loaded = load(tmp_path / "clf.skcifar")
    for name in ("widths_", "batch_size_", "learning_rate_", "tta_shift_", "network_choice_"):
        assert getattr(loaded, name) == getattr(clf, name)
    # Same network, same views: the loaded model predicts as the fitted one.
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)


def test_a_file_without_the_resolved_sizes_of_auto_parameters_is_refused(data, tmp_path):
    import json
    import zipfile

    from skcifar import load, save

    X, y = data
    clf = ResNetClassifier(widths=(4,), batch_size=40, epochs=1, random_state=0).fit(X, y)
    save(clf, tmp_path / "clf.skcifar")
    with zipfile.ZipFile(tmp_path / "clf.skcifar") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["manifest.json"])
    del manifest["estimator"]["attributes"]["tta_shift_"]  # tta_shift is "auto"
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(tmp_path / "bad.skcifar", "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(ValueError, match=r"missing fitted attributes \['tta_shift_'\]"):
        load(tmp_path / "bad.skcifar")


def test_the_benchmarks_1x_run_is_the_small_candidate():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        from _configs import RUNS
    finally:
        sys.path.pop(0)
    # The best fixed configuration the 1x figures compare the budget's choice with.
    assert RUNS["1x"]["params"] == BUDGET_NETWORKS["small"].params


def test_the_package_frontier_is_the_measured_one():
    import json
    from pathlib import Path

    measured = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "frontier.json"
    points = json.loads(measured.read_text())["points"]
    for name, network in BUDGET_NETWORKS.items():
        rows = sorted((p["epochs"], p["accuracy_shift0"], p["accuracy_shift1"])
                      for p in points if p["network"] == name)  # fmt: skip
        # Rounded to the 4 decimals the package keeps (accuracies of 5,000 images).
        assert [tuple(round(v, 4) for v in row) for row in rows] == list(network.frontier)


def test_a_short_default_plan_names_the_small_candidate(data):
    X, y = data
    clf = ResNetClassifier(widths=(64, 256, 256), batch_size=80, random_state=0)
    clf.initialize(X, y)
    small = ", ".join(f"{k}={v!r}" for k, v in BUDGET_NETWORKS["small"].params.items())
    # 2x less work per image: the small candidate has 5x less on these images.
    assert clf._smaller_network(2.0) == small
    assert clf._smaller_network(1e6) is None  # nothing is that small
