"""skops round trips of fitted skcifar estimators: trusted types, predictions, refused files."""

import io
import json
import zipfile

import numpy as np
import pytest
from _processes import run_python
from _synthetic import make_images
from sklearn.pipeline import make_pipeline

from skcifar import ANNClassifier, CNNClassifier, PixelScaler, ResNetClassifier
from skcifar.persistence import SKOPS_TRUSTED_TYPES

sio = pytest.importorskip("skops.io")

# Float results here depend on the CPU: make test-isa runs them again under other settings.
pytestmark = pytest.mark.cpu_numerics

LABELS = np.array(["airplane", "bird", "cat"])


@pytest.fixture(scope="module")
def data():
    return make_images(n=60)


@pytest.fixture(scope="module")
def fitted(data):
    """Every skcifar estimator class, fitted, alone and in pipelines."""
    X, y = data
    flat = X.reshape(len(X), -1) / 255.0
    return {
        "scaler": PixelScaler(standardize=True).fit(X),
        "ann": ANNClassifier(hidden_layer_sizes=(8,), epochs=1, random_state=0).fit(flat, y),
        "cnn-pipeline": make_pipeline(
            PixelScaler(), CNNClassifier(filters=(4,), dense_units=8, epochs=1, random_state=0)
        ).fit(X, LABELS[y]),
        "resnet-pipeline": make_pipeline(
            PixelScaler(standardize=True),
            ResNetClassifier(
                widths=(4,), stem_filters=4, epochs=1, batch_size=16, random_state=0, tta=True
            ),
        ).fit(X, LABELS[y]),
        "resnet-initialized": ResNetClassifier(
            widths=(4,), stem_filters=4, precision="float32", random_state=0
        ).initialize(X / 255.0, y),
    }


def test_trusted_types_are_exactly_skcifars_classes(fitted):
    """Each file needs some of SKOPS_TRUSTED_TYPES and nothing else; all of them are needed."""
    needed = set()
    for name, estimator in fitted.items():
        untrusted = sio.get_untrusted_types(data=sio.dumps(estimator))
        assert set(untrusted) <= set(SKOPS_TRUSTED_TYPES), name
        needed.update(untrusted)
    assert needed == set(SKOPS_TRUSTED_TYPES)
    # The state names no Keras or TensorFlow object: the network is the bytes of a .keras file.
    with zipfile.ZipFile(io.BytesIO(sio.dumps(fitted["resnet-pipeline"]))) as archive:
        schema = archive.read("schema.json").decode()
    assert "keras" not in schema and "tensorflow" not in schema


@pytest.mark.parametrize("name", ["ann", "cnn-pipeline", "resnet-pipeline"])
def test_round_trip_predicts_identically(fitted, data, name):
    X, _ = data
    estimator = fitted[name]
    loaded = sio.loads(sio.dumps(estimator), trusted=SKOPS_TRUSTED_TYPES)
    X = X.reshape(len(X), -1) / 255.0 if name == "ann" else X
    # Exact: same weights and fitted attributes, same rows in the same batches, same process.
    np.testing.assert_array_equal(loaded.predict_proba(X), estimator.predict_proba(X))
    np.testing.assert_array_equal(loaded.classes_, estimator.classes_)


_LOAD = """
import sys
import numpy as np
import skops.io
from skcifar.persistence import SKOPS_TRUSTED_TYPES

model = skops.io.load(sys.argv[1], trusted=SKOPS_TRUSTED_TYPES)
np.save(sys.argv[2], model.predict_proba(np.load(sys.argv[3])))
"""


def test_a_file_loads_in_a_fresh_process(fitted, data, tmp_path):
    X, _ = data
    pipeline = fitted["resnet-pipeline"]
    sio.dump(pipeline, tmp_path / "model.skops")
    np.save(tmp_path / "X.npy", X)
    run_python(_LOAD, tmp_path / "model.skops", tmp_path / "proba.npy", tmp_path / "X.npy")
    # Exact: same weights and batches on the same CPU with the same settings (inherited).
    np.testing.assert_array_equal(np.load(tmp_path / "proba.npy"), pipeline.predict_proba(X))


def test_an_unknown_type_is_refused(fitted):
    data = sio.dumps(fitted["cnn-pipeline"])
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException, match="CNNClassifier"):
        sio.loads(data, trusted=["skcifar.preprocessing.PixelScaler"])


def with_network(data, edit):
    """The skops file ``data`` with its network's ``.keras`` bytes replaced by ``edit(them)``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            content = zin.read(info)
            zout.writestr(info, edit(content) if content.startswith(b"PK") else content)
    return out.getvalue()


def keras_with_config(data, edit):
    """The ``.keras`` file ``data`` with its ``config.json`` replaced by ``edit(config)``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            content = zin.read(info)
            if info.filename == "config.json":
                content = json.dumps(edit(json.loads(content)))
            zout.writestr(info, content)
    return out.getvalue()


@pytest.fixture
def lambda_file(fitted, tmp_path):
    """The skops file of the CNN pipeline with a Lambda layer in front of its network."""
    import keras

    network = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Lambda(lambda x: x * 2.0), keras.layers.Flatten()]
    )
    network.add(keras.layers.Dense(3, activation="softmax"))
    network.save(tmp_path / "evil.keras")
    evil = (tmp_path / "evil.keras").read_bytes()
    return with_network(sio.dumps(fitted["cnn-pipeline"]), lambda _: evil)


def test_a_lambda_layer_is_refused_by_safe_mode(lambda_file):
    with pytest.raises(ValueError, match="Lambda"):
        sio.loads(lambda_file, trusted=SKOPS_TRUSTED_TYPES)


def test_a_lambda_layer_is_refused_after_enable_unsafe_deserialization(lambda_file):
    import keras
    from keras.src.backend.common import global_state

    previous = global_state.get_global_attribute("safe_mode_saving")
    keras.config.enable_unsafe_deserialization()
    try:
        with pytest.raises(ValueError, match="Lambda"):
            sio.loads(lambda_file, trusted=SKOPS_TRUSTED_TYPES)
    finally:
        global_state.set_global_attribute("safe_mode_saving", previous)


def _never_called(*args, **kwargs):
    raise AssertionError("Keras loaded the network before its declarations were checked")


def test_a_network_declaring_more_weights_than_the_file_holds_is_refused(fitted, monkeypatch):
    def huge_output_layer(config):
        dense = [layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense"]
        dense[-1]["config"]["units"] = 10**8  # (8 inputs + a bias) x 10**8 x 4 bytes: 3.6 GB
        return config

    data = with_network(
        sio.dumps(fitted["cnn-pipeline"]), lambda keras: keras_with_config(keras, huge_output_layer)
    )
    import keras

    monkeypatch.setattr(keras.saving, "load_model", _never_called)
    with pytest.raises(ValueError, match=r"declares variables of 36\d{8} bytes"):
        sio.loads(data, trusted=SKOPS_TRUSTED_TYPES)
