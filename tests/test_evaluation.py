"""Stage 4: evaluate(), the plots and the written report."""

import base64
import json
import math
import os

import numpy as np
import pytest
from _synthetic import make_images
from matplotlib.figure import Figure
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, log_loss, precision_recall_fscore_support
from sklearn.pipeline import make_pipeline

from skcifar import CNNClassifier, PixelScaler
from skcifar.evaluation import (
    EvaluationResult,
    _report,
    evaluate,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_reliability_diagram,
    plot_samples,
    write_report,
)

# Float results here depend on the CPU: make test-isa runs them again under other settings.
pytestmark = pytest.mark.cpu_numerics


class FixedProba(ClassifierMixin, BaseEstimator):
    """Returns the first len(X) rows of a fixed probability matrix."""

    def __init__(self, proba=None, classes=None):
        self.proba = proba
        self.classes = classes

    def fit(self, X, y):
        self.classes_ = np.asarray(self.classes if self.classes is not None else np.unique(y))
        return self

    def predict_proba(self, X):
        return np.asarray(self.proba, dtype=float)[: len(X)]

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class PredictOnly(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


# Hand-computed example, n_bins=2 (bins (0, 0.5] and (0.5, 1]):
#   bin 0: confidences 0.4 (wrong), 0.4 (right) -> conf 0.4, acc 0.5, 2 samples
#   bin 1: confidences 0.9 (right), 0.8 (wrong), 0.7 (right) -> conf 0.8, acc 2/3, 3 samples
#   ECE = 2/5 * 0.1 + 3/5 * (0.8 - 2/3) = 0.04 + 0.08 = 0.12
PROBA = [
    [0.9, 0.05, 0.05],
    [0.8, 0.1, 0.1],
    [0.1, 0.7, 0.2],
    [0.4, 0.3, 0.3],
    [0.3, 0.3, 0.4],
]
Y = np.array([0, 1, 1, 2, 2])
X_ROWS = np.zeros((5, 1))


@pytest.fixture
def fake():
    return FixedProba(PROBA).fit(X_ROWS, Y)


@pytest.fixture(scope="module")
def cnn_result():
    X, y = make_images(n=120, size=8, n_classes=3, seed=0)
    X_train, y_train, X_test, y_test = X[:90], y[:90], X[90:], y[90:]
    model = make_pipeline(
        PixelScaler(),
        CNNClassifier(
            filters=(4,),
            dense_units=8,
            epochs=3,
            learning_rate=0.01,
            random_state=0,
            validation_fraction=0.2,
        ),
    ).fit(X_train, y_train)
    result = evaluate(
        model,
        X_test,
        y_test,
        X_train=X_train,
        y_train=y_train,
        class_names=["red", "green", "blue"],
        n_samples=12,
    )
    return model, (X_train, y_train, X_test, y_test), result


# -- metrics -----------------------------------------------------------------


def test_metrics_on_hand_built_example(fake):
    result = evaluate(fake, X_ROWS, Y, n_bins=2)
    assert isinstance(result, EvaluationResult)
    assert result.ece == pytest.approx(0.12)
    assert result.reliability["count"] == [2, 3]
    assert result.reliability["confidence"] == pytest.approx([0.4, 0.8])
    assert result.reliability["accuracy"] == pytest.approx([0.5, 2 / 3])
    assert result.reliability["bin_edges"] == pytest.approx([0.0, 0.5, 1.0])
    assert result.mean_confidence_correct == pytest.approx((0.9 + 0.7 + 0.4) / 3)
    assert result.mean_confidence_wrong == pytest.approx((0.8 + 0.4) / 2)
    y_pred = np.array([0, 0, 1, 0, 2])
    assert result.accuracy == accuracy_score(Y, y_pred) == pytest.approx(0.6)
    assert result.log_loss == pytest.approx(log_loss(Y, PROBA, labels=[0, 1, 2]))
    assert result.confusion_matrix.tolist() == [[1, 0, 0], [1, 1, 0], [1, 0, 1]]
    precision, recall, f1, support = precision_recall_fscore_support(Y, y_pred, zero_division=0)
    assert list(result.per_class) == ["0", "1", "2"]
    for i, scores in enumerate(result.per_class.values()):
        assert scores["precision"] == pytest.approx(precision[i])
        assert scores["recall"] == pytest.approx(recall[i])
        assert scores["f1"] == pytest.approx(f1[i])
        assert scores["support"] == support[i]
    assert result.train_accuracy is None and result.gap is None and result.history is None
    assert result.sample_images is None  # X is not image-shaped
    assert result.sample_pred.tolist() == y_pred.tolist()
    assert result.sample_confidence == pytest.approx([0.9, 0.8, 0.7, 0.4, 0.4])


def test_ece_matches_brute_force_on_random_probabilities():
    rng = np.random.RandomState(0)
    proba = rng.dirichlet(np.ones(4) * 0.5, size=200)
    y = rng.randint(0, 4, size=200)
    result = evaluate(FixedProba(proba).fit(None, np.arange(4)), np.zeros((200, 1)), y, n_bins=7)
    confidence, correct = proba.max(axis=1), proba.argmax(axis=1) == y
    ece = 0.0
    for lo, hi in zip(np.linspace(0, 1, 8)[:-1], np.linspace(0, 1, 8)[1:], strict=True):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    assert result.ece == pytest.approx(ece)
    assert sum(result.reliability["count"]) == 200


def test_all_correct_has_no_wrong_confidence_and_gap(fake):
    one_hot = np.eye(3)[Y]
    perfect = FixedProba(one_hot).fit(X_ROWS, Y)
    result = evaluate(perfect, X_ROWS, Y)
    assert result.accuracy == 1.0 and result.ece == pytest.approx(0.0)
    assert result.mean_confidence_correct == 1.0 and result.mean_confidence_wrong is None
    assert json.loads(json.dumps(result.to_dict()))["mean_confidence_wrong"] is None
    # Training labels equal to the predictions: train accuracy 1, gap = 1 - 0.6.
    with_train = evaluate(fake, X_ROWS, Y, X_train=X_ROWS, y_train=np.array([0, 0, 1, 0, 2]))
    assert with_train.train_accuracy == 1.0
    assert with_train.gap == pytest.approx(0.4)
    assert "gap" in str(with_train)


def test_class_names_forms(fake):
    assert evaluate(fake, X_ROWS, Y, class_names=["a", "b", "c"]).class_names == ["a", "b", "c"]
    # Integer labels index a longer list (e.g. CLASS_NAMES).
    names = evaluate(fake, X_ROWS, Y, class_names=["a", "b", "c", "d"]).class_names
    assert names == ["a", "b", "c"]
    result = evaluate(fake, X_ROWS, Y, class_names={0: "zero", 2: "two"})
    assert result.class_names == ["zero", "1", "two"]
    assert list(result.per_class) == ["zero", "1", "two"]
    with pytest.raises(ValueError, match="class_names"):
        evaluate(
            FixedProba(PROBA, classes=["x", "y", "z"]).fit(None, None), X_ROWS, Y, class_names=["a"]
        )


def test_sample_images_are_display_ready():
    images, y = make_images(n=6, size=4)
    proba = np.eye(3)[y]
    est = FixedProba(proba).fit(None, y)
    assert np.array_equal(evaluate(est, images, y).sample_images, images)
    scaled = images.astype(np.float32) / 255.0
    assert np.array_equal(evaluate(est, scaled, y).sample_images, images)
    as_floats = evaluate(est, images.astype(float), y, n_samples=2).sample_images
    assert as_floats.dtype == np.uint8 and np.array_equal(as_floats, images[:2])
    assert evaluate(est, scaled - 0.5, y).sample_images is None  # not pixels
    assert evaluate(est, images.reshape(6, -1), y).sample_images is None  # flat rows
    assert evaluate(est, images, y, n_samples=0).sample_images is None


def test_evaluate_fitted_cnn_pipeline(cnn_result):
    model, (X_train, y_train, X_test, y_test), result = cnn_result
    proba = model.predict_proba(X_test)
    assert result.accuracy == pytest.approx(model.score(X_test, y_test))
    assert result.log_loss == pytest.approx(log_loss(y_test, proba, labels=model.classes_))
    assert result.train_accuracy == pytest.approx(model.score(X_train, y_train))
    assert result.gap == pytest.approx(result.train_accuracy - result.accuracy)
    assert result.classes.tolist() == [0, 1, 2] and result.class_names == ["red", "green", "blue"]
    assert result.confusion_matrix.sum() == 30
    assert sum(s["support"] for s in result.per_class.values()) == 30
    assert set(result.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(result.history["loss"]) == 3
    # Exact: the samples are copies of the input's first rows.
    assert np.array_equal(result.sample_images, X_test[:12])
    # Predicted from the whole test set, as the report does (predicting 12 rows alone
    # could batch them differently and break a near-tie otherwise).
    assert result.sample_pred.tolist() == model.predict(X_test)[:12].tolist()
    assert 0.0 <= result.ece <= 1.0
    text = result.summary()
    assert f"{result.accuracy:.4f}" in text and "green" in text and str(result) == text


# -- errors ------------------------------------------------------------------


def test_errors():
    X, y = make_images(n=12, size=4)
    with pytest.raises(NotFittedError):
        evaluate(make_pipeline(PixelScaler(), CNNClassifier()), X, y)
    with pytest.raises(TypeError, match="predict_proba"):
        evaluate(PredictOnly().fit(X, y), X, y)
    est = FixedProba(np.eye(3)[y]).fit(X, y)
    with pytest.raises(ValueError, match="same number of samples"):
        evaluate(est, X, y[:-1])
    with pytest.raises(ValueError, match="same number of samples"):
        evaluate(est, X, y, X_train=X[:5], y_train=y)
    with pytest.raises(ValueError, match="both X_train and y_train"):
        evaluate(est, X, y, X_train=X)
    result = evaluate(est, X.reshape(12, -1), y)
    with pytest.raises(ValueError, match="no history"):
        plot_learning_curves(result)
    with pytest.raises(ValueError, match="no sample images"):
        plot_samples(result)


# -- plots -------------------------------------------------------------------


def test_plots_return_figures_without_pyplot_state(cnn_result):
    import matplotlib.pyplot as plt

    result = cnn_result[2]
    before = plt.get_fignums()
    fig = plot_confusion_matrix(result)
    assert isinstance(fig, Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 9 and sum(int(t) for t in texts) == 30
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["red", "green", "blue"]

    curves = plot_learning_curves(result)
    assert [ax.get_title() for ax in curves.axes] == ["Loss", "Accuracy"]
    assert all(len(ax.lines) == 2 for ax in curves.axes)  # train and validation
    assert np.allclose(curves.axes[0].lines[0].get_ydata(), result.history["loss"])

    reliability = plot_reliability_diagram(result)
    assert len(reliability.axes) == 2
    heights = [p.get_height() for p in reliability.axes[1].patches]
    assert heights == result.reliability["count"]

    samples = plot_samples(result, n_cols=5)
    assert len(samples.axes) == 12
    wrong = result.sample_true != result.sample_pred
    red = [ax.title.get_color() == "tab:red" for ax in samples.axes]
    framed = [ax.spines["left"].get_visible() for ax in samples.axes]
    assert red == framed == wrong.tolist()
    assert plt.get_fignums() == before  # nothing registered with pyplot


def test_samples_highlight_misclassified(fake):
    images, _ = make_images(n=5, size=4)
    fig = plot_samples(evaluate(fake, images, Y))
    titles = [ax.title for ax in fig.axes]
    assert [t.get_color() == "tab:red" for t in titles] == [False, True, False, True, False]
    assert titles[1].get_text() == "true: 1\npred: 0 (0.80)"


# -- report ------------------------------------------------------------------


def _no_temp_files(directory):
    return [name for name in os.listdir(directory) if name.startswith(".") or "tmp" in name]


def test_write_report(cnn_result, tmp_path):
    result = cnn_result[2]
    out = tmp_path / "report" / "nested"
    paths = write_report(result, out)
    pngs = ["confusion_matrix.png", "reliability.png", "samples.png", "learning_curves.png"]
    assert sorted(os.listdir(out)) == sorted(pngs + ["metrics.json", "report.html"])
    assert set(paths) == {"metrics", "report"} | {name[:-4] for name in pngs}
    assert all(os.path.isfile(path) for path in paths.values())
    assert _no_temp_files(out) == []

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == result.to_dict()
    assert metrics["accuracy"] == result.accuracy
    assert metrics["confusion_matrix"] == result.confusion_matrix.tolist()
    assert metrics["class_names"] == ["red", "green", "blue"]
    assert metrics["history"]["loss"] == result.history["loss"]
    assert "sample_images" not in metrics

    page = (out / "report.html").read_text()
    assert f"{result.accuracy:.4f}" in page and "green" in page
    assert page.count("data:image/png;base64,") == len(pngs)
    assert "<script" not in page and 'src="http' not in page
    for name in pngs:
        encoded = base64.b64encode((out / name).read_bytes()).decode("ascii")
        assert (out / name).read_bytes().startswith(b"\x89PNG")
        assert f"data:image/png;base64,{encoded}" in page


def test_report_without_images_or_history_escapes_html(fake, tmp_path):
    result = evaluate(fake, X_ROWS, Y, class_names=["<b>cat</b>", "dog & co", "bird"])
    paths = write_report(result, str(tmp_path))
    assert sorted(paths) == ["confusion_matrix", "metrics", "reliability", "report"]
    page = (tmp_path / "report.html").read_text()
    assert "&lt;b&gt;cat&lt;/b&gt;" in page and "dog &amp; co" in page
    assert "<b>cat</b>" not in page
    assert page.count("data:image/png;base64,") == 2
    assert math.isclose(json.loads((tmp_path / "metrics.json").read_text())["ece"], result.ece)


def test_interrupted_write_leaves_previous_file_and_no_temp(fake, tmp_path, monkeypatch):
    result = evaluate(fake, X_ROWS, Y)
    write_report(result, tmp_path)
    before = (tmp_path / "report.html").read_bytes()

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(_report.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_report(evaluate(fake, X_ROWS, Y, class_names=["x", "y", "z"]), tmp_path)
    assert (tmp_path / "report.html").read_bytes() == before
    assert json.loads((tmp_path / "metrics.json").read_text()) == result.to_dict()
    assert _no_temp_files(tmp_path) == []
