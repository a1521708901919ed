"""What the scikit-learn wrapper costs, side by side with raw Keras in one run.

* fit time: ``CNNClassifier(...).fit`` against ``model.fit`` of the identical
  network (``build_cnn`` with the same seed), data and epochs, alternating
  the two so that machine noise hits both alike (target ratio <= 1.03);
* predict throughput: ``predict_proba`` against ``model.predict`` (>= 0.97);
* peak RSS of fitting ``Pipeline(PixelScaler, CNNClassifier)`` on the full
  training set against the reference notebook's script (``X / 255.0`` in
  float64, ``cnn.fit``), each in a fresh process, one epoch each (<= 0.35).

    python benchmarks/wrapper_overhead.py            # 20,000 images, 2 epochs, 3 rounds
    python benchmarks/wrapper_overhead.py --quick
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import numpy as np

_NOTEBOOK = """
import tensorflow as tf
from tensorflow.keras import layers, models
from skcifar.datasets import load_data
(X_train, y_train), (X_test, y_test) = load_data()
X_train = X_train / 255.0
X_test = X_test / 255.0
cnn = models.Sequential([
    layers.Conv2D(filters=32, kernel_size=(3, 3), activation='relu', input_shape=(32, 32, 3)),
    layers.MaxPooling2D((2, 2)),
    layers.Conv2D(filters=64, kernel_size=(3, 3), activation='relu'),
    layers.MaxPooling2D((2, 2)),
    layers.Flatten(),
    layers.Dense(64, activation='relu'),
    layers.Dense(10, activation='softmax'),
])
cnn.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
cnn.fit(X_train, y_train, epochs=EPOCHS, verbose=0)
cnn.evaluate(X_test, y_test, verbose=0)
"""

_SKCIFAR = """
from sklearn.pipeline import make_pipeline
from skcifar import CNNClassifier, PixelScaler
from skcifar.datasets import load_data
(X_train, y_train), (X_test, y_test) = load_data()
model = make_pipeline(PixelScaler(), CNNClassifier(epochs=EPOCHS, random_state=0))
model.fit(X_train, y_train)
model.score(X_test, y_test)
"""


def _peak_rss_mb(code, epochs):
    """Run ``code`` in a fresh Python; return (its peak RSS in MB, wall seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code.replace("EPOCHS", str(epochs))], check=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the maximum over all children so far: run the
    # smaller one first (the caller does) or read it per process.
    return max(peak, before) / 1024, seconds


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def overhead(n_images, epochs, rounds):
    """Median fit-time and predict-throughput ratios, skcifar / raw Keras."""
    from skcifar import CNNClassifier
    from skcifar.architectures import build_cnn
    from skcifar.datasets import load_data

    (X, y), (X_test, _) = load_data()
    X = (X[:n_images] / np.float32(255)).astype(np.float32)
    y = y[:n_images]
    X_test = (X_test / np.float32(255)).astype(np.float32)
    fit_ratios, predict_ratios = [], []
    for _ in range(rounds):
        raw = build_cnn(seed=0)
        clf = CNNClassifier(epochs=epochs, random_state=0)
        t_raw = _timed(raw.fit, X, y, batch_size=32, epochs=epochs, verbose=0)
        t_skc = _timed(clf.fit, X, y)
        fit_ratios.append(t_skc / t_raw)
        p_raw = _timed(raw.predict, X_test, batch_size=32, verbose=0)
        p_skc = _timed(clf.predict_proba, X_test)
        predict_ratios.append(p_raw / p_skc)  # throughput ratio = inverse time ratio
        print(
            f"  round: fit {t_skc:.1f} s vs raw {t_raw:.1f} s; predict {p_skc:.2f} s vs "
            f"raw {p_raw:.2f} s",
            flush=True,
        )
    return float(np.median(fit_ratios)), float(np.median(predict_ratios))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 images, 1 epoch, 1 round")
    args = parser.parse_args()
    n_images, epochs, rounds = (5000, 1, 1) if args.quick else (20000, 2, 3)

    print(f"fit/predict overhead: {n_images} images, {epochs} epoch(s), {rounds} round(s)")
    fit_ratio, predict_ratio = overhead(n_images, epochs, rounds)
    print("peak RSS, full training set, 1 epoch, fresh processes:", flush=True)
    rss_skc, s_skc = _peak_rss_mb(_SKCIFAR, 1)
    rss_nb, s_nb = _peak_rss_mb(_NOTEBOOK, 1)
    print(
        f"  skcifar pipeline {rss_skc:.0f} MB ({s_skc:.0f} s), notebook {rss_nb:.0f} MB "
        f"({s_nb:.0f} s)"
    )
    print("\nmetric                                   value   target")
    print(f"fit time skcifar / raw Keras              {fit_ratio:5.3f}   <= 1.03")
    print(f"predict throughput skcifar / raw Keras    {predict_ratio:5.3f}   >= 0.97")
    print(f"peak RSS pipeline / notebook script       {rss_skc / rss_nb:5.3f}   <= 0.35")


if __name__ == "__main__":
    main()
