"""Choose ResNetClassifier's ``temperature`` on a validation split of the training set.

The test set is never read. 5,000 of the 50,000 training images (stratified,
seed 0) are held out; ``make_pipeline(PixelScaler(), ResNetClassifier(**config,
temperature=1.0, random_state=0))`` is fitted on the other 45,000; its
probabilities for the held-out images (with the default flip test-time
augmentation) are then sharpened with each temperature of a grid, and the
temperature with the lowest validation log-loss is the choice. Validation
accuracy is reported too: a temperature never changes a prediction.

    python benchmarks/choose_temperature.py                 # 16 epochs, default network: ~25 min
    python benchmarks/choose_temperature.py --config fast   # the 1x widths, 4 epochs: ~3 min
    python benchmarks/choose_temperature.py --config 12x --budget 1980   # accuracy_budget's 12x
    python benchmarks/choose_temperature.py --quick         # smoke run: tiny data and network
"""

from __future__ import annotations

import argparse
import time

import _common
import numpy as np
from _configs import RUNS, run_params

CONFIGS = {
    # fixed epochs, no time_budget: the default network, and the 1x widths
    "full": dict(epochs=16),
    "fast": dict(widths=(32, 64, 128), epochs=4),
    # accuracy_budget.py's runs; --budget gives the budgeted ones their time_budget
    **{name: run_params(name, quick=False) for name in RUNS},
}
TEMPERATURES = np.round(np.arange(0.40, 1.201, 0.05), 2)
N_VALIDATION = 5000
QUICK = dict(n_train=2000, n_validation=500, config=dict(widths=(8, 16, 16), epochs=1))


def run(config, n_train=None, n_validation=N_VALIDATION, budget=None):
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline

    from skcifar import PixelScaler, ResNetClassifier
    from skcifar.datasets import load_data

    (X, y), _ = load_data()  # the test part is never used here
    if n_train is not None:
        X, y = X[:n_train], y[:n_train]
    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=n_validation, stratify=y, random_state=0
    )
    params = {**config, "temperature": 1.0, "random_state": 0}
    if budget is not None:
        params["time_budget"] = budget
    model = make_pipeline(PixelScaler(), ResNetClassifier(**params))
    print(f"fitting ResNetClassifier(**{params}) on {len(X_fit)} images", flush=True)
    start = time.perf_counter()
    model.fit(X_fit, y_fit)
    fit_seconds = time.perf_counter() - start
    proba = model.predict_proba(X_val)  # at temperature 1
    rows = []
    for t in TEMPERATURES:
        model.set_params(resnetclassifier__temperature=float(t))
        sharpened = model.predict_proba(X_val)
        rows.append({"temperature": float(t), "log_loss": _common.log_loss(y_val, sharpened)})
        print(f"  temperature {t:.2f}: validation log-loss {rows[-1]['log_loss']:.4f}", flush=True)
    best = min(rows, key=lambda r: r["log_loss"])
    return {
        "config": config,
        "n_fit": len(X_fit),
        "n_validation": len(X_val),
        "fit_seconds": fit_seconds,
        "validation_accuracy": _common.accuracy(y_val, proba),
        "grid": rows,
        "best_temperature": best["temperature"],
        "best_log_loss": best["log_loss"],
        "log_loss_at_1": next(r["log_loss"] for r in rows if r["temperature"] == 1.0),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="full")
    parser.add_argument(
        "--budget", type=float, metavar="SECONDS", help="time_budget of the fit (default none)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (not a result)")
    parser.add_argument("--json", metavar="PATH", help="write the results to this JSON file")
    args = parser.parse_args()
    if args.quick:
        result = run(QUICK["config"], QUICK["n_train"], QUICK["n_validation"])
    else:
        result = run(CONFIGS[args.config], budget=args.budget)
    print(
        f"validation accuracy {result['validation_accuracy']:.4f}; best temperature "
        f"{result['best_temperature']:.2f}: log-loss {result['best_log_loss']:.4f} "
        f"(at 1.0: {result['log_loss_at_1']:.4f}); fit {result['fit_seconds']:.0f} s"
    )
    if args.json:
        _common.write_json(args.json, {"quick": args.quick, **result})


if __name__ == "__main__":
    main()
