"""A fast residual network for small images on a CPU budget."""

from __future__ import annotations

from ..utils.backend import import_keras
from ..utils.validation import check_sizes
from ._shared import MIN_AUGMENTED_SIZE, Seeds, compile_model

PRECISIONS = ("auto", "float32", "bfloat16")

_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def _cpu_has_bf16():
    """True if the CPU does bfloat16 arithmetic natively (AMX or AVX512-BF16)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = f.read()
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


def resolve_precision(precision):
    """Return the Keras dtype policy name for a ``precision`` setting.

    Parameters
    ----------
    precision : {"auto", "float32", "bfloat16"}
        ``"bfloat16"`` computes in bfloat16 with float32 weights (Keras'
        ``mixed_bfloat16``); ``"auto"`` picks it when the CPU does bfloat16
        natively (AMX or AVX512-BF16, about twice as fast there) and
        ``float32`` otherwise.

    Returns
    -------
    str
        ``"mixed_bfloat16"`` or ``"float32"``.

    Examples
    --------
    >>> from skcifar.architectures import resolve_precision
    >>> resolve_precision("float32")
    'float32'
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}.")
    if precision == "auto":
        precision = "bfloat16" if _cpu_has_bf16() else "float32"
    return _POLICIES[precision]


def _schedule(learning_rate, schedule_steps, warmup_fraction):
    """Linear warm-up to ``learning_rate``, then cosine decay to 0 (constant without steps)."""
    if not schedule_steps:
        return float(learning_rate)
    from ._layers import WarmupCosineDecay

    return WarmupCosineDecay(learning_rate, schedule_steps, warmup_fraction)


def set_schedule_steps(model, schedule_steps):
    """Lay a compiled network's warm-up + cosine schedule out over ``schedule_steps``.

    Returns False (and does nothing) when the network has no such schedule.
    Keras keeps no public handle on an optimizer's schedule object, hence the
    private attribute.

    Examples
    --------
    >>> from skcifar.architectures import build_resnet, set_schedule_steps
    >>> model = build_resnet(widths=(8,), precision="float32", schedule_steps=10)
    >>> set_schedule_steps(model, 20)
    True
    """
    from ._layers import WarmupCosineDecay

    schedule = getattr(model.optimizer, "_learning_rate", None)
    if not isinstance(schedule, WarmupCosineDecay):
        return False
    schedule.set_total_steps(schedule_steps)
    return True


def build_resnet(
    input_shape=(32, 32, 3),
    n_classes=10,
    *,
    widths=(64, 256, 256),
    stem_filters=24,
    augment=True,
    learning_rate=0.4,
    momentum=0.9,
    weight_decay=5e-3,
    label_smoothing=0.1,
    schedule_steps=None,
    warmup_fraction=0.2,
    precision="auto",
    seed=None,
    compile=True,
):
    """Build a fast residual network for small images.

    Stem: Conv 2x2 (``stem_filters``, relu). Then one stage per entry of
    ``widths``: Conv 3x3 -> MaxPool 2x2 -> BatchNorm -> relu, followed by a
    residual unit ``x + relu(BN(Conv 3x3(x)))``. Head: global max pooling ->
    Dense (no bias) scaled by 1/8 -> softmax. Stages shrink 32x32 images to
    15, 7 and 3 pixels; pooling is skipped where a map is already 1 pixel, so
    any input size works.

    Training recipe (compiled in): random crop with zero padding and
    horizontal flip inside the graph (:class:`RandomShiftFlip`, training
    only), SGD with Nesterov momentum and decoupled weight decay (not on
    biases or batch-norm parameters), a linear warm-up then cosine decay of
    the learning rate over ``schedule_steps``, and label smoothing.

    Parameters
    ----------
    input_shape : tuple of int, default=(32, 32, 3)
        ``(height, width, channels)`` of one image.
    n_classes : int, default=10
        Number of softmax outputs.
    widths : tuple of int, default=(64, 256, 256)
        Filters of each stage.
    stem_filters : int, default=24
        Filters of the 2x2 stem convolution.
    augment : bool, default=True
        Random shifts of up to 1/8 of the image size and flips in training
        (images at least 8 pixels high and wide; smaller inputs, such as
        tabular rows, are never augmented).
    learning_rate : float, default=0.4
        Peak learning rate of SGD (for batches of about 256).
    momentum : float, default=0.9
        Nesterov momentum.
    weight_decay : float, default=5e-3
        Decoupled weight decay: each step multiplies the weights by
        ``1 - learning_rate * weight_decay``.
    label_smoothing : float, default=0.1
        Label smoothing of the cross-entropy (0 disables it).
    schedule_steps : int or None, default=None
        Total optimiser steps of the schedule (warm-up plus cosine decay to
        0); None keeps ``learning_rate`` constant.
    warmup_fraction : float, default=0.2
        Share of ``schedule_steps`` spent warming up from a tenth of
        ``learning_rate``.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Compute precision, see :func:`resolve_precision`. Weights, the loss
        and the output probabilities stay float32.
    seed : int or None, default=None
        Seeds the weight initialisers and the augmentation.
    compile : bool, default=True
        Compile with the optimiser and loss above and the accuracy metric.

    Returns
    -------
    keras.Model
        The model.

    Examples
    --------
    >>> from skcifar.architectures import build_resnet
    >>> model = build_resnet(widths=(32, 64, 128), precision="float32")
    >>> model.count_params()
    295992
    """
    keras = import_keras()
    from ._layers import RandomShiftFlip, SmoothedSparseCrossentropy

    layers = keras.layers
    policy = resolve_precision(precision)
    seeds = Seeds(seed)
    height, width = int(input_shape[0]), int(input_shape[1])

    def conv(x, filters, kernel=(3, 3), padding="same", **kwargs):
        return layers.Conv2D(
            filters,
            kernel,
            padding=padding,
            kernel_initializer=seeds.kernel(),
            dtype=policy,
            **kwargs,
        )(x)

    def norm_relu(x):
        x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, dtype=policy)(x)
        return layers.Activation("relu", dtype=policy)(x)

    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs
    if augment and min(height, width) >= MIN_AUGMENTED_SIZE:
        shift = min(height, width) // 8
        x = RandomShiftFlip(shift, seed=seeds.next(), dtype=policy)(x)
    stem = (min(height, 2), min(width, 2))
    x = conv(x, int(stem_filters), stem, padding="valid", activation="relu")
    height, width = height - stem[0] + 1, width - stem[1] + 1
    for filters in check_sizes("widths", widths):
        x = conv(x, filters, use_bias=False)
        pool = (2 if height >= 2 else 1, 2 if width >= 2 else 1)
        if pool != (1, 1):
            x = layers.MaxPooling2D(pool, dtype=policy)(x)
            height, width = height // pool[0], width // pool[1]
        x = norm_relu(x)
        x = layers.Add(dtype=policy)([x, norm_relu(conv(x, filters, use_bias=False))])
    x = layers.GlobalMaxPooling2D(dtype=policy)(x)
    x = layers.Dense(n_classes, use_bias=False, kernel_initializer=seeds.kernel(), dtype=policy)(x)
    x = layers.Rescaling(0.125, dtype=policy)(x)
    outputs = layers.Activation("softmax", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name="resnet")
    if not compile:
        return model
    optimizer = keras.optimizers.SGD(
        learning_rate=_schedule(learning_rate, schedule_steps, warmup_fraction),
        momentum=float(momentum),
        nesterov=True,
        weight_decay=float(weight_decay) or None,
    )
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    loss = (
        SmoothedSparseCrossentropy(label_smoothing)
        if label_smoothing
        else "sparse_categorical_crossentropy"
    )
    return compile_model(model, optimizer, loss)
