"""Stage 4 - figures of an :class:`EvaluationResult` (headless, no pyplot state).

Every function returns a new :class:`matplotlib.figure.Figure`, made without
pyplot: it works without a display, needs no backend switch and is freed like
any other object. Save it with ``fig.savefig(path)``; in a notebook it shows
itself when it is the cell's value.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay

_WRONG = "tab:red"
_RIGHT = "black"
_MAX_PIXEL = 255


def display_images(X, n_samples):
    """``X[:n_samples]`` as uint8 (n, H, W, C) images, or None if not image-like."""
    if n_samples <= 0:
        return None
    try:
        images = np.asarray(X[:n_samples])
    except (TypeError, ValueError, KeyError):
        return None
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4) or images.size == 0:
        return None
    if images.dtype == np.uint8:
        return images.copy()
    if images.dtype.kind not in "iuf":
        return None
    low, high = images.min(), images.max()
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0 or high > _MAX_PIXEL:
        return None
    if images.dtype.kind == "f" and high <= 1.0:
        images = images * _MAX_PIXEL  # scaled pixels in [0, 1]
    return np.clip(np.rint(images), 0, _MAX_PIXEL).astype(np.uint8)


def _label_names(result, labels):
    """Display names of ``labels`` (values of ``result.classes``)."""
    lookup = dict(zip(result.classes.tolist(), result.class_names, strict=True))
    return [lookup.get(label, str(label)) for label in np.asarray(labels).tolist()]


def plot_confusion_matrix(result, *, normalize=False, cmap="Blues"):
    """Draw the confusion matrix (rows: true class, columns: prediction).

    Parameters
    ----------
    result : EvaluationResult
        Output of :func:`evaluate`.
    normalize : bool, default=False
        If True, show each row as fractions of the true class.
    cmap : str, default="Blues"
        Matplotlib colour map.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (drawn with scikit-learn's ``ConfusionMatrixDisplay``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from skcifar.evaluation import evaluate, plot_confusion_matrix
    >>> X, y = np.zeros((4, 1)), np.array([0, 0, 0, 1])
    >>> fig = plot_confusion_matrix(evaluate(DummyClassifier().fit(X, y), X, y))
    >>> fig.axes[0].get_xlabel()
    'Predicted label'
    """
    matrix = np.asarray(result.confusion_matrix)
    values_format = None
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
        values_format = ".2f"
    n_classes = len(result.class_names)
    size = min(max(4.0, 0.65 * n_classes + 2.5), 14.0)
    fig = Figure(figsize=(size + 1.0, size), layout="constrained")
    ax = fig.add_subplot()
    ConfusionMatrixDisplay(matrix, display_labels=result.class_names).plot(
        ax=ax,
        cmap=cmap,
        values_format=values_format,
        xticks_rotation=45 if n_classes > 4 else "horizontal",
        include_values=n_classes <= 20,
    )
    ax.set_title(f"Confusion matrix (accuracy {result.accuracy:.3f})")
    return fig


def plot_learning_curves(result):
    """Draw training and validation loss and accuracy per epoch.

    Parameters
    ----------
    result : EvaluationResult
        Output of :func:`evaluate` for an estimator with a ``history_``
        (keys ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``).

    Returns
    -------
    fig : matplotlib.figure.Figure
        Two panels: loss and accuracy.

    Raises
    ------
    ValueError
        If the estimator kept no history.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from skcifar.evaluation import evaluate, plot_learning_curves
    >>> X, y = np.zeros((4, 1)), np.array([0, 0, 0, 1])
    >>> result = evaluate(DummyClassifier().fit(X, y), X, y)
    >>> result.history = {"loss": [0.9, 0.5], "val_loss": [1.0, 0.7]}
    >>> [ax.get_title() for ax in plot_learning_curves(result).axes]
    ['Loss']
    """
    history = result.history
    panels = [
        (metric, title)
        for metric, title in (("loss", "Loss"), ("accuracy", "Accuracy"))
        if history and (history.get(metric) or history.get(f"val_{metric}"))
    ]
    if not panels:
        raise ValueError(
            "The estimator kept no history: learning curves need a per-epoch history_ "
            "(with 'loss' or 'accuracy'), as fitted skcifar classifiers have."
        )
    fig = Figure(figsize=(5.0 * len(panels), 3.8), layout="constrained")
    for i, (metric, title) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), i)
        for key, label, style in ((metric, "train", "-o"), (f"val_{metric}", "validation", "-s")):
            values = history.get(key)
            if values:
                ax.plot(np.arange(1, len(values) + 1), values, style, label=label, markersize=4)
        ax.set(title=title, xlabel="epoch", ylabel=metric)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    return fig


def plot_reliability_diagram(result):
    """Draw the multiclass reliability diagram (top-label calibration).

    For each equal-width bin of top-label confidence, the bar shows the
    accuracy of the predictions in it; a calibrated model follows the
    diagonal. The lower panel shows how many predictions fall in each bin.

    Parameters
    ----------
    result : EvaluationResult
        Output of :func:`evaluate`.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Reliability panel above, bin counts below.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from skcifar.evaluation import evaluate, plot_reliability_diagram
    >>> X, y = np.zeros((4, 1)), np.array([0, 0, 0, 1])
    >>> fig = plot_reliability_diagram(evaluate(DummyClassifier().fit(X, y), X, y))
    >>> len(fig.axes)
    2
    """
    table = result.reliability
    edges = np.asarray(table["bin_edges"], dtype=float)
    left, width = edges[:-1], np.diff(edges)
    centres = left + width / 2
    filled = np.array([c is not None for c in table["confidence"]])
    accuracy = np.array([a if a is not None else 0.0 for a in table["accuracy"]])
    confidence = np.array([c if c is not None else np.nan for c in table["confidence"]])
    count = np.asarray(table["count"])

    fig = Figure(figsize=(5.5, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.bar(
        left[filled],
        accuracy[filled],
        width=width[filled],
        align="edge",
        color="tab:blue",
        edgecolor="black",
        alpha=0.8,
        label="accuracy",
    )
    top.bar(
        left[filled],
        (confidence - accuracy)[filled],
        bottom=accuracy[filled],
        width=width[filled],
        align="edge",
        color="tab:red",
        alpha=0.25,
        hatch="//",
        edgecolor="tab:red",
        label="gap to confidence",
    )
    top.plot(
        centres[filled],
        confidence[filled],
        "o",
        color="black",
        markersize=3,
        label="mean confidence",
    )
    top.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    top.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy")
    top.set_title(f"Reliability (ECE {result.ece:.3f}, {len(count)} bins)")
    top.legend(loc="upper left", fontsize="small")
    top.grid(alpha=0.3)
    bars = bottom.bar(left, count, width=width, align="edge", color="grey", edgecolor="black")
    bottom.bar_label(bars, labels=[str(c) if c else "" for c in count], fontsize="x-small")
    bottom.set(xlim=(0, 1), xlabel="top-label confidence", ylabel="count")
    bottom.set_ylim(0, max(int(count.max()), 1) * 1.25)
    return fig


def plot_samples(result, n_cols=8):
    """Draw the sample images with true label, prediction and confidence.

    Misclassified images get a red title and a red frame.

    Parameters
    ----------
    result : EvaluationResult
        Output of :func:`evaluate` on image-shaped ``X``.
    n_cols : int, default=8
        Images per row.

    Returns
    -------
    fig : matplotlib.figure.Figure
        A grid of images.

    Raises
    ------
    ValueError
        If the result holds no sample images (X was not image-shaped).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from skcifar.evaluation import evaluate, plot_samples
    >>> X, y = np.zeros((4, 8, 8, 3), dtype=np.uint8), np.array([0, 0, 0, 1])
    >>> fig = plot_samples(evaluate(DummyClassifier().fit(X, y), X, y), n_cols=2)
    >>> [ax.title.get_color() for ax in fig.axes]
    ['black', 'black', 'black', 'tab:red']
    """
    images = result.sample_images
    if images is None or len(images) == 0:
        raise ValueError(
            "The result holds no sample images: evaluate() keeps them only when X is "
            "image-shaped (n, H, W, C) with pixels in [0, 255] or [0, 1], and n_samples > 0."
        )
    if not (isinstance(n_cols, (int, np.integer)) and n_cols >= 1):
        raise ValueError(f"n_cols must be a positive int; got {n_cols!r}.")
    n = len(images)
    n_cols = min(int(n_cols), n)
    n_rows = math.ceil(n / n_cols)
    fig = Figure(figsize=(1.7 * n_cols, 2.0 * n_rows), layout="constrained")
    true_names = _label_names(result, result.sample_true)
    pred_names = _label_names(result, result.sample_pred)
    for i in range(n):
        ax = fig.add_subplot(n_rows, n_cols, i + 1)
        image = images[i]
        if image.shape[-1] == 1:
            ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
        else:
            ax.imshow(image)
        wrong = bool(np.asarray(result.sample_true[i] != result.sample_pred[i]))
        ax.set_title(
            f"true: {true_names[i]}\npred: {pred_names[i]} ({result.sample_confidence[i]:.2f})",
            color=_WRONG if wrong else _RIGHT,
            fontsize="small",
        )
        ax.set(xticks=[], yticks=[])
        for spine in ax.spines.values():
            spine.set(visible=wrong, color=_WRONG, linewidth=3)
    n_wrong = int(np.sum(np.asarray(result.sample_true) != np.asarray(result.sample_pred)))
    fig.suptitle(f"{n} samples, {n_wrong} misclassified (red)")
    return fig
