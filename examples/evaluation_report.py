"""Stage 4 in depth: evaluate a fitted CNN and write an HTML report.

The notebook ends with ``cnn.evaluate(X_test, y_test)`` and a look at a few
predictions. ``skcifar.evaluation`` goes further: ``evaluate`` computes test
accuracy, log-loss, the expected calibration error (does the model's confidence
match its accuracy?), per-class precision/recall/F1, the confusion matrix and,
given the training data, the generalisation gap; ``write_report`` saves all of
it as ``metrics.json``, PNG figures and a self-contained ``report.html`` (open
it in a browser). The script fits ``Pipeline(PixelScaler, CNNClassifier)``,
prints the summary and the path of the report.

Run::

    python examples/evaluation_report.py                  # all data, 10 epochs -> runs/report/
    python examples/evaluation_report.py --out my-report  # choose the directory
    python examples/evaluation_report.py --quick          # 1,000 / 500 images, 1 epoch, temp dir

The data is found by ``skcifar.load_data()``: set ``SKCIFAR_DATA`` to a local
copy of CIFAR-10 when offline, or pass ``--data PATH``.
"""

from __future__ import annotations

import os
import sys
import tempfile

from _common import load_slices, make_parser  # examples/_common.py: shared plumbing
from sklearn.pipeline import make_pipeline

from skcifar import CLASS_NAMES, CNNClassifier, PixelScaler
from skcifar.evaluation import evaluate, write_report


def parse_args(argv=None):
    parser = make_parser(__doc__)
    parser.add_argument(
        "--out",
        default=None,
        help="report directory (default: runs/report, or a new temporary directory with --quick)",
    )
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        n_train, n_test, epochs = 1000, 500, 1
        out = args.out or tempfile.mkdtemp(prefix="skcifar-report-")
    else:
        n_train, n_test, epochs = None, None, args.epochs
        out = args.out or os.path.join("runs", "report")

    (X_train, y_train), (X_test, y_test) = load_slices(args.data, n_train, n_test)
    model = make_pipeline(
        PixelScaler(),
        CNNClassifier(epochs=epochs, random_state=args.seed, verbose=0 if args.quick else 2),
    )
    print(f"Training {model[-1]!r} on {len(X_train)} images for {epochs} epoch(s)")
    model.fit(X_train, y_train)

    result = evaluate(
        model, X_test, y_test, X_train=X_train, y_train=y_train, class_names=CLASS_NAMES
    )
    print(result.summary())

    write_report(result, out)
    report = os.path.abspath(os.path.join(out, "report.html"))
    print(f"Files written: {', '.join(sorted(os.listdir(out)))}")
    print(f"Report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
