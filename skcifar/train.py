"""The main job (``make train``): the reference notebook's CNN, trained the scikit-learn way.

Stage 1 loads CIFAR-10 (see :func:`skcifar.datasets.load_data` for where it
looks), stage 2-3 fit ``Pipeline(PixelScaler, CNNClassifier)`` with the
notebook's settings (10 epochs, Adam, batches of 32), stage 4 reports test
accuracy and log-loss. The fitted pipeline is saved with joblib.

Run ``python -m skcifar.train --help`` for the options.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog="python -m skcifar.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    parser.add_argument(
        "--subset", type=int, default=None, help="train on the first N training images only"
    )
    parser.add_argument("--data", default=None, help="path to CIFAR-10 (default: look up)")
    parser.add_argument(
        "--out",
        default=os.path.join("runs", "cnn-pipeline.joblib"),
        help="where to save the fitted pipeline",
    )
    parser.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the main job; returns the process exit status."""
    args = _parse(argv)
    import joblib
    from sklearn.metrics import accuracy_score, log_loss
    from sklearn.pipeline import make_pipeline

    from skcifar import CNNClassifier, PixelScaler
    from skcifar.datasets import load_data

    start = time.perf_counter()
    (X_train, y_train), (X_test, y_test) = load_data(args.data, progress=False if args.quiet else None)
    if args.subset:
        X_train, y_train = X_train[: args.subset], y_train[: args.subset]
    print(
        f"stage 1  data: {len(X_train)} training and {len(X_test)} test images "
        f"({time.perf_counter() - start:.1f} s)"
    )

    verbose = 0 if args.quiet else (1 if sys.stdout.isatty() else 2)
    model = make_pipeline(
        PixelScaler(), CNNClassifier(epochs=args.epochs, random_state=args.seed, verbose=verbose)
    )
    print(f"stage 2  model: {model[-1]!r}")
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    print(f"stage 3  trained {args.epochs} epochs in {fit_seconds:.0f} s")

    proba = model.predict_proba(X_test)
    accuracy = accuracy_score(y_test, model.classes_[proba.argmax(axis=1)])
    loss = log_loss(y_test, proba, labels=model.classes_)
    print(f"stage 4  test accuracy {accuracy:.4f}, test log-loss {loss:.4f}")

    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    tmp = args.out + ".tmp"
    joblib.dump(model, tmp)
    os.replace(tmp, args.out)  # never leave a half-written model file
    print(
        f"saved the fitted pipeline to {os.path.abspath(args.out)} "
        "(load it with joblib.load; only load files you trust)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
