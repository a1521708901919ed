"""The fast ResNet-style network for small images on a CPU budget (plain by default)."""

from __future__ import annotations

import numpy as np

from ..utils.backend import import_keras, sync_state, values_of
from ..utils.keras_internals import learning_rate_schedule
from ..utils.sizes import check_sizes
from ._precision import resolve_precision
from ._shared import MIN_AUGMENTED_SIZE, Seeds, compile_model

# The shapes of the learning-rate schedule: warm-up start, decay shape, end.
SCHEDULES = {
    "cosine": dict(start_fraction=0.1, end_fraction=0.0, shape="cosine"),
    "linear": dict(start_fraction=0.2, end_fraction=0.07, shape="linear"),
}


def patch_whitening(images, kernel_size=2, eps=5e-4, chunk=500):
    """The frozen first layer's weights: whitened ``k x k`` patches of ``images``.

    Computes the covariance of all ``kernel_size x kernel_size`` patches of
    ``images`` and returns a convolution kernel that projects a patch on each
    eigenvector, divided by the square root of its eigenvalue (plus ``eps``
    times the mean variance), with each filter followed by its negation, and
    the bias that centres the outputs.

    Parameters
    ----------
    images : ndarray of shape (n, H, W, C)
        Training images (a few thousand are plenty).
    kernel_size : int, default=2
        Patch height and width.
    eps : float, default=5e-4
        Regularisation of small eigenvalues, relative to the mean variance.
    chunk : int, default=500
        Images processed at a time (bounds the memory used).

    Returns
    -------
    kernel : ndarray of shape (k, k, C, 2 * k * k * C)
    bias : ndarray of shape (2 * k * k * C,)

    Examples
    --------
    >>> import numpy as np
    >>> from skcifar.architectures import patch_whitening
    >>> kernel, bias = patch_whitening(np.random.RandomState(0).rand(20, 8, 8, 3))
    >>> kernel.shape, bias.shape
    ((2, 2, 3, 24), (24,))
    """
    k = int(kernel_size)
    n_channels = images.shape[-1]
    dim = k * k * n_channels
    total, outer, count = np.zeros(dim), np.zeros((dim, dim)), 0
    for start in range(0, len(images), chunk):
        block = np.asarray(images[start : start + chunk], dtype=np.float64)
        windows = np.lib.stride_tricks.sliding_window_view(block, (k, k), axis=(1, 2))
        patches = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, dim)  # (k, k, C) order
        total += patches.sum(axis=0)
        outer += patches.T @ patches
        count += len(patches)
    mean = total / count
    covariance = outer / count - np.outer(mean, mean)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    scale = eps * np.mean(np.diag(covariance))
    filters = eigenvectors[:, ::-1] / np.sqrt(np.maximum(eigenvalues[::-1], 0) + scale)
    filters = np.concatenate([filters, -filters], axis=1)
    kernel = filters.reshape(k, k, n_channels, 2 * dim)
    return kernel.astype(np.float32), (-(mean @ filters)).astype(np.float32)


def set_schedule_steps(model, schedule_steps):
    """Lay a compiled network's warm-up and decay schedule out over ``schedule_steps``.

    Returns False (and does nothing) when the network has no such schedule.
    Keras keeps no public handle on an optimizer's schedule object:
    :func:`skcifar.utils.keras_internals.learning_rate_schedule` reaches it.

    Examples
    --------
    >>> from skcifar.architectures import build_resnet, set_schedule_steps
    >>> model = build_resnet(widths=(8,), precision="float32", schedule_steps=10)
    >>> set_schedule_steps(model, 20)
    True
    """
    schedule = _warmup_decay(model)
    if schedule is not None:
        sync_state(model)  # within a fit on JAX: the variables hold the current values
        schedule.set_total_steps(schedule_steps)
    return schedule is not None


def schedule_steps(model):
    """The optimiser steps a compiled network's warm-up and decay schedule is laid out over.

    What :func:`build_resnet`'s ``schedule_steps`` or the last
    :func:`set_schedule_steps` gave it; None when the network has no such
    schedule.

    Examples
    --------
    >>> from skcifar.architectures import build_resnet, schedule_steps, set_schedule_steps
    >>> model = build_resnet(widths=(8,), precision="float32", schedule_steps=10)
    >>> schedule_steps(model)
    10
    >>> _ = set_schedule_steps(model, 20)
    >>> schedule_steps(model)
    20
    """
    schedule = _warmup_decay(model)
    if schedule is None:
        return None
    sync_state(model)
    return schedule.total_steps


def _warmup_decay(model):
    """The network's :class:`WarmupDecay` schedule, or None."""
    from ._training import WarmupDecay

    schedule = learning_rate_schedule(model.optimizer)
    return schedule if isinstance(schedule, WarmupDecay) else None


def resnet_flops(input_shape=(32, 32, 3), n_classes=10, *, widths=(64, 256, 256), stem_filters=24,
                 whiten=True):  # fmt: skip
    """Floating-point operations of one image's forward pass through :func:`build_resnet`.

    Counts the convolutions and the dense layer (a multiply-add is 2), from
    the shapes alone, without building the network; training costs about
    three times this per image (the backward pass computes two products per
    layer). It is the unit of work a ``time_budget`` compares networks in.

    Parameters
    ----------
    input_shape : tuple of int, default=(32, 32, 3)
        ``(height, width, channels)`` of an image.
    n_classes : int, default=10
        Outputs of the dense layer.
    widths : tuple of int, default=(64, 256, 256)
        Filters of each stage.
    stem_filters : int, default=24
        Filters of the learned stem (``whiten=False``).
    whiten : bool, default=True
        A patch-whitening stem (images at least 2 pixels high and wide):
        twice the values of a 2x2 patch as filters.

    Returns
    -------
    flops : int

    Examples
    --------
    >>> from skcifar.architectures import resnet_flops
    >>> round(resnet_flops(widths=(32, 64, 128)) / 1e6, 1)
    39.8
    """
    height, width, channels = (int(size) for size in input_shape)
    stem = (min(height, 2), min(width, 2))
    whiten = whiten and min(height, width) >= 2  # as ResNetClassifier whitens
    filters = 2 * stem[0] * stem[1] * channels if whiten else int(stem_filters)
    height, width = height - stem[0] + 1, width - stem[1] + 1
    flops = 2 * height * width * stem[0] * stem[1] * channels * filters
    for out in check_sizes("widths", widths):
        flops += 2 * height * width * 9 * filters * out
        if height >= 2 or width >= 2:
            height, width = max(height // 2, 1), max(width // 2, 1)
        flops += 2 * height * width * 9 * out * out
        filters = out
    return flops + 2 * filters * int(n_classes)


#: How :func:`build_resnet` can train its convolution filters.
CONV_OPTIMIZERS = ("sgd", "muon")


def build_resnet(
    input_shape=(32, 32, 3),
    n_classes=10,
    *,
    widths=(64, 256, 256),
    stem_filters=24,
    augment=True,
    learning_rate=1.5,
    momentum=0.85,
    weight_decay=0.009,
    label_smoothing=0.2,
    schedule_steps=None,
    warmup_fraction=0.23,
    precision="auto",
    seed=None,
    compile=True,
    whitening=None,
    activation="relu",
    batch_norm_scale=False,
    batch_norm_momentum=0.6,
    residual=False,
    identity_init=True,
    max_shift=2,
    flip=False,
    shift_padding="reflect",
    schedule="linear",
    bias_lr_scale=64.0,
    conv_optimizer="muon",
    muon_scale=0.16,
    muon_momentum=0.6,
):
    """Build the fast network for small images (plain; ``residual=True`` adds skips).

    Stem: Conv 2x2 (``stem_filters``, ``activation``), or a frozen patch-whitening
    layer (``whitening``). Then one stage per entry of ``widths``: Conv 3x3
    -> MaxPool 2x2 -> BatchNorm -> activation -> Conv 3x3 -> BatchNorm ->
    activation; ``residual=True`` adds the stage's input around its second
    convolution (off by default, as in the fast recipe). Head: global max
    pooling -> Dense (no bias) scaled by 1/8 -> softmax. Stages shrink 32x32
    images to 15, 7 and 3 pixels; pooling is skipped where a map is already 1
    pixel, so any input size works.

    Training recipe (compiled in): random shifts (and, with ``flip``, flips)
    inside the graph (:class:`RandomShiftFlip`, training only), the
    convolution filters trained by Muon and the other parameters by SGD with
    Nesterov momentum and decoupled weight decay (not on biases or batch-norm
    parameters), a warm-up then a decay of the learning rate over
    ``schedule_steps``, and label smoothing. The defaults are the recipe
    :class:`skcifar.ResNetClassifier` trains with its own defaults (which
    also mirrors images on alternate epochs in its input pipeline, and adds
    the whitening layer, lookahead and test-time augmentation).

    Parameters
    ----------
    input_shape : tuple of int, default=(32, 32, 3)
        ``(height, width, channels)`` of one image.
    n_classes : int, default=10
        Number of softmax outputs.
    widths : tuple of int, default=(64, 256, 256)
        Filters of each stage.
    stem_filters : int, default=24
        Filters of the 2x2 stem convolution (without ``whitening``).
    augment : bool, default=True
        Shifts (``max_shift``) and, with ``flip``, flips in training (images
        at least 8 pixels high and wide; smaller inputs, such as tabular
        rows, are never augmented).
    learning_rate : float, default=1.5
        Peak learning rate of the schedule (for batches of about 1,024).
    momentum : float, default=0.85
        Nesterov momentum.
    weight_decay : float, default=0.009
        Decoupled weight decay: each step multiplies the weights by
        ``1 - learning_rate * weight_decay``.
    label_smoothing : float, default=0.2
        Label smoothing of the cross-entropy (0 disables it).
    schedule_steps : int or None, default=None
        Total optimiser steps of the schedule (warm-up plus decay); None
        keeps ``learning_rate`` constant.
    warmup_fraction : float, default=0.23
        Share of ``schedule_steps`` spent warming up.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Compute precision, see :func:`resolve_precision`. Weights, the loss
        and the output probabilities stay float32.
    seed : int or None, default=None
        Seeds the weight initialisers and the augmentation.
    compile : bool, default=True
        Compile with the optimiser and loss above and the accuracy metric.
    whitening : (kernel, bias) or None, default=None
        Weights of a frozen patch-whitening first layer
        (:func:`patch_whitening`) in place of the learned stem; its bias
        stays trainable (see :class:`PatchWhitening`).
    activation : {"relu", "gelu"}, default="relu"
        Activation after each batch norm (and of the learned stem).
    batch_norm_scale : bool, default=False
        Give batch norm a learnable scale; False keeps only its shift.
    batch_norm_momentum : float, default=0.6
        Keras' momentum of the batch-norm running statistics (lower forgets
        faster, which suits short runs).
    residual : bool, default=False
        Add each stage's input to its second convolution's output (with the
        other defaults, less accurate at equal work: see the benchmarks page).
    identity_init : bool, default=True
        Start each 3x3 convolution as the identity on its first input
        channels (the rest as usual), so a deep stack starts near a shallow
        one.
    max_shift : int or None, default=2
        Largest shift of the augmentation, in pixels; None: 1/8 of the size.
    flip : bool, default=False
        Random horizontal flips in the augmentation (a coin toss per image
        and step). ``ResNetClassifier`` mirrors images in its input pipeline
        instead (``flip="alternating"``); set True to train the model with
        flips yourself.
    shift_padding : {"constant", "reflect"}, default="reflect"
        What shifted-in borders hold: zeros or the mirrored image.
    schedule : {"cosine", "linear"}, default="linear"
        Decay after the warm-up: a cosine from a tenth of ``learning_rate``
        via the peak to 0, or a line from a fifth via the peak to 0.07 times it.
    bias_lr_scale : float, default=64.0
        Learning-rate factor of the batch-norm shifts.
    conv_optimizer : {"sgd", "muon"}, default="muon"
        How the convolution filters train: by the SGD above, or by Muon
        (orthogonalised momentum steps relative to each kernel's norm, no
        weight decay; the other parameters keep the SGD).
    muon_scale : float, default=0.16
        With ``conv_optimizer="muon"``, the filters' learning rate as a
        multiple of the scheduled rate.
    muon_momentum : float in [0, 1), default=0.6
        With ``conv_optimizer="muon"``, the Nesterov momentum of the filters'
        gradients.

    Returns
    -------
    keras.Model
        The model.

    Examples
    --------
    >>> from skcifar.architectures import build_resnet
    >>> model = build_resnet(widths=(32, 64, 128), precision="float32")
    >>> model.count_params()
    295544
    """
    keras = import_keras()
    from ._layers import PatchWhitening, RandomShiftFlip
    from ._training import MuonSGD, ScaledSGD, SmoothedSparseCrossentropy, WarmupDecay

    layers = keras.layers
    policy = resolve_precision(precision)
    seeds = Seeds(seed)
    height, width = int(input_shape[0]), int(input_shape[1])
    convolutions = []

    def conv(x, filters, kernel=(3, 3), padding="same", **kwargs):
        layer = layers.Conv2D(
            filters,
            kernel,
            padding=padding,
            kernel_initializer=seeds.kernel(),
            dtype=policy,
            **kwargs,
        )
        convolutions.append(layer)
        return layer(x)

    def norm_act(x):
        x = layers.BatchNormalization(
            momentum=float(batch_norm_momentum),
            epsilon=1e-5,
            scale=bool(batch_norm_scale),
            dtype=policy,
        )(x)
        return layers.Activation(activation, dtype=policy)(x)

    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs
    if augment and min(height, width) >= MIN_AUGMENTED_SIZE:
        shift = min(height, width) // 8 if max_shift is None else int(max_shift)
        x = RandomShiftFlip(
            shift, flip=flip, seed=seeds.next(), padding=shift_padding, dtype=policy
        )(x)
    stem = (min(height, 2), min(width, 2))
    if whitening is not None:
        kernel, bias = whitening
        whiten = PatchWhitening(kernel.shape[-1], kernel.shape[0], dtype=policy)
        x = layers.Activation(activation, dtype=policy)(whiten(x))
        whiten.kernel.assign(kernel)
        whiten.bias.assign(bias)
    else:
        x = conv(x, int(stem_filters), stem, padding="valid", activation=activation)
    height, width = height - stem[0] + 1, width - stem[1] + 1
    for filters in check_sizes("widths", widths):
        x = conv(x, filters, use_bias=False)
        pool = (2 if height >= 2 else 1, 2 if width >= 2 else 1)
        if pool != (1, 1):
            x = layers.MaxPooling2D(pool, dtype=policy)(x)
            height, width = height // pool[0], width // pool[1]
        x = norm_act(x)
        inner = norm_act(conv(x, filters, use_bias=False))
        x = layers.Add(dtype=policy)([x, inner]) if residual else inner
    x = layers.GlobalMaxPooling2D(dtype=policy)(x)
    x = layers.Dense(n_classes, use_bias=False, kernel_initializer=seeds.kernel(), dtype=policy)(x)
    x = layers.Rescaling(0.125, dtype=policy)(x)
    outputs = layers.Activation("softmax", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name="resnet")
    if identity_init:
        _identity_init(convolutions)
    if not compile:
        return model
    if conv_optimizer not in CONV_OPTIMIZERS:
        raise ValueError(
            f"conv_optimizer must be one of {CONV_OPTIMIZERS}; got {conv_optimizer!r}."
        )
    muon = (
        {"muon_scale": float(muon_scale), "muon_momentum": float(muon_momentum)}
        if conv_optimizer == "muon"
        else {}
    )
    rate = float(learning_rate)  # constant without schedule_steps
    if schedule_steps:
        rate = WarmupDecay(rate, schedule_steps, warmup_fraction, **SCHEDULES[schedule])
    optimizer = (MuonSGD if muon else ScaledSGD)(
        **muon,
        bias_lr_scale=bias_lr_scale,
        learning_rate=rate,
        momentum=float(momentum),
        nesterov=True,
        weight_decay=float(weight_decay) or None,
    )
    loss = (
        SmoothedSparseCrossentropy(label_smoothing)
        if label_smoothing
        else "sparse_categorical_crossentropy"
    )
    return compile_model(model, optimizer, loss)


def _identity_init(convolutions):
    """Make each 3x3 convolution's first filters the identity on its input channels."""
    for layer in convolutions:
        (kernel,) = values_of([layer.kernel])
        if kernel.shape[:2] != (3, 3):
            continue
        n = min(kernel.shape[2], kernel.shape[3])
        kernel[:, :, :, :n] = 0.0
        kernel[1, 1, np.arange(n), np.arange(n)] = 1.0
        layer.kernel.assign(kernel)
