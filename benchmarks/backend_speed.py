"""Training speed of the recipe's network on Keras' TensorFlow and torch backends, side by side.

skcifar trains on TensorFlow. This measures whether Keras' torch backend would
train the same network faster on this CPU: the 6x/12x network of
``accuracy_budget.RECIPE`` (2x2 stem of 24 filters, widths 64/256/256, each
stage conv -> max-pool -> batch norm -> ReLU -> conv -> batch norm -> ReLU,
global max pooling, a dense head), written with Keras' own layers only so that
both backends run identical code, trained with Nesterov SGD on random images
at the recipe's batch of 1,024. skcifar's custom pieces (whitening layer,
in-graph augmentation, Muon) are left out: they are TensorFlow code and cost
little next to the convolutions.

Each backend runs in a fresh process (``KERAS_BACKEND`` is read at import),
the rounds alternate between them (so machine noise hits both alike), and a
round times ``--steps`` training steps after one untimed step. Reported:
images/s, the best round of each. torch is not a dependency of skcifar:
without it installed the torch rows say so (``pip install torch``).

    python benchmarks/backend_speed.py
    python benchmarks/backend_speed.py --quick        # smoke run: tiny network, 2 steps
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys

import _common

# name -> (KERAS_BACKEND, Keras image data format)
BACKENDS = {
    "tensorflow": ("tensorflow", "channels_last"),
    "torch": ("torch", "channels_last"),
    "torch-channels-first": ("torch", "channels_first"),
}


def build(keras, widths, stem_filters, n_classes=10):
    """The recipe's network from Keras layers alone (no skcifar code)."""
    layers = keras.layers
    channels_first = keras.config.image_data_format() == "channels_first"
    inputs = keras.Input(shape=(3, 32, 32) if channels_first else (32, 32, 3))
    x = layers.Conv2D(stem_filters, 2, activation="relu")(inputs)
    axis = 1 if channels_first else -1
    for filters in widths:
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.ReLU()(layers.BatchNormalization(axis=axis, scale=False, momentum=0.6)(x))
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization(axis=axis, scale=False, momentum=0.6)(x))
    x = layers.GlobalMaxPooling2D()(x)
    outputs = layers.Dense(n_classes, use_bias=False)(x)
    return keras.Model(inputs, outputs)


def worker(name, quick, steps):
    """In a fresh process: time ``steps`` training steps (one round); print JSON."""
    import time

    import numpy as np

    backend, data_format = BACKENDS[name]
    if backend == "torch":
        import torch

        torch.set_num_threads(os.cpu_count())  # as many threads as TensorFlow uses
    import keras

    keras.config.set_image_data_format(data_format)
    widths, stem, batch = ((8, 16, 16), 8, 64) if quick else ((64, 256, 256), 24, 1024)
    model = build(keras, widths, stem)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.85, nesterov=True),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.RandomState(0)
    shape = (batch, 3, 32, 32) if data_format == "channels_first" else (batch, 32, 32, 3)
    X = rng.standard_normal(shape).astype("float32")
    y = rng.randint(0, 10, batch)
    model.train_on_batch(X, y)  # builds and traces; untimed
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(X, y)
    print(json.dumps({"images_per_second": batch * steps / (time.perf_counter() - start)}))


def _available(backend):
    return importlib.util.find_spec(backend) is not None


def measure(names, quick, steps, rounds):
    """Images/s of each backend: the best of ``rounds`` alternating rounds."""
    results = {}
    for _ in range(rounds):
        for name in names:
            backend = BACKENDS[name][0]
            if not _available(backend):
                results[name] = {"skipped": f"{backend} is not installed"}
                continue
            argv = [sys.executable, __file__, "--worker", name, "--steps", str(steps)]
            argv += ["--quick"] if quick else []
            env = _common.child_env(KERAS_BACKEND=backend)
            out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
            speed = json.loads(out.stdout.strip().splitlines()[-1])["images_per_second"]
            best = results.setdefault(name, {"images_per_second": 0.0, "rounds": []})
            best["rounds"].append(round(speed, 1))
            best["images_per_second"] = max(best["images_per_second"], speed)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny network, 2 steps, 1 round")
    parser.add_argument("--steps", type=int, help="timed steps per round (default 10)")
    parser.add_argument("--rounds", type=int, help="rounds per backend (default 3)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated")
    parser.add_argument("--worker", choices=sorted(BACKENDS), help=argparse.SUPPRESS)
    parser.add_argument("--json", metavar="PATH", help="write the results to this JSON file")
    args = parser.parse_args(argv)
    steps = args.steps or (2 if args.quick else 10)
    rounds = args.rounds or (1 if args.quick else 3)
    if args.worker:
        worker(args.worker, args.quick, steps)
        return 0
    results = measure(args.backends.split(","), args.quick, steps, rounds)
    reference = results.get("tensorflow", {}).get("images_per_second")
    for name, row in results.items():
        if "skipped" in row:
            print(f"{name:<22} skipped: {row['skipped']}")
            continue
        ratio = f"  {row['images_per_second'] / reference:.2f}x TensorFlow" if reference else ""
        print(f"{name:<22} {row['images_per_second']:8.0f} images/s{ratio}  rounds {row['rounds']}")
    if args.json:
        _common.write_json(args.json, {"quick": args.quick, "steps": steps, "backends": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
