"""skcifar.export: ONNX and SavedModel graphs that give predict_proba's probabilities."""

import json
import logging
import os
import signal
import stat
import subprocess
import sys
import warnings

import numpy as np
import pytest
from _files import tree
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

import skcifar
from skcifar import ANNClassifier, CNNClassifier, PixelScaler, ResNetClassifier
from skcifar.cli import main

# Float results here depend on the CPU: make test-isa runs them again under other settings.
pytestmark = [pytest.mark.cpu_numerics, pytest.mark.tensorflow]  # TensorFlow writes the exports

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")

N_PARITY = 1000  # test images compared
TOLERANCE = 1e-4


def _classifiers():
    return {
        # Flat rows: the graph reshapes them as the ANN does.
        "ann": ANNClassifier(hidden_layer_sizes=(32,), epochs=1, random_state=0),
        "cnn": CNNClassifier(filters=(8, 16), dense_units=16, epochs=1, random_state=0),
        # Every prediction-time step: mirror and shifted views, temperature.
        "resnet": ResNetClassifier(
            widths=(8, 16, 16),
            stem_filters=8,
            epochs=1,
            tta_shift=1,
            precision="float32",
            random_state=0,
        ),  # fmt: skip
    }


@pytest.fixture(scope="module")
def fitted(cifar10_real):
    """Each classifier in a Pipeline(PixelScaler(standardize=True), clf), fitted on 500 images."""
    (X, y), _ = cifar10_real
    pipelines = {}
    for name, classifier in _classifiers().items():
        X_fit = X[:500].reshape(500, -1) if name == "ann" else X[:500]
        pipelines[name] = make_pipeline(PixelScaler(standardize=True), classifier).fit(
            X_fit, y[:500]
        )
    return pipelines


@pytest.fixture(scope="module")
def test_images(cifar10_real):
    return cifar10_real[1][0][:N_PARITY]


def _inputs(name, images):
    return images.reshape(len(images), -1) if name == "ann" else images


def _onnx_proba(path, X):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["probabilities"], {"images": X})[0], session


def _savedmodel_proba(path, X):
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # kept while serve runs: it owns the variables
    return loaded.serve(X)["probabilities"].numpy()


@pytest.mark.parametrize("name", ["ann", "cnn", "resnet"])
def test_onnx_parity(fitted, test_images, name, tmp_path):
    pipeline, X = fitted[name], _inputs(name, test_images)
    info = skcifar.export(pipeline, tmp_path / "model.onnx")
    proba, session = _onnx_proba(tmp_path / "model.onnx", X)
    np.testing.assert_allclose(proba, pipeline.predict_proba(X), rtol=0, atol=TOLERANCE)
    assert session.get_inputs()[0].type == "tensor(uint8)"
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["class_names"])[:2] == ["airplane", "automobile"]
    assert json.loads(meta["classes"]) == info["classes"] == list(range(10))


@pytest.mark.parametrize("name", ["ann", "cnn", "resnet"])
def test_savedmodel_parity(fitted, test_images, name, tmp_path):
    pipeline, X = fitted[name], _inputs(name, test_images)
    skcifar.export(pipeline, tmp_path / "model", format="savedmodel")
    proba = _savedmodel_proba(tmp_path / "model", X)
    np.testing.assert_allclose(proba, pipeline.predict_proba(X), rtol=0, atol=TOLERANCE)
    with open(tmp_path / "model" / "assets.extra" / "skcifar.json") as file:
        info = json.load(file)
    shape = [None, 3072] if name == "ann" else [None, 32, 32, 3]
    assert info["input"] == {"name": "images", "dtype": "uint8", "shape": shape}
    assert info["steps"] == ["pixelscaler", type(pipeline[-1]).__name__.lower()]


def test_parameters_are_read_at_export_time(fitted, test_images, tmp_path):
    """tta and temperature set after fit change predict_proba, and the export follows."""
    pipeline, X = fitted["resnet"], test_images[:200]
    params = pipeline[-1].get_params()
    try:
        pipeline[-1].set_params(tta=False, temperature=1.0)
        skcifar.export(pipeline, tmp_path / "plain", format="savedmodel")
        proba = _savedmodel_proba(tmp_path / "plain", X)
        np.testing.assert_allclose(proba, pipeline.predict_proba(X), rtol=0, atol=TOLERANCE)
    finally:
        pipeline[-1].set_params(**params)


def test_bare_classifier_takes_float_input(cifar10_real, tmp_path):
    (X, y), (X_test, _) = cifar10_real
    X = X[:200].astype(np.float32) / 255
    clf = CNNClassifier(filters=(4,), dense_units=8, epochs=1, random_state=0).fit(X, y[:200])
    info = skcifar.export(clf, tmp_path / "clf.onnx")
    assert info["input"]["dtype"] == "float32"
    X_test = X_test[:100].astype(np.float32) / 255
    proba, _ = _onnx_proba(tmp_path / "clf.onnx", X_test)
    np.testing.assert_allclose(proba, clf.predict_proba(X_test), rtol=0, atol=TOLERANCE)


@pytest.mark.usefixtures("needs_bfloat16")
def test_bfloat16_network_exports_to_onnx_in_float32(tmp_path):
    """ONNX Runtime has no bfloat16 convolutions: the copy computes in float32."""
    rng = np.random.RandomState(0)
    X, y = rng.randint(0, 256, (20, 16, 16, 3)).astype(np.uint8), np.arange(20) % 2
    clf = ResNetClassifier(widths=(4, 8), stem_filters=4, precision="bfloat16", random_state=0)
    pipeline = make_pipeline(PixelScaler(), clf)
    pipeline[0].fit(X)
    clf.initialize(pipeline[0].transform(X), y)
    skcifar.export(pipeline, tmp_path / "bf16.onnx")
    proba, _ = _onnx_proba(tmp_path / "bf16.onnx", X)
    np.testing.assert_allclose(proba, pipeline.predict_proba(X), rtol=0, atol=2e-2)
    assert clf.model_.layers[-2].dtype_policy.compute_dtype == "bfloat16"  # untouched


# -- errors ---------------------------------------------------------------------------
def test_unknown_format_lists_the_formats(tmp_path):
    with pytest.raises(ValueError, match="'onnx', 'savedmodel'"):
        skcifar.export(CNNClassifier(), tmp_path / "m", format="tflite")


def test_unsupported_step_is_named(tmp_path):
    pipeline = Pipeline([("flatten", FunctionTransformer()), ("clf", CNNClassifier())])
    with pytest.raises(TypeError, match="'flatten' \\(FunctionTransformer\\)"):
        skcifar.export(pipeline, tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="last pipeline step 'scale'.*inference_function"):
        skcifar.export(Pipeline([("scale", PixelScaler())]), tmp_path / "m.onnx")


def test_unfitted_estimator_raises_not_fitted(fitted, tmp_path):
    with pytest.raises(NotFittedError, match="CNNClassifier.*fit it before exporting"):
        skcifar.export(CNNClassifier(), tmp_path / "m.onnx")
    pipeline = Pipeline([("scale", PixelScaler()), ("clf", fitted["cnn"][-1])])
    with pytest.raises(NotFittedError, match="pipeline step 'scale'"):
        skcifar.export(pipeline, tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []


def test_failed_exports_leave_no_output(fitted, tmp_path, monkeypatch):
    import keras
    import tf2onnx

    def broken(*args, **kwargs):
        raise RuntimeError("conversion failed")

    monkeypatch.setattr(tf2onnx.convert, "from_function", broken)
    with pytest.raises(RuntimeError, match="conversion failed"):
        skcifar.export(fitted["cnn"], tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []

    skcifar.export(fitted["cnn"], tmp_path / "sm", format="savedmodel")
    before = sorted(os.listdir(tmp_path / "sm"))

    def half_written(self, filepath, *args, **kwargs):
        os.makedirs(filepath)
        open(os.path.join(filepath, "saved_model.pb"), "wb").close()
        raise OSError("disk full")

    # (Keras builds a backend-specific subclass of ExportArchive.)
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", half_written)
    with pytest.raises(OSError, match="disk full"):
        skcifar.export(fitted["cnn"], tmp_path / "sm", format="savedmodel")
    assert os.listdir(tmp_path) == ["sm"]
    assert sorted(os.listdir(tmp_path / "sm")) == before


def test_savedmodel_export_replaces_only_its_own_directories(fitted, tmp_path, monkeypatch):
    """A directory skcifar did not export to is never moved aside or deleted."""
    pipeline = fitted["cnn"]
    runs = tmp_path / "runs"
    runs.mkdir()
    skcifar.save(pipeline, runs / "cnn-pipeline.skcifar")
    (runs / "report.html").write_text("<html>")
    skcifar.export(pipeline, tmp_path / "sm", format="savedmodel")
    (tmp_path / "sm-with-notes").mkdir()  # a SavedModel skcifar wrote, plus a file it did not
    for name in os.listdir(tmp_path / "sm"):
        os.rename(tmp_path / "sm" / name, tmp_path / "sm-with-notes" / name)
    os.rmdir(tmp_path / "sm")
    (tmp_path / "sm-with-notes" / "notes.txt").write_text("mine")
    (tmp_path / "file").write_text("a file")
    os.symlink(runs, tmp_path / "link")
    monkeypatch.chdir(tmp_path)
    before = tree(tmp_path)
    for target, found in [
        (runs, "a non-empty directory"),
        (".", "a non-empty directory"),
        (tmp_path / "sm-with-notes", "a non-empty directory"),
        (tmp_path / "file", "a file"),
        (tmp_path / "link", "a symbolic link"),
    ]:
        with pytest.raises(ValueError, match="Cannot write a SavedModel") as info:
            skcifar.export(pipeline, target, format="savedmodel")
        message = str(info.value)
        assert repr(os.path.abspath(target)) in message and found in message, message
        assert "Choose another path" in message and "yourself" in message, message
    assert tree(tmp_path) == before  # nothing moved, replaced or left behind
    # An empty directory, and a SavedModel that skcifar wrote, are replaced.
    (tmp_path / "empty").mkdir()
    skcifar.export(pipeline, tmp_path / "empty", format="savedmodel")
    os.remove(tmp_path / "sm-with-notes" / "notes.txt")
    skcifar.export(pipeline, tmp_path / "sm-with-notes", format="savedmodel")
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["empty", "file", "link", "runs", "sm-with-notes"]
    )


def test_savedmodel_target_with_deeply_nested_metadata_is_refused(fitted, tmp_path):
    """Metadata nested too deep for ``json.loads`` is not skcifar's: the target is kept."""
    target = tmp_path / "sm"
    (target / "assets.extra").mkdir(parents=True)
    (target / "saved_model.pb").write_bytes(b"graph")
    (target / "assets.extra" / "skcifar.json").write_text("[" * 100_000 + "]" * 100_000)
    before = tree(tmp_path)
    with pytest.raises(ValueError, match="Cannot write a SavedModel.*a non-empty directory"):
        skcifar.export(fitted["cnn"], target, format="savedmodel")
    assert tree(tmp_path) == before


def test_onnx_export_replaces_only_its_own_files(fitted, tmp_path):
    import onnx

    pipeline = fitted["cnn"]
    (tmp_path / "notes.txt").write_text("my notes")
    (tmp_path / "directory").mkdir()
    # An ONNX model that skcifar did not write: an identity graph.
    tensor = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    output = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["y"])], "g", [tensor], [output]
    )
    onnx.save(onnx.helper.make_model(graph), tmp_path / "other.onnx")
    before = tree(tmp_path)
    for name, found in [
        ("notes.txt", "a file"),
        ("other.onnx", "a file"),
        ("directory", "a directory"),
    ]:
        with pytest.raises(ValueError, match="Cannot write an ONNX model") as info:
            skcifar.export(pipeline, tmp_path / name)
        assert repr(str(tmp_path / name)) in str(info.value) and found in str(info.value)
    assert tree(tmp_path) == before
    skcifar.export(pipeline, tmp_path / "m.onnx")
    os.chmod(tmp_path / "m.onnx", 0o600)
    skcifar.export(pipeline, tmp_path / "m.onnx")  # its own file: replaced, mode kept
    assert stat.S_IMODE((tmp_path / "m.onnx").stat().st_mode) == 0o600


@pytest.mark.parametrize("format", ["onnx", "savedmodel"])
def test_export_errors_name_the_target(fitted, tmp_path, format):
    """A missing directory, or a file where a directory should be: the target is named."""
    (tmp_path / "file").write_text("")
    for target in (tmp_path / "missing" / "m", tmp_path / "file" / "m"):
        with pytest.raises(OSError) as info:
            skcifar.export(fitted["cnn"], target, format=format)
        assert str(target) in str(info.value) and ".tmp" not in str(info.value)
    assert os.listdir(tmp_path) == ["file"]


@pytest.mark.parametrize("format", ["onnx", "savedmodel"])
def test_export_into_a_read_only_directory_names_the_target(fitted, read_only_dir, format):
    with pytest.raises(PermissionError) as info:
        skcifar.export(fitted["cnn"], read_only_dir / "m", format=format)
    assert str(read_only_dir / "m") in str(info.value) and ".tmp" not in str(info.value)


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError])
def test_interrupted_savedmodel_export_leaves_no_temporary_files(
    fitted, tmp_path, monkeypatch, error
):
    import keras

    skcifar.export(fitted["cnn"], tmp_path / "sm", format="savedmodel")
    before = tree(tmp_path)
    archive_type = type(keras.export.ExportArchive())
    write_out = archive_type.write_out

    def write_then_fail(self, filepath, *args, **kwargs):
        write_out(self, filepath, *args, **kwargs)
        raise error("interrupted mid-write")

    monkeypatch.setattr(archive_type, "write_out", write_then_fail)
    with pytest.raises(error):
        skcifar.export(fitted["cnn"], tmp_path / "sm", format="savedmodel")
    assert tree(tmp_path) == before


_TERMINATED_EXPORT = """
import os, signal, sys
import keras, numpy as np
import skcifar
from skcifar import CNNClassifier

X, y = np.zeros((4, 8, 8, 3), np.float32), np.arange(4) % 2
clf = CNNClassifier(filters=(2,), dense_units=2, random_state=0)
clf.initialize(X, y)
archive_type = type(keras.export.ExportArchive())
write_out = archive_type.write_out

def write_then_terminate(self, filepath, *args, **kwargs):
    write_out(self, filepath, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` or `timeout` would, mid-write
    signal.pause()

archive_type.write_out = write_then_terminate
skcifar.export(clf, sys.argv[1], format="savedmodel")
print("not terminated")
"""


@pytest.mark.skipif(not hasattr(signal, "pause"), reason="POSIX signals")
def test_terminated_savedmodel_export_leaves_no_temporary_files(tmp_path):
    """SIGTERM mid-write: the clean-up runs, then the process ends as SIGTERM ends it."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", _TERMINATED_EXPORT, str(tmp_path / "sm")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert "not terminated" not in done.stdout
    assert os.listdir(tmp_path) == []


def test_missing_converter_names_the_extra(fitted, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    with pytest.raises(ImportError, match=r"skcifar\[export\]"):
        skcifar.export(fitted["cnn"], tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []


def test_caller_process_is_untouched(fitted, tmp_path):
    names = ("tensorflow", "tf2onnx", "onnx", "")
    levels = [logging.getLogger(name).level for name in names]
    filters = list(warnings.filters)
    skcifar.export(fitted["cnn"], tmp_path / "m.onnx")
    assert [logging.getLogger(name).level for name in names] == levels
    assert list(warnings.filters) == filters


def test_import_does_not_load_the_converter():
    code = (
        "import sys, skcifar, skcifar.persistence, skcifar.cli; skcifar.export; "
        "print(sorted(m for m in ('tf2onnx', 'onnx', 'onnxruntime', 'tensorflow') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_export(fitted, tmp_path, capsys):
    model = tmp_path / "cnn.skcifar"
    skcifar.save(fitted["cnn"], model)
    assert main(["export", str(model), str(tmp_path / "sm"), "--format", "savedmodel"]) == 0
    out = capsys.readouterr().out
    assert "input 'images' uint8 Nx32x32x3, output 'probabilities' over 10 classes" in out
    assert main(["export", str(model), str(tmp_path / "sm"), "--format", "tflite"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["export", str(model), str(tmp_path / "m.onnx"), "--opset", "13",
                 "--format", "savedmodel"]) == 2  # fmt: skip
    assert "opset applies to the 'onnx' format only" in capsys.readouterr().err
