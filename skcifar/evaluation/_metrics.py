"""Stage 4 - estimate performance: the metrics of a fitted classifier on held-out data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
)
from sklearn.pipeline import Pipeline
from sklearn.utils import column_or_1d
from sklearn.utils.validation import check_is_fitted

from ._plots import display_images
from ._report import jsonable, summary_text

_SCALARS = ("accuracy", "log_loss", "ece", "mean_confidence_correct", "mean_confidence_wrong")
_SCALARS += ("train_accuracy", "train_log_loss", "gap")


@dataclass(repr=False)
class EvaluationResult:
    """The performance of a fitted classifier on one data set.

    Built by :func:`evaluate`; plotted by the ``plot_*`` functions and written
    to disk by :func:`write_report`.

    Attributes
    ----------
    accuracy, log_loss, ece : float
        Accuracy, log-loss and expected calibration error (top-label
        confidence, equal-width bins) on the evaluated data.
    mean_confidence_correct, mean_confidence_wrong : float or None
        Mean top probability of the right / wrong predictions (None if none).
    per_class : dict of str to dict
        Class name -> ``{"precision", "recall", "f1", "support"}``.
    confusion_matrix : ndarray of shape (n_classes, n_classes)
        Counts; rows are true classes, columns predictions, in ``classes`` order.
    classes : ndarray of shape (n_classes,)
        The estimator's ``classes_``.
    class_names : list of str
        Display name of each class.
    train_accuracy, train_log_loss, gap : float or None
        Training-set metrics and ``train_accuracy - accuracy`` (None unless
        training data was given).
    history : dict of str to list of float or None
        Per-epoch training history of the final estimator (``history_``).
    reliability : dict of str to list
        Per confidence bin: ``bin_edges`` (n_bins + 1), ``confidence`` and
        ``accuracy`` (None for empty bins) and ``count``.
    sample_images : ndarray of uint8, shape (n, H, W, C), or None
        The first images, ready to display (None if X is not image-shaped).
    sample_true, sample_pred, sample_confidence : ndarray of shape (n,)
        True label, predicted label and its probability for those samples.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from skcifar.evaluation import evaluate
    >>> X, y = np.zeros((4, 1)), np.array([0, 0, 0, 1])
    >>> result = evaluate(DummyClassifier().fit(X, y), X, y)
    >>> result.accuracy, result.mean_confidence_correct
    (0.75, 0.75)
    >>> sorted(result.to_dict()["per_class"])
    ['0', '1']
    """

    accuracy: float
    log_loss: float
    ece: float
    mean_confidence_correct: float | None
    mean_confidence_wrong: float | None
    per_class: dict
    confusion_matrix: np.ndarray
    classes: np.ndarray
    class_names: list
    train_accuracy: float | None
    train_log_loss: float | None
    gap: float | None
    history: dict | None
    reliability: dict
    sample_images: np.ndarray | None
    sample_true: np.ndarray
    sample_pred: np.ndarray
    sample_confidence: np.ndarray

    @property
    def n_samples_evaluated(self):
        """Number of evaluated samples (the confusion matrix total)."""
        return int(self.confusion_matrix.sum())

    def to_dict(self):
        """The metrics as a JSON-serialisable dict (no image arrays).

        Returns
        -------
        metrics : dict
            Scalars, ``per_class``, ``confusion_matrix`` (nested lists),
            ``classes`` and ``class_names`` (str), ``history`` and
            ``reliability``.
        """
        scalars = {name: getattr(self, name) for name in _SCALARS}
        return jsonable(
            {
                **scalars,
                "n_samples": self.n_samples_evaluated,
                "per_class": self.per_class,
                "confusion_matrix": self.confusion_matrix,
                "classes": [str(c) for c in self.classes],
                "class_names": [str(name) for name in self.class_names],
                "history": self.history,
                "reliability": self.reliability,
            }
        )

    def summary(self):
        """A short human-readable summary: headline metrics and a per-class table.

        Returns
        -------
        text : str
            Multi-line text.
        """
        return summary_text(self)

    def __str__(self):
        return self.summary()

    def __repr__(self):
        return (
            f"{type(self).__name__}(accuracy={self.accuracy:.4f}, log_loss={self.log_loss:.4f}, "
            f"ece={self.ece:.4f}, n_samples={self.n_samples_evaluated})"
        )


def _mean_or_none(values):
    return float(np.mean(values)) if len(values) else None


def expected_calibration_error(confidence, correct, n_bins=15):
    """The expected calibration error of top-label predictions, as :func:`evaluate` computes it.

    The share-weighted mean, over ``n_bins`` equal-width bins ``(lo, hi]`` of
    [0, 1] (the first includes 0), of the gap between the mean confidence and
    the accuracy of the predictions in the bin.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        The probability of each predicted class (the top probability).
    correct : array-like of bool of shape (n_samples,)
        Whether each prediction was right.
    n_bins : int, default=15
        Number of bins.

    Returns
    -------
    ece : float
        Between 0 (calibrated) and 1.

    Examples
    --------
    >>> from skcifar.evaluation import expected_calibration_error
    >>> round(expected_calibration_error([0.9, 0.9, 0.6, 0.6], [True, False, True, True]), 3)
    0.4
    """
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    if confidence.shape != correct.shape or confidence.ndim != 1:
        raise ValueError(
            "confidence and correct must be 1-D arrays of the same length; got shapes "
            f"{confidence.shape} and {correct.shape}."
        )
    return _reliability(confidence, correct, int(n_bins))[0]


def _reliability(confidence, correct, n_bins):
    """The ECE and the reliability table (see :func:`expected_calibration_error`)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.searchsorted(edges[1:-1], confidence, side="left")
    count = np.bincount(index, minlength=n_bins)
    conf_sum = np.bincount(index, weights=confidence, minlength=n_bins)
    acc_sum = np.bincount(index, weights=correct.astype(float), minlength=n_bins)
    filled = count > 0
    mean_conf = np.divide(conf_sum, count, out=np.zeros(n_bins), where=filled)
    mean_acc = np.divide(acc_sum, count, out=np.zeros(n_bins), where=filled)
    ece = float(np.sum(count * np.abs(mean_acc - mean_conf)) / max(count.sum(), 1))
    table = {
        "bin_edges": edges.tolist(),
        "confidence": [float(c) if f else None for c, f in zip(mean_conf, filled, strict=True)],
        "accuracy": [float(a) if f else None for a, f in zip(mean_acc, filled, strict=True)],
        "count": count.astype(int).tolist(),
    }
    return ece, table


def _class_names(classes, class_names):
    """One display name per entry of ``classes``."""
    if class_names is None:
        return [str(c) for c in classes]
    if isinstance(class_names, Mapping):
        names = [str(class_names.get(c, c)) for c in classes]
    else:
        class_names = [str(name) for name in class_names]
        if len(class_names) == len(classes):
            names = class_names
        elif classes.dtype.kind in "iu" and np.all((classes >= 0) & (classes < len(class_names))):
            names = [class_names[int(c)] for c in classes]  # integer labels index the names
        else:
            raise ValueError(
                f"class_names has {len(class_names)} entries but the estimator has "
                f"{len(classes)} classes {list(classes)}: give one name per class, in the "
                "order of classes_, or a dict mapping each class to its name."
            )
    if len(set(names)) != len(names):
        raise ValueError(f"class_names must be unique; got {names}.")
    return names


def _history(estimator):
    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    history = getattr(final, "history_", None)
    if not history:
        return None
    return {str(key): [float(v) for v in values] for key, values in dict(history).items()}


def _check_lengths(X, y, what):
    if len(X) != len(y):
        raise ValueError(
            f"{what}: X and y must have the same number of samples; got {len(X)} and {len(y)}."
        )


def evaluate(
    estimator,
    X,
    y,
    *,
    X_train=None,
    y_train=None,
    class_names=None,
    n_bins=15,
    n_samples=32,
):
    """Estimate the performance of a fitted classifier on ``(X, y)``.

    Stage 4 of the reference notebook: accuracy, log-loss, calibration
    (expected calibration error and a reliability table), per-class scores,
    the confusion matrix, the training history and a few sample predictions.
    ``predict_proba`` is called once on ``X`` (and once on ``X_train``).

    Parameters
    ----------
    estimator : fitted classifier
        Any scikit-learn classifier with ``predict_proba`` and ``classes_``,
        e.g. ``Pipeline(PixelScaler, CNNClassifier)``.
    X : array-like of shape (n_samples, ...)
        Held-out input, as the estimator expects it.
    y : array-like of shape (n_samples,)
        True labels.
    X_train, y_train : array-like, default=None
        Training data; if given, training accuracy, log-loss and the
        generalisation ``gap`` are computed too.
    class_names : sequence of str or dict, default=None
        Display names: one per entry of ``classes_`` (or, for integer
        classes, indexed by the label, e.g. ``CLASS_NAMES``), or a dict
        class -> name. Default: ``str(class)``.
    n_bins : int, default=15
        Number of equal-width confidence bins for the ECE.
    n_samples : int, default=32
        Number of leading samples kept for :func:`plot_samples`.

    Returns
    -------
    result : EvaluationResult
        The metrics; ``print(result)`` shows a summary.

    Raises
    ------
    TypeError
        If the estimator has no ``predict_proba``.
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    ValueError
        If X and y (or X_train and y_train) differ in length.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcifar.evaluation import evaluate
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    >>> result = evaluate(LogisticRegression().fit(X, y), X, y, X_train=X, y_train=y)
    >>> result.accuracy, result.gap
    (1.0, 0.0)
    """
    if not hasattr(estimator, "predict_proba"):
        raise TypeError(
            f"evaluate needs class probabilities, but {type(estimator).__name__} has no "
            "predict_proba method."
        )
    check_is_fitted(estimator)
    if (X_train is None) != (y_train is None):
        raise ValueError("Give both X_train and y_train, or neither.")
    if not (isinstance(n_bins, (int, np.integer)) and n_bins >= 1):
        raise ValueError(f"n_bins must be a positive int; got {n_bins!r}.")
    y = column_or_1d(y)
    _check_lengths(X, y, "evaluate")
    classes = np.asarray(estimator.classes_)
    names = _class_names(classes, class_names)

    proba = np.asarray(estimator.predict_proba(X))
    y_pred = classes[proba.argmax(axis=1)]
    confidence = proba.max(axis=1).astype(float)
    correct = y_pred == y
    ece, reliability = _reliability(confidence, correct, n_bins)
    precision, recall, f1, support = precision_recall_fscore_support(
        y, y_pred, labels=classes, zero_division=0
    )
    per_class = {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
    }
    accuracy = float(accuracy_score(y, y_pred))

    train_accuracy = train_loss = gap = None
    if X_train is not None:
        y_train = column_or_1d(y_train)
        _check_lengths(X_train, y_train, "evaluate (training data)")
        proba_train = np.asarray(estimator.predict_proba(X_train))
        train_accuracy = float(accuracy_score(y_train, classes[proba_train.argmax(axis=1)]))
        train_loss = float(log_loss(y_train, proba_train, labels=classes))
        gap = train_accuracy - accuracy

    n_keep = max(int(n_samples), 0)
    return EvaluationResult(
        accuracy=accuracy,
        log_loss=float(log_loss(y, proba, labels=classes)),
        ece=ece,
        mean_confidence_correct=_mean_or_none(confidence[correct]),
        mean_confidence_wrong=_mean_or_none(confidence[~correct]),
        per_class=per_class,
        confusion_matrix=confusion_matrix(y, y_pred, labels=classes),
        classes=classes,
        class_names=names,
        train_accuracy=train_accuracy,
        train_log_loss=train_loss,
        gap=gap,
        history=_history(estimator),
        reliability=reliability,
        sample_images=display_images(X, n_keep),
        sample_true=y[:n_keep],
        sample_pred=y_pred[:n_keep],
        sample_confidence=confidence[:n_keep],
    )
