"""ResNetClassifier's test-time augmentation and temperature, twice over.

``predict_proba`` averages the network's outputs over views of each image:
the image and its mirror image, and with a shift ``s`` also both mirrored
views of the image moved by ``s`` pixels up-left and down-right (borders
mirrored), weighted half for the unshifted pair and half for the shifted
ones. Then ``temperature`` sharpens the result. Each step exists in two
forms that must agree: on a ``tf.data`` dataset of batches, as the
estimator predicts (:func:`augmented_proba`, :func:`with_temperature`), and
as TensorFlow ops on one batch, as :func:`skcifar.export` traces it
(:func:`augmented_graph`, :func:`graph_temperature`).
"""

from __future__ import annotations

import numpy as np

from ..utils.backend import import_tensorflow


def _moved(images, shift, offset):
    """``images`` moved by ``offset - shift`` pixels down and right, borders mirrored."""
    tf = import_tensorflow()
    height, width = images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [shift] * 2, [shift] * 2, [0, 0]], "REFLECT")
    return padded[:, offset : offset + height, offset : offset + width]


def _mirrored(images):
    return import_tensorflow().reverse(images, axis=[2])


def _augmented(outputs_of, shift):
    """The views' weighted mean of ``outputs_of(view)``, ``view`` a function of images."""

    def pair(move):  # a view and its mirror image
        return (outputs_of(move) + outputs_of(lambda images: _mirrored(move(images)))) / 2

    proba = pair(lambda images: images)
    if shift:
        up_left = pair(lambda images: _moved(images, shift, 0))
        down_right = pair(lambda images: _moved(images, shift, 2 * shift))
        proba = (proba + (up_left + down_right) / 2) / 2
    return proba


def augmented_proba(predict, data, shift):
    """The views' mean of ``predict`` (outputs of a dataset of image batches).

    Parameters
    ----------
    predict : callable
        Maps a dataset of image batches to an array of outputs.
    data : tf.data.Dataset
        Batches of images.
    shift : int
        Pixels of the shifted views; 0: the image and its mirror image only.
    """
    return _augmented(lambda view: predict(data.map(view)), shift)


def augmented_graph(outputs, images, shift):
    """:func:`augmented_proba` as TensorFlow ops: ``outputs(images)`` for one batch."""
    return _augmented(lambda view: outputs(view(images)), shift)


def with_temperature(proba, temperature):
    """Rows of ``proba ** (1 / temperature)``, renormalised (softmax of scaled log-probs)."""
    if temperature == 1:
        return proba
    logits = np.log(np.maximum(proba, np.finfo(proba.dtype).tiny)) / proba.dtype.type(temperature)
    logits -= logits.max(axis=1, keepdims=True)
    sharpened = np.exp(logits)
    return sharpened / sharpened.sum(axis=1, keepdims=True)


def graph_temperature(proba, temperature):
    """:func:`with_temperature` as TensorFlow ops (float32)."""
    if temperature == 1:
        return proba
    tf = import_tensorflow()
    tiny = np.finfo(np.float32).tiny
    logits = tf.math.log(tf.maximum(proba, tiny)) / np.float32(temperature)
    sharpened = tf.exp(logits - tf.reduce_max(logits, axis=1, keepdims=True))
    return sharpened / tf.reduce_sum(sharpened, axis=1, keepdims=True)
