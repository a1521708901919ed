"""
Stage 4 in depth: evaluation, figures and an HTML report
========================================================

The notebook ends with ``cnn.evaluate(X_test, y_test)`` and a look at a few
predictions. :mod:`skcifar.evaluation` goes further:
:func:`~skcifar.evaluation.evaluate` computes test accuracy, log-loss, the
expected calibration error (does the model's confidence match its accuracy?),
per-class precision/recall/F1, the confusion matrix and, given the training
data, the generalisation gap; the ``plot_*`` functions draw it, and
:func:`~skcifar.evaluation.write_report` saves all of it as ``metrics.json``,
PNG figures and a self-contained ``report.html`` (open it in a browser). The
script fits ``Pipeline(PixelScaler, CNNClassifier)`` with a validation split,
prints the summary, shows the figures and the path of the report.

Run::

    python examples/evaluation_report.py                  # all data, 10 epochs -> runs/report/
    python examples/evaluation_report.py --out my-report  # choose the directory
    python examples/evaluation_report.py --quick          # 1,000 / 500 images, 2 epochs, temp dir

The data is found by ``skcifar.load_data()``: set ``SKCIFAR_DATA`` to a local
copy of CIFAR-10 when offline, or pass ``--data PATH``.
"""

# %%
# Fit the notebook's CNN
# ----------------------
# ``validation_fraction=0.1`` holds out a stratified tenth of the training
# images, so the history has validation curves.

import os
import tempfile

import matplotlib.pyplot as plt
from _common import load_slices, make_parser, to_pyplot  # examples/_common.py: shared plumbing
from sklearn.pipeline import make_pipeline

from skcifar import CLASS_NAMES, CNNClassifier, PixelScaler
from skcifar.evaluation import (
    evaluate,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_reliability_diagram,
    write_report,
)

parser = make_parser(__doc__, "1,000 training / 500 test images, 2 epochs, a temporary directory")
parser.add_argument(
    "--out",
    default=None,
    help="report directory (default: runs/report, or a new temporary directory with --quick)",
)
parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
args = parser.parse_args()
if args.quick:
    n_train, n_test, epochs = 1000, 500, 2
    out = args.out or tempfile.mkdtemp(prefix="skcifar-report-")
else:
    n_train, n_test, epochs = None, None, args.epochs
    out = args.out or os.path.join("runs", "report")

(X_train, y_train), (X_test, y_test) = load_slices(args.data, n_train, n_test)
model = make_pipeline(
    PixelScaler(),
    CNNClassifier(
        epochs=epochs,
        validation_fraction=0.1,
        random_state=args.seed,
        verbose=0 if args.quick else 2,
    ),
)
print(f"Training {model[-1]!r} on {len(X_train)} images for {epochs} epoch(s)")
model.fit(X_train, y_train)

# %%
# Evaluate
# --------
# One call computes every metric; ``summary()`` prints them.

result = evaluate(model, X_test, y_test, X_train=X_train, y_train=y_train, class_names=CLASS_NAMES)
print(result.summary())

# %%
# The confusion matrix
# --------------------
# Rows are the true classes, columns the predictions; normalised, each row
# shows where that class's test images went.

to_pyplot(plot_confusion_matrix(result, normalize=True))  # hand it to pyplot, which shows it

# %%
# The reliability diagram
# -----------------------
# Accuracy against confidence, bin by bin: a calibrated model's bars follow
# the diagonal, and the expected calibration error is their weighted distance
# from it.

to_pyplot(plot_reliability_diagram(result))

# %%
# The learning curves
# -------------------
# Loss and accuracy per epoch on the training images and the validation split.

to_pyplot(plot_learning_curves(result))

# %%
# The report
# ----------
# ``write_report`` writes the same figures as PNG files, ``metrics.json`` and
# a ``report.html`` that embeds them.

write_report(result, out)
report = os.path.abspath(os.path.join(out, "report.html"))
print("Files written:")
for name in sorted(os.listdir(out)):
    print(f"  {name}")
print(f"Report: {report}")
plt.show()
