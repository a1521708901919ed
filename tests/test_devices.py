"""``devices``: data-parallel fits over several devices (Keras' distribution API, JAX).

The fits over two devices run in a fresh JAX process with two virtual CPU
devices (``XLA_FLAGS`` must be set before JAX starts); without JAX for this
interpreter they are skipped (``make test-backends`` runs them).
"""

import json

import numpy as np
import pytest
from _processes import run_python

from skcifar import ANNClassifier, ResNetClassifier
from skcifar.estimators._devices import fit_distribution
from skcifar.utils.backend import backend_name
from skcifar.utils.input_pipeline import batches, epoch_steps

TWO_CPUS = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}

_TWO_DEVICES = r"""
import json, pickle, sys
import numpy as np
import keras
import skcifar
from skcifar import ResNetClassifier
from skcifar.estimators._devices import fit_distribution

out, folder = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
X = rng.integers(0, 256, (203, 32, 32, 3), dtype=np.uint8)
y = np.arange(203) % 3
# float32 whatever the CPU: precision="auto" times a bfloat16 convolution against
# a float32 one once per process, and where that ratio lies near the threshold
# the choice can change with the machine's load (JAX's did on a Zen 4 when each
# precision was timed in one block). In bfloat16 the two fits below differ by
# bfloat16's rounding, not float32's last bits.
small = dict(widths=(8, 16, 16), batch_size=32, epochs=2, random_state=0, precision="float32")
result = {"devices": keras.distribution.list_devices(),
          "auto": fit_distribution("auto", 32) is None}

# 202 rows: the last batch (10 rows) splits evenly, so both fits see the same batches.
fits = {n: ResNetClassifier(**small, learning_rate=0.1, devices=n).fit(X[:202], y[:202])
        for n in (1, 2)}
proba = {n: clf.predict_proba(X) for n, clf in fits.items()}
result["difference"] = float(np.abs(proba[1] - proba[2]).max())
result["n_iter"] = [fits[n].n_iter_ for n in (1, 2)]
result["history"] = [{k: len(v) for k, v in fits[n].history_.items()} for n in (1, 2)]
result["first_loss"] = [fits[n].history_["loss"][0] for n in (1, 2)]

# 203 rows, the default recipe: the last batch (11 rows) is cut to 10 on two devices.
clf = ResNetClassifier(**small, devices=2).fit(X, y)
proba = clf.predict_proba(X)
result["uneven"] = {"n_iter": clf.n_iter_, "sums": float(np.abs(proba.sum(1) - 1).max())}
again = pickle.loads(pickle.dumps(clf))
skcifar.save(clf, f"{folder}/clf.skcifar")
loaded = skcifar.load(f"{folder}/clf.skcifar")
result["pickled"] = float(np.abs(again.predict_proba(X) - proba).max())
result["loaded"] = float(np.abs(loaded.predict_proba(X) - proba).max())
result["loaded_devices"] = loaded.devices
loaded.set_params(warm_start=True, epochs=1).fit(X, y)  # built outside the distribution
result["loaded_warm"] = len(loaded.history_["loss"])
clf.set_params(warm_start=True, epochs=1).fit(X, y)
result["warm"] = len(clf.history_["loss"])
clf.partial_fit(X, y)
result["partial"] = len(clf.history_["loss"])

errors = {}
for name, params in [("too_many", {"devices": 3}),
                     ("indivisible", {"devices": 2, "batch_size": 33})]:
    try:
        ResNetClassifier(**{**small, **params}).fit(X, y)
    except ValueError as error:
        errors[name] = str(error)
one_row = np.zeros(len(y))
one_row[0] = 1  # rows of weight 0 are left out of training: one row for two devices
try:
    ResNetClassifier(**small, devices=2).fit(X, y, sample_weight=one_row)
except ValueError as error:
    errors["one_row"] = str(error)
result["errors"] = errors
with open(out, "w") as file:
    json.dump(result, file)
"""


@pytest.fixture(scope="module")
def two_devices(tmp_path_factory):
    """The results of ``_TWO_DEVICES``, run with JAX on two virtual CPU devices."""
    pytest.importorskip("jax")
    folder = tmp_path_factory.mktemp("devices")
    run_python(_TWO_DEVICES, folder / "result.json", folder, env=TWO_CPUS)
    return json.loads((folder / "result.json").read_text())


def test_two_devices_predict_as_one(two_devices):
    assert two_devices["devices"] == ["cpu:0", "cpu:1"]
    # Both fits compute the same sums, split differently across the devices
    # (per-device partial sums of the gradients and of the batch-norm
    # statistics, then added), so float32 results differ in the last bits.
    # learning_rate=0.1: the default 1.5 on 200 random images amplifies
    # those last bits from step to step, to about 0.03 after two epochs
    # (the first epoch's predictions still agree within 1e-6).
    assert two_devices["difference"] <= 1e-4
    assert two_devices["first_loss"][0] == pytest.approx(two_devices["first_loss"][1], rel=1e-5)
    assert two_devices["n_iter"] == [2, 2]
    assert two_devices["history"][0] == two_devices["history"][1] == {"loss": 2, "accuracy": 2}


def test_an_uneven_last_batch_is_cut_and_the_model_saves_as_any(two_devices):
    assert two_devices["uneven"]["n_iter"] == 2
    assert two_devices["uneven"]["sums"] < 1e-5
    assert two_devices["pickled"] == 0 and two_devices["loaded"] == 0
    assert two_devices["loaded_devices"] == 2 and two_devices["loaded_warm"] == 3
    assert two_devices["warm"] == 3 and two_devices["partial"] == 4


def test_two_devices_refuse_what_cannot_run(two_devices):
    errors = two_devices["errors"]
    assert "devices=3" in errors["too_many"] and "the 2 visible" in errors["too_many"]
    assert "batch_size=33" in errors["indivisible"] and "2 devices" in errors["indivisible"]
    assert "1 training rows cannot be split over devices=2" in errors["one_row"]


def test_auto_builds_no_distribution_on_cpus(two_devices):
    assert two_devices["auto"]  # two CPU devices: no accelerator, one device
    assert fit_distribution("auto", 32) is None  # this process: TensorFlow or one CPU


@pytest.mark.skipif(backend_name() == "jax", reason="the rule of the other backends")
def test_several_devices_need_jax():
    X, y = np.zeros((8, 4, 4, 3), np.uint8), np.arange(8) % 2
    with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
        ANNClassifier(hidden_layer_sizes=(4,), epochs=1, devices=2).fit(X, y)
    clf = ANNClassifier(hidden_layer_sizes=(4,), epochs=1, devices=1, random_state=0)
    assert clf.fit(X, y).n_iter_ == 1


@pytest.mark.parametrize("devices", [0, -1, "all", 1.5])
def test_devices_is_auto_or_a_positive_int(devices):
    with pytest.raises(ValueError, match="'devices' parameter"):
        ResNetClassifier(devices=devices).fit(np.zeros((4, 4, 4, 3), np.uint8), [0, 1, 0, 1])


def test_the_last_batch_is_cut_to_a_multiple():
    X = np.arange(11, dtype=np.float32)
    for shuffle in (False, True):
        data = batches(X, batch_size=4, shuffle=shuffle, seed=0, batch_multiple=2)
        sizes = [len(np.asarray(b)) for _, b in zip(range(3), data, strict=False)]
        assert sizes == [4, 4, 2] and epoch_steps(11, 4, 2) == 3
    assert epoch_steps(9, 4, 2) == 2  # a last batch of 1 row is left out
    cut = batches(X[:9], batch_size=4, batch_multiple=2)
    assert [len(np.asarray(b)) for b in cut] == [4, 4]
    # Outside a distribution nothing is cut.
    assert [len(np.asarray(b)) for b in batches(X, batch_size=4)] == [4, 4, 3]
