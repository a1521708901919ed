"""Custom Keras loss, schedule and optimizers of :func:`~skcifar.architectures.build_resnet`.

That network is ResNet-style and plain by default (``residual=False``;
``residual=True`` adds skip connections). Registered under the ``skcifar``
package name for safe loading, like the layers of
:mod:`skcifar.architectures._layers`.
"""

from __future__ import annotations

import numpy as np

from ..utils.backend import import_keras, to_numpy
from ..utils.keras_internals import learning_rate_schedule, variable_index

keras = import_keras()
ops = keras.ops


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
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then a cosine or linear decay, over a length that can change.

    For the first ``round(warmup_fraction * total_steps)`` steps the rate
    rises linearly from ``start_fraction * peak`` to ``peak``; over the rest
    it falls to ``end_fraction * peak``, along a half cosine or a straight
    line, and stays there after ``total_steps``. :class:`ScaledSGD` and
    :class:`MuonSGD` carry ``total_steps`` as one of their variables, which
    the compiled training step reads on every backend, so
    :meth:`set_total_steps` can lay the schedule out anew after training has
    been compiled (``time_budget`` fits decide it only then). With another
    optimizer the schedule holds the length in a variable of its own, which
    TensorFlow and PyTorch read at every step; a step JAX compiled keeps the
    length it was compiled with.

    Parameters
    ----------
    peak : float
        The highest rate, reached at the end of the warm-up.
    total_steps : int
        Optimiser steps of the whole schedule.
    warmup_fraction : float in [0, 1), default=0.2
        Share of the steps spent warming up.
    start_fraction, end_fraction : float, default=0.1 and 0.0
        The rate at the first and the last step, as fractions of ``peak``.
    shape : {"cosine", "linear"}, default="cosine"
        How the rate decays after the warm-up.
    """

    def __init__(
        self,
        peak,
        total_steps,
        warmup_fraction=0.2,
        start_fraction=0.1,
        end_fraction=0.0,
        shape="cosine",
    ):
        super().__init__()
        if shape not in ("cosine", "linear"):
            raise ValueError(f"shape must be 'cosine' or 'linear'; got {shape!r}.")
        self.peak = float(peak)
        self.warmup_fraction = float(warmup_fraction)
        self.start_fraction = float(start_fraction)
        self.end_fraction = float(end_fraction)
        self.shape = shape
        self._length = keras.Variable(  # until bind() hands it to an optimizer
            float(max(int(total_steps), 1)), trainable=False, dtype="float32", name="total_steps"
        )
        self._bound = False

    def bind(self, optimizer):
        """Hold ``total_steps`` in a variable of ``optimizer``, which its training step reads."""
        if not self._bound:
            self._length = optimizer.add_variable(
                (), keras.initializers.Constant(self.total_steps), "float32", name="schedule_steps"
            )
            self._bound = True

    @property
    def total_steps(self):
        """The steps the schedule is laid out over (an int)."""
        return int(to_numpy(self._length))

    def set_total_steps(self, total_steps):
        """Lay the schedule out over the optimiser's first ``total_steps`` steps.

        The rate is a function of the optimiser's step count since it was
        built (its ``iterations``), so a new length also moves the steps
        already taken along the new schedule; from step ``total_steps`` on
        the rate stays at its end value.
        """
        self._length.assign(float(max(int(total_steps), 1)))

    def __call__(self, step):
        step = ops.cast(step, "float32")
        total = ops.cast(self._length, "float32")
        warmup = ops.minimum(ops.round(self.warmup_fraction * total), total - 1.0)
        rising = self.start_fraction + (1.0 - self.start_fraction) * step / ops.maximum(warmup, 1.0)
        progress = ops.clip((step - warmup) / ops.maximum(total - warmup, 1.0), 0.0, 1.0)
        if self.shape == "cosine":
            progress = 0.5 * (1.0 - ops.cos(np.pi * progress))
        falling = 1.0 - (1.0 - self.end_fraction) * progress
        return self.peak * ops.where(step < warmup, rising, falling)

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_fraction": self.warmup_fraction,
            "start_fraction": self.start_fraction,
            "end_fraction": self.end_fraction,
            "shape": self.shape,
        }


@keras.saving.register_keras_serializable(package="skcifar")
class ScaledSGD(keras.optimizers.SGD):
    """SGD whose batch-norm shifts (``beta``) learn ``bias_lr_scale`` times faster.

    Batch norm without a learnable scale leaves its shift as the only
    parameter of the layer, and it trains best at a much higher rate than
    the convolutions. Everything else is Keras' SGD (momentum, Nesterov,
    decoupled weight decay).

    The variables spared weight decay are part of its configuration, so a
    saved and reloaded network goes on training as it did (Keras'
    ``exclude_from_weight_decay`` alone is not saved).

    Parameters
    ----------
    bias_lr_scale : float, default=1.0
        Learning-rate factor of the batch-norm shifts.
    decay_exempt : tuple of str, default=("gamma", "beta", "bias")
        Variable names that weight decay leaves alone.
    **kwargs
        Keras' SGD arguments.
    """

    def __init__(self, bias_lr_scale=1.0, decay_exempt=("gamma", "beta", "bias"), **kwargs):
        super().__init__(**kwargs)
        self.bias_lr_scale = float(bias_lr_scale)
        self.decay_exempt = tuple(decay_exempt)
        self.exclude_from_weight_decay(var_names=list(self.decay_exempt))

    def build(self, variables):
        super().build(variables)
        schedule = learning_rate_schedule(self)
        if isinstance(schedule, WarmupDecay):
            schedule.bind(self)
        self._lr_scales = [
            self.bias_lr_scale if variable.path.endswith("beta") else 1.0 for variable in variables
        ]

    def update_step(self, gradient, variable, learning_rate):
        scale = self._lr_scales[variable_index(self, variable)]
        if scale != 1.0:
            learning_rate = ops.cast(learning_rate, variable.dtype) * scale
        super().update_step(gradient, variable, learning_rate)

    def reset_momentum(self, variable):
        """Zero the momentum of ``variable``, so a frozen parameter stops at once."""
        if self.built and self.momentum:
            self.momentums[variable_index(self, variable)].assign(
                ops.zeros(variable.shape, variable.dtype)
            )

    def get_config(self):
        config = super().get_config()
        config.update(bias_lr_scale=self.bias_lr_scale, decay_exempt=list(self.decay_exempt))
        return config


#: Coefficients of the quintic Newton-Schulz step that pushes every singular
#: value of a matrix towards 1 (fast near 0; it settles around 0.7-1.2 rather
#: than at exactly 1, which trains as well).
_NEWTON_SCHULZ = (3.4445, -4.7750, 2.0315)


def _norm(x):
    """The Frobenius norm of ``x``: the square root of the sum of its squared entries."""
    return ops.sqrt(ops.sum(ops.square(x)))


def orthogonalised(matrix, steps=3):
    """``matrix`` with its singular values pushed towards 1 (Newton-Schulz).

    Approximately ``U @ V.T`` of the SVD ``matrix = U @ S @ V.T``: the
    direction of every singular pair kept, its size made about one.

    Parameters
    ----------
    matrix : tensor of shape (rows, cols)
        A gradient (or momentum) matrix.
    steps : int, default=3
        Newton-Schulz iterations.

    Returns
    -------
    tensor of shape (rows, cols)
    """
    a, b, c = _NEWTON_SCHULZ
    tall = matrix.shape[0] > matrix.shape[1]
    x = ops.transpose(matrix) if tall else matrix
    x = x / (_norm(x) + 1e-7)  # every singular value at most 1
    for _ in range(int(steps)):
        gram = ops.matmul(x, ops.transpose(x))
        x = a * x + ops.matmul(b * gram + c * ops.matmul(gram, gram), x)
    return ops.transpose(x) if tall else x


@keras.saving.register_keras_serializable(package="skcifar")
class MuonSGD(ScaledSGD):
    """:class:`ScaledSGD`, but the convolution filters are trained by Muon.

    Muon (momentum, orthogonalised): each 4-D convolution kernel keeps a
    Nesterov momentum of its gradient (``muon_momentum``); a step reshapes it
    to a matrix of one column per filter, orthogonalises it
    (:func:`orthogonalised`) and moves the kernel by ``muon_scale`` times the
    current learning rate along it, after rescaling the kernel to a
    Frobenius norm of ``sqrt(filters)``. Every filter thus moves by a share
    of its own size, whatever the scale of its gradient. The kernels get no
    weight decay (the rescaling fixes their size). Every other variable
    (batch-norm shifts, the head, biases) is trained as by
    :class:`ScaledSGD`, with the same schedule.

    Parameters
    ----------
    muon_scale : float, default=0.16
        The kernels' learning rate as a multiple of the current rate.
    muon_momentum : float, default=0.6
        Nesterov momentum of the kernels' gradients.
    newton_schulz_steps : int, default=3
        Iterations of the orthogonalisation.
    **kwargs
        :class:`ScaledSGD`'s arguments.
    """

    def __init__(self, muon_scale=0.16, muon_momentum=0.6, newton_schulz_steps=3, **kwargs):
        super().__init__(**kwargs)
        self.muon_scale = float(muon_scale)
        self.muon_momentum = float(muon_momentum)
        self.newton_schulz_steps = int(newton_schulz_steps)

    def build(self, variables):
        self._muon = [len(variable.shape) == 4 for variable in variables]
        # Muon rescales the kernels itself: weight decay spares them (and decay_exempt's names).
        kernels = [variable for variable in variables if len(variable.shape) == 4]
        self.exclude_from_weight_decay(var_list=kernels, var_names=list(self.decay_exempt))
        super().build(variables)
        if not self.momentum:  # SGD made no momentum slots; Muon needs them
            self.momentums = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        index = variable_index(self, variable)
        if not self._muon[index]:
            return super().update_step(gradient, variable, learning_rate)
        gradient = ops.cast(gradient, variable.dtype)
        momentum = self.momentums[index]
        momentum.assign(self.muon_momentum * momentum + gradient)
        direction = gradient + self.muon_momentum * momentum  # Nesterov
        filters = variable.shape[-1]
        update = orthogonalised(ops.reshape(direction, (-1, filters)), self.newton_schulz_steps)
        weights = variable * (float(filters) ** 0.5 / (_norm(variable) + 1e-12))
        rate = ops.cast(learning_rate, variable.dtype) * self.muon_scale
        variable.assign(weights - rate * ops.reshape(update, variable.shape))

    def get_config(self):
        config = super().get_config()
        config.update(
            muon_scale=self.muon_scale,
            muon_momentum=self.muon_momentum,
            newton_schulz_steps=self.newton_schulz_steps,
        )
        return config
