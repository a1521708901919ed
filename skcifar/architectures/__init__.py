"""Stage 2 - model architectures as plain Keras builders (no scikit-learn needed).

* :func:`build_ann`, :func:`build_cnn`: the reference notebook's dense and
  convolutional networks (its exact networks by default);
* :func:`build_resnet`: a fast residual network with batch norm, in-graph
  augmentation, a warm-up + cosine learning-rate schedule, label smoothing and
  weight decay - the accurate one for a CPU budget.

Every builder returns a compiled Keras model (unless ``compile=False``) that
outputs class probabilities and trains on integer labels.
"""

from ._notebook import OPTIMIZERS, build_ann, build_cnn, make_optimizer
from ._resnet import PRECISIONS, build_resnet, resolve_precision

__all__ = [
    "OPTIMIZERS",
    "PRECISIONS",
    "build_ann",
    "build_cnn",
    "build_resnet",
    "make_optimizer",
    "resolve_precision",
]
