"""skcifar.save/load against skops.io.dump/load: file size, seconds, what each refuses.

Two models: a small CNN pipeline fitted for one epoch on 512 CIFAR-shaped
images, and the default ResNetClassifier fitted for one epoch on 64 of them.
Seconds are the median of 5 runs, printed with lscpu's CPU model. Then four crafted files per
format: a network with a ``Lambda`` layer, a ``memory`` path, an array
declaring 4 GiB, and a type outside skcifar's. Needs skops::

    python benchmarks/persistence_formats.py
"""

from __future__ import annotations

import io
import json
import os
import statistics
import tempfile
import time
import tracemalloc
import warnings
import zipfile

import _common
import numpy as np
import skops.io as sio
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import skcifar
from skcifar import CNNClassifier, PixelScaler, ResNetClassifier
from skcifar.persistence import SKOPS_TRUSTED_TYPES

REPEATS = 5
HUGE = (2**29,)  # float64: 4 GiB declared


def skops_save(model, path):
    sio.dump(model, path)


def skops_load(path):
    return sio.load(path, trusted=SKOPS_TRUSTED_TYPES)


FORMATS = {"skcifar": (skcifar.save, skcifar.load), "skops": (skops_save, skops_load)}


def median_seconds(call):
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def models():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (512, 32, 32, 3), dtype=np.uint8)
    y = np.arange(512) % 10
    cnn = make_pipeline(PixelScaler(), CNNClassifier(epochs=1, random_state=0)).fit(X, y)
    resnet = ResNetClassifier(epochs=1, random_state=0).fit(X[:64] / 255.0, y[:64])
    return {"CNN pipeline (1 epoch)": cnn, "ResNetClassifier() (1 epoch, 64 images)": resnet}


def measure(tmpdir):
    rows = []
    for name, model in models().items():
        for fmt, (save, load) in FORMATS.items():
            path = os.path.join(tmpdir, f"m.{fmt}")
            rows.append(
                {
                    "model": name,
                    "format": fmt,
                    "save_s": median_seconds(lambda: save(model, path)),  # noqa: B023
                    "load_s": median_seconds(lambda: load(path)),  # noqa: B023
                    "bytes": os.path.getsize(path),
                }
            )
    return rows


def _replace(path, dst, edit):
    """Copy zip ``path`` to ``dst``, each member's bytes passed through ``edit(name, data)``."""
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, edit(info.filename, zin.read(info)))
    return dst


def _huge_npy(name, data):
    if not name.endswith(".npy"):
        return data
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": HUGE}
    )
    return header.getvalue() + data[-64:]


def crafted(tmpdir):
    """``{case: {format: path}}``: the four crafted files of each format."""
    import keras

    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 256, (30, 8, 8, 3), dtype=np.uint8), np.arange(30) % 3
    small = make_pipeline(
        PixelScaler(standardize=True), CNNClassifier(filters=(4,), dense_units=8, epochs=1)
    ).fit(X, y)
    files = {fmt: os.path.join(tmpdir, f"small.{fmt}") for fmt in FORMATS}
    for fmt, (save, _) in FORMATS.items():
        save(small, files[fmt])
    evil = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Lambda(lambda x: x * 2.0)])
    evil.add(keras.layers.Flatten())
    evil.add(keras.layers.Dense(3, activation="softmax"))
    evil_path = os.path.join(tmpdir, "evil.keras")
    evil.save(evil_path)
    with open(evil_path, "rb") as file:
        evil = file.read()

    def lambda_network(name, data):
        return evil if data.startswith(b"PK") or name.endswith(".keras") else data

    def manifest(edit):
        def apply(name, data):
            return json.dumps(edit(json.loads(data))).encode() if name == "manifest.json" else data

        return apply

    def set_memory(tree):
        tree["estimator"]["steps"][1]["estimator"]["params"]["memory"] = "/tmp/somewhere"
        return tree

    def unknown_class(tree):
        tree["estimator"]["steps"][0]["estimator"]["class"] = "FunctionTransformer"
        return tree

    cases = {"Lambda layer": {}, "memory path": {}, "4 GiB array": {}, "unknown type": {}}
    for fmt in FORMATS:
        out = os.path.join(tmpdir, f"%s.{fmt}")
        cases["Lambda layer"][fmt] = _replace(files[fmt], out % "lambda", lambda_network)
        cases["4 GiB array"][fmt] = _replace(files[fmt], out % "huge", _huge_npy)
    cases["memory path"]["skcifar"] = _replace(
        files["skcifar"], os.path.join(tmpdir, "memory.skcifar"), manifest(set_memory)
    )
    with_memory = make_pipeline(*[step for _, step in small.steps])
    with_memory.steps[1][1].memory = "/tmp/somewhere"
    cases["memory path"]["skops"] = os.path.join(tmpdir, "memory.skops")
    sio.dump(with_memory, cases["memory path"]["skops"])
    cases["unknown type"]["skcifar"] = _replace(
        files["skcifar"], os.path.join(tmpdir, "unknown.skcifar"), manifest(unknown_class)
    )
    cases["unknown type"]["skops"] = os.path.join(tmpdir, "unknown.skops")
    sio.dump(make_pipeline(FunctionTransformer(print), small[-1]), cases["unknown type"]["skops"])
    return cases


def outcome(load, path):
    """What loading ``path`` did, in words, with the peak of Python memory it took."""
    tracemalloc.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = load(path)
        memory = model.steps[-1][1].memory
        said = [str(w.message)[:80] for w in caught if issubclass(w.category, UserWarning)]
        result = f"loaded, classifier memory={memory!r}" + (f"; warned: {said[0]}" if said else "")
    except Exception as exc:
        result = f"refused: {type(exc).__name__}: {str(exc)[:160]}"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return f"{result} (peak {peak / 2**20:.0f} MiB)"


def main():
    print(f"CPU: {_common.cpu_model()}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmpdir:
        for row in measure(tmpdir):
            print(
                f"{row['model']:34} {row['format']:8} {row['bytes'] / 2**20:8.2f} MiB  "
                f"save {row['save_s']:.3f} s  load {row['load_s']:.3f} s"
            )
        for case, paths in crafted(tmpdir).items():
            for fmt, path in paths.items():
                print(f"{case:14} {fmt:8} {outcome(FORMATS[fmt][1], path)}")


if __name__ == "__main__":
    main()
