"""ResNetClassifier's test-time augmentation and temperature, as Keras operations.

Each function here wraps an inference function (a batch of images ->
probabilities) into
another: ``ResNetClassifier.inference_function`` is the network's function
wrapped in both; ``predict_proba`` runs it, :func:`skcifar.export` traces it.

* :func:`augmented` averages the outputs over views of each image: the image
  and its mirror image, and with a shift ``s`` also both mirrored views of
  the image moved by ``s`` pixels up-left and down-right (borders mirrored),
  weighted half for the unshifted pair and half for the shifted ones.
* :func:`sharpened` applies a temperature ``T``: each row of probabilities
  ``p`` becomes ``p ** (1 / T)``, renormalised, computed as the softmax of
  ``log(p) / T``.
"""

from __future__ import annotations

import numpy as np

from ..utils.backend import import_keras

ops = import_keras().ops


def _moved(images, shift, offset):
    """``images`` moved by ``offset - shift`` pixels down and right, borders mirrored."""
    height, width = images.shape[1], images.shape[2]
    padded = ops.pad(images, [[0, 0], [shift] * 2, [shift] * 2, [0, 0]], mode="reflect")
    return padded[:, offset : offset + height, offset : offset + width]


def _mirrored(images):
    return ops.flip(images, axis=2)


def augmented(probabilities, shift):
    """``probabilities`` (a function of an image batch) averaged over each image's views.

    ``shift`` is the pixels of the shifted views; 0: the image and its mirror image only.
    """

    def views_mean(images):
        def pair(view):  # a view and its mirror image
            return (probabilities(view) + probabilities(_mirrored(view))) / 2

        proba = pair(images)
        if shift:
            up_left = pair(_moved(images, shift, 0))
            down_right = pair(_moved(images, shift, 2 * shift))
            proba = (proba + (up_left + down_right) / 2) / 2
        return proba

    return views_mean


def sharpened(probabilities, temperature):
    """``probabilities`` with rows ``p ** (1 / temperature)``, renormalised (float32)."""
    if temperature == 1:
        return probabilities
    divisor = np.float32(temperature)
    tiny = np.finfo(np.float32).tiny

    def sharpen(images):
        logits = ops.log(ops.maximum(probabilities(images), tiny)) / divisor
        exp = ops.exp(logits - ops.max(logits, axis=1, keepdims=True))
        return exp / ops.sum(exp, axis=1, keepdims=True)

    return sharpen
