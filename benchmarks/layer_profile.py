"""Where a training step's time goes: each convolution's three products against the whole step.

For a ``ResNetClassifier`` network (``_configs.NETWORKS``), on TensorFlow in
the network's own precision:

1. the step: images/s of its training (``_common.training_speed``, the
   median step);
2. every convolution of the network at its training batch: the forward
   product, the gradient of the input and the gradient of the filters, each
   timed alone (best of ``REPEATS``), in GFLOP/s and in ms per step;
3. the share of the step the convolutions take; the rest is batch norm,
   activations, pooling, augmentation, the loss and the optimizer;
4. for the record, the filters' gradient computed another way: nine matrix
   products, one per kernel offset, of the shifted input and the output's
   gradient (``filter_gradient_matmul``; not in ``ms_per_step``). It bounds what
   replacing oneDNN's backward-weights kernel with matrix products could gain.

Run it as it is and with ``ONEDNN_MAX_CPU_ISA=AVX2`` (a CPU without AVX-512)
to see which products slow down on which setting:

    python benchmarks/layer_profile.py --network recipe --json out.json
    ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/layer_profile.py --network recipe
    python benchmarks/layer_profile.py --quick
"""

from __future__ import annotations

import argparse
import json
import time

import _common
import numpy as np
from _common import training_speed
from _configs import NETWORKS as CONFIGS

REPEATS = 5


def products(x, kernel, dy, repeats):
    """Seconds of the forward product and of the input's and the filters' gradients."""
    from skcifar.utils.backend import import_tensorflow

    tf = import_tensorflow()
    forward = tf.function(lambda x, k: tf.nn.conv2d(x, k, 1, "SAME"))
    data = tf.function(lambda x, k, dy: tf.nn.conv2d_transpose(dy, k, tf.shape(x), 1, "SAME"))
    filters = tf.function(
        lambda x, k, dy: tf.raw_ops.Conv2DBackpropFilter(
            input=x, filter_sizes=tf.shape(k), out_backprop=dy, strides=[1, 1, 1, 1],
            padding="SAME",
        )
    )  # fmt: skip
    seconds = {}
    for name, function, args in (("forward", forward, (x, kernel)),
                                 ("input_gradient", data, (x, kernel, dy)),
                                 ("filter_gradient", filters, (x, kernel, dy)),
                                 ("filter_gradient_matmul", tf.function(shifted_matmuls),
                                  (x, kernel, dy))):  # fmt: skip
        function(*args).numpy()  # trace and warm up
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            function(*args).numpy()
            best = min(best, time.perf_counter() - start)
        seconds[name] = best
    return seconds


def shifted_matmuls(x, kernel, dy):
    """The gradient of a stride-1, "SAME" convolution's filters as nine matrix products."""
    from skcifar.utils.backend import import_tensorflow

    tf = import_tensorflow()
    kh, kw, c_in, c_out = kernel.shape
    _, h, w, _ = x.shape
    padded = tf.pad(x, [[0, 0], [kh // 2, kh // 2], [kw // 2, kw // 2], [0, 0]])
    grad = tf.reshape(dy, [-1, c_out])
    shifted = [
        tf.reshape(padded[:, i : i + h, j : j + w, :], [-1, c_in])
        for i in range(kh)
        for j in range(kw)
    ]
    blocks = [tf.matmul(inputs, grad, transpose_a=True) for inputs in shifted]
    return tf.reshape(tf.stack(blocks), [kh, kw, c_in, c_out])


def profile(network, quick):
    from skcifar.utils.backend import configure_threads, import_tensorflow

    configure_threads()
    tf = import_tensorflow()
    params = {"widths": (8, 16, 16), "batch_size": 64} if quick else CONFIGS[network]
    speed = training_speed(params, n_images=1024 if quick else 8192, probe_batch=1)
    batch, dtype = speed["batch_size"], speed["compute_dtype"]
    step = batch / speed["images_per_second"]
    rng = np.random.RandomState(0)
    layers, total = [], 0.0
    for shape in speed["conv_layers"]:
        size, c_in, c_out = shape["size"], shape["channels_in"], shape["channels_out"]
        cast = lambda a: tf.cast(tf.constant(a), dtype)  # noqa: E731
        x = cast(rng.standard_normal((batch, size, size, c_in)).astype("f4"))
        kernel = cast(0.1 * rng.standard_normal((3, 3, c_in, c_out)).astype("f4"))
        dy = cast(rng.standard_normal((batch, size, size, c_out)).astype("f4"))
        seconds = products(x, kernel, dy, 2 if quick else REPEATS)
        flop = 2 * batch * size * size * c_in * c_out * 9
        layer = {"shape": f"{size}x{size}, {c_in} -> {c_out}", "batch": batch}
        for name, s in seconds.items():
            layer[f"{name}_gflops"] = flop / s / 1e9
        layer["ms_per_step"] = 1e3 * (sum(seconds.values()) - seconds["filter_gradient_matmul"])
        total += layer["ms_per_step"] / 1e3
        layers.append(layer)
        print(json.dumps(layer), flush=True)
    return {
        "network": network, "params": params, "compute_dtype": dtype, "batch_size": batch,
        "images_per_second": speed["images_per_second"], "step_ms": 1e3 * step,
        "convolutions_ms": 1e3 * total, "convolution_share": total / step, "layers": layers,
    }  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="recipe", choices=sorted(CONFIGS))
    parser.add_argument("--quick", action="store_true", help="smoke run (numbers mean nothing)")
    parser.add_argument("--json", metavar="PATH", help="write the results to this JSON file")
    args = parser.parse_args()
    result = profile(args.network, args.quick)
    print(json.dumps({k: v for k, v in result.items() if k != "layers"}), flush=True)
    if args.json:
        _common.write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
