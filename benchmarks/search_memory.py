"""Searching epochs with ``memory``: wall time with the checkpoint cache / without it.

Two searches of ``make_pipeline(PixelScaler(), CNNClassifier(random_state=0))``
on the first CIFAR-10 training images, each run twice - without ``memory`` and
with a fresh cache directory - each run in its own process, timing
``search.fit`` alone (``n_jobs=1``, ``refit=False``: the searches, not a final
refit, which no cache shortens):

* ``GridSearchCV`` over filters {(16, 32), (32, 64)} x epochs {2, 4, 8},
  ``cv=3``, on 10,000 images: without the cache every candidate trains from
  scratch, 2 x (2 + 4 + 8) = 28 epochs per fold; with it each filter setting
  trains 8 epochs once per fold, the 4-epoch fit resuming the 2-epoch one and
  the 8-epoch fit the 4-epoch one (16): the epoch arithmetic allows
  16/28 = 48/84 = 0.57; the target is <= 0.65;
* ``HalvingGridSearchCV(resource="cnnclassifier__epochs", factor=2)`` over
  filters {(16, 32), (32, 64)} x dense units {32, 64} x learning rate {0.001,
  0.002}, from 1 to 8 epochs: with ``memory``, each halving iteration's fits
  resume those of the iteration before it.

Both runs of a search must give identical ``cv_results_`` test scores (the
resumed fits are the fits from scratch, bit for bit). Also reported: the size
of the cache on disk.

    python benchmarks/search_memory.py                          # the measurement (long)
    python benchmarks/search_memory.py --quick --json out.json  # smoke run, 600 images
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import _common

PREFIX = "cnnclassifier__"
TARGET = 0.65
SEARCHES = {
    "grid": {
        "full": {
            "n_images": 10_000,
            "grid": {"filters": [(16, 32), (32, 64)], "epochs": [2, 4, 8]},
        },
        "quick": {"n_images": 600, "grid": {"filters": [(4, 8), (8, 16)], "epochs": [1, 2, 4]}},
    },
    "halving": {
        "full": {
            "n_images": 10_000,
            "grid": {
                "filters": [(16, 32), (32, 64)],
                "dense_units": [32, 64],
                "learning_rate": [0.001, 0.002],
            },
            "epochs": (1, 8),
        },
        "quick": {
            "n_images": 600,
            "grid": {"filters": [(4, 8), (8, 16)], "dense_units": [8, 16]},
            "epochs": (1, 4),
        },
    },
}
CV = 3


def make_search(kind, config, memory):
    """The search object of ``kind`` ("grid" or "halving") for one run."""
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV
    from sklearn.pipeline import make_pipeline

    from skcifar import CNNClassifier, PixelScaler

    pipeline = make_pipeline(PixelScaler(), CNNClassifier(random_state=0, memory=memory))
    grid = {PREFIX + name: values for name, values in config["grid"].items()}
    if kind == "grid":
        return GridSearchCV(pipeline, grid, cv=CV, refit=False, n_jobs=1)
    low, high = config["epochs"]
    return HalvingGridSearchCV(
        pipeline, grid, resource=PREFIX + "epochs", min_resources=low, max_resources=high,
        factor=2, cv=CV, refit=False, n_jobs=1, random_state=0,
    )  # fmt: skip


def epochs_trained(cv_results, cached):
    """Epochs the search trains per fold: each candidate from scratch, or each run once.

    A run is a candidate's parameters but its epochs; with the cache it
    trains its largest epoch count once (the others are stages of it).
    """
    runs = {}
    total = 0
    candidates = cv_results["params"]
    resources = cv_results.get("n_resources", [None] * len(candidates))
    for params, resource in zip(candidates, resources, strict=True):
        epochs = int(params.get(PREFIX + "epochs", resource))
        run = json.dumps({k: v for k, v in params.items() if k != PREFIX + "epochs"}, default=str)
        runs[run] = max(runs.get(run, 0), epochs)
        total += epochs
    return sum(runs.values()) if cached else total


def child(kind, quick, memory, out):
    """One search, in this process: writes its seconds, scores and the cache's size."""
    from skcifar import load_data
    from skcifar.persistence import CheckpointCache

    config = SEARCHES[kind]["quick" if quick else "full"]
    (X, y), _ = load_data()
    X, y = X[: config["n_images"]], y[: config["n_images"]]
    search = make_search(kind, config, memory)
    start = time.perf_counter()
    search.fit(X, y)
    seconds = time.perf_counter() - start
    results = search.cv_results_
    scores = {
        name: [float(v) for v in values]
        for name, values in results.items()
        if name.startswith("split") and name.endswith("_test_score")
    }
    _common.write_json(
        out,
        {
            "seconds": seconds,
            "n_fits": len(results["params"]) * CV,
            "epochs_per_fold": epochs_trained(results, memory is not None),
            "scores": scores,
            "cache": CheckpointCache(memory).info() if memory else None,
        },
    )


def run(quick):
    """Both runs of both searches, each in a fresh process; the ratios and the checks."""
    report = {"quick": quick, "cv": CV, "target": TARGET}
    with tempfile.TemporaryDirectory(prefix="skcifar-search-memory-") as tmp:
        for kind in SEARCHES:
            config = SEARCHES[kind]["quick" if quick else "full"]
            runs = {}
            for label in ("without", "with"):
                out = Path(tmp) / f"{kind}-{label}.json"
                argv = [sys.executable, __file__, "--child", kind, "--json", str(out)]
                if label == "with":
                    argv += ["--memory", str(Path(tmp) / f"{kind}-cache")]
                if quick:
                    argv.append("--quick")
                print(f"{kind} search, {label} memory ...", flush=True)
                _common.run_child(argv)
                runs[label] = _common.read_json(out)
            report[kind] = {
                "n_images": config["n_images"],
                "grid": config["grid"],
                "epochs": config.get("epochs"),
                "without": runs["without"],
                "with": runs["with"],
                "ratio": runs["with"]["seconds"] / runs["without"]["seconds"],
                "epoch_ratio": runs["with"]["epochs_per_fold"] / runs["without"]["epochs_per_fold"],
                "identical_scores": runs["with"]["scores"] == runs["without"]["scores"],
            }
    return report


def summary(report):
    """The lines printed at the end (also what ``_report.py`` shows)."""
    lines = []
    for kind, name in (("grid", "GridSearchCV"), ("halving", "HalvingGridSearchCV")):
        r = report[kind]
        cache = r["with"]["cache"]
        lines.append(
            f"{name}, {r['n_images']} images, cv={report['cv']}, {r['without']['n_fits']} fits: "
            f"with memory / without = {r['ratio']:.3f} ({r['with']['seconds']:.1f} s / "
            f"{r['without']['seconds']:.1f} s; epoch arithmetic {r['with']['epochs_per_fold']}/"
            f"{r['without']['epochs_per_fold']} = {r['epoch_ratio']:.2f}); identical test scores: "
            f"{'yes' if r['identical_scores'] else 'NO'}; cache {cache['bytes'] / 1e6:.1f} MB in "
            f"{cache['checkpoints']} checkpoints"
        )
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="600 images, tiny networks")
    parser.add_argument("--json", metavar="PATH", help="write the results to this JSON file")
    parser.add_argument("--child", choices=list(SEARCHES), help=argparse.SUPPRESS)
    parser.add_argument("--memory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.quick, args.memory, args.json)
        return 0
    report = run(args.quick)
    for line in summary(report):
        print(line)
    ok = report["grid"]["ratio"] <= TARGET
    print(f"GridSearchCV target: ratio <= {TARGET}: {'met' if ok else 'NOT met'}")
    if args.json:
        _common.write_json(args.json, report)
    identical = all(report[kind]["identical_scores"] for kind in SEARCHES)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
