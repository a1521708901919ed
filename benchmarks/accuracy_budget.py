"""Test accuracy on CIFAR-10 within the reference notebook's training time, side by side.

In one run, each in a fresh Python process, one after another:

1. the reference notebook's CNN exactly as the notebook trains it (raw Keras,
   ``X / 255.0`` in float64, adam, ``cnn.fit(X_train, y_train, epochs=10)``, batch
   32; the script is ``_common.notebook_script``). The wall time of ``cnn.fit``
   is the budget;
2. ``make_pipeline(PixelScaler(), ResNetClassifier(**FAST, random_state=0))`` on
   the 50,000 training images, against 1x the budget;
3. the same with ``FULL`` (the default network, 16 epochs), against 12x the budget.

For each: the fit wall time (everything inside ``cnn.fit`` / ``pipeline.fit``), test
accuracy and log-loss (the ResNet's ``predict_proba``, with its default test-time flip
augmentation, timed separately), and a curve of test accuracy after each epoch
against cumulative training seconds. The curve's evaluations (``model.predict`` of
the test set, batch 1024, no test-time augmentation) are taken off every clock,
the budget's included.

    python benchmarks/accuracy_budget.py                 # ~40 min on 2 cores
    python benchmarks/accuracy_budget.py --quick         # tiny smoke run, ~1 min
    python benchmarks/accuracy_budget.py --runs fast --json out.json   # notebook + FAST only
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import _common

# --- configurations (edit here) ------------------------------------------------------
NOTEBOOK_EPOCHS = 10
FAST = dict(widths=(32, 64, 128), epochs=4)
FULL = dict(epochs=16)  # the default network, 16 epochs (the most that fit 12x with margin)
# name -> (ResNetClassifier parameters, budget as a multiple of the notebook's fit time).
# run_all.py's table reads "fast" (its 1x metric) and "full" (its 12x metric).
RUNS = {"fast": (FAST, 1), "full": (FULL, 12)}

# --quick: a few images, one or two epochs, tiny networks (a smoke test, not a result)
QUICK_N_TRAIN, QUICK_N_TEST = 2000, 1000
QUICK_NOTEBOOK_EPOCHS = 1
QUICK_CONFIGS = {  # other names in RUNS get the "fast" one
    "fast": dict(widths=(8, 16, 16), stem_filters=8, epochs=1),
    "full": dict(widths=(8, 16, 16), stem_filters=8, epochs=2),
}
# ---------------------------------------------------------------------------------------


def _sizes(quick):
    return (QUICK_N_TRAIN, QUICK_N_TEST) if quick else (None, None)


def _runs(quick):
    if not quick:
        return RUNS
    return {
        name: (QUICK_CONFIGS.get(name, QUICK_CONFIGS["fast"]), factor)
        for name, (_, factor) in RUNS.items()
    }


def resnet_child(name, quick, out):
    """Fit one ResNet configuration and write its results (runs in a fresh process)."""
    import numpy as np
    from sklearn.pipeline import make_pipeline

    from skcifar import PixelScaler, ResNetClassifier
    from skcifar.architectures import resolve_precision
    from skcifar.datasets import load_data

    config, _ = _runs(quick)[name]
    n_train, n_test = _sizes(quick)
    (X, y), (X_test, y_test) = load_data()
    if quick:
        X, y = X[:n_train], y[:n_train]
        X_test, y_test = X_test[:n_test], y_test[:n_test]
    # The curve's test set, scaled once, outside every clock.
    curve = _common.make_curve_callback(PixelScaler().fit_transform(X_test), y_test)
    clf = ResNetClassifier(**config, random_state=0, callbacks=[curve])
    model = make_pipeline(PixelScaler(), clf)

    curve.start()
    start = time.perf_counter()
    model.fit(X, y)
    fit_wall = time.perf_counter() - start

    start = time.perf_counter()
    proba = model.predict_proba(X_test)
    predict_seconds = time.perf_counter() - start
    assert np.array_equal(clf.classes_, np.arange(10))

    params = clf.get_params()
    _common.write_json(
        out,
        {
            "config": config,
            "params": {
                k: params[k]
                for k in ("widths", "stem_filters", "epochs", "batch_size", "tta", "precision")
            },
            "compute_dtype": resolve_precision(clf.precision),
            "n_train": len(X),
            "n_test": len(X_test),
            "fit_seconds": fit_wall - curve.eval_seconds,
            "fit_wall_seconds": fit_wall,
            "curve_eval_seconds": curve.eval_seconds,
            "predict_seconds": predict_seconds,
            "test_accuracy": _common.accuracy(y_test, proba),
            "test_log_loss": _common.log_loss(y_test, proba),
            "curve": curve.points,
        },
    )
    _common.write_own_peak()


def _collect(proc, out):
    """A child's JSON results plus its peak RSS and wall time, or an error."""
    child = {"child_peak_rss_mb": proc["peak_rss_mb"], "child_wall_seconds": proc["wall_seconds"]}
    if proc["returncode"] != 0 or not Path(out).exists():
        return {"error": f"exit status {proc['returncode']}", **child}
    return {**_common.read_json(out), **child}


def run(quick, names=None):
    n_train, n_test = _sizes(quick)
    epochs = QUICK_NOTEBOOK_EPOCHS if quick else NOTEBOOK_EPOCHS
    runs = _runs(quick)
    results = {"quick": quick, "n_train": n_train or 50000, "n_test": n_test or 10000}
    with tempfile.TemporaryDirectory(prefix="skcifar-bench-") as tmp:
        out = Path(tmp) / "notebook.json"
        print(f"[accuracy_budget] notebook CNN, {epochs} epochs (the budget)", flush=True)
        code = _common.notebook_script(epochs, n_train=n_train, n_test=n_test, curve=True, out=out)
        notebook = _collect(_common.python_child(code, check=False), out)
        notebook["epochs"] = epochs
        results["notebook"] = notebook
        budget = notebook.get("fit_seconds")
        _print_result("notebook", notebook)

        results["runs"] = {}
        for name, (config, factor) in runs.items():
            if names is not None and name not in names:
                continue
            out = Path(tmp) / f"{name}.json"
            print(f"[accuracy_budget] {name}: ResNetClassifier(**{config})", flush=True)
            argv = [sys.executable, __file__, "--child", name, "--out", str(out)]
            argv += ["--quick"] if quick else []
            result = _collect(_common.run_child(argv, check=False), out)
            result["budget_factor"] = factor
            result["budget_seconds"] = None if budget is None else factor * budget
            result["within_budget"] = (
                budget is not None
                and "fit_seconds" in result
                and result["fit_seconds"] <= factor * budget
            )
            results["runs"][name] = result
            _print_result(name, result)
    return results


def _print_result(name, r):
    if "error" in r:
        print(f"  {name}: FAILED ({r['error']})", flush=True)
        return
    budget = ""
    if "budget_seconds" in r and r["budget_seconds"] is not None:
        budget = (
            f" / budget {r['budget_seconds']:.1f} s ({r['budget_factor']}x): "
            f"{'within' if r['within_budget'] else 'OVER'}"
        )
    print(
        f"  {name}: fit {r['fit_seconds']:.1f} s{budget}; test accuracy "
        f"{r['test_accuracy']:.4f}, log-loss {r['test_log_loss']:.3f}; predict "
        f"{r['predict_seconds']:.1f} s; curve evaluations {r['curve_eval_seconds']:.1f} s "
        f"(excluded); peak RSS {r['child_peak_rss_mb'] or float('nan'):.0f} MB",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (not a result)")
    parser.add_argument("--json", metavar="PATH", help="write all results to this JSON file")
    parser.add_argument(
        "--runs", help=f"comma-separated ResNet runs to do (default all: {', '.join(RUNS)})"
    )
    parser.add_argument("--child", choices=sorted(RUNS), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        resnet_child(args.child, args.quick, args.out)
        return 0
    names = None
    if args.runs:
        names = [n.strip() for n in args.runs.split(",") if n.strip()]
        if set(names) - set(RUNS):
            parser.error(f"unknown runs {sorted(set(names) - set(RUNS))}; choose from {list(RUNS)}")
    results = run(args.quick, names)
    if args.json:
        _common.write_json(args.json, results)
    failed = "error" in results["notebook"] or any("error" in r for r in results["runs"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
