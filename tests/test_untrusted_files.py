"""skcifar.load on files from others: no paths taken from the file, crafted manifests refused.

Each crafted file is a saved tiny pipeline whose manifest is edited. A crafted
file either loads as a harmless estimator or raises ``ValueError`` naming the
file, never another exception from deep inside the loader or later from numpy.
"""

import json
import os
import pickle
import warnings
import zipfile

import numpy as np
import pytest
from _synthetic import make_images
from sklearn.pipeline import make_pipeline

import skcifar
from skcifar import CNNClassifier, PixelScaler
from skcifar.utils import codec as _codec

LABELS = np.array(["airplane", "bird", "cat"])


def tiny_cnn(**kwargs):
    return CNNClassifier(
        **{"filters": (4,), "dense_units": 8, "epochs": 1, "random_state": 0, **kwargs}
    )


@pytest.fixture(scope="module")
def data():
    return make_images(n=30)


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    """A fitted ``PixelScaler(standardize=True) -> CNNClassifier`` pipeline, saved."""
    X, y = data
    pipe = make_pipeline(PixelScaler(standardize=True), tiny_cnn()).fit(X, LABELS[y])
    path = tmp_path_factory.mktemp("saved") / "pipe.skcifar"
    skcifar.save(pipe, path)
    return path


def read_manifest(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("manifest.json"))


def craft(src, dst, edit=None, text=None, arrays=None):
    """Copy the archive ``src`` to ``dst`` with its manifest edited.

    ``edit(manifest)`` changes the parsed manifest in place (written back with
    ``json.dumps``, which writes non-finite floats as ``Infinity``/``NaN``);
    ``text`` replaces the manifest's text outright; ``arrays`` maps new member
    names to arrays stored as ``.npy``.
    """
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name, array in (arrays or {}).items():
            zout.writestr(name, _codec.array_to_npy(array))
        for name in zin.namelist():
            data = zin.read(name)
            if name == "manifest.json":
                if edit is not None:
                    manifest = json.loads(data)
                    edit(manifest)
                    data = json.dumps(manifest)
                if text is not None:
                    data = text
            zout.writestr(name, data)
    return dst


def step(manifest, index):
    """The manifest node of the pipeline's step ``index`` (0: scaler, 1: classifier)."""
    return manifest["estimator"]["steps"][index]["estimator"]


# -- paths are never taken from a file ----------------------------------------------
class _MakesMarker:
    """Unpickles into ``os.mkdir(marker)``: proof that a planted file was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pipeline_memory_from_a_file_is_not_used(saved, data, tmp_path):
    """A file naming a joblib cache with a planted pickle in it runs no code on re-fit."""
    X, y = data
    cache, marker = tmp_path / "cache", tmp_path / "unpickled"
    # The planted cache: the entries a re-fit of this pipeline would read, made pickles
    # that run code when joblib reads them back.
    make_pipeline(PixelScaler(standardize=True), tiny_cnn(), memory=str(cache)).fit(X, LABELS[y])
    planted = [os.path.join(d, f) for d, _, fs in os.walk(cache) for f in fs if f == "output.pkl"]
    assert planted
    for entry in planted:
        with open(entry, "wb") as file:
            pickle.dump(_MakesMarker(marker), file)
    path = craft(
        saved,
        tmp_path / "memory.skcifar",
        lambda m: m["estimator"]["params"].update(memory=str(cache)),
    )
    with pytest.warns(UserWarning, match=r"'memory' of the pipeline.*set_params\(memory="):
        loaded = skcifar.load(path)
    assert loaded.memory is None
    loaded.fit(X, LABELS[y])
    assert not marker.exists()


def test_classifier_memory_from_a_file_is_not_used(saved, data, tmp_path):
    X, y = data
    cache = tmp_path / "cache"
    path = craft(
        saved,
        tmp_path / "memory.skcifar",
        lambda m: step(m, 1)["params"].update(memory=str(cache)),
    )
    with pytest.warns(UserWarning, match=r"'memory' of step 'cnnclassifier'.*set_params"):
        loaded = skcifar.load(path)
    assert loaded[-1].memory is None
    loaded.fit(X, LABELS[y])
    assert not cache.exists()  # no checkpoint read from or written to the named directory


def test_save_stores_no_memory_path(data, tmp_path):
    """Files written by skcifar carry no path: loading them never warns."""
    import joblib

    X, y = data
    for memory in (str(tmp_path / "cache"), joblib.Memory(tmp_path / "jcache", verbose=0)):
        pipe = make_pipeline(PixelScaler(), tiny_cnn(memory=memory), memory=memory)
        skcifar.save(pipe, tmp_path / "m.skcifar")
        manifest = read_manifest(tmp_path / "m.skcifar")
        assert manifest["estimator"]["params"]["memory"] is None
        assert step(manifest, 1)["params"]["memory"] is None
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loaded = skcifar.load(tmp_path / "m.skcifar")
        assert loaded.memory is None and loaded[-1].memory is None
        assert pipe.memory is memory  # the saved estimator is unchanged


@pytest.mark.parametrize(
    "key, value",
    [
        ("callbacks", ["os.system"]),
        ("callbacks", [{"dict": [["class_name", "keras.callbacks.LambdaCallback"]]}]),
        ("optimizer", "os.system"),
        ("optimizer", {"dict": [["class_name", "Adam"]]}),
    ],
    ids=["callbacks-name", "callbacks-config", "optimizer-name", "optimizer-config"],
)
def test_objects_named_in_a_file_are_refused(saved, tmp_path, key, value):
    """No parameter read from a file names a callable, an object or an import path."""
    path = craft(
        saved, tmp_path / "named.skcifar", lambda m: step(m, 1)["params"].update({key: value})
    )
    with pytest.raises(ValueError, match=key) as info:
        skcifar.load(path)
    assert "named.skcifar" in str(info.value)


# -- crafted manifests: ValueError naming the file and the problem --------------------
def _nested(depth):
    return "[" * depth + "1" + "]" * depth


DENSE_UNITS = '"dense_units": 8'
IMAGE_SHAPE = '"image_shape_": {"tuple": [8, 8, 3]}'


@pytest.mark.parametrize(
    "old, new, message",
    [
        (DENSE_UNITS, '"dense_units": ' + _nested(100_000), "nests brackets 100"),
        (DENSE_UNITS, '"dense_units": ' + _nested(900), "nests brackets 9"),
        (IMAGE_SHAPE, '"image_shape_": {"tuple": [Infinity, 8, 3]}', "Infinity"),
        (IMAGE_SHAPE, '"image_shape_": {"tuple": [1e400, 8, 3]}', "1e400"),
        (DENSE_UNITS, '"dense_units": NaN', "NaN"),
        (DENSE_UNITS, '"dense_units": -Infinity', "-Infinity"),
    ],
    ids=["deep-manifest", "deep-900", "Infinity", "overflowing-float", "NaN", "-Infinity"],
)
def test_malformed_manifest_text_is_a_value_error(saved, tmp_path, old, new, message):
    """Refused before json.loads recurses (nesting) or returns a non-finite number."""
    text = json.dumps(read_manifest(saved))
    assert old in text
    path = craft(saved, tmp_path / "crafted.skcifar", text=text.replace(old, new))
    with pytest.raises(ValueError, match=message) as info:
        skcifar.load(path)
    assert "crafted.skcifar" in str(info.value)


def test_deeply_nested_parameter_is_a_value_error(saved, tmp_path):
    """Within the manifest's nesting bound, a value nested too deep is refused too."""
    value = 1
    for _ in range(60):
        value = [value]
    path = craft(
        saved, tmp_path / "deep.skcifar", lambda m: step(m, 1)["params"].update(filters=value)
    )
    with pytest.raises(ValueError, match="parameter 'filters'.*nested") as info:
        skcifar.load(path)
    assert "deep.skcifar" in str(info.value)


def test_decode_bounds_nesting_before_recursing():
    value = 1
    for _ in range(5000):
        value = [value]
    with pytest.raises(ValueError, match="nested deeper than"):
        _codec.decode(value, "parameter 'filters'")
    with pytest.raises(TypeError, match="nested deeper than"):
        _codec.encode(value, "parameter 'filters'")


def _set_attribute(index, attr, value):
    return lambda m: step(m, index)["attributes"].__setitem__(attr, value)


def _object_array(items, shape=None):
    return {"object_array": {"shape": [len(items)] if shape is None else shape, "items": items}}


INF = {"float": "inf"}
ARRAYS = {
    "arrays/short.npy": np.ones(2, np.float32),
    "arrays/zero.npy": np.array([0.5, 0.0, 0.5], np.float32),
    "arrays/nan.npy": np.array([0.5, np.nan, 0.5], np.float32),
}
BAD_ATTRIBUTES = {
    "image_shape-inf-tag": (1, "image_shape_", {"tuple": [INF, 8, 3]}),
    "image_shape-nan-tag": (1, "image_shape_", {"tuple": [8, {"float": "nan"}, 3]}),
    "image_shape-float": (1, "image_shape_", {"tuple": [8.0, 8, 3]}),
    "image_shape-length": (1, "image_shape_", {"tuple": [8, 8]}),
    "image_shape-size": (1, "image_shape_", {"tuple": [8, 8, 1]}),
    "mean-str": (0, "mean_", "x"),
    "mean-object": (0, "mean_", _object_array([1.0, 2.0, 3.0])),
    "mean-shape": (0, "mean_", {"ndarray": "arrays/short.npy"}),
    "scale-zero": (0, "scale_", {"ndarray": "arrays/zero.npy"}),
    "scale-nan": (0, "scale_", {"ndarray": "arrays/nan.npy"}),
    "input_shape-str": (0, "input_shape_", {"tuple": ["a", 8, 3]}),
    "input_shape-size": (1, "input_shape_", {"tuple": [8, 8, 4]}),
    "classes-nested": (1, "classes_", _object_array([[1, 2], [3], [4]])),
    "classes-list": (1, "classes_", ["airplane", "bird", "cat"]),
    "classes-unsorted": (1, "classes_", _object_array(["cat", "bird", "airplane"])),
    "history-str": (1, "history_", {"dict": [["loss", "abc"]]}),
    "history-list": (1, "history_", [1.0, 2.0]),
    "history-nested": (1, "history_", {"dict": [["loss", [[1.0]]]]}),
    "n_features-negative": (1, "n_features_in_", -192),
    "n_features-float": (0, "n_features_in_", 192.0),
    "n_features-bool": (0, "n_features_in_", True),
    "feature_names-ints": (0, "feature_names_in_", _object_array([1, 2])),
}


@pytest.mark.parametrize("index, attr, value", BAD_ATTRIBUTES.values(), ids=BAD_ATTRIBUTES)
def test_fitted_attribute_of_the_wrong_type_is_a_value_error(saved, tmp_path, index, attr, value):
    path = craft(
        saved, tmp_path / "crafted.skcifar", _set_attribute(index, attr, value), arrays=ARRAYS
    )
    with pytest.raises(ValueError, match=f"'{attr}'") as info:
        skcifar.load(path)
    assert "crafted.skcifar" in str(info.value)


@pytest.mark.parametrize("index, attr", [(0, "mean_"), (1, "classes_"), (1, "n_features_in_")])
def test_missing_fitted_attribute_is_a_value_error(saved, tmp_path, index, attr):
    path = craft(
        saved, tmp_path / "crafted.skcifar", lambda m: step(m, index)["attributes"].pop(attr)
    )
    with pytest.raises(ValueError, match=f"'{attr}'"):
        skcifar.load(path)


def test_saved_files_pass_the_checks(saved, data):
    X, _ = data
    loaded = skcifar.load(saved)
    assert loaded.predict(X).shape == (len(X),)
