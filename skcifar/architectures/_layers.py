"""Custom Keras pieces of the residual network, registered for safe loading.

All three are registered under the ``skcifar`` package name, so a saved network
loads with ``keras.saving.load_model(..., safe_mode=True)`` once this module
is imported. :func:`~skcifar.architectures.build_resnet`, importing
:mod:`skcifar.estimators` and :func:`skcifar.load` import it; importing
:mod:`skcifar.architectures` alone does not (it stays free of TensorFlow).
"""

from __future__ import annotations

from ..utils.backend import import_keras

keras = import_keras()
ops = keras.ops

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402 - the backend (imported quietly above)


@keras.saving.register_keras_serializable(package="skcifar")
class RandomShiftFlip(keras.layers.Layer):
    """Random crop with zero padding plus random horizontal flip, per image.

    Equivalent to padding each image by ``max_shift`` pixels and cropping a
    random window of the original size, then flipping it left-right with
    probability 1/2 - the standard CIFAR-10 augmentation. It runs inside the
    training step as two gathers (a few milliseconds per batch), so there is
    no Python data pipeline to starve the cores; at inference it is the
    identity.

    Parameters
    ----------
    max_shift : int, default=4
        Largest shift in pixels, in each direction.
    flip : bool, default=True
        Also flip left-right at random.
    seed : int or None, default=None
        Seed of the layer's random generator.
    """

    def __init__(self, max_shift=4, flip=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.max_shift = int(max_shift)
        self.flip = bool(flip)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = False

    def call(self, inputs, training=False):
        if not training:
            return inputs
        x = inputs
        shape = ops.shape(x)
        batch, height, width = shape[0], shape[1], shape[2]
        pad = self.max_shift
        if pad:
            x = ops.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
            offsets = keras.random.randint(
                (batch, 2), 0, 2 * pad + 1, dtype="int32", seed=self.seed_generator
            )
            rows = offsets[:, :1] + ops.arange(height, dtype="int32")[None, :]
            cols = offsets[:, 1:] + ops.arange(width, dtype="int32")[None, :]
            # Batched int32 gathers (ops.take_along_axis goes through int64
            # indices, which oneDNN logs a complaint about).
            x = tf.gather(x, rows, axis=1, batch_dims=1)
            x = tf.gather(x, cols, axis=2, batch_dims=1)
        if self.flip:
            coin = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator)
            x = ops.where(coin < 0.5, ops.flip(x, axis=2), x)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(max_shift=self.max_shift, flip=self.flip, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="skcifar")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy on integer labels with label smoothing.

    Keras' ``SparseCategoricalCrossentropy`` has no ``label_smoothing``; this
    one-hot encodes the integer labels in the graph and applies
    ``categorical_crossentropy(..., label_smoothing=...)``, so the rest of the
    training code (integer targets, sample weights, the accuracy metric)
    stays as it is.

    Parameters
    ----------
    label_smoothing : float in [0, 1), default=0.0
        Weight moved from the true class to a uniform distribution.
    """

    def __init__(self, label_smoothing=0.0, name="smoothed_sparse_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        n_classes = ops.shape(y_pred)[-1]
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        one_hot = ops.one_hot(labels, n_classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            one_hot, y_pred, label_smoothing=self.label_smoothing
        )

    def get_config(self):
        config = super().get_config()
        config.update(label_smoothing=self.label_smoothing)
        return config


@keras.saving.register_keras_serializable(package="skcifar")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then cosine decay to 0, over a length that can change.

    For the first ``round(warmup_fraction * total_steps)`` steps the rate
    rises linearly from ``start_fraction * peak`` to ``peak``; over the rest
    it falls to 0 along a half cosine, and stays at 0 after ``total_steps``.
    ``total_steps`` is held in a variable that the traced training step
    reads, so :meth:`set_total_steps` can lay the schedule out anew after
    training has been compiled (``time_budget`` fits decide it only then).

    Parameters
    ----------
    peak : float
        The highest rate, reached at the end of the warm-up.
    total_steps : int
        Optimiser steps of the whole schedule.
    warmup_fraction : float in [0, 1), default=0.2
        Share of the steps spent warming up.
    start_fraction : float, default=0.1
        The warm-up starts at this fraction of ``peak``.
    """

    def __init__(self, peak, total_steps, warmup_fraction=0.2, start_fraction=0.1):
        super().__init__()
        self.peak = float(peak)
        self.warmup_fraction = float(warmup_fraction)
        self.start_fraction = float(start_fraction)
        self.total_steps = tf.Variable(
            float(max(int(total_steps), 1)), trainable=False, dtype=tf.float32
        )

    def set_total_steps(self, total_steps):
        """Lay the schedule out over ``total_steps`` optimiser steps from now on."""
        self.total_steps.assign(float(max(int(total_steps), 1)))

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        total = self.total_steps
        warmup = tf.minimum(tf.round(self.warmup_fraction * total), total - 1.0)
        rising = self.start_fraction + (1.0 - self.start_fraction) * step / tf.maximum(warmup, 1.0)
        progress = tf.clip_by_value((step - warmup) / tf.maximum(total - warmup, 1.0), 0.0, 1.0)
        falling = 0.5 * (1.0 + tf.cos(np.pi * progress))
        return self.peak * tf.where(step < warmup, rising, falling)

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": int(self.total_steps.numpy()),
            "warmup_fraction": self.warmup_fraction,
            "start_fraction": self.start_fraction,
        }
