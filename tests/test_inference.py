"""Each classifier's inference function: what predict_proba runs and export traces."""

import gc
import pickle
import weakref

import numpy as np
import pytest
from _synthetic import make_images
from sklearn.exceptions import NotFittedError

from skcifar import CNNClassifier, ResNetClassifier
from skcifar.estimators._inference import compiled_inference
from skcifar.utils.backend import import_keras

RESNET = dict(
    widths=(4,),
    stem_filters=4,
    epochs=1,
    batch_size=16,
    tta_shift=1,
    temperature=0.5,
    precision="float32",
    random_state=0,
)


@pytest.fixture(scope="module")
def data():
    X, y = make_images()  # 120 images 8x8x3, 3 classes
    return X, y


@pytest.fixture(scope="module")
def resnet(data):
    return ResNetClassifier(**RESNET).fit(*data)


def _numpy(tensor):
    """A backend tensor as NumPy (a PyTorch output records gradients: no np.asarray)."""
    return import_keras().ops.convert_to_numpy(tensor)


def _views_mean(network, X):
    """The six test-time views' weighted mean of the network's outputs, in NumPy."""

    def pair(images):
        images = np.ascontiguousarray(images, dtype=np.float32)
        mirrored = np.ascontiguousarray(images[:, :, ::-1])
        return (_numpy(network(images)) + _numpy(network(mirrored))) / 2

    padded = np.pad(X, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    up_left, down_right = padded[:, :-2, :-2], padded[:, 2:, 2:]
    return (pair(X) + (pair(up_left) + pair(down_right)) / 2) / 2


def _sharpened(proba, temperature):  # the temperature's formula: p ** (1 / T), renormalised
    proba = proba ** (1 / temperature)
    return proba / proba.sum(axis=1, keepdims=True)


def test_the_resnets_function_averages_the_views_and_applies_the_temperature(resnet, data):
    X, _ = data
    expected = _sharpened(_views_mean(resnet.model_, X), resnet.temperature)
    got = _numpy(resnet.inference_function()(X))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(resnet.predict_proba(X), expected, rtol=1e-4, atol=1e-6)


def test_predict_proba_follows_set_params(data):
    X, y = data
    clf = ResNetClassifier(**RESNET).fit(X, y)
    sharpened = clf.predict_proba(X)
    clf.set_params(tta=False, temperature=1.0)
    plain = clf.predict_proba(X)
    network = _numpy(clf.model_(X.astype(np.float32), training=False))
    np.testing.assert_allclose(plain, network, rtol=1e-4, atol=1e-6)
    assert np.abs(plain - sharpened).max() > 1e-3
    clf.set_params(tta=True, temperature=0.5)
    np.testing.assert_allclose(clf.predict_proba(X), sharpened, rtol=1e-5, atol=1e-7)


@pytest.mark.tensorflow  # counts tf.function traces
def test_the_function_is_compiled_once_per_network_and_parameters(data):
    X, y = data
    clf = CNNClassifier(filters=(4,), dense_units=8, epochs=1, batch_size=16, random_state=0)
    clf.fit(X, y)
    for n in (120, 37, 5, 120, 64):  # batches of several sizes
        clf.predict_proba(X[:n])
    function = compiled_inference(clf)
    assert function.experimental_get_tracing_count() <= 2  # one shape, then any batch size
    assert compiled_inference(clf) is function
    clf.set_params(verbose=1)  # another parameter value: compiled anew
    assert compiled_inference(clf) is not function


def test_a_compiled_function_does_not_keep_its_network_alive(data):
    X, y = data
    clf = CNNClassifier(filters=(4,), dense_units=8, epochs=1, random_state=0).fit(X, y)
    clf.predict_proba(X)
    network = weakref.ref(clf.model_)
    clf.fit(X, y)  # a new network
    gc.collect()
    assert network() is None


def test_a_classifier_that_predicted_pickles_and_predicts_alike(resnet, data):
    X, _ = data
    proba = resnet.predict_proba(X)
    again = pickle.loads(pickle.dumps(resnet))
    np.testing.assert_allclose(again.predict_proba(X), proba, rtol=1e-5, atol=1e-7)


def test_an_unfitted_classifier_has_no_inference_function():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        ResNetClassifier().inference_function()
