"""Training speed of the recipe's network on Keras' TensorFlow, torch and JAX backends.

Keras alone, without skcifar's estimator around it (``backend_results.py``
fits the estimator itself on each backend). This measures which Keras backend
trains the same network fastest on this machine: the network of
``ResNetClassifier()``'s defaults (2x2 stem of 24 filters, widths 64/256/256, each
stage conv -> max-pool -> batch norm -> ReLU -> conv -> batch norm -> ReLU,
global max pooling, a dense head), written with Keras' own layers only so that
every backend runs identical code, trained with Nesterov SGD on random images
at the recipe's batch of 1,024. skcifar's custom pieces (whitening layer,
in-graph augmentation, Muon) are left out: they cost little next to the
convolutions, and leaving them out times each backend's Keras alone.

Each backend runs in a fresh process (``KERAS_BACKEND`` is read at import),
the rounds alternate between them (so machine noise hits both alike), and a
round times ``--steps`` training steps after two untimed ones (which build,
trace, and let ``torch.compile`` recompile once). Reported:
images/s, the best round of each, and the device each backend ran on (the
GPU's name where the backend found one). torch and JAX are not dependencies of
skcifar: a backend that is not installed is reported as such, and one whose
worker fails is reported with the error's last line.

By default the CPU rows run (TensorFlow, torch channels-last and -first). Also
available: ``tensorflow-xla`` (``jit_compile=True``: XLA-compiled steps, which
Keras leaves off on a CPU), ``jax`` (jit-compiled, as Keras does by default on
JAX) and ``torch-compiled`` (``jit_compile=True``, i.e. ``torch.compile``).
``--widths 32,64,128 --batch 512`` times the 1x run's network instead. On a GPU
machine without TensorFlow, for example::

    python benchmarks/backend_speed.py --backends jax,torch,torch-compiled \
        --dtype-policy mixed_bfloat16 --steps 50

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

# name -> (KERAS_BACKEND, Keras image data format, jit_compile)
BACKENDS = {
    "tensorflow": ("tensorflow", "channels_last", "auto"),  # "auto": no XLA on a CPU
    "tensorflow-xla": ("tensorflow", "channels_last", True),
    "torch": ("torch", "channels_last", "auto"),
    "torch-channels-first": ("torch", "channels_first", "auto"),
    "torch-compiled": ("torch", "channels_last", True),
    "jax": ("jax", "channels_last", "auto"),
}
DEFAULT_BACKENDS = ("tensorflow", "torch", "torch-channels-first")
DTYPE_POLICIES = ("float32", "mixed_bfloat16")
DEFAULT_WIDTHS, DEFAULT_BATCH = (64, 256, 256), 1024  # ResNetClassifier()'s network


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


def _device(backend):
    """The accelerator ``backend`` computes on: its name, or "cpu"."""
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return "cpu" if device.platform == "cpu" else device.device_kind
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return (
        tf.config.experimental.get_device_details(gpus[0]).get("device_name", "gpu")
        if gpus
        else "cpu"
    )


def worker(name, quick, steps, dtype_policy="float32", widths=DEFAULT_WIDTHS, batch=DEFAULT_BATCH):
    """In a fresh process: time ``steps`` training steps (one round); print JSON."""
    import time

    import numpy as np

    backend, data_format, jit_compile = BACKENDS[name]
    if backend == "torch":
        import torch

        torch.set_num_threads(os.cpu_count())  # as many threads as TensorFlow uses
    import keras

    keras.config.set_image_data_format(data_format)
    keras.config.set_dtype_policy(dtype_policy)
    widths, stem, batch = ((8, 16, 16), 8, 64) if quick else (widths, 24, batch)
    model = build(keras, widths, stem)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.85, nesterov=True),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    rng = np.random.RandomState(0)
    shape = (batch, 3, 32, 32) if data_format == "channels_first" else (batch, 32, 32, 3)
    # On the backend's device once, so that the rounds time training, not copies
    X = keras.ops.convert_to_tensor(rng.standard_normal(shape).astype("float32"))
    y = keras.ops.convert_to_tensor(rng.randint(0, 10, batch))
    for _ in range(2):  # builds and traces (torch.compile: recompiles once); untimed
        model.train_on_batch(X, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(X, y)  # returns the loss as numbers: each step ends on the host
    seconds = time.perf_counter() - start
    print(json.dumps({"images_per_second": batch * steps / seconds, "device": _device(backend)}))


def _widths(text):
    """``--widths``: three positive integers, comma-separated."""
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        widths = ()
    if len(widths) != 3 or min(widths) < 1:
        raise argparse.ArgumentTypeError(
            f"expected three positive integers like 64,256,256; got {text!r}"
        )
    return widths


def _positive_int(text):
    """``--batch``, ``--steps``, ``--rounds``: a positive integer."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def _available(backend):
    return importlib.util.find_spec(backend) is not None


def measure(
    names, quick, steps, rounds, dtype_policy="float32", widths=DEFAULT_WIDTHS, batch=DEFAULT_BATCH
):
    """Images/s of each backend: the best of ``rounds`` alternating rounds."""
    results = {}
    for _ in range(rounds):
        for name in names:
            backend = BACKENDS[name][0]
            if {"skipped", "failed"} & set(results.get(name, {})):
                continue  # a backend skipped or failed is not tried again
            if not _available(backend):
                results[name] = {"skipped": f"{backend} is not installed"}
                continue
            argv = [sys.executable, __file__, "--worker", name, "--steps", str(steps)]
            argv += ["--dtype-policy", dtype_policy] + (["--quick"] if quick else [])
            argv += ["--widths", ",".join(map(str, widths)), "--batch", str(batch)]
            env = _common.child_env(KERAS_BACKEND=backend)
            out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                lines = out.stderr.strip().splitlines() or [f"exit status {out.returncode}"]
                results[name] = {"failed": lines[-1]}
                continue
            report = json.loads(out.stdout.strip().splitlines()[-1])
            speed = report["images_per_second"]
            best = results.setdefault(
                name, {"images_per_second": 0.0, "rounds": [], "device": report["device"]}
            )
            best["rounds"].append(round(speed, 1))
            best["images_per_second"] = max(best["images_per_second"], speed)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny network, 2 steps, 1 round")
    parser.add_argument("--steps", type=_positive_int, help="timed steps per round (default 10)")
    parser.add_argument("--rounds", type=_positive_int, help="rounds per backend (default 3)")
    parser.add_argument(
        "--backends",
        default=",".join(DEFAULT_BACKENDS),
        help=f"comma-separated, from {', '.join(BACKENDS)} (default {','.join(DEFAULT_BACKENDS)})",
    )
    parser.add_argument(
        "--dtype-policy", choices=DTYPE_POLICIES, default="float32", help="Keras dtype policy"
    )
    parser.add_argument(
        "--widths",
        type=_widths,
        default=DEFAULT_WIDTHS,
        help="the three stage widths, comma-separated (default 64,256,256)",
    )
    parser.add_argument(
        "--batch", type=_positive_int, default=DEFAULT_BATCH, help="images per step (default 1024)"
    )
    parser.add_argument("--worker", choices=sorted(BACKENDS), help=argparse.SUPPRESS)
    parser.add_argument("--json", metavar="PATH", help="write the results to this JSON file")
    args = parser.parse_args(argv)
    steps = args.steps or (2 if args.quick else 10)
    rounds = args.rounds or (1 if args.quick else 3)
    if args.worker:
        worker(args.worker, args.quick, steps, args.dtype_policy, args.widths, args.batch)
        return 0
    names = args.backends.split(",")
    if set(names) - set(BACKENDS):
        parser.error(
            f"unknown backends {sorted(set(names) - set(BACKENDS))}; choose from {list(BACKENDS)}"
        )
    results = measure(names, args.quick, steps, rounds, args.dtype_policy, args.widths, args.batch)
    reference = results.get("tensorflow", {}).get("images_per_second")
    for name, row in results.items():
        if "images_per_second" not in row:
            status = "skipped" if "skipped" in row else "FAILED"
            print(f"{name:<22} {status}: {row.get('skipped') or row['failed']}")
            continue
        ratio = f"  {row['images_per_second'] / reference:.2f}x TensorFlow" if reference else ""
        print(
            f"{name:<22} {row['images_per_second']:8.0f} images/s{ratio}  on {row['device']}"
            f"  rounds {row['rounds']}"
        )
    if args.json:
        summary = {"quick": args.quick, "steps": steps, "dtype_policy": args.dtype_policy}
        summary.update(widths=list(args.widths), batch=args.batch)
        _common.write_json(args.json, dict(summary, backends=results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
