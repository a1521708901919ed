"""Stage 4 - write an evaluation to disk: metrics.json, PNG figures and one HTML page."""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os

import numpy as np

from ..utils.atomic import atomic_output
from ._plots import (
    plot_confusion_matrix,
    plot_learning_curves,
    plot_reliability_diagram,
    plot_samples,
)

_DPI = 100

_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.7em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f0f0f0; }
figure { margin: 1em 0 2em; }
img { max-width: 100%; border: 1px solid #eee; }
"""


def jsonable(value):
    """``value`` with NumPy arrays and scalars as plain lists and numbers (NaN -> None)."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(item) for item in value]
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def _headline(result):
    """(summary label, report label, formatted value) of each headline metric."""
    n_bins = len(result.reliability["count"])
    rows = [
        ("accuracy", "accuracy", _fmt(result.accuracy)),
        ("log-loss", "log-loss", _fmt(result.log_loss)),
        (f"ECE ({n_bins} bins)", f"expected calibration error ({n_bins} bins)", _fmt(result.ece)),
        (
            "confidence when right",
            "mean confidence when right",
            _fmt(result.mean_confidence_correct),
        ),
        ("confidence when wrong", "mean confidence when wrong", _fmt(result.mean_confidence_wrong)),
    ]
    if result.train_accuracy is not None:
        rows += [
            ("train accuracy", "train accuracy", _fmt(result.train_accuracy)),
            ("train log-loss", "train log-loss", _fmt(result.train_log_loss)),
            ("gap (train - test)", "gap (train - test accuracy)", _fmt(result.gap, "+.4f")),
        ]
    return rows


def summary_text(result):
    """The text of :meth:`EvaluationResult.summary`."""
    lines = [f"Evaluation on {result.n_samples_evaluated} samples, {len(result.classes)} classes"]
    lines += [f"  {label:<23}{value}" for label, _, value in _headline(result)]
    width = max([5] + [len(name) for name in result.per_class])
    lines.append(f"  {'class':<{width}}  precision  recall      f1  support")
    for name, s in result.per_class.items():
        lines.append(
            f"  {name:<{width}}  {s['precision']:9.3f}  {s['recall']:6.3f}  "
            f"{s['f1']:6.3f}  {s['support']:7d}"
        )
    return "\n".join(lines)


def _figures(result):
    """(name, title, figure) for every plot the result supports."""
    yield "confusion_matrix", "Confusion matrix", plot_confusion_matrix(result)
    yield "reliability", "Reliability diagram", plot_reliability_diagram(result)
    if result.sample_images is not None and len(result.sample_images):
        yield "samples", "Sample predictions", plot_samples(result)
    if result.history:
        try:
            fig = plot_learning_curves(result)
        except ValueError:  # a history without loss or accuracy: nothing to draw
            return
        yield "learning_curves", "Learning curves", fig


def _fmt(value, spec=".4f"):
    return "n/a" if value is None else format(value, spec)


def _table(header, rows):
    esc = html.escape
    head = "".join(f"<th>{esc(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(result, images, title):
    esc = html.escape
    headline = [("samples", result.n_samples_evaluated)]
    headline += [(label, value) for _, label, value in _headline(result)]
    per_class = [
        (name, *(_fmt(s[key], ".3f") for key in ("precision", "recall", "f1")), s["support"])
        for name, s in result.per_class.items()
    ]
    figures = "".join(
        f'<figure><h2>{esc(fig_title)}</h2><img alt="{esc(fig_title)}" '
        f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}"></figure>\n'
        for fig_title, png in images
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n"
        f"<h2>Headline metrics</h2>\n{_table(('metric', 'value'), headline)}\n"
        "<h2>Per class</h2>\n"
        f"{_table(('class', 'precision', 'recall', 'f1', 'support'), per_class)}\n"
        f"{figures}</body>\n</html>\n"
    )


def write_report(result, directory, *, title="skcifar evaluation report"):
    """Write an evaluation report: metrics, figures and a self-contained HTML page.

    Creates ``directory`` if needed and writes ``metrics.json``
    (:meth:`EvaluationResult.to_dict`), ``confusion_matrix.png``,
    ``reliability.png``, ``samples.png`` (if the result holds sample images),
    ``learning_curves.png`` (if it holds a training history) and
    ``report.html``, which embeds the figures as ``data:`` URIs and needs no
    other file. Each file is written to a temporary file and renamed into
    place, so an interrupted run leaves no half-written file.

    Parameters
    ----------
    result : EvaluationResult
        Output of :func:`evaluate`.
    directory : str or os.PathLike
        Output directory; existing report files in it are replaced.
    title : str, default="skcifar evaluation report"
        Heading of the HTML page.

    Returns
    -------
    paths : dict of str to str
        Name (``"metrics"``, ``"confusion_matrix"``, ``"reliability"``,
        ``"samples"``, ``"learning_curves"``, ``"report"``) -> path written.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from skcifar.evaluation import evaluate, write_report
    >>> X, y = np.zeros((4, 1)), np.array([0, 0, 0, 1])
    >>> result = evaluate(DummyClassifier().fit(X, y), X, y)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_report(result, tmp)
    ...     sorted(os.listdir(tmp))
    ['confusion_matrix.png', 'metrics.json', 'reliability.png', 'report.html']
    """
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    paths = {}

    def write(name, filename, data):
        path = os.path.join(directory, filename)
        with atomic_output(path) as file:
            file.write(data)
        paths[name] = path

    metrics = json.dumps(result.to_dict(), indent=2, allow_nan=False)
    write("metrics", "metrics.json", (metrics + "\n").encode("utf-8"))
    images = []
    for name, fig_title, fig in _figures(result):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=_DPI)
        png = buffer.getvalue()
        write(name, f"{name}.png", png)
        images.append((fig_title, png))
    write("report", "report.html", _html(result, images, title).encode("utf-8"))
    return paths
