"""The ``skcifar`` command line: commands, exit statuses, files written, error messages.

Commands run in-process through :func:`skcifar.cli.main`; one test runs the
real ``skcifar`` console script and ``python -m skcifar``. Tests that train on
CIFAR-10 need ``SKCIFAR_DATA`` and are skipped without it; the error cases and
``predict`` run on small models fitted on synthetic images.
"""

import json
import os
import pickle
import shutil
import subprocess
import sys
import zipfile

import joblib
import numpy as np
import pytest
from PIL import Image
from sklearn.pipeline import Pipeline, make_pipeline

import skcifar
from skcifar import ANNClassifier, CNNClassifier, PixelScaler, ResNetClassifier, __version__, cli
from skcifar.cli import _common, _search, _train, main
from skcifar.datasets import CLASS_NAMES

DATA = os.environ.get("SKCIFAR_DATA", "")
TRAIN = ["--subset", "500", "--epochs", "1", "--filters", "8,16", "--quiet"]


def _is_zip(path):
    """A zip archive from its first byte on (a pickle may embed zip bytes near its end)."""
    with open(path, "rb") as file:
        return file.read(4) == b"PK\x03\x04" and zipfile.is_zipfile(path)


def _check_error(code, captured, *phrases):
    """Exit status 2 and a single ``skcifar: error:`` line on stderr, no traceback."""
    assert code == 2, captured
    err = captured.err
    assert err.startswith("skcifar: error: ") and err.endswith("\n"), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for phrase in phrases:
        assert phrase in err, err


@pytest.fixture(autouse=True)
def _data_home(monkeypatch, cifar10_real_data_home):
    """Share the session's cache of decoded arrays instead of the user's data home."""
    monkeypatch.setenv("SKCIFAR_DATA_HOME", cifar10_real_data_home)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cifar10_real, cifar10_real_data_home):
    """``skcifar train`` once on 500 real images, saved to the default ``--out``.

    Its status, output, model file (``runs/cnn-pipeline.skcifar`` under the
    working directory) and report.
    """
    import contextlib
    import io

    directory = tmp_path_factory.mktemp("trained")
    model, report = directory / "runs" / "cnn-pipeline.skcifar", directory / "report"
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(stdout):
        mp.setenv("SKCIFAR_DATA_HOME", cifar10_real_data_home)
        mp.chdir(directory)
        args = ["train", "--model", "cnn", *TRAIN, "--data", DATA]
        code = main([*args, "--report", str(report)])
    return {"code": code, "out": stdout.getvalue(), "model": str(model), "report": report}


def _synthetic_model(flat=False, labels=None):
    """A pipeline fitted on 20 random 32x32 images (flat rows for the ANN)."""
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(20, 32, 32, 3)).astype(np.uint8)
    y = np.arange(20) % 10 if labels is None else np.resize(labels, 20)
    if flat:
        X = X.reshape(20, -1)
        classifier = ANNClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=0)
    else:
        classifier = CNNClassifier(filters=(4,), dense_units=8, epochs=1, random_state=0)
    return make_pipeline(PixelScaler(), classifier).fit(X, y)


@pytest.fixture(scope="module")
def tiny_fitted():
    """A CNN pipeline fitted on random 32x32 images with the labels 0..9."""
    return _synthetic_model()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, tiny_fitted):
    """``tiny_fitted`` saved with ``skcifar.save``: a ``.skcifar`` file."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.skcifar"
    skcifar.save(tiny_fitted, path)
    return str(path)


@pytest.fixture(scope="module")
def tiny_pickle(tmp_path_factory, tiny_fitted):
    """``tiny_fitted`` saved with ``joblib.dump``: a ``.joblib`` pickle."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.joblib"
    joblib.dump(tiny_fitted, path)
    return str(path)


class _MakesMarker:
    """Unpickles into ``os.mkdir(marker)``: proof that a file was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def pickles(tmp_path, tiny_pickle):
    """Pickle files, by kind, and the marker path that unpickling ``marker`` creates."""
    marker = tmp_path / "unpickled"
    paths = {
        "joblib": tiny_pickle,
        "renamed": str(tmp_path / "renamed.skcifar"),  # a pickle with a .skcifar name
        "marker": str(tmp_path / "marker.skcifar"),
        "plain pickle": str(tmp_path / "model.pkl"),
    }
    shutil.copyfile(tiny_pickle, paths["renamed"])
    joblib.dump(_MakesMarker(marker), paths["marker"])
    with open(paths["plain pickle"], "wb") as file:
        pickle.dump(_MakesMarker(marker), file)
    return paths, marker


def _command_args(command, model, images):
    """Arguments of ``predict`` / ``evaluate`` on ``model``."""
    return [command, model, *([images[0]] if command == "predict" else ["--data", DATA])]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A 50x40 RGB PNG, a 32x32 JPEG and a 20x30 grayscale PNG."""
    directory = tmp_path_factory.mktemp("images")
    rng = np.random.RandomState(0)
    paths = [str(directory / name) for name in ("wide.png", "square.jpg", "gray.png")]
    Image.fromarray(rng.randint(0, 256, (40, 50, 3)).astype(np.uint8)).save(paths[0])
    Image.fromarray(rng.randint(0, 256, (32, 32, 3)).astype(np.uint8)).save(paths[1])
    Image.fromarray(rng.randint(0, 256, (30, 20)).astype(np.uint8), mode="L").save(paths[2])
    return paths


# -- help, version, subprocess ----------------------------------------------------
def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("train", "evaluate", "predict", "search", "export"):
        assert command in out
        assert main([command, "--help"]) == 0
        assert f"usage: skcifar {command}" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"skcifar {__version__}"


def test_console_script_and_python_m(tmp_path):
    script = shutil.which("skcifar", path=os.path.dirname(sys.executable))
    runs = [
        [sys.executable, "-m", "skcifar", "--help"],
        [sys.executable, "-m", "skcifar", "train", "-h"],
    ]
    if script:
        runs.append([script, "--version"])
    for command in runs:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert "skcifar" in done.stdout and not done.stderr
    bad = [script or sys.executable, *([] if script else ["-m", "skcifar"])]
    done = subprocess.run(
        [*bad, "train", "--epochs", "0"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2 and not done.stdout
    assert done.stderr.startswith("skcifar: error: ") and done.stderr.count("\n") == 1


# -- train, evaluate, search on real data -------------------------------------------
def test_train_saves_model_and_report(trained):
    assert trained["code"] == 0, trained["out"]
    assert "test accuracy" in trained["out"] and "log-loss" in trained["out"]
    # The default output: runs/cnn-pipeline.skcifar, a zip archive that skcifar.load reads.
    assert _is_zip(trained["model"])
    saved = f"saved the fitted pipeline to {trained['model']} (load it with skcifar.load)"
    assert saved in trained["out"]
    model = skcifar.load(trained["model"])
    assert isinstance(model, Pipeline) and isinstance(model[-1], CNNClassifier)
    assert model[-1].filters == (8, 16) and model[-1].epochs == 1
    assert model.predict(np.zeros((2, 32, 32, 3), np.uint8)).shape == (2,)
    assert not [f for f in os.listdir(os.path.dirname(trained["model"])) if f.endswith(".tmp")]
    assert (trained["report"] / "report.html").is_file()
    metrics = json.loads((trained["report"] / "metrics.json").read_text())
    assert metrics  # written by skcifar.evaluation, with the train/test gap


def test_train_out_joblib_writes_a_pickle(cifar10_real, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["train", "--model", "ann", "--subset", "200", "--epochs", "1", "--data", DATA]
    assert main([*args, "--quiet", "--out", "ann.joblib"]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out
    path = tmp_path / "ann.joblib"
    assert f"saved the fitted pipeline to {path} (a joblib pickle: load it with joblib.load" in out
    assert "--allow-pickle" in out and "only load files you trust" in out
    assert not _is_zip(path)  # a pickle (joblib.dump), not an archive
    model = joblib.load(path)
    assert isinstance(model[-1], ANNClassifier)
    assert os.listdir(tmp_path) == ["ann.joblib"]  # no runs/ default, no temporary file


def _pipeline(*options):
    return _train._make_pipeline(cli._build_parser().parse_args(["train", *options]))


def test_train_builds_each_model_with_its_own_defaults():
    resnet = _pipeline("--model", "resnet")[-1]
    assert isinstance(resnet, ResNetClassifier)
    defaults = ResNetClassifier()
    assert resnet.get_params()["widths"] == defaults.widths == "auto"
    assert (resnet.epochs, resnet.batch_size) == (defaults.epochs, defaults.batch_size)
    assert (resnet.epochs, resnet.batch_size) == (8, "auto")
    assert resnet.random_state == 0
    cnn, ann = _pipeline("--model", "cnn")[-1], _pipeline("--model", "ann")[-1]
    assert (cnn.epochs, cnn.batch_size, ann.epochs, ann.batch_size) == (10, 32, 5, 32)
    options = ["--epochs", "3", "--batch-size", "64", "--seed", "7", "--quiet"]
    resnet = _pipeline("--model", "resnet", "--widths", "32,64,128", *options)[-1]
    assert (resnet.widths, resnet.epochs, resnet.batch_size) == ((32, 64, 128), 3, 64)
    assert (resnet.random_state, resnet.verbose) == (7, 0)
    cnn = _pipeline("--filters", "8,16", *options)[-1]
    assert (cnn.filters, cnn.epochs, cnn.batch_size, cnn.random_state) == ((8, 16), 3, 64, 7)
    pipeline = _pipeline("--model", "resnet")
    assert [type(step).__name__ for _, step in pipeline.steps] == [
        "PixelScaler",
        "ResNetClassifier",
    ]


def test_train_resnet(cifar10_real, tmp_path, images, capsys):
    out_file = tmp_path / "resnet.skcifar"
    args = ["train", "--model", "resnet", "--subset", "300", "--epochs", "1"]
    args += ["--widths", "8,16", "--batch-size", "64", "--data", DATA, "--quiet"]
    assert main([*args, "--out", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert "ResNetClassifier" in out and "trained 1 epochs" in out and "test accuracy" in out
    model = skcifar.load(out_file)
    classifier = model[-1]
    assert isinstance(classifier, ResNetClassifier)
    assert (classifier.widths, classifier.epochs, classifier.batch_size) == ((8, 16), 1, 64)
    assert len(classifier.history_["loss"]) == 1
    assert model.predict(np.zeros((2, 32, 32, 3), np.uint8)).shape == (2,)
    assert main(["predict", str(out_file), images[0], "--json"]) == 0
    predictions = json.loads(capsys.readouterr().out)["results"][0]["predictions"]
    assert len(predictions) == 3 and all(p["class"] in CLASS_NAMES for p in predictions)


def test_evaluate(trained, tmp_path, capsys):
    assert main(["evaluate", trained["model"], "--data", DATA, "--report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "log-loss" in out
    assert (tmp_path / "report.html").is_file()


def test_search(cifar10_real, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out_file = tmp_path / "runs" / "cnn-search-best.skcifar"  # the default --out
    args = ["search", "--filters", "4", "8", "--epochs", "1", "--cv", "2", "--subset", "300"]
    assert main([*args, "--data", DATA, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"saved the best pipeline to {out_file} (load it with skcifar.load)" in out
    table = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert sorted(row[0] for row in table) == ["1", "2"], out
    assert any("filters=4" in line for line in out.splitlines()) and "±" in out
    best = skcifar.load(out_file)
    assert best[-1].filters in (4, (4,), 8, (8,))
    assert best.predict(np.zeros((1, 32, 32, 3), np.uint8)).shape == (1,)


def test_search_memory_resumes_and_reports_the_cache(cifar10_real, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["search", "--filters", "4", "--epochs", "1", "2", "--cv", "2", "--subset", "200"]
    args += ["--data", DATA, "--quiet", "--memory", "cache"]
    tables = []
    for _ in range(2):  # the second search finds every fit in the cache
        assert main(args) == 0
        out = capsys.readouterr().out
        tables.append([line.split()[:4] for line in out.splitlines() if line[:4].strip().isdigit()])
        # 1 filter setting x 2 folds, epochs 1 and 2, and the refit on all 200 images
        assert "memory: 5 checkpoints of 3 runs, " in out and "(delete the directory" in out
    assert tables[0] == tables[1] and len(tables[0]) == 2  # rank, accuracy, ±, std
    assert (tmp_path / "cache" / "skcifar-checkpoints").is_dir()


def test_search_memory_must_be_a_directory(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    code = main(["search", "--memory", str(tmp_path / "file")])
    _check_error(code, capsys.readouterr(), "--memory", "not a directory")


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if a command loads the data, trains or searches."""

    def refuse(*args, **kwargs):
        raise AssertionError("the command started its work before checking --out")

    monkeypatch.setattr(_train, "load_cifar10", refuse)
    monkeypatch.setattr(_search, "load_cifar10", refuse)
    monkeypatch.setattr(Pipeline, "fit", refuse)


def _bad_outs(directory):
    """``--out`` values that cannot be written, by kind, and a phrase of each error."""
    (directory / "notes.txt").write_text("my notes")
    (directory / "runs").mkdir()
    return {
        "directory": (str(directory / "runs"), "it is a directory"),
        "not a model file": (str(directory / "notes.txt"), "it is a file"),
        "below a file": (str(directory / "notes.txt" / "m.skcifar"), "not a directory"),
        "trailing separator": (str(directory / "new") + os.sep, "ends in a path separator"),
    }


@pytest.mark.parametrize("command", ["train", "search"])
def test_bad_out_fails_before_any_work(command, tmp_path, no_training, capsys):
    for out, phrase in _bad_outs(tmp_path).values():
        code = main([command, "--out", out, "--quiet"])
        _check_error(code, capsys.readouterr(), out.rstrip(os.sep), phrase)
    assert (tmp_path / "notes.txt").read_text() == "my notes"
    assert sorted(os.listdir(tmp_path)) == ["notes.txt", "runs"]  # nothing created


def test_out_in_a_read_only_directory_fails_before_training(read_only_dir, no_training, capsys):
    out = str(read_only_dir / "sub" / "m.skcifar")
    _check_error(main(["train", "--out", out]), capsys.readouterr(), out, "not writable")


@pytest.mark.tensorflow  # exports are written by TensorFlow
def test_export_refuses_a_directory_it_did_not_write(tiny_model, tmp_path, monkeypatch, capsys):
    """The model and report in runs/ survive an export to runs/ (or to ``.``)."""
    runs = tmp_path / "runs"
    runs.mkdir()
    model = runs / "cnn-pipeline.skcifar"
    shutil.copyfile(tiny_model, model)
    (runs / "report.html").write_text("<html>")
    monkeypatch.chdir(tmp_path)
    for path in (str(runs), "runs", "."):
        code = main(["export", str(model), path, "--format", "savedmodel"])
        _check_error(code, capsys.readouterr(), repr(os.path.abspath(path)), "yourself")
    assert sorted(os.listdir(tmp_path)) == ["runs"]
    assert sorted(os.listdir(runs)) == ["cnn-pipeline.skcifar", "report.html"]
    assert model.read_bytes() == open(tiny_model, "rb").read()
    code = main(["export", str(model), str(runs / "report.html"), "--format", "onnx"])
    _check_error(code, capsys.readouterr(), "report.html", "it is a file")
    assert (runs / "report.html").read_text() == "<html>"


# -- predict ------------------------------------------------------------------------
def test_predict_text(tiny_model, images, capsys):
    assert main(["predict", tiny_model, *images, "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 * 3
    for i, path in enumerate(images):
        assert lines[3 * i] == path
        for rank, line in enumerate(lines[3 * i + 1 : 3 * i + 3], 1):
            assert line.split()[0] == f"{rank}." and line.split()[1] in CLASS_NAMES


@pytest.mark.parametrize("k", [1, 3, 50])
def test_predict_json(tiny_model, images, capsys, k):
    assert main(["predict", tiny_model, *images, "--top-k", str(k), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [result["image"] for result in document["results"]] == images
    for result in document["results"]:
        predictions = result["predictions"]
        assert len(predictions) == min(k, 10)
        probabilities = [p["probability"] for p in predictions]
        assert probabilities == sorted(probabilities, reverse=True)
        assert 0 < sum(probabilities) <= 1 + 1e-6
        assert all(CLASS_NAMES[p["label"]] == p["class"] for p in predictions)


def test_predict_flat_model_with_string_labels(tmp_path, images, capsys):
    model = str(tmp_path / "flat.skcifar")
    skcifar.save(_synthetic_model(flat=True, labels=["yes", "no"]), model)
    assert main(["predict", model, images[0], "--json"]) == 0
    predictions = json.loads(capsys.readouterr().out)["results"][0]["predictions"]
    assert sorted(p["class"] for p in predictions) == ["no", "yes"]


# -- errors -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, phrase",
    [
        ([], "missing command"),
        (["train", "--model", "vgg"], "invalid choice"),
        (["train", "--epochs", "0"], "--epochs"),
        (["train", "--epochs", "x"], "--epochs"),
        (["train", "--filters", "3,a"], "--filters"),
        (["train", "--filters", ""], "--filters"),
        (["train", "--model", "ann", "--filters", "8"], "--filters"),
        (["train", "--model", "resnet", "--filters", "8"], "--filters"),
        (["train", "--model", "cnn", "--widths", "8"], "--widths"),
        (["train", "--widths", "8,x"], "--widths"),
        (["train", "--model", "resnet", "--widths", "0"], "--widths"),
        (["train", "--subset", "-5"], "--subset"),
        (["train", "--batch-size", "0"], "--batch-size"),
        (["train", "--seed", "-1"], "--seed"),
        (["train", "--bogus"], "unrecognized"),
        (["search", "--cv", "1"], "--cv"),
        (["search", "--model", "ann"], "invalid choice"),
        (["search", "--n-jobs", "0"], "--n-jobs"),
        (["search", "--epochs", "1", "-3"], "--epochs"),
        (["predict", "model.joblib", "image.png", "--top-k", "0"], "--top-k"),
        (["predict", "model.joblib"], "IMAGE"),
        (["evaluate"], "MODEL"),
    ],
)
def test_bad_arguments(args, phrase, capsys):
    _check_error(main(args), capsys.readouterr(), phrase)


def _pickled_model_files(directory, tiny_pickle):
    """Paths of joblib/pickle files that are not usable models, by kind."""
    data = open(tiny_pickle, "rb").read()
    paths = {kind: str(directory / f"{kind}.joblib") for kind in ("random", "truncated")}
    (directory / "random.joblib").write_bytes(np.random.RandomState(0).bytes(2000))
    (directory / "truncated.joblib").write_bytes(data[: len(data) // 2])
    paths["dict"] = str(directory / "dict.joblib")
    joblib.dump({"model": 1}, paths["dict"])
    paths["unfitted"] = str(directory / "unfitted.joblib")
    joblib.dump(make_pipeline(PixelScaler(), CNNClassifier()), paths["unfitted"])
    return paths


def _archive_model_files(directory, tiny_model):
    """Paths of zip files that are not usable models, by kind, and a phrase of each error."""
    data = open(tiny_model, "rb").read()
    files = {
        "truncated": (directory / "truncated.skcifar", "cannot load model"),
        "no manifest": (directory / "other.zip", "no manifest.json"),
        "scaler": (directory / "scaler.skcifar", "not a fitted classifier"),
        "unfitted": (directory / "unfitted.skcifar", "holds an unfitted Pipeline"),
    }
    files["truncated"][0].write_bytes(data[: len(data) // 2])
    with zipfile.ZipFile(files["no manifest"][0], "w") as archive:
        archive.writestr("model.txt", "not a model")
    scaler = PixelScaler().fit(np.zeros((2, 32, 32, 3), np.uint8))
    skcifar.save(scaler, files["scaler"][0])
    skcifar.save(make_pipeline(PixelScaler(), CNNClassifier()), files["unfitted"][0])
    return {kind: (str(path), phrase) for kind, (path, phrase) in files.items()}


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_bad_model_files(command, tiny_model, tiny_pickle, images, tmp_path, capsys):
    cases = _archive_model_files(tmp_path, tiny_model)
    cases["missing"] = (str(tmp_path / "missing.skcifar"), "not found")
    cases["directory"] = (str(tmp_path), "is a directory")
    for kind, (path, phrase) in cases.items():
        for flag in ([], ["--allow-pickle"]):  # the flag changes nothing for these
            captured = (main([*_command_args(command, path, images), *flag]), capsys.readouterr())
            _check_error(*captured, repr(path), phrase)
            assert not captured[1].out, kind
    # Pickles: refused without --allow-pickle; with it, the same checks as before.
    for kind, path in _pickled_model_files(tmp_path, tiny_pickle).items():
        args = _command_args(command, path, images)
        captured = (main(args), capsys.readouterr())
        _check_error(*captured, repr(path), "--allow-pickle")
        captured = (main([*args, "--allow-pickle"]), capsys.readouterr())
        _check_error(*captured, repr(path))
        assert "--allow-pickle" not in captured[1].err and not captured[1].out, kind


def _crafted(tiny_model, path, old, new):
    """A copy of the ``.skcifar`` file ``tiny_model`` with ``old`` replaced in its manifest."""
    with zipfile.ZipFile(tiny_model) as source, zipfile.ZipFile(path, "w") as archive:
        for name in source.namelist():
            data = source.read(name)
            if name == "manifest.json":
                text = json.dumps(json.loads(data))
                assert old in text, old
                data = text.replace(old, new)
            archive.writestr(name, data)
    return str(path)


_IMAGE_SHAPE = '"image_shape_": {"tuple": [32, 32, 3]}'
_INPUT_SHAPE = '"input_shape_": {"tuple": [32, 32, 3]}'


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_crafted_model_files(command, tiny_model, images, tmp_path, capsys):
    """A crafted .skcifar file is one error line and exit status 2, not a traceback."""
    cases = {
        "deep": ('"mean_": null', '"mean_": ' + "[" * 100_000 + "]" * 100_000, "nests brackets"),
        "inf": (_IMAGE_SHAPE, '"image_shape_": {"tuple": [{"float": "inf"}, 32, 3]}', "image_"),
        "mean": ('"mean_": null', '"mean_": "x"', "'mean_'"),
        "shape": (_INPUT_SHAPE, '"input_shape_": {"tuple": ["a", 32, 3]}', "'input_shape_'"),
    }
    for kind, (old, new, phrase) in cases.items():
        path = _crafted(tiny_model, tmp_path / f"{kind}.skcifar", old, new)
        captured = (main(_command_args(command, path, images)), capsys.readouterr())
        _check_error(*captured, f"cannot load model {path!r}", phrase)
        assert not captured[1].out, kind


@pytest.fixture
def no_unpickling(monkeypatch):
    """Fail the test if joblib or pickle is asked to load anything; yields the calls."""
    calls = []

    def refuse(name):
        def load(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} was called")

        return load

    for module, name in ((joblib, "load"), (pickle, "load"), (pickle, "loads")):
        monkeypatch.setattr(module, name, refuse(f"{module.__name__}.{name}"))
    return calls


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_pickles_are_refused_without_allow_pickle(command, pickles, images, no_unpickling, capsys):
    paths, marker = pickles
    for kind, path in paths.items():
        captured = (main(_command_args(command, path, images)), capsys.readouterr())
        _check_error(
            *captured,
            f"skcifar: error: {path!r} is not a .skcifar file; if it is a joblib/pickle file "
            "you trust, pass --allow-pickle (loading a pickle runs code from the file)\n",
        )
        assert not captured[1].out, kind
    assert no_unpickling == [] and not marker.exists()  # nothing was unpickled


def test_allow_pickle_loads_pickles(pickles, images, capsys):
    paths, marker = pickles
    for kind in ("joblib", "renamed"):  # the format is read from the content, not the name
        assert main(["predict", paths[kind], images[0], "--json", "--allow-pickle"]) == 0, kind
        predictions = json.loads(capsys.readouterr().out)["results"][0]["predictions"]
        assert len(predictions) == 3 and all(p["class"] in CLASS_NAMES for p in predictions)
    # The marker files really run code when unpickled: what the refusal above prevents.
    for kind in ("marker", "plain pickle"):
        code = main(["predict", paths[kind], images[0], "--allow-pickle"])
        _check_error(code, capsys.readouterr(), "holds a NoneType, not a fitted classifier")
        assert marker.is_dir(), kind
        marker.rmdir()


def test_evaluate_with_allow_pickle(cifar10_real, tiny_pickle, capsys):
    _check_error(main(["evaluate", tiny_pickle, "--data", DATA]), capsys.readouterr(), "pickle")
    assert main(["evaluate", tiny_pickle, "--data", DATA, "--allow-pickle"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "log-loss" in out


def test_bad_images(tiny_model, images, tmp_path, capsys):
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "cut.png").write_bytes(open(images[0], "rb").read()[:100])
    for bad in ["text.png", "cut.png", "missing.jpg", "."]:
        path = str(tmp_path / bad)
        _check_error(main(["predict", tiny_model, images[0], path]), capsys.readouterr(), path)


def test_data_not_found(tmp_path, monkeypatch, capsys):
    missing = str(tmp_path / "missing.tar.gz")
    _check_error(main(["train", "--data", missing]), capsys.readouterr(), missing)
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(b"\x00" * 1000)
    _check_error(main(["search", "--data", str(corrupt)]), capsys.readouterr(), "corrupt")
    # Nothing anywhere and no network: the loader's multi-line message, on one line.
    monkeypatch.delenv("SKCIFAR_DATA", raising=False)
    monkeypatch.setenv("SKCIFAR_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    _check_error(main(["train"]), capsys.readouterr(), "not found", "SKCIFAR_DATA")


def test_keyboard_interrupt(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_run", interrupted)
    assert main(["train"]) == 130
    err = capsys.readouterr().err
    assert err.startswith("skcifar: ") and err.count("\n") == 1


def test_save_model_is_atomic(tmp_path, monkeypatch):
    out = tmp_path / "sub" / "model.joblib"
    _common.save_model({"version": 1}, out)
    assert joblib.load(out) == {"version": 1}
    with pytest.raises(_common.UsageError, match="cannot write"):
        _common.save_model({"version": 3}, out.parent)  # a directory

    def broken_dump(value, file):
        file.write(b"partial")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(joblib, "dump", broken_dump)
    with pytest.raises(RuntimeError):
        _common.save_model({"version": 2}, out)
    assert joblib.load(out) == {"version": 1}  # the old file is intact
    assert os.listdir(out.parent) == ["model.joblib"]  # and no temporary file is left


def test_save_model_chooses_the_format_by_extension(tmp_path):
    scaler = PixelScaler(standardize=True).fit(np.arange(24).reshape(2, 2, 2, 3))
    for name in ("a.skcifar", "b.model", "c"):  # anything but a pickle extension: skcifar.save
        path = _common.save_model(scaler, tmp_path / "sub" / name)
        assert path == str(tmp_path / "sub" / name) and _is_zip(path)
        assert skcifar.load(path).get_params() == scaler.get_params()
        assert _common.how_to_load(path) == "load it with skcifar.load"
    for name in ("d.joblib", "e.pkl", "f.pickle", "G.JOBLIB"):
        path = _common.save_model(scaler, tmp_path / name)
        assert not _is_zip(path) and isinstance(joblib.load(path), PixelScaler)
        assert "--allow-pickle" in _common.how_to_load(path)
    unsupported = r"cannot save the model .* as a \.skcifar file: .*\.joblib"
    with pytest.raises(_common.UsageError, match=unsupported):
        _common.save_model({"not": "an estimator"}, tmp_path / "dict.skcifar")
    with pytest.raises(_common.UsageError, match="cannot write"):
        _common.save_model(scaler, tmp_path / "sub")  # a directory
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")]  # no temporary files


def test_predict_reads_the_classifiers_image_shape(tmp_path, images, capsys):
    # Flat rows of 4x4 RGB images: the classifier records image_shape_ = (4, 4, 3).
    X = np.random.RandomState(0).randint(0, 256, size=(12, 48)).astype(np.uint8)
    classifier = ANNClassifier(hidden_layer_sizes=(4,), image_shape=(4, 4, 3), epochs=1)
    model = make_pipeline(PixelScaler(), classifier).fit(X, np.arange(12) % 3)
    path = str(tmp_path / "small.skcifar")
    skcifar.save(model, path)
    assert main(["predict", path, *images, "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [len(result["predictions"]) for result in results] == [3, 3, 3]
