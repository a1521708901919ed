"""skcifar.save / skcifar.load: pickle-free round trips, format checks, safety."""

import io
import json
import os
import pickle
import signal
import stat
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import pytest
from _files import tree
from _synthetic import make_images
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

import skcifar
from skcifar import ANNClassifier, CNNClassifier, PixelScaler, ResNetClassifier
from skcifar.persistence import _archive, load, save
from skcifar.utils.backend import import_keras

# Float results here depend on the CPU: make test-isa runs them again under other settings.
pytestmark = pytest.mark.cpu_numerics

keras = import_keras()

LABELS = np.array(["airplane", "bird", "cat"])


def tiny_cnn(**kwargs):
    return CNNClassifier(
        **{"filters": (4,), "dense_units": 8, "epochs": 2, "random_state": 0, **kwargs}
    )


def tiny_ann(**kwargs):
    return ANNClassifier(**{"hidden_layer_sizes": (8,), "epochs": 2, "random_state": 0, **kwargs})


def tiny_resnet(**kwargs):
    return ResNetClassifier(
        **{
            "widths": (4,),
            "stem_filters": 4,
            "epochs": 2,
            "batch_size": 16,
            "precision": "float32",
            "random_state": 0,
            **kwargs,
        }
    )


@pytest.fixture(scope="module")
def data():
    return make_images()


@pytest.fixture(scope="module")
def fitted_pipeline(data):
    X, y = data
    return make_pipeline(PixelScaler(standardize=True), tiny_cnn()).fit(X, LABELS[y])


@pytest.fixture(scope="module")
def saved_cnn(data, tmp_path_factory):
    """A fitted CNN (string labels) and the path it was saved to."""
    X, y = data
    clf = tiny_cnn(kernel_size=(3, 3)).fit(X / 255.0, LABELS[y])
    path = tmp_path_factory.mktemp("saved") / "cnn.skcifar"
    save(clf, path)
    return clf, path


def roundtrip(estimator, tmp_path, name="model.skcifar"):
    path = tmp_path / name
    save(estimator, path)
    return load(path)


def assert_same_params(loaded, original):
    a, b = loaded.get_params(deep=False), original.get_params(deep=False)
    assert a.keys() == b.keys()
    for key in a:
        if key != "steps":
            assert a[key] == b[key] and type(a[key]) is type(b[key]), key


def rewrite(src, dst, manifest=None, members=None):
    """Copy an archive, editing its manifest (a function) and replacing members."""
    members = members or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = members.get(name, zin.read(name))
            if name == "manifest.json" and manifest is not None:
                data = json.dumps(manifest(json.loads(data)))
            zout.writestr(name, data)
    return dst


# -- round trips ---------------------------------------------------------------
# Exact comparisons below: the loaded estimator holds the same weights, fitted
# attributes (mean_, scale_, ...) and history_ as values stored bit for bit, and
# predicts or transforms the same rows in the same batches in this process, so
# any CPU computes the same bits (CPU-dependent round-off cannot enter).
def test_cnn_round_trip_predicts_identically(saved_cnn, data):
    clf, path = saved_cnn
    X, y = data
    loaded = load(path)
    assert type(loaded) is CNNClassifier
    check_is_fitted(loaded)
    np.testing.assert_array_equal(loaded.predict_proba(X / 255.0), clf.predict_proba(X / 255.0))
    np.testing.assert_array_equal(loaded.predict(X / 255.0), clf.predict(X / 255.0))
    assert loaded.score(X / 255.0, LABELS[y]) == clf.score(X / 255.0, LABELS[y])
    assert_same_params(loaded, clf)
    assert loaded.filters == (4,) and loaded.kernel_size == (3, 3)
    np.testing.assert_array_equal(loaded.classes_, LABELS)
    assert loaded.classes_.dtype == clf.classes_.dtype
    assert loaded.n_classes_ == 3 and loaded.n_features_in_ == clf.n_features_in_
    assert loaded.input_shape_ == clf.input_shape_ == (8, 8, 3)
    assert loaded.history_ == clf.history_ and loaded.current_epoch == 2


def test_ann_round_trip_on_flat_rows_with_object_labels(data, tmp_path):
    X, y = data
    flat = X.reshape(len(X), -1)[:, :10].astype(np.float32) / 255.0
    labels = LABELS[y].astype(object)
    clf = tiny_ann(class_weight={"airplane": 1.0, "bird": 2.0, "cat": 1.0}).fit(flat, labels)
    loaded = roundtrip(clf, tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(flat), clf.predict_proba(flat))
    assert loaded.classes_.dtype == object and list(loaded.classes_) == list(LABELS)
    assert loaded.image_shape_ == (1, 10, 1)
    assert_same_params(loaded, clf)


def test_an_initialized_classifier_round_trips_untrained(data, tmp_path):
    X, y = data
    clf = tiny_ann().initialize(X, y)
    loaded = roundtrip(clf, tmp_path)
    assert loaded.initialized_ and loaded.current_epoch == 0 and loaded.history_ == {}
    # Exact: same process, same weights, same rows in the same batches: identical bits on any CPU.
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    loaded.partial_fit(X, y)
    assert loaded.current_epoch == 1


def test_pixel_scaler_round_trip(data, tmp_path):
    X, _ = data
    scaler = PixelScaler(standardize=True).fit(X)
    loaded = roundtrip(scaler, tmp_path)
    np.testing.assert_array_equal(loaded.mean_, scaler.mean_)
    assert loaded.mean_.dtype == np.float32
    np.testing.assert_array_equal(loaded.transform(X), scaler.transform(X))


def test_feature_names_round_trip(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(np.arange(40).reshape(10, 4) % 256, columns=["a", "b", "c", "d"])
    loaded = roundtrip(PixelScaler().fit(frame), tmp_path)
    np.testing.assert_array_equal(loaded.feature_names_in_, ["a", "b", "c", "d"])
    assert list(loaded.get_feature_names_out()) == ["a", "b", "c", "d"]


def test_pipeline_round_trip(fitted_pipeline, data, tmp_path):
    X, y = data
    loaded = roundtrip(fitted_pipeline, tmp_path)
    assert [name for name, _ in loaded.steps] == ["pixelscaler", "cnnclassifier"]
    check_is_fitted(loaded)
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted_pipeline.predict_proba(X))
    assert loaded.score(X, LABELS[y]) == fitted_pipeline.score(X, LABELS[y])
    for (_, a), (_, b) in zip(loaded.steps, fitted_pipeline.steps, strict=True):
        assert_same_params(a, b)


def test_resnet_round_trip_predicts_identically(data, tmp_path):
    """The custom Keras pieces (RandomShiftFlip, the smoothed loss) load in safe mode."""
    X, y = data
    X = X / 255.0
    clf = tiny_resnet(widths=[4, 8], label_smoothing=0.2).fit(X, LABELS[y])
    loaded = roundtrip(clf, tmp_path)
    assert type(loaded) is ResNetClassifier
    check_is_fitted(loaded)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))  # with TTA
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert_same_params(loaded, clf)
    assert loaded.widths == [4, 8] and loaded.tta is True
    np.testing.assert_array_equal(loaded.classes_, LABELS)
    assert loaded.history_ == clf.history_ and loaded.image_shape_ == (8, 8, 3)
    network = loaded.model_
    assert [type(layer).__name__ for layer in network.layers][1] == "RandomShiftFlip"
    assert network.layers[1].get_config() == clf.model_.layers[1].get_config()
    assert type(network.loss).__name__ == "SmoothedSparseCrossentropy"
    assert network.loss.label_smoothing == pytest.approx(0.2)
    loaded.partial_fit(X, LABELS[y])  # the compiled loss and optimizer work after loading
    assert len(loaded.history_["loss"]) == 3


@pytest.mark.usefixtures("needs_bfloat16")
def test_resnet_pipeline_round_trip(data, tmp_path):
    X, y = data
    pipe = make_pipeline(
        PixelScaler(dtype="float16"), tiny_resnet(precision="bfloat16", stem_filters=8)
    ).fit(X, LABELS[y])
    loaded = roundtrip(pipe, tmp_path)
    assert [name for name, _ in loaded.steps] == ["pixelscaler", "resnetclassifier"]
    assert loaded[0].dtype == "float16" and loaded[0].transform(X).dtype == np.float16
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    assert loaded.score(X, LABELS[y]) == pipe.score(X, LABELS[y])
    conv = next(layer for layer in loaded[-1].model_.layers if type(layer).__name__ == "Conv2D")
    assert conv.dtype_policy.name == "mixed_bfloat16"
    for (_, a), (_, b) in zip(loaded.steps, pipe.steps, strict=True):
        assert_same_params(a, b)


@pytest.mark.usefixtures("needs_bfloat16")
def test_bfloat16_network_loads_in_float32_where_bfloat16_cannot_run(data, tmp_path, monkeypatch):
    """On a CPU where TensorFlow cannot compute bfloat16, a loaded model still predicts."""
    import skcifar.architectures

    X, y = data
    clf = tiny_resnet(precision="bfloat16", stem_filters=8).fit(X, LABELS[y])
    save(clf, tmp_path / "model.skcifar")
    monkeypatch.setattr(skcifar.architectures, "bfloat16_runs", lambda: False)
    with pytest.warns(UserWarning, match="computes in float32 instead"):
        loaded = load(tmp_path / "model.skcifar")
    policies = {layer.dtype_policy.name for layer in loaded.model_.layers}
    assert policies == {"float32"}
    assert clf.model_.layers[-2].dtype_policy.name == "mixed_bfloat16"
    # The same weights computed in float32 instead of bfloat16: bfloat16 keeps 8
    # significant bits, so the probabilities differ by about 1e-2 at most.
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=0.05)


@pytest.mark.parametrize(
    "estimator",
    [
        PixelScaler(standardize=True),
        tiny_cnn(filters=[4, 8], kernel_size=(3, 3), class_weight={0: 1.0, 2: 2.5}),
        tiny_ann(learning_rate=1e-3, validation_fraction=0.2, optimizer="adam"),
        make_pipeline(PixelScaler(), "passthrough", tiny_cnn()),
        tiny_resnet(widths=(8, 16), tta=False, precision="auto", warmup_fraction=0.0),
        make_pipeline(PixelScaler(dtype="float16"), "passthrough", tiny_resnet()),
    ],
    ids=["scaler", "cnn", "ann", "pipeline", "resnet", "resnet-pipeline"],
)
def test_unfitted_round_trip(estimator, tmp_path):
    loaded = roundtrip(estimator, tmp_path)
    assert type(loaded) is type(estimator)
    with pytest.raises(NotFittedError):
        check_is_fitted(loaded)
    assert repr(loaded) == repr(estimator)
    if hasattr(estimator, "steps"):
        assert loaded.steps[1] == ("passthrough", "passthrough")
        estimator, loaded = estimator[-1], loaded[-1]
    assert_same_params(loaded, estimator)


def test_loaded_classifier_can_be_refitted_and_warm_started(saved_cnn, data):
    X, y = data
    loaded = load(saved_cnn[1])
    loaded.set_params(warm_start=True, epochs=1).fit(X / 255.0, LABELS[y])
    assert loaded.current_epoch == 3  # continued from the loaded network
    loaded.partial_fit(X / 255.0, LABELS[y])
    assert loaded.current_epoch == 4
    loaded.set_params(warm_start=False).fit(X / 255.0, LABELS[y])
    assert loaded.current_epoch == 1  # a fresh network
    assert_same_params(clone(loaded), loaded)


# -- no pickle -------------------------------------------------------------------
def _is_pickle(data):
    return data[:1] == b"\x80" or data[:2] in (b"(d", b"(l", b"}q", b"]q")


def test_archive_holds_no_pickle(saved_cnn, monkeypatch):
    clf, path = saved_cnn
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert names[0] == "manifest.json"
        for name in names:
            data = archive.read(name)
            assert not _is_pickle(data), name
            if name.endswith(".npy"):
                header = np.lib.format.read_magic(io.BytesIO(data))
                assert header[0] >= 1
                assert np.load(io.BytesIO(data), allow_pickle=False).dtype != object
            if name.endswith(".keras"):
                with zipfile.ZipFile(io.BytesIO(data)) as inner:
                    assert not any(_is_pickle(inner.read(n)) for n in inner.namelist())

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used while loading")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    loaded = load(path)
    # Exact: same process, same weights, same rows in the same batches: identical bits on any CPU.
    X, _ = make_images(n=6)
    np.testing.assert_array_equal(loaded.predict_proba(X / 255.0), clf.predict_proba(X / 255.0))


# -- damaged and foreign files -------------------------------------------------------
@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: {**m, "format": "other-model"}, "not a skcifar model file"),
        (lambda m: {**m, "format_version": 2}, "newer skcifar.*Upgrade skcifar"),
        (lambda m: {**m, "format_version": "1"}, "invalid format_version"),
        (lambda m: [m], "not a skcifar model file"),
        (lambda m: {**m, "estimator": {**m["estimator"], "class": "os.system"}}, "os.system"),
        (
            lambda m: {**m, "estimator": {**m["estimator"], "class": "LogisticRegression"}},
            "Unknown estimator class",
        ),
        (
            lambda m: {**m, "estimator": {**m["estimator"], "params": {"shell": "rm -rf /"}}},
            "Unknown parameters",
        ),
        (
            lambda m: {
                **m,
                "estimator": {**m["estimator"], "params": {"filters": {"eval": "1"}}},
            },
            "Malformed value",
        ),
        (
            lambda m: {**m, "estimator": {**m["estimator"], "params": {"epochs": -3}}},
            "epochs",
        ),
        (
            lambda m: {
                **m,
                "estimator": {**m["estimator"], "attributes": {"__class__": 1}},
            },
            "unknown fitted attributes",
        ),
        (lambda m: {**m, "estimator": {**m["estimator"], "model": "nope.keras"}}, "missing"),
    ],
    ids=[
        "format",
        "future-version",
        "version-type",
        "not-a-dict",
        "import-path",
        "foreign-class",
        "unknown-param",
        "unknown-tag",
        "invalid-param",
        "unknown-attribute",
        "missing-network",
    ],
)
def test_tampered_manifest_is_refused(saved_cnn, tmp_path, edit, message):
    path = rewrite(saved_cnn[1], tmp_path / "tampered.skcifar", manifest=edit)
    with pytest.raises(ValueError, match=message) as info:
        load(path)
    assert "tampered.skcifar" in str(info.value)


def test_damaged_files_are_refused(saved_cnn, tmp_path):
    content = saved_cnn[1].read_bytes()
    truncated = tmp_path / "truncated.skcifar"
    truncated.write_bytes(content[: len(content) // 2])
    noise = tmp_path / "noise.skcifar"
    noise.write_bytes(np.random.RandomState(0).bytes(2000))
    pickled = tmp_path / "model.joblib"
    pickled.write_bytes(pickle.dumps({"a": 1}))
    for path in (truncated, noise, pickled):
        with pytest.raises(ValueError, match="not a zip archive") as info:
            load(path)
        assert path.name in str(info.value)
    garbled = rewrite(saved_cnn[1], tmp_path / "garbled.skcifar", members={"manifest.json": b"{"})
    with pytest.raises(ValueError, match="cannot read manifest.json"):
        load(garbled)
    plain_zip = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="no manifest.json"):
        load(plain_zip)
    with pytest.raises(FileNotFoundError, match="missing.skcifar"):
        load(tmp_path / "missing.skcifar")


def _npy(descr, shape, payload=b"", version=1):
    """A ``.npy`` file written by hand: any header, however false, and ``payload``."""
    header = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape!r}, }}\n"
    length = len(header).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + length + header.encode("latin1") + payload


@pytest.mark.parametrize(
    "member, message",
    [
        (_npy("<f8", (10**13,), b"\0" * 64), r"declares .*10000000000000.* but 64 bytes"),
        (_npy("|O", (1,), b"\0" * 8), "dtype"),
        (_npy("<f8", (2,), b"\0" * 8), "declares"),
        (b"\x93NUMPY\x01\x00\xff", "truncated"),
    ],
    ids=["huge-shape", "object-dtype", "short-data", "cut-header"],
)
def test_a_lying_array_member_is_refused_before_allocation(saved_cnn, tmp_path, member, message):
    with zipfile.ZipFile(saved_cnn[1]) as archive:
        (name,) = [n for n in archive.namelist() if n.startswith("arrays/")][:1]
    path = rewrite(saved_cnn[1], tmp_path / "lying.skcifar", members={name: member})
    with pytest.raises(ValueError, match=message) as info:
        load(path)
    assert "lying.skcifar" in str(info.value) and name in str(info.value)


def test_a_member_of_an_unknown_compression_method_is_refused(saved_cnn, tmp_path):
    path = rewrite(saved_cnn[1], tmp_path / "method.skcifar")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("manifest.json")
        assert archive.namelist()[0] == "manifest.json"  # the first central directory entry
        local, central = info.header_offset, archive.start_dir
    # Method 99 (AES encryption, which zipfile cannot read) in the local and central headers.
    data[local + 8 : local + 10] = data[central + 10 : central + 12] = (99).to_bytes(2, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="compression method 99") as info:
        load(path)
    assert "method.skcifar" in str(info.value) and "manifest.json" in str(info.value)


@pytest.mark.parametrize(
    "field, value, message",
    [
        (6, 99, "damaged zip archive .*zip file version 9.9"),
        (8, 0x1, "manifest.json' is encrypted or patched"),
        (8, 0x20, "manifest.json' is encrypted or patched"),
    ],
    ids=["zip-version-9.9", "encrypted", "patched-data"],
)
def test_a_zip_header_declaring_what_zipfile_cannot_read_is_refused(
    saved_cnn, tmp_path, field, value, message
):
    path = rewrite(saved_cnn[1], tmp_path / "header.skcifar")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist()[0] == "manifest.json"  # the first central directory entry
        central = archive.start_dir
    # The version needed to extract (offset 6) or the flag bits (offset 8) of manifest.json.
    data[central + field : central + field + 2] = value.to_bytes(2, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=message) as info:
        load(path)
    assert "header.skcifar" in str(info.value)


def test_lambda_network_is_refused_by_safe_mode(saved_cnn, tmp_path):
    network = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Lambda(lambda x: x * 2.0),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    network.save(tmp_path / "evil.keras")
    path = rewrite(
        saved_cnn[1],
        tmp_path / "evil.skcifar",
        members={"models/0.keras": (tmp_path / "evil.keras").read_bytes()},
    )
    with pytest.raises(ValueError, match="safe mode"):
        load(path)
    # Keras' global opt-out (enable_unsafe_deserialization) does not weaken skcifar.load.
    from keras.src.backend.common import global_state

    previous = global_state.get_global_attribute("safe_mode_saving")
    keras.config.enable_unsafe_deserialization()
    try:
        with pytest.raises(ValueError, match="safe mode"):
            load(path)
    finally:
        global_state.set_global_attribute("safe_mode_saving", previous)


# -- saving ----------------------------------------------------------------------
def test_save_is_atomic(saved_cnn, tmp_path, monkeypatch):
    path = tmp_path / "model.skcifar"
    save(PixelScaler(), path)
    before = path.read_bytes()

    def crash(archive, name, model):
        archive.writestr(name, b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(_archive, "_write_model", crash)
    for target in (path, tmp_path / "new.skcifar"):
        with pytest.raises(RuntimeError, match="disk full"):
            save(saved_cnn[0], target)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.skcifar"]


def test_save_replaces_only_its_own_files(saved_cnn, tmp_path):
    """An existing .skcifar file or an empty file is replaced; anything else is refused."""
    scaler = PixelScaler()
    (tmp_path / "notes.txt").write_text("my notes")
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as archive:
        archive.writestr("cat.jpg", b"not a model")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "report.html").write_text("<html>")
    os.symlink(saved_cnn[1], tmp_path / "link.skcifar")
    before = tree(tmp_path)
    for name, found in [
        ("notes.txt", "a file"),
        ("photos.zip", "a file"),
        ("runs", "a directory"),
        ("link.skcifar", "a symbolic link"),
    ]:
        target = str(tmp_path / name)
        with pytest.raises(ValueError, match="Cannot write a .skcifar model file") as info:
            save(scaler, target)
        message = str(info.value)
        assert repr(target) in message and found in message, message
        assert "Choose another path" in message and "yourself" in message
    assert tree(tmp_path) == before  # nothing replaced, no temporary file left
    # An empty file (tempfile.mkstemp, touch) and a skcifar file are replaced.
    (tmp_path / "empty.skcifar").touch()
    save(scaler, tmp_path / "empty.skcifar")
    save(saved_cnn[0], tmp_path / "empty.skcifar")
    assert isinstance(load(tmp_path / "empty.skcifar"), CNNClassifier)


def test_save_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "private.skcifar"
    save(PixelScaler(), path)
    os.chmod(path, 0o600)
    save(PixelScaler(standardize=True), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load(path).standardize is True
    old_umask = os.umask(0o027)
    try:
        save(PixelScaler(), tmp_path / "new.skcifar")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "new.skcifar").stat().st_mode) == 0o640


def test_save_errors_name_the_target(tmp_path):
    """A missing directory, or a file where a directory should be, is named with the target."""
    (tmp_path / "file").write_text("")
    for target in (tmp_path / "missing" / "m.skcifar", tmp_path / "file" / "m.skcifar"):
        with pytest.raises(OSError) as info:
            save(PixelScaler(), target)
        assert str(target) in str(info.value) and ".tmp" not in str(info.value)
    assert os.listdir(tmp_path) == ["file"]


def test_save_into_a_read_only_directory_names_the_target(read_only_dir):
    with pytest.raises(PermissionError) as info:
        save(PixelScaler(), read_only_dir / "m.skcifar")
    assert str(read_only_dir / "m.skcifar") in str(info.value) and ".tmp" not in str(info.value)


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError])
def test_interrupted_save_leaves_no_temporary_files(saved_cnn, tmp_path, monkeypatch, error):
    """Neither the temporary file beside the target nor the network's scratch directory."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    save_network = keras.Model.save

    def save_then_fail(self, filepath, *args, **kwargs):
        save_network(self, filepath, *args, **kwargs)  # the scratch file exists
        raise error("interrupted mid-write")

    monkeypatch.setattr(keras.Model, "save", save_then_fail)
    with pytest.raises(error):
        save(saved_cnn[0], out / "m.skcifar")
    assert os.listdir(out) == [] and os.listdir(scratch) == []


_TERMINATED_SAVE = """
import os, signal, sys, tempfile
import keras, numpy as np
import skcifar
from skcifar import CNNClassifier

X, y = np.zeros((4, 8, 8, 3), np.float32), np.arange(4) % 2
clf = CNNClassifier(filters=(2,), dense_units=2, random_state=0)
clf.initialize(X, y)
save_network = keras.Model.save

def save_then_terminate(self, filepath, *args, **kwargs):
    save_network(self, filepath, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` or `timeout` would, mid-write
    signal.pause() if hasattr(signal, "pause") else None

keras.Model.save = save_then_terminate
skcifar.save(clf, sys.argv[1])
print("not terminated")
"""


@pytest.mark.skipif(not hasattr(signal, "pause"), reason="POSIX signals")
def test_terminated_save_leaves_no_temporary_files(tmp_path):
    """SIGTERM mid-write: the clean-up runs, then the process ends as SIGTERM ends it."""
    scratch, out = tmp_path / "tmp", tmp_path / "out"
    scratch.mkdir()
    out.mkdir()
    (out / "m.skcifar").write_bytes(b"")
    env = {**os.environ, "TMPDIR": str(scratch), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", _TERMINATED_SAVE, str(out / "m.skcifar")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert "not terminated" not in done.stdout
    assert os.listdir(out) == ["m.skcifar"] and (out / "m.skcifar").read_bytes() == b""
    assert not [name for name in os.listdir(scratch) if name.startswith("skcifar-")]


@pytest.mark.parametrize(
    "params, name",
    [
        ({"callbacks": [keras.callbacks.EarlyStopping()]}, "callbacks"),
        ({"optimizer": keras.optimizers.Adam()}, "optimizer"),
        ({"random_state": np.random.RandomState(0)}, "random_state"),
    ],
)
def test_unstorable_parameter_raises_type_error(params, name, tmp_path):
    with pytest.raises(TypeError, match=f"parameter '{name}'.*not representable as JSON"):
        save(make_pipeline(PixelScaler(), tiny_cnn().set_params(**params)), tmp_path / "m")
    assert os.listdir(tmp_path) == []


class _MyCNN(CNNClassifier):
    pass


@pytest.mark.parametrize(
    "estimator, message",
    [
        (LogisticRegression(), "LogisticRegression"),
        (GridSearchCV(tiny_cnn(), {"epochs": [1]}), "best_estimator_"),
        (_MyCNN(), "not subclasses"),
        (make_pipeline(StandardScaler(), tiny_cnn()), "StandardScaler"),
        ({"model": tiny_cnn()}, "dict"),
    ],
)
def test_unsupported_objects_raise_type_error(estimator, message, tmp_path):
    with pytest.raises(TypeError, match=message):
        save(estimator, tmp_path / "m.skcifar")
    assert os.listdir(tmp_path) == []


def test_manifest_records_format_and_versions(saved_cnn):
    with zipfile.ZipFile(saved_cnn[1]) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format"] == "skcifar-model" and manifest["format_version"] == 1
    assert manifest["versions"]["skcifar"] == skcifar.__version__
    assert {"keras", "scikit-learn"} <= set(manifest["versions"])
    assert manifest["estimator"]["class"] == "CNNClassifier"
    assert manifest["estimator"]["params"]["filters"] == {"tuple": [4]}


def test_top_level_exports():
    assert skcifar.save is save and skcifar.load is load


def _tiny_ann():
    X, y = make_images(24, size=4)
    return ANNClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=0).fit(X / 255, y)


def test_export_without_tensorflow_names_the_extra(tmp_path):
    """Both export formats are TensorFlow's: without it, an ImportError says what to install."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is not None:
        pytest.skip("TensorFlow is installed here (make test-backends runs this without it)")
    for format in ("savedmodel", "onnx"):
        with pytest.raises(ImportError, match=r"pip install 'skcifar\[tensorflow-cpu\]'"):
            skcifar.export(_tiny_ann(), tmp_path / f"model-{format}", format=format)
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


@pytest.mark.tensorflow
def test_export_on_another_backend_says_to_export_from_tensorflow(tmp_path, monkeypatch):
    """TensorFlow installed, Keras on another backend: a RuntimeError with the way round."""
    clf = _tiny_ann()
    monkeypatch.setattr("skcifar.utils.backend.backend_name", lambda: "jax")
    with pytest.raises(RuntimeError, match="KERAS_BACKEND=tensorflow"):
        skcifar.export(clf, tmp_path / "model", format="savedmodel")
    assert list(tmp_path.iterdir()) == []
