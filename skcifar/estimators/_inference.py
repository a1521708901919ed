"""``predict_proba``'s run of a classifier's inference function over batches.

The function is compiled once per network and parameter values (kept on the
network, so it lives and dies with it) and run batch by batch, as Keras'
``predict`` runs a network: with ``tf.function`` on TensorFlow, ``jax.jit``
on JAX (the variables' values passed in, so the compiled function follows the
weights), and eagerly without gradient records on PyTorch.
"""

from __future__ import annotations

import numpy as np

from ..utils.backend import backend_name, import_keras, import_tensorflow, to_numpy

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
    """``classifier.inference_function()``, compiled once per network.

    On TensorFlow a ``tf.function`` compiled like Keras' own ``predict`` (with
    XLA where the network's ``jit_compile`` is on, as Keras turns it on for
    GPUs), traced for a batch size of any value, so the last, smaller batch is
    no new trace.
    """
    network = classifier.model_
    parameters = _parameters(classifier)
    compiled = getattr(network, _ATTRIBUTE, None)
    if compiled is None or compiled.parameters != parameters:
        function = classifier.inference_function(network)
        name = backend_name()
        if name == "tensorflow":
            function = import_tensorflow().function(
                function,
                reduce_retracing=True,
                jit_compile=bool(getattr(network, "jit_compile", False)),
            )
        elif name == "jax":
            function = _jax_compiled(function, network)
        else:
            function = _without_gradients(function)
        compiled = _Compiled(parameters, function)
        setattr(network, _ATTRIBUTE, compiled)
    return compiled.function


def _jax_compiled(function, network):
    """``function`` (which calls ``network``) jit-compiled, with the weights as arguments.

    A batch is padded to the next power of two (at most its own size again),
    so a network compiles for a few batch sizes only, whatever sizes
    ``predict_proba`` is given.
    """
    import jax

    keras = import_keras()
    variables = list(network.variables)

    def stateless(values, images):
        with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
            return function(images)

    jitted = jax.jit(stateless)

    def run(images):
        n = images.shape[0]
        size = 1 << max(n - 1, 0).bit_length()
        if size != n:
            images = np.concatenate([images, np.zeros((size - n, *images.shape[1:]), images.dtype)])
        return jitted([variable.value for variable in variables], images)[:n]

    return run


def _without_gradients(function):
    """``function`` run under ``torch.no_grad()`` (no graph of the batch is kept)."""
    import torch

    keras = import_keras()

    def run(images):
        with torch.no_grad():
            return function(keras.ops.convert_to_tensor(images))

    return run


def run_inference(classifier, data):
    """The probabilities of an iterable of image batches, as one float32 array."""
    function = compiled_inference(classifier)
    return np.concatenate([to_numpy(function(images)) for images in data])
