"""``predict_proba``'s run of a classifier's inference function over batches.

The function is compiled with ``tf.function`` once per network and parameter
values (kept on the network, so it lives and dies with it) and run batch by
batch, as Keras' ``predict`` runs a network.
"""

from __future__ import annotations

import numpy as np

from ..utils.backend import import_tensorflow

# The attribute of the Keras network that holds its compiled inference function.
_ATTRIBUTE = "_skcifar_inference"


class _Compiled:
    """A compiled inference function and its parameter values (untracked by Keras' saving)."""

    def __init__(self, parameters, function):
        self.parameters = parameters
        self.function = function


def _parameters(classifier):
    """The classifier's parameter values, comparable (``repr`` round-trips floats)."""
    return tuple(sorted((name, repr(value)) for name, value in classifier.get_params().items()))


def compiled_inference(classifier):
    """``classifier.inference_function()`` as a ``tf.function``, compiled once per network.

    Compiled like Keras' own ``predict`` (with XLA where the network's
    ``jit_compile`` is on, as Keras turns it on for GPUs), and traced for a
    batch size of any value, so the last, smaller batch is no new trace.
    """
    network = classifier.model_
    parameters = _parameters(classifier)
    compiled = getattr(network, _ATTRIBUTE, None)
    if compiled is None or compiled.parameters != parameters:
        tf = import_tensorflow()
        function = tf.function(
            classifier.inference_function(network),
            reduce_retracing=True,
            jit_compile=bool(getattr(network, "jit_compile", False)),
        )
        compiled = _Compiled(parameters, function)
        setattr(network, _ATTRIBUTE, compiled)
    return compiled.function


def run_inference(classifier, data):
    """The probabilities of a ``tf.data`` dataset of image batches, as one float32 array."""
    function = compiled_inference(classifier)
    return np.concatenate([np.asarray(function(images)) for images in data])
