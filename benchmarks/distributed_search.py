"""Time one GridSearchCV locally (n_jobs=1), with joblib's loky processes (n_jobs=2) and
on a 2-worker Dask LocalCluster, and check that the cross-validation results agree.

Usage::

    python benchmarks/distributed_search.py            # ~5,000 images, cv=3: a few minutes
    python benchmarks/distributed_search.py --quick    # 600 images, cv=2: about a minute
    python benchmarks/distributed_search.py --no-dask --json out.json

The data comes from :func:`skcifar.datasets.load_data` (``SKCIFAR_DATA``, the data home,
...). The script prints its results and, with ``--json PATH``, writes them there
(the loader's usual array cache aside; Dask's scratch space is a temporary directory,
removed at the end). ``--no-dask`` skips the Dask cluster (the loky/local ratio,
``n_jobs=2`` wall time / ``n_jobs=1``, is the benchmark table's metric).

Grid: ``filters`` (16, 32) / (32, 64) x ``epochs`` 2 / 4 of
``Pipeline(PixelScaler, CNNClassifier(random_state=0))``, scored by accuracy and
log-loss, ``refit=False`` (a refit is one more local fit, the same in every mode).
Before the timed runs, TensorFlow is imported and one tiny untimed fit warms its
runtime up in this process, so that the local time does not include start-up costs that
a loky search pays anyway in its workers (whose start-up stays in the loky time).
The local run uses TensorFlow's default thread count (all cores, unless
``SKCIFAR_NUM_THREADS``/``OMP_NUM_THREADS`` say otherwise); loky and Dask workers use
cores // 2 each, so their scores match each other exactly, and the local ones only
approximately: a different thread count changes round-off, which training amplifies.
On a 2-core machine, ``SKCIFAR_NUM_THREADS=1 python benchmarks/distributed_search.py``
runs all three with one thread per fit, and all scores must then agree exactly.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import _common
import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skcifar import CNNClassifier, PixelScaler
from skcifar.datasets import load_data

METRICS = ("accuracy", "neg_log_loss")


def make_search(epochs, cv, n_jobs=None):
    return GridSearchCV(
        make_pipeline(PixelScaler(), CNNClassifier(random_state=0)),
        {"cnnclassifier__filters": [(16, 32), (32, 64)], "cnnclassifier__epochs": list(epochs)},
        cv=cv,
        scoring=list(METRICS),
        refit=False,
        n_jobs=n_jobs,
    )


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def compare(results, reference, cv):
    """Largest absolute difference of any split score, per metric; params must match."""
    if results["params"] != reference["params"]:
        return "different candidates"
    diffs = []
    for metric in METRICS:
        keys = [f"split{i}_test_{metric}" for i in range(cv)]
        diff = max(np.max(np.abs(results[k] - reference[k])) for k in keys)
        diffs.append(f"{metric} max|diff| {diff:.2g}")
    same_best = all(
        np.argmin(results[f"rank_test_{m}"]) == np.argmin(reference[f"rank_test_{m}"])
        for m in METRICS
    )
    return ", ".join(diffs) + (", same best" if same_best else ", DIFFERENT best")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="600 images, epochs 1/2, cv=2")
    parser.add_argument("--n-images", type=int, default=None, help="training images to use")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster")
    parser.add_argument("--json", metavar="PATH", help="write the results to this JSON file")
    args = parser.parse_args()
    n_images, epochs, cv = (600, (1, 2), 2) if args.quick else (5000, (2, 4), 3)
    n_images = args.n_images or n_images

    (X, y), _ = load_data()
    X, y = np.ascontiguousarray(X[:n_images]), np.ascontiguousarray(y[:n_images])
    n_fits = 4 * cv
    print(
        f"{n_images} images ({X.nbytes / 1e6:.1f} MB), 4 candidates x cv={cv} = {n_fits} fits, "
        f"epochs {epochs}, {os.cpu_count()} CPUs"
    )

    # Untimed warm-up: TensorFlow import and runtime start in this process.
    _, warmup_s = timed(
        lambda: make_pipeline(PixelScaler(), CNNClassifier(filters=(16, 32), epochs=1)).fit(
            X[:256], y[:256]
        )
    )
    runs = {}
    search, seconds = timed(lambda: make_search(epochs, cv, n_jobs=1).fit(X, y))
    import tensorflow as tf  # already imported (and configured) by the fits

    local_threads = tf.config.threading.get_intra_op_parallelism_threads() or "default"
    runs["local n_jobs=1"] = (search.cv_results_, seconds, f"TF threads {local_threads}")
    # loky: worker start-up and TensorFlow import happen inside the search.
    search, seconds = timed(lambda: make_search(epochs, cv, n_jobs=2).fit(X, y))
    runs["loky n_jobs=2"] = (search.cv_results_, seconds, "incl. worker start")

    if not args.no_dask:
        from distributed import Client, LocalCluster

        from skcifar.distributed import dask_search_backend, limit_worker_threads

        saved_env = dict(os.environ)  # the nanny sets OMP_NUM_THREADS=1 etc. in this process
        with tempfile.TemporaryDirectory(prefix="dask-") as scratch:
            start = time.perf_counter()
            with (
                LocalCluster(
                    n_workers=2,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    local_directory=scratch,
                ) as cluster,
                Client(cluster) as client,
            ):
                cluster_s = time.perf_counter() - start
                threads, prepare_s = timed(lambda: limit_worker_threads(client))
                start = time.perf_counter()
                with dask_search_backend(client, scatter=[X, y]):
                    scatter_s = time.perf_counter() - start  # includes a (no-op) prepare again
                    search, seconds = timed(lambda: make_search(epochs, cv).fit(X, y))
            os.environ.clear()
            os.environ.update(saved_env)
        runs["dask 2 workers"] = (
            search.cv_results_,
            seconds,
            f"+ cluster start {cluster_s:.1f} s, limit_worker_threads {prepare_s:.1f} s "
            f"(TF threads {sorted(threads.values())}), scatter {scatter_s:.2f} s",
        )

    reference = runs["local n_jobs=1"][0]
    loky = runs["loky n_jobs=2"][0]
    print(f"\n{'mode':<16} {'search s':>9}  {'best acc':>8}  notes")
    for name, (results, seconds, notes) in runs.items():
        best = np.max(results["mean_test_accuracy"])
        print(f"{name:<16} {seconds:9.1f}  {best:8.3f}  {notes}")
    print("\nagreement of the cross-validation results (all split scores):")
    agreement = {"loky vs local": compare(loky, reference, cv)}
    if "dask 2 workers" in runs:
        agreement["dask vs local"] = compare(runs["dask 2 workers"][0], reference, cv)
        agreement["dask vs loky"] = compare(runs["dask 2 workers"][0], loky, cv)
    for name, text in agreement.items():
        print(f"  {name}: {text}")
    ratio = runs["loky n_jobs=2"][1] / runs["local n_jobs=1"][1]
    print(
        f"\nsearch wall time n_jobs=2 / n_jobs=1 on {os.cpu_count()} CPUs: {ratio:.3f} "
        "(target <= 1.0)"
    )
    if args.json:
        _common.write_json(
            args.json,
            {
                "quick": args.quick,
                "n_images": n_images,
                "epochs": list(epochs),
                "cv": cv,
                "n_fits": n_fits,
                "cpus": os.cpu_count(),
                "local_tf_threads": local_threads,
                "warmup_seconds": warmup_s,
                "modes": {
                    name: {
                        "seconds": seconds,
                        "best_accuracy": float(np.max(results["mean_test_accuracy"])),
                        "notes": notes,
                    }
                    for name, (results, seconds, notes) in runs.items()
                },
                "agreement": agreement,
                "n_jobs2_over_n_jobs1": ratio,
            },
        )


if __name__ == "__main__":
    main()
