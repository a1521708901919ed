"""Stage 2 - model architectures as plain Keras builders (no scikit-learn needed).

* :func:`build_ann`, :func:`build_cnn`: the reference notebook's dense and
  convolutional networks (its exact networks by default);
* :func:`build_resnet`: the fast ResNet-style network with batch norm, in-graph
  augmentation, a warm-up then decay of the learning rate, label smoothing and
  weight decay - the accurate one for a CPU budget; its defaults are
  :class:`skcifar.ResNetClassifier`'s recipe, a plain convolutional network
  (``residual=True`` adds skip connections).

Every builder returns a compiled Keras model (unless ``compile=False``) that
outputs class probabilities and trains on integer labels.
"""

from ._notebook import build_ann, build_cnn
from ._precision import (
    PRECISIONS,
    bfloat16_runs,
    bfloat16_speedup,
    convolution_seconds,
    float32_network,
    resolve_precision,
)
from ._resnet import (
    CONV_OPTIMIZERS,
    SCHEDULES,
    build_resnet,
    patch_whitening,
    resnet_flops,
    schedule_steps,
    set_schedule_steps,
)
from ._shared import MIN_AUGMENTED_SIZE, OPTIMIZERS, make_optimizer


def register_keras_objects():
    """Register skcifar's own Keras layers and losses (imports Keras and its backend).

    Keras finds them by name when a saved or pickled network is loaded;
    :func:`build_resnet`, :mod:`skcifar.estimators` and :func:`skcifar.load`
    call this, while importing :mod:`skcifar.architectures` alone does not
    (it stays free of Keras' backend).
    """
    from . import _layers, _training  # noqa: F401 - registration happens at import


__all__ = [
    "CONV_OPTIMIZERS",
    "MIN_AUGMENTED_SIZE",
    "OPTIMIZERS",
    "PRECISIONS",
    "SCHEDULES",
    "bfloat16_runs",
    "bfloat16_speedup",
    "build_ann",
    "build_cnn",
    "build_resnet",
    "convolution_seconds",
    "float32_network",
    "make_optimizer",
    "patch_whitening",
    "resnet_flops",
    "register_keras_objects",
    "resolve_precision",
    "schedule_steps",
    "set_schedule_steps",
]
