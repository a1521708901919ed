"""Validation accuracy of ResNetClassifier recipes at a fixed time budget.

Every configuration is fitted with ``time_budget=SECONDS`` on 45,000 training
images and scored on the other 5,000 (a stratified split of the training set,
seed 0): the test set is never read. Each row gives the epochs that fitted
(``n_iter_``), the fit time, and the validation accuracy and log-loss with
the configuration's own test-time augmentation (temperature 1).

    python benchmarks/recipe_ablation.py --budget 165 baseline recipe
    python benchmarks/recipe_ablation.py --epochs 3 baseline recipe recipe-no-gelu
    python benchmarks/recipe_ablation.py recipe-no-gelu --budget 165 --seeds 0 1 2
    python benchmarks/recipe_ablation.py --list
    python benchmarks/recipe_ablation.py --quick          # smoke run: tiny data and network
"""

from __future__ import annotations

import argparse
import json
import time

import _common
import numpy as np
from _configs import BASELINE

# The published recipe (GELU, SGD for every parameter, 6 test-time views);
# the defaults differ from it by ReLU, Muon and the flip-only views.
GELU_SGD = dict(activation="gelu", conv_optimizer="sgd", tta_shift=1)

CONFIGS = {
    "baseline": dict(widths=(32, 64, 128), **BASELINE),
    "recipe": dict(widths=(32, 64, 128), **GELU_SGD),
    "recipe-64-128": dict(widths=(64, 128, 128), **GELU_SGD),
    "recipe-64-256": dict(widths=(64, 256, 256), **GELU_SGD),
}
# One piece of the recipe back to the baseline's setting, for the ablation.
WITHOUT = {
    "whiten": dict(whiten=False),
    "identity_init": dict(identity_init=False),
    "gelu": dict(activation="relu"),
    "bn": dict(batch_norm_scale=True, batch_norm_momentum=0.9, bias_lr_scale=1.0),
    "residual": dict(residual=True),
    "flip": dict(flip="random"),
    "shift": dict(max_shift=None, shift_padding="constant"),
    "lookahead": dict(lookahead=False),
    "tta_shift": dict(tta_shift=0),
}
for piece, undo in WITHOUT.items():
    CONFIGS[f"recipe-no-{piece}"] = {**CONFIGS["recipe"], **undo}
# Beyond the recipe: Muon for the convolution filters, with ReLU (faster here).
CONFIGS["recipe-relu"] = CONFIGS["recipe-no-gelu"]
CONFIGS["recipe-relu-muon"] = {**CONFIGS["recipe-relu"], "conv_optimizer": "muon"}
# ResNetClassifier's defaults (the recipe with ReLU, Muon, flip-only views), at the 1x widths.
CONFIGS["defaults-32-64-128"] = dict(widths=(32, 64, 128))
N_VALIDATION = 5000


def run(names, budget=None, n_train=None, n_validation=N_VALIDATION, overrides=None, seed=0):
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
    rows = []
    for name in names:
        params = {**CONFIGS[name], **(overrides or {})}
        params.update(temperature=1.0, random_state=seed)
        if budget is not None:
            params["time_budget"] = budget
        model = make_pipeline(PixelScaler(), ResNetClassifier(**params))
        start, cpu_start = time.perf_counter(), time.process_time()
        model.fit(X_fit, y_fit)
        fit_seconds = time.perf_counter() - start
        fit_cpu = time.process_time() - cpu_start  # all threads: robust to a shared machine
        start = time.perf_counter()
        proba = model.predict_proba(X_val)
        row = {
            "name": name,
            "seed": seed,
            "epochs": round(float(model[-1].n_iter_), 3),
            "fit_s": round(fit_seconds, 1),
            "images_per_cpu_s": round(len(X_fit) * float(model[-1].n_iter_) / fit_cpu),
            "predict_s": round(time.perf_counter() - start, 1),
            "val_accuracy": float(np.mean(model.classes_[proba.argmax(1)] == y_val)),
            "val_log_loss": _common.log_loss(y_val, proba),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=["baseline", "recipe"])
    parser.add_argument("--budget", type=float, default=165.0, help="seconds per fit")
    parser.add_argument(
        "--epochs", type=float, help="train this many epochs instead (equal work, not equal time)"
    )
    parser.add_argument(
        "--set",
        type=json.loads,
        default={},
        metavar="JSON",
        help='parameters that override every configuration, e.g. \'{"activation": "relu"}\'',
    )
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0], help="random_state of each fit (same split)"
    )
    parser.add_argument("--list", action="store_true", help="print the configurations")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2,000 images")
    args = parser.parse_args(argv)
    if args.list:
        for name, config in CONFIGS.items():
            print(name, config)
        return 0
    print(json.dumps({"machine": _common.machine()}), flush=True)
    if args.quick:
        run(args.names, budget=5, n_train=2000, n_validation=500, overrides=dict(widths=(8, 8)))
    else:
        for seed in args.seeds:
            if args.epochs:
                run(args.names, overrides=dict(epochs=args.epochs, **args.set), seed=seed)
            else:
                run(args.names, budget=args.budget, overrides=args.set, seed=seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
