"""Stage 4 - estimate the model's performance.

:func:`evaluate` computes the metrics of a fitted classifier on held-out data
(accuracy, log-loss, calibration, per-class scores, confusion matrix, training
history) into an :class:`EvaluationResult`; the ``plot_*`` functions draw it as
matplotlib figures, and :func:`write_report` writes ``metrics.json``, PNG
figures and a self-contained ``report.html``.

Examples
--------
>>> import numpy as np
>>> from sklearn.dummy import DummyClassifier
>>> from skcifar.evaluation import evaluate
>>> X, y = np.zeros((4, 1)), np.array([0, 0, 0, 1])
>>> print(evaluate(DummyClassifier().fit(X, y), X, y).summary().splitlines()[1])
  accuracy               0.7500
"""

from ._metrics import EvaluationResult, evaluate, expected_calibration_error
from ._plots import (
    plot_confusion_matrix,
    plot_learning_curves,
    plot_reliability_diagram,
    plot_samples,
)
from ._report import write_report

__all__ = [
    "EvaluationResult",
    "evaluate",
    "expected_calibration_error",
    "plot_confusion_matrix",
    "plot_learning_curves",
    "plot_reliability_diagram",
    "plot_samples",
    "write_report",
]
