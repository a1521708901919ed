"""Inference speed of one fitted pipeline three ways: predict_proba, ONNX Runtime, SavedModel.

A ``Pipeline(PixelScaler(), classifier)`` is fitted briefly (the speed of
inference does not depend on how well the weights are trained), exported with
:func:`skcifar.export` to ONNX and to a SavedModel, and each runtime classifies
test images at batch 1 (one image per call: a request at a time) and batch
256 (throughput). Reported: images per second, the best of ``--rounds``
rounds, each round timing the three runtimes in turn (so machine noise hits all
three alike); and the largest absolute difference of the exported
probabilities from ``predict_proba``.

    python benchmarks/export_speed.py                 # CNN and ResNet, 200 / 10,000 images
    python benchmarks/export_speed.py --quick         # smoke run: tiny networks, few images
    python benchmarks/export_speed.py --models cnn --json out.json
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import _common
import numpy as np

BATCHES = (1, 256)


def _pipeline(name, quick):
    from sklearn.pipeline import make_pipeline

    from skcifar import ANNClassifier, CNNClassifier, PixelScaler, ResNetClassifier

    if name == "ann":
        clf = ANNClassifier(hidden_layer_sizes=(64,) if quick else (3000, 1000), epochs=1)
    elif name == "cnn":
        clf = CNNClassifier(filters=(8, 16) if quick else (32, 64), epochs=1)
    else:
        small = {"widths": (8, 16, 16), "stem_filters": 8} if quick else {}
        clf = ResNetClassifier(epochs=1, precision="float32", **small)
    return make_pipeline(PixelScaler(), clf.set_params(random_state=0))


def _runtimes(pipeline, directory):
    import onnxruntime
    import tensorflow as tf

    import skcifar

    skcifar.export(pipeline, os.path.join(directory, "model.onnx"))
    skcifar.export(pipeline, os.path.join(directory, "model"), format="savedmodel")
    session = onnxruntime.InferenceSession(
        os.path.join(directory, "model.onnx"), providers=["CPUExecutionProvider"]
    )
    saved = tf.saved_model.load(os.path.join(directory, "model"))
    return {
        "predict_proba": pipeline.predict_proba,
        "onnxruntime": lambda X: session.run(["probabilities"], {"images": X})[0],
        "savedmodel": lambda X: saved.serve(X)["probabilities"].numpy(),
        "_keep": saved,
    }


def _seconds(run, X, batch):
    start = time.perf_counter()
    for first in range(0, len(X), batch):
        run(X[first : first + batch])
    return time.perf_counter() - start


def measure(name, X_train, y_train, X_test, n_images, rounds, quick):
    pipeline = _pipeline(name, quick).fit(X_train, y_train)
    with tempfile.TemporaryDirectory(prefix="skcifar-export-") as directory:
        runtimes = _runtimes(pipeline, directory)
        expected = pipeline.predict_proba(X_test[:1000])
        result = {"model": name, "max_abs_diff": {}, "images_per_second": {}}
        for runtime in ("onnxruntime", "savedmodel"):
            diff = np.abs(runtimes[runtime](X_test[:1000]) - expected).max()
            result["max_abs_diff"][runtime] = float(diff)
        for batch in BATCHES:
            X = X_test[: n_images[batch]]
            best = {}
            for runtime in ("predict_proba", "onnxruntime", "savedmodel"):
                _seconds(runtimes[runtime], X[: min(len(X), 2 * batch)], batch)  # warm-up
            for _ in range(rounds):
                for runtime in ("predict_proba", "onnxruntime", "savedmodel"):
                    seconds = _seconds(runtimes[runtime], X, batch)
                    best[runtime] = min(best.get(runtime, np.inf), seconds)
            result["images_per_second"][str(batch)] = {
                runtime: len(X) / seconds for runtime, seconds in best.items()
            }
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny networks, 64/512 images")
    parser.add_argument("--models", default="cnn,resnet", help="comma-separated: ann,cnn,resnet")
    parser.add_argument("--rounds", type=int, help="timed rounds (default 3; quick 1)")
    parser.add_argument("--json", metavar="PATH", help="write the results to this JSON file")
    args = parser.parse_args()
    from skcifar.datasets import load_data

    (X_train, y_train), (X_test, _) = load_data()
    n_fit = 1000 if args.quick else 5000
    # batch 1: 200 one-image calls (predict_proba's per-call cost makes 1,000 take minutes)
    n_images = {1: 64, 256: 512} if args.quick else {1: 200, 256: len(X_test)}
    rounds = args.rounds or (1 if args.quick else 3)
    results = {"quick": args.quick, "rounds": rounds, "n_images": n_images, "models": []}
    print("images/s (best of rounds)  batch  predict_proba  onnxruntime  savedmodel")
    for name in args.models.split(","):
        result = measure(
            name, X_train[:n_fit], y_train[:n_fit], X_test, n_images, rounds, args.quick
        )
        results["models"].append(result)
        for batch, speeds in result["images_per_second"].items():
            print(
                f"{name:<26} {batch:>5}  {speeds['predict_proba']:13.0f}  "
                f"{speeds['onnxruntime']:11.0f}  {speeds['savedmodel']:10.0f}"
            )
        diffs = result["max_abs_diff"]
        print(
            f"{name:<26} max |diff| from predict_proba: onnxruntime {diffs['onnxruntime']:.1e}, "
            f"savedmodel {diffs['savedmodel']:.1e}",
            flush=True,
        )
    if args.json:
        _common.write_json(args.json, results)


if __name__ == "__main__":
    main()
