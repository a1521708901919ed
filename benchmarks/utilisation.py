"""Training speed against this machine's convolution peak, measured in one run.

1. The peak: 3x3 convolutions of 256 images, in bfloat16 and in float32, best of
   ``REPEATS`` timings each (TensorFlow, the threads skcifar uses), at
   ``PEAK_SHAPE`` (15x15x64 to 256 channels, the default ResNet's costliest
   layer) and at every other 3x3 layer shape of the networks measured. The
   peak of a precision is its fastest shape: one shape alone can read below
   what the whole network reaches.
2. Training: ``ResNetClassifier(**config).fit`` on random images, timing every
   step after the first ``WARMUP_STEPS``, batches gathered and augmented as in a
   real fit. Images/s is the batch size over the median step time; images per
   CPU-second (all threads' time) is less disturbed by other processes.
3. FLOPs: counted from the built network (every convolution and dense layer,
   multiply-adds counted as 2), forward per image; a training step costs about 3
   forward passes (the backward pass computes two products per layer).

Utilisation is training GFLOP/s over the peak of the precision the network
computes in (``precision="auto"``: :func:`skcifar.architectures.resolve_precision`)
and, for the record, over the bfloat16 peak. ``make bench`` measures the network
of its 6x and 12x runs only (``--networks recipe``: ``ResNetClassifier``'s
defaults).

``--threads`` instead compares TensorFlow thread settings (intra-op,
inter-op; 0 is TensorFlow's default), each in a fresh process.

    python benchmarks/utilisation.py                  # every network of CONFIGS
    python benchmarks/utilisation.py --networks recipe
    python benchmarks/utilisation.py --threads 0,0 2,1 2,2 1,1 3,1
    python benchmarks/utilisation.py --quick          # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import _common
import numpy as np
from _common import training_speed
from _configs import NETWORKS as CONFIGS

REPEATS = 10
PEAK_SHAPE = dict(batch=256, size=15, channels_in=64, channels_out=256)


def conv_peak(dtype, *, batch, size, channels_in, channels_out, repeats=REPEATS):
    """GFLOP/s of the best of ``repeats`` timings of one 3x3 convolution.

    Timed as ``precision="auto"`` times its own probe
    (:func:`skcifar.architectures.bfloat16_speedup`), at this shape.
    """
    from skcifar.architectures import convolution_seconds

    rng = np.random.RandomState(0)
    x = rng.standard_normal((batch, size, size, channels_in)).astype("f4")
    kernel = rng.standard_normal((3, 3, channels_in, channels_out)).astype("f4")
    seconds = convolution_seconds(x, kernel, dtype, repeats)
    return 2 * batch * size * size * channels_in * channels_out * 9 / seconds / 1e9


def run(quick, networks=None):
    from skcifar.architectures import bfloat16_runs, bfloat16_speedup, resolve_precision
    from skcifar.utils.backend import configure_threads

    configure_threads()
    first = dict(PEAK_SHAPE, batch=32) if quick else PEAK_SHAPE
    repeats = 2 if quick else REPEATS
    # Where the backend cannot compute bfloat16 (oneDNN held to AVX2), float32 only.
    dtypes = ("bfloat16", "float32") if bfloat16_runs() else ("float32",)
    probes = {}  # shape's values -> {"shape", "gflops": {dtype: GFLOP/s}}

    def probe(shape):
        key = tuple(shape.values())
        if key not in probes:
            gflops = {dtype: conv_peak(dtype, **shape, repeats=repeats) for dtype in dtypes}
            probes[key] = {"shape": shape, "gflops": gflops}
            print(json.dumps({"probe": probes[key]}), flush=True)

    probe(first)
    result = {
        "bfloat16_speedup_probe": bfloat16_speedup(),
        "auto_policy": resolve_precision("auto"),
        "networks": {},
    }
    configs = {"quick": dict(widths=(8, 16), batch_size=64)} if quick else CONFIGS
    if networks and not quick:
        configs = {name: CONFIGS[name] for name in networks}
    for name, params in configs.items():
        speed = training_speed(params, n_images=1024 if quick else 8192, probe_batch=first["batch"])
        for shape in speed["conv_shapes"]:
            probe(shape)
        gflops = 3 * speed["forward_mflop_per_image"] * speed["images_per_second"] / 1e3
        result["networks"][name] = {"params": params, **speed, "training_gflops": gflops}
        print(json.dumps({name: result["networks"][name]}), flush=True)
    # Each precision's peak: its fastest shape
    peaks = {dtype: max(p["gflops"][dtype] for p in probes.values()) for dtype in dtypes}
    result.update(peak_gflops=peaks, probes=list(probes.values()))
    for net in result["networks"].values():
        own = "bfloat16" if net["compute_dtype"] == "bfloat16" else "float32"
        net["utilisation"] = net["training_gflops"] / peaks[own]
        if "bfloat16" in peaks:
            net["utilisation_of_bfloat16_peak"] = net["training_gflops"] / peaks["bfloat16"]
    return result


# The environment variables of skcifar's thread budget (see docs/distributed.rst).
THREAD_BUDGET_VARIABLES = ("SKCIFAR_NUM_THREADS", "OMP_NUM_THREADS")
# The networks of the thread comparison.
THREAD_CONFIGS = {
    "widths-32-64-128-relu-b256": dict(widths=(32, 64, 128), batch_size=256, precision="float32"),
    "default-widths-gelu-b1024": dict(activation="gelu", precision="float32"),
}


def threads_child(intra, inter, quick):
    """Training speeds under one thread setting (runs in a fresh process).

    Its environment holds no thread budget (:func:`compare_threads`), so
    skcifar leaves TensorFlow's threads as set here.
    """
    from skcifar.utils.backend import import_tensorflow

    tf = import_tensorflow()
    if intra:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
    if inter:
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    configs = {"quick": dict(widths=(8, 16), batch_size=64)} if quick else THREAD_CONFIGS
    result = {"intra_op": intra, "inter_op": inter}
    for name, params in configs.items():
        speed = training_speed(params, n_images=1024 if quick else 8192)
        result[name] = {k: speed[k] for k in ("images_per_second", "images_per_cpu_second")}
    print(json.dumps(result), flush=True)


def compare_threads(settings, quick):
    """One fresh process per ``(intra, inter)`` setting; their results in order.

    The processes run without ``SKCIFAR_NUM_THREADS`` and ``OMP_NUM_THREADS``,
    the thread budget skcifar would apply over the setting.
    """
    env = {k: v for k, v in os.environ.items() if k not in THREAD_BUDGET_VARIABLES}
    results = []
    for intra, inter in settings:
        argv = [sys.executable, __file__, "--threads-child", f"{intra},{inter}"]
        argv += ["--quick"] if quick else []
        out = subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    return {"threads": results}


def _pair(text):
    intra, inter = (int(part) for part in text.split(","))
    return intra, inter


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (numbers mean nothing)")
    parser.add_argument("--json", metavar="PATH", help="write the results to this JSON file")
    parser.add_argument(
        "--threads", nargs="+", type=_pair, metavar="INTRA,INTER",
        help="compare these TensorFlow thread settings instead",
    )  # fmt: skip
    parser.add_argument(
        "--networks",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        help=f"comma-separated networks to measure (default all: {', '.join(CONFIGS)}; "
        "--quick measures one tiny network)",
    )
    parser.add_argument("--threads-child", type=_pair, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.networks and set(args.networks) - set(CONFIGS):
        parser.error(f"unknown networks {sorted(set(args.networks) - set(CONFIGS))}")
    if args.threads_child:
        threads_child(*args.threads_child, args.quick)
        return 0
    if args.threads:
        result = compare_threads(args.threads, args.quick)
    else:
        result = run(args.quick, args.networks)
    if args.json:
        _common.write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
