"""Files written on TensorFlow load, predict and train on whichever backend runs the tests.

``tests/data/saved_on_tensorflow/`` holds a CNN pipeline and a ResNet-style
classifier saved with :func:`skcifar.save` on Keras' TensorFlow backend, and
their probabilities on a few images. ``make test-backends`` runs this file on
JAX and PyTorch. Record the files again (only when the format changes) with::

    KERAS_BACKEND=tensorflow PYTHONPATH=$PWD python tests/test_cross_backend_files.py --record
"""

import json
import os
import sys

import numpy as np
import pytest
from _synthetic import make_images

import skcifar

FOLDER = os.path.join(os.path.dirname(__file__), "data", "saved_on_tensorflow")
NAMES = ("cnn-pipeline", "resnet")


def _data():
    X, y = make_images(48, size=8)
    return X, y


def _models():
    from sklearn.pipeline import make_pipeline

    from skcifar import CNNClassifier, PixelScaler, ResNetClassifier

    small = dict(epochs=2, random_state=0)
    return {
        "cnn-pipeline": make_pipeline(PixelScaler(), CNNClassifier(filters=(4,), **small)),
        "resnet": ResNetClassifier(
            widths=(8,), stem_filters=8, batch_size=16, precision="float32", **small
        ),
    }


@pytest.mark.parametrize("name", NAMES)
def test_a_file_saved_on_tensorflow_predicts_the_same_and_trains_on(name):
    import keras

    X, y = _data()
    with open(os.path.join(FOLDER, "expected.json"), encoding="utf-8") as f:
        recorded = json.load(f)
    written_by = recorded["keras"]
    if _version(keras.__version__) < _version(written_by):
        pytest.skip(f"written by Keras {written_by}: an older Keras reads no newer file")
    expected = np.array(recorded[name], dtype=np.float32)
    model = skcifar.load(os.path.join(FOLDER, f"{name}.skcifar"))
    # The same float32 network on another backend (or CPU): the sums round differently.
    np.testing.assert_allclose(model.predict_proba(X), expected, atol=2e-5)
    classifier = model[-1] if hasattr(model, "steps") else model
    classifier.set_params(warm_start=True, epochs=1)
    model.fit(X, y)
    assert len(classifier.history_["loss"]) == 3  # the two saved epochs and one more
    proba = model.predict_proba(X)
    assert np.all(np.isfinite(proba)) and np.abs(proba - expected).max() > 1e-4  # it trained


def _version(text):
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


def _record():
    from skcifar.utils.backend import backend_name

    assert backend_name() == "tensorflow", "record on Keras' TensorFlow backend"
    X, y = _data()
    os.makedirs(FOLDER, exist_ok=True)
    import keras

    expected = {"keras": keras.__version__}
    for name, model in _models().items():
        model.fit(X, y)
        skcifar.save(model, os.path.join(FOLDER, f"{name}.skcifar"))
        expected[name] = model.predict_proba(X).tolist()
    with open(os.path.join(FOLDER, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit(__doc__)
    sys.path.insert(0, os.path.dirname(__file__))
    _record()
