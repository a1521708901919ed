"""The same estimator on every Keras backend: test accuracy and speed of a fixed-epoch fit.

Each backend fits ``ResNetClassifier`` (the configuration below, fixed epochs,
no time budget, each of a few seeds) on the full CIFAR-10 training set in a fresh process
of its own environment, then predicts the test set. A backend's environment
is a Python interpreter with skcifar and that backend installed:
``make test-backends`` builds ``.venv-jax`` and ``.venv-torch`` (without
TensorFlow), ``make install`` builds ``.venv`` (TensorFlow). Backends whose
interpreter is missing are reported as such.

Reported per backend, side by side in one run (means over the seeds, and
each seed's accuracy): test accuracy and log loss,
the accuracy's difference to TensorFlow's (target: within 0.5 point),
training images/s inside ``fit`` (the epochs after the first, which compiles),
``fit`` seconds, ``predict_proba`` images/s, and the precision ``"auto"``
chose. The runs go one after another, so each has both cores.

Usage::

    python benchmarks/backend_results.py                   # 1x network, 3 epochs, seeds 0 and 1
    python benchmarks/backend_results.py --epochs 8 --network default --seeds 0
    python benchmarks/backend_results.py --quick           # smoke run: 2,000 images
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import _common
import numpy as np

#: backend -> the interpreter of its environment, relative to the repository root.
ENVIRONMENTS = {"tensorflow": ".venv", "jax": ".venv-jax", "torch": ".venv-torch"}
#: ``--network``: ResNetClassifier arguments besides epochs and the seed.
NETWORKS = {
    # The 1x run's network (about three times as fast as the default one).
    "1x": {"widths": [32, 64, 128], "batch_size": 512, "learning_rate": 0.75},
    "default": {},
}
TARGET_POINTS = 0.5  # |accuracy - TensorFlow's accuracy| in percentage points


def worker(network, epochs, seed, quick):
    """In the backend's own process: fit, predict, print one JSON line."""
    import numpy as np

    from skcifar import ResNetClassifier, load_data
    from skcifar.architectures import resolve_precision
    from skcifar.utils.backend import import_keras

    keras = import_keras()

    class EpochClock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.ends = [time.perf_counter()]

        def on_epoch_end(self, epoch, logs=None):
            self.ends.append(time.perf_counter())

    (X, y), (X_test, y_test) = load_data(progress=False)
    if quick:
        X, y, X_test, y_test = X[:2000], y[:2000], X_test[:1000], y_test[:1000]
    clock = EpochClock()
    clf = ResNetClassifier(**NETWORKS[network], epochs=epochs, random_state=seed, callbacks=[clock])
    start = time.perf_counter()
    clf.fit(X, y)
    fit_seconds = time.perf_counter() - start
    epoch_seconds = np.diff(clock.ends)
    later = epoch_seconds[1:] if len(epoch_seconds) > 1 else epoch_seconds
    start = time.perf_counter()
    proba = clf.predict_proba(X_test)
    predict_seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "backend": keras.backend.backend(),
                "precision": resolve_precision(clf.precision),  # what "auto" chose here
                "test_accuracy": _common.accuracy(y_test, proba),
                "test_log_loss": _common.log_loss(y_test, proba),
                "train_images_per_second": len(X) / float(np.median(later)),
                "fit_seconds": fit_seconds,
                "predict_images_per_second": len(X_test) / predict_seconds,
            }
        )
    )


MEASURES = ("test_accuracy", "test_log_loss", "train_images_per_second", "fit_seconds",
            "predict_images_per_second")  # fmt: skip


def _fit(backend, network, epochs, seed, quick):
    """One worker run: its JSON row, or ``{"error": its last line}``."""
    python = _common.ROOT / ENVIRONMENTS[backend] / "bin" / "python"
    if not python.exists():
        return {"error": f"no environment: {python.relative_to(_common.ROOT)}"}
    argv = [str(python), __file__, "--worker", "--network", network, "--epochs", str(epochs),
            "--seed", str(seed)] + (["--quick"] if quick else [])  # fmt: skip
    env = _common.child_env(KERAS_BACKEND=backend)
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode or not lines:
        return {"error": (result.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def run(backends, network, epochs, seeds, quick):
    """Per backend: each seed's row (``"runs"``) and the means of the measures.

    The seeds go round the backends (seed 0 on each, then seed 1, ...), so a
    slow spell of the machine does not fall on one backend alone.
    """
    runs = {backend: [] for backend in backends}
    for seed in seeds:
        for backend in backends:
            runs[backend].append(_fit(backend, network, epochs, seed, quick))
    rows = {}
    for backend, fits in runs.items():
        errors = [fit["error"] for fit in fits if "error" in fit]
        if errors:
            rows[backend] = {"error": errors[0], "runs": fits}
            continue
        row = {name: float(np.mean([fit[name] for fit in fits])) for name in MEASURES}
        rows[backend] = {"precision": fits[0]["precision"], **row, "runs": fits}
    reference = rows.get("tensorflow", {}).get("test_accuracy")
    for row in rows.values():
        if reference is not None and "test_accuracy" in row:
            row["points_from_tensorflow"] = 100 * (row["test_accuracy"] - reference)
    return rows


def report(rows, args):
    quick = " (quick)" if args.quick else ""
    print(f"ResNetClassifier({args.network} network), {args.epochs} epochs, "
          f"random_state in {args.seeds} (means){quick}; CPU: {_common.cpu_model()}")  # fmt: skip
    print(f"{'backend':<11} {'precision':<15} {'test acc':>8} {'vs TF':>7} {'log loss':>8} "
          f"{'train img/s':>11} {'fit s':>7} {'predict img/s':>13}  per seed")  # fmt: skip
    for backend, row in rows.items():
        if "error" in row:
            print(f"{backend:<11} {row['error']}")
            continue
        points = row.get("points_from_tensorflow")
        vs = "" if points is None else f"{points:+.2f}"
        seeds = ", ".join(f"{100 * fit['test_accuracy']:.2f}%" for fit in row["runs"])
        print(f"{backend:<11} {row['precision']:<15} {100 * row['test_accuracy']:>7.2f}% {vs:>7} "
              f"{row['test_log_loss']:>8.4f} {row['train_images_per_second']:>11.0f} "
              f"{row['fit_seconds']:>7.1f} {row['predict_images_per_second']:>13.0f}  "
              f"{seeds}")  # fmt: skip
    outside = [
        b for b, r in rows.items() if abs(r.get("points_from_tensorflow", 0)) > TARGET_POINTS
    ]
    print("within 0.5 point of TensorFlow:", "no: " + ", ".join(outside) if outside else "yes")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--network", choices=sorted(NETWORKS), default="1x")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", default="0,1", help="random_state values, comma-separated")
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)  # a worker's
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.network, args.epochs, args.seed, args.quick)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - set(ENVIRONMENTS))
    if unknown:
        parser.error(f"unknown backends {unknown}; choose from {sorted(ENVIRONMENTS)}")
    seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    rows = run(backends, args.network, args.epochs, seeds, args.quick)
    report(rows, args)
    if args.json:
        _common.write_json(args.json, {"args": vars(args) | {"json": str(args.json)},
                                       "machine": _common.machine(), "rows": rows})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
