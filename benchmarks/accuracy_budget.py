"""Test accuracy on CIFAR-10 at ``time_budget`` multiples of the notebook CNN's training time.

In one run, each in a fresh Python process, one after another:

1. the reference notebook's CNN exactly as the notebook trains it (raw Keras,
   ``X / 255.0`` in float64, adam, ``cnn.fit(X_train, y_train, epochs=10)``, batch
   32; the script is ``_common.notebook_script``), with a curve of test accuracy
   after each epoch (its evaluations taken off the clock). The wall time of
   ``cnn.fit`` is the budget unit, B;
2. the runs of ``_configs.RUNS``: ``make_pipeline(PixelScaler(), ResNetClassifier(...))``
   on the 50,000 training images, one fresh process per run and seed, in rounds
   (every run's first seed, then every run's second, ...). A budgeted
   run sets ``time_budget=factor * B``; ``fit`` plans its steps to fill that
   budget, wall clock, so nothing else runs inside it (no per-epoch curve: its
   evaluations would eat the budget). Each records one point: the pipeline's fit
   seconds and the test accuracy, log-loss and expected calibration error
   (``ECE_BINS`` equal-width bins of the top probability) of ``predict_proba``
   with the classifier's own test-time augmentation, timed separately, and the
   same model's accuracy and log-loss with flip-only and with shifted views.

``make bench`` runs ``BENCH_RUNS`` (``1x`` and ``1x-auto`` over three seeds, and ``6x``);
``make bench-full`` (``--full``) adds ``12x`` and ``default``, which do not fit
the hour; docs/benchmarks.md says how long each takes.

    python benchmarks/accuracy_budget.py                  # make bench's runs
    python benchmarks/accuracy_budget.py --full           # every run
    python benchmarks/accuracy_budget.py --runs 6x --json out.json   # notebook + 6x only
    python benchmarks/accuracy_budget.py --quick --full   # tiny smoke run of every run

``--child`` runs one fit of one run in this process, without the notebook, at a
budget given in seconds: two versions of skcifar compared at one budget
(``PYTHONPATH`` at a checkout of the other) give comparable points.

    python benchmarks/accuracy_budget.py --child 6x --seed 0 --budget 956.4 --out 6x.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import _common
from _configs import BENCH_RUNS, RUNS, run_params
from _targets import within_budget

# --- the notebook run, the ECE bins, --quick's sizes (edit here; the runs: _configs) ---
NOTEBOOK_EPOCHS = 10
ECE_BINS = 15

# --quick: a few images, budgets of a few seconds (a smoke test, not a result)
QUICK_N_TRAIN, QUICK_N_TEST = 2000, 1000
QUICK_NOTEBOOK_EPOCHS = 1
QUICK_UNIT_SECONDS = 0.5  # at most this many seconds per budget factor
# ---------------------------------------------------------------------------------------

# The classifier parameters written with each result.
_RECORDED = (
    "widths",
    "stem_filters",
    "activation",
    "conv_optimizer",
    "batch_size",
    "learning_rate",
    "epochs",
    "time_budget",
    "tta",
    "tta_shift",
    "temperature",
    "precision",
)


def _sizes(quick):
    return (QUICK_N_TRAIN, QUICK_N_TEST) if quick else (None, None)


def describe(name, quick=False):
    """``run_params(name)`` in words, as a ``ResNetClassifier(...)`` call."""
    words = [f"{k}={v!r}" for k, v in run_params(name, quick).items()]
    return f"ResNetClassifier({', '.join(words)})"


def budget_unit(notebook_seconds, quick):
    """Seconds per budget factor: the notebook's fit time (capped when ``quick``)."""
    if notebook_seconds is None:
        return None
    return min(notebook_seconds, QUICK_UNIT_SECONDS) if quick else notebook_seconds


def expected_calibration_error(y, proba, n_bins=ECE_BINS):
    """ECE of the top-label probability in ``n_bins`` equal-width bins (as ``evaluate``)."""
    import numpy as np

    from skcifar.evaluation import expected_calibration_error

    correct = proba.argmax(axis=1) == np.asarray(y)
    return expected_calibration_error(proba.max(axis=1), correct, n_bins)


def resnet_child(name, seed, budget, quick, out):
    """Fit one run with one seed and write its results (runs in a fresh process)."""
    import numpy as np
    from sklearn.pipeline import make_pipeline

    from skcifar import PixelScaler, ResNetClassifier
    from skcifar.architectures import resolve_precision
    from skcifar.datasets import load_data

    n_train, n_test = _sizes(quick)
    (X, y), (X_test, y_test) = load_data()
    if quick:
        X, y = X[:n_train], y[:n_train]
        X_test, y_test = X_test[:n_test], y_test[:n_test]
    clf = ResNetClassifier(**run_params(name, quick), random_state=seed, time_budget=budget)
    model = make_pipeline(PixelScaler(), clf)

    start = time.perf_counter()
    model.fit(X, y)
    fit_seconds = time.perf_counter() - start

    start = time.perf_counter()
    proba = model.predict_proba(X_test)
    predict_seconds = time.perf_counter() - start
    assert np.array_equal(clf.classes_, np.arange(10))

    # The values trained: "auto" sizes as fit resolved them.
    params = {k: getattr(clf, f"{k}_", v) for k, v in clf.get_params().items()}
    views = views_accuracy(model, clf, X_test, y_test, proba, params["tta_shift"])
    choice = getattr(clf, "network_choice_", None)  # none before the choice existed
    _common.write_json(
        out,
        {
            "seed": seed,
            "params": {k: params[k] for k in _RECORDED},
            "chosen_network": None if choice is None else choice["network"],
            "network_choice": choice,
            "compute_dtype": resolve_precision(clf.precision),
            "n_train": len(X),
            "n_test": len(X_test),
            "fit_seconds": fit_seconds,
            "n_iter": float(clf.n_iter_),
            "forward_mflop_per_image": _common.forward_flops(clf.model_) / 1e6,
            "predict_seconds": predict_seconds,
            "test_accuracy": _common.accuracy(y_test, proba),
            "test_log_loss": _common.log_loss(y_test, proba),
            "test_ece": expected_calibration_error(y_test, proba),
            "test_views": views,
        },
    )
    _common.write_own_peak()


def views_accuracy(model, clf, X_test, y_test, proba, shift):
    """The same fitted model's test accuracy and log-loss with each set of test-time views.

    ``"flip"`` (``tta_shift=0``) and ``"shifted"`` (``tta_shift=1``): what the
    shifted views add to this very model, which a comparison of two fits cannot
    separate from their seeds and epochs. ``proba`` holds the fit's own views
    (``tta_shift=shift``, 0 or 1); the other set is predicted here. None
    without test-time augmentation (``tta=False``; CIFAR-10's images always
    get views with it).
    """
    if shift not in (0, 1):
        raise ValueError(f"views_accuracy compares tta_shift 0 and 1; the fit used {shift}.")
    if not clf.tta:
        return None
    given, views = clf.tta_shift, {}
    for name, views_shift in (("flip", 0), ("shifted", 1)):
        predicted = proba
        if views_shift != shift:
            clf.set_params(tta_shift=views_shift)
            try:
                predicted = model.predict_proba(X_test)
            finally:
                clf.set_params(tta_shift=given)
        views[name] = {
            "accuracy": _common.accuracy(y_test, predicted),
            "log_loss": _common.log_loss(y_test, predicted),
        }
    return views


def _collect(proc, out):
    """A child's JSON results plus its peak RSS and wall time, or an error."""
    child = {"child_peak_rss_mb": proc["peak_rss_mb"], "child_wall_seconds": proc["wall_seconds"]}
    if proc["returncode"] != 0 or not Path(out).exists():
        return {"error": f"exit status {proc['returncode']}", **child}
    return {**_common.read_json(out), **child}


def summarize(fits):
    """Mean and sample standard deviation of the fits' test accuracies (sd None for one)."""
    import numpy as np

    acc = [f["test_accuracy"] for f in fits if "test_accuracy" in f]
    return {
        "test_accuracy_mean": float(np.mean(acc)) if acc else None,
        "test_accuracy_sd": float(np.std(acc, ddof=1)) if len(acc) > 1 else None,
        "n_fits": len(acc),
    }


def run(quick, names=BENCH_RUNS, seeds=None):
    n_train, n_test = _sizes(quick)
    epochs = QUICK_NOTEBOOK_EPOCHS if quick else NOTEBOOK_EPOCHS
    results = {
        "quick": quick,
        "n_train": n_train or 50000,
        "n_test": n_test or 10000,
        "runs_requested": list(names),
        "bench_runs": list(BENCH_RUNS),
        "ece_bins": ECE_BINS,
    }
    with tempfile.TemporaryDirectory(prefix="skcifar-bench-") as tmp:
        out = Path(tmp) / "notebook.json"
        print(f"[accuracy_budget] notebook CNN, {epochs} epochs (the budget unit)", flush=True)
        code = _common.notebook_script(epochs, n_train=n_train, n_test=n_test, curve=True, out=out)
        notebook = _collect(_common.python_child(code, check=False), out)
        notebook["epochs"] = epochs
        results["notebook"] = notebook
        unit = budget_unit(notebook.get("fit_seconds"), quick)
        results["budget_unit_seconds"] = unit
        _print_fit("notebook", notebook)

        entries, seeds_of = {}, {}
        for name in names:
            factor = RUNS[name]["factor"]
            budget = None if factor is None or unit is None else factor * unit
            if factor is not None and budget is None:
                entries[name] = {"error": "no budget: the notebook run failed"}
                continue
            entries[name] = {
                "label": describe(name, quick),
                "config": run_params(name, quick),
                "budget_factor": factor,
                "budget_seconds": budget,
                "fits": [],
            }
            seeds_of[name] = list(seeds or RUNS[name]["seeds"])
        for name, seed in interleaved(seeds_of):
            entry, budget = entries[name], entries[name]["budget_seconds"]
            out = Path(tmp) / f"{name}-{seed}.json"
            print(
                f"[accuracy_budget] {name}, seed {seed}: {entry['label']}, time_budget={budget}",
                flush=True,
            )
            argv = [sys.executable, __file__, "--child", name, "--seed", str(seed)]
            argv += ["--out", str(out)] + (["--quick"] if quick else [])
            argv += [] if budget is None else ["--budget", repr(budget)]
            fit = _collect(_common.run_child(argv, check=False), out)
            if budget is not None and "fit_seconds" in fit:
                fit["within_budget"] = within_budget(fit["fit_seconds"], budget)
            entry["fits"].append(fit)
            _print_fit(f"{name} seed {seed}", fit, budget)
        for name in seeds_of:
            entries[name].update(summarize(entries[name]["fits"]))
        results["runs"] = entries  # in the order of names
    return results


def interleaved(seeds_of):
    """``(run, seed)`` pairs in rounds: every run's first seed, then every run's second, ...

    Runs compared on one machine then share its slow spells (another
    process, a warmer chip) instead of one run's block taking them all.

    >>> interleaved({"1x": [0, 1], "1x-auto": [0, 1], "6x": [0]})
    [('1x', 0), ('1x-auto', 0), ('6x', 0), ('1x', 1), ('1x-auto', 1)]
    """
    rounds = max((len(seeds) for seeds in seeds_of.values()), default=0)
    return [(name, seeds[i]) for i in range(rounds)
            for name, seeds in seeds_of.items() if i < len(seeds)]  # fmt: skip


def _print_fit(name, r, budget=None):
    if "error" in r:
        print(f"  {name}: FAILED ({r['error']})", flush=True)
        return
    text = f"  {name}: fit {r['fit_seconds']:.1f} s"
    if budget is not None:
        text += f" / budget {budget:.1f} s ({r['n_iter']:.3f} epochs)"
    elif "n_iter" in r:
        text += f" ({r['n_iter']:g} epochs)"
    text += f"; test accuracy {r['test_accuracy']:.4f}, log-loss {r['test_log_loss']:.3f}"
    if "test_ece" in r:
        text += f", ECE {r['test_ece']:.4f}"
    text += f"; predict {r['predict_seconds']:.1f} s"
    if "curve_eval_seconds" in r:
        text += f"; curve evaluations {r['curve_eval_seconds']:.1f} s (excluded)"
    print(f"{text}; peak RSS {r['child_peak_rss_mb'] or float('nan'):.0f} MB", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (not a result)")
    parser.add_argument("--json", metavar="PATH", help="write all results to this JSON file")
    parser.add_argument("--full", action="store_true", help=f"every run: {', '.join(RUNS)}")
    parser.add_argument(
        "--runs",
        help=f"comma-separated runs to do (default {', '.join(BENCH_RUNS)}; "
        f"--full: {', '.join(RUNS)})",
    )
    parser.add_argument(
        "--seeds", type=lambda text: tuple(int(seed) for seed in text.split(",")),
        help="comma-separated seeds of every run instead of its own (_configs.RUNS)",
    )  # fmt: skip
    parser.add_argument("--child", choices=sorted(RUNS), help="one fit of this run, no notebook")
    parser.add_argument("--seed", type=int, default=0, help="--child: its random_state")
    parser.add_argument("--budget", type=float, help="--child: its time_budget in seconds")
    parser.add_argument("--out", help="--child: write its result to this JSON file")
    args = parser.parse_args()
    if args.child:
        if not args.out:
            parser.error("--child needs --out: the file its result goes to")
        resnet_child(args.child, args.seed, args.budget, args.quick, args.out)
        return 0
    names = tuple(RUNS) if args.full else BENCH_RUNS
    if args.runs:
        names = tuple(n.strip() for n in args.runs.split(",") if n.strip())
        if set(names) - set(RUNS):
            parser.error(f"unknown runs {sorted(set(names) - set(RUNS))}; choose from {list(RUNS)}")
    results = run(args.quick, names, args.seeds)
    if args.json:
        _common.write_json(args.json, results)
    failed = "error" in results["notebook"] or any(
        "error" in r or any("error" in f for f in r["fits"]) for r in results["runs"].values()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
