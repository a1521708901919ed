"""The ``skcifar`` command line: commands, exit statuses, files written, error messages.

Commands run in-process through :func:`skcifar.cli.main`; one test runs the
real ``skcifar`` console script and ``python -m skcifar``. Tests that train on
CIFAR-10 need ``SKCIFAR_DATA`` and are skipped without it; the error cases and
``predict`` run on small models fitted on synthetic images.
"""

import json
import os
import shutil
import subprocess
import sys

import joblib
import numpy as np
import pytest
from PIL import Image
from sklearn.pipeline import make_pipeline

from skcifar import ANNClassifier, CNNClassifier, PixelScaler, ResNetClassifier, __version__, cli
from skcifar.cli import _common, _train, main
from skcifar.datasets import CLASS_NAMES

DATA = os.environ.get("SKCIFAR_DATA", "")
TRAIN = ["--subset", "500", "--epochs", "1", "--filters", "8,16", "--quiet"]


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
    """``skcifar train`` once on 500 real images: its status, output, model and report."""
    import contextlib
    import io

    directory = tmp_path_factory.mktemp("trained")
    model, report = directory / "cnn.joblib", directory / "report"
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(stdout):
        mp.setenv("SKCIFAR_DATA_HOME", cifar10_real_data_home)
        args = ["train", "--model", "cnn", *TRAIN, "--data", DATA]
        code = main([*args, "--out", str(model), "--report", str(report)])
    return {"code": code, "out": stdout.getvalue(), "model": str(model), "report": report}


def _synthetic_model(path, flat=False, labels=None):
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(20, 32, 32, 3)).astype(np.uint8)
    y = np.arange(20) % 10 if labels is None else np.resize(labels, 20)
    if flat:
        X = X.reshape(20, -1)
        classifier = ANNClassifier(hidden_layer_sizes=(4,), epochs=1, random_state=0)
    else:
        classifier = CNNClassifier(filters=(4,), dense_units=8, epochs=1, random_state=0)
    joblib.dump(make_pipeline(PixelScaler(), classifier).fit(X, y), path)
    return str(path)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A CNN pipeline fitted on random 32x32 images with the labels 0..9."""
    return _synthetic_model(tmp_path_factory.mktemp("tiny") / "tiny.joblib")


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
    for command in ("train", "evaluate", "predict", "search"):
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
    model = joblib.load(trained["model"])
    assert model[-1].filters == (8, 16) and model[-1].epochs == 1
    assert model.predict(np.zeros((2, 32, 32, 3), np.uint8)).shape == (2,)
    assert not [f for f in os.listdir(os.path.dirname(trained["model"])) if f.endswith(".tmp")]
    assert (trained["report"] / "report.html").is_file()
    metrics = json.loads((trained["report"] / "metrics.json").read_text())
    assert metrics  # written by skcifar.evaluation, with the train/test gap


def test_train_ann_default_output(cifar10_real, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["train", "--model", "ann", "--subset", "200", "--epochs", "1", "--data", DATA]
    assert main([*args, "--quiet"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    model = joblib.load(tmp_path / "runs" / "ann-pipeline.joblib")
    assert isinstance(model[-1], ANNClassifier)


def _pipeline(*options):
    return _train._make_pipeline(cli._build_parser().parse_args(["train", *options]))


def test_train_builds_each_model_with_its_own_defaults():
    resnet = _pipeline("--model", "resnet")[-1]
    assert isinstance(resnet, ResNetClassifier)
    defaults = ResNetClassifier()
    assert resnet.get_params()["widths"] == defaults.widths == (64, 256, 256)
    assert (resnet.epochs, resnet.batch_size) == (defaults.epochs, defaults.batch_size) == (12, 256)
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
    out_file = tmp_path / "resnet.joblib"
    args = ["train", "--model", "resnet", "--subset", "300", "--epochs", "1"]
    args += ["--widths", "8,16", "--batch-size", "64", "--data", DATA, "--quiet"]
    assert main([*args, "--out", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert "ResNetClassifier" in out and "trained 1 epochs" in out and "test accuracy" in out
    model = joblib.load(out_file)
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


def test_search(cifar10_real, tmp_path, capsys):
    out_file = tmp_path / "best.joblib"
    args = ["search", "--filters", "4", "8", "--epochs", "1", "--cv", "2", "--subset", "300"]
    assert main([*args, "--data", DATA, "--out", str(out_file), "--quiet"]) == 0
    out = capsys.readouterr().out
    table = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert sorted(row[0] for row in table) == ["1", "2"], out
    assert any("filters=4" in line for line in out.splitlines()) and "±" in out
    best = joblib.load(out_file)
    assert best[-1].filters in (4, (4,), 8, (8,))
    assert best.predict(np.zeros((1, 32, 32, 3), np.uint8)).shape == (1,)


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
    model = _synthetic_model(tmp_path / "flat.joblib", flat=True, labels=["yes", "no"])
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


def _model_files(directory, tiny_model):
    """Paths of files that are not usable models, by kind."""
    data = open(tiny_model, "rb").read()
    files = {
        "random": np.random.RandomState(0).bytes(2000),
        "truncated": data[: len(data) // 2],
        "dict": None,
        "unfitted": None,
    }
    for name, content in files.items():
        if content is not None:
            (directory / name).write_bytes(content)
    joblib.dump({"model": 1}, directory / "dict")
    joblib.dump(make_pipeline(PixelScaler(), CNNClassifier()), directory / "unfitted")
    return {name: str(directory / name) for name in files}


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_bad_model_files(command, tiny_model, images, tmp_path, capsys):
    paths = _model_files(tmp_path, tiny_model)
    paths["missing"] = str(tmp_path / "missing.joblib")
    paths["directory"] = str(tmp_path)
    for kind, path in paths.items():
        args = [command, path, *([images[0]] if command == "predict" else ["--data", DATA])]
        captured = (main(args), capsys.readouterr())
        _check_error(*captured, repr(path))
        assert not captured[1].out, kind


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
