"""Custom Keras layers of :func:`~skcifar.architectures.build_resnet`'s network.

That network is ResNet-style and plain by default (``residual=False``;
``residual=True`` adds skip connections). The layers are registered under the
``skcifar`` package name, so a saved network loads with
``keras.saving.load_model(..., safe_mode=True)`` once this module is imported
(:func:`~skcifar.architectures.register_keras_objects` imports it).
"""

from __future__ import annotations

from ..utils.backend import backend_name, import_keras, import_tensorflow

keras = import_keras()
ops = keras.ops


@keras.saving.register_keras_serializable(package="skcifar")
class RandomShiftFlip(keras.layers.Layer):
    """Random crop of the padded image plus random horizontal flip, per image.

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
    padding : {"constant", "reflect"}, default="constant"
        What the shifted-in border holds: zeros, or the image mirrored at
        its edge.
    """

    def __init__(self, max_shift=4, flip=True, seed=None, padding="constant", **kwargs):
        super().__init__(**kwargs)
        self.max_shift = int(max_shift)
        self.flip = bool(flip)
        self.padding = str(padding)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        x = inputs
        shape = ops.shape(x)
        batch, height, width = shape[0], shape[1], shape[2]
        pad = self.max_shift
        if pad:
            x = ops.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode=self.padding)
            offsets = keras.random.randint(
                (batch, 2), 0, 2 * pad + 1, dtype="int32", seed=self.seed_generator
            )
            rows = offsets[:, :1] + ops.arange(height, dtype="int32")[None, :]
            cols = offsets[:, 1:] + ops.arange(width, dtype="int32")[None, :]
            x = _batched_gather(x, rows, axis=1)
            x = _batched_gather(x, cols, axis=2)
        if self.flip:
            coin = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator)
            x = ops.where(coin < 0.5, ops.flip(x, axis=2), x)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            max_shift=self.max_shift, flip=self.flip, seed=self.seed, padding=self.padding
        )
        return config


def _batched_gather(x, index, axis):
    """``x[b]`` gathered along ``axis`` at ``index[b]`` (shape (batch, n)), for each image ``b``."""
    if backend_name() == "tensorflow":
        # An int32 gather: ops.take_along_axis goes through int64 indices,
        # which oneDNN logs a complaint about.
        return import_tensorflow().gather(x, index, axis=axis, batch_dims=1)
    shape = [1, 1, 1, 1]
    shape[0], shape[axis] = -1, ops.shape(index)[1]
    return ops.take_along_axis(x, ops.reshape(index, shape), axis=axis)


@keras.saving.register_keras_serializable(package="skcifar")
class PatchWhitening(keras.layers.Layer):
    """A frozen convolution that whitens image patches, plus a trainable bias.

    The kernel (set from :func:`patch_whitening` after the layer is built)
    projects each ``k x k`` patch on the eigenvectors of the patches'
    covariance, scaled to unit variance, each filter with its negation; it is
    never trained. The bias is trained while ``bias_gate`` is 1 and frozen
    (no gradient) while it is 0, which a training callback switches.

    Parameters
    ----------
    filters : int
        Output channels: twice the size of a patch.
    kernel_size : int, default=2
        Patch height and width.
    """

    def __init__(self, filters, kernel_size=2, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = int(filters), int(kernel_size)

    def build(self, input_shape):
        k = self.kernel_size
        self.kernel = self.add_weight(
            shape=(k, k, int(input_shape[-1]), self.filters),
            initializer="zeros", trainable=False, name="kernel",
        )  # fmt: skip
        self.bias = self.add_weight(
            shape=(self.filters,), initializer="zeros", trainable=True, name="bias"
        )
        self.bias_gate = self.add_weight(
            shape=(), initializer="ones", trainable=False, name="bias_gate"
        )

    def call(self, inputs):
        kernel = ops.cast(self.kernel, inputs.dtype)
        gate = ops.cast(self.bias_gate, inputs.dtype)
        bias = ops.cast(self.bias, inputs.dtype)
        bias = gate * bias + (1 - gate) * ops.stop_gradient(bias)
        return ops.conv(inputs, kernel, padding="valid") + bias

    def compute_output_shape(self, input_shape):
        k = self.kernel_size
        return (input_shape[0], input_shape[1] - k + 1, input_shape[2] - k + 1, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size)
        return config
