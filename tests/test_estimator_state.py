"""A classifier's own state: ``initialized_``, ``current_epoch``, and pickling.

Pickling stores ``model_`` as Keras' ``.keras`` bytes (skcifar.estimators._pickling):
every classifier, unfitted, initialised or fitted, survives pickle, joblib,
copy.deepcopy and clone, predicts the same afterwards, continues training from
where it was, needs no scikeras, and leaves no temporary files and no change to
the caller's random streams or Keras settings.
"""

import copy
import io
import pickle
import random
import subprocess
import sys
import tempfile

import joblib
import numpy as np
import pytest
from _synthetic import make_images
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from skcifar import ANNClassifier, CNNClassifier, PixelScaler, ResNetClassifier
from skcifar.utils.backend import import_keras

keras = import_keras()
X, y = make_images(n=48, size=8)

CLASSIFIERS = {
    "ann": lambda: ANNClassifier(hidden_layer_sizes=(8,), epochs=2, random_state=0),
    "cnn": lambda: CNNClassifier(
        filters=(4,), dense_units=4, dropout=0.2, augment=True, epochs=2, random_state=0
    ),
    "resnet": lambda: ResNetClassifier(widths=(4, 4), stem_filters=4, epochs=2, random_state=0),
}

ROUND_TRIPS = {
    "pickle": lambda obj: pickle.loads(pickle.dumps(obj)),
    "joblib": lambda obj: _joblib_round_trip(obj),
    "deepcopy": copy.deepcopy,
}


def _joblib_round_trip(obj):
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


@pytest.fixture(scope="module", params=list(CLASSIFIERS))
def fitted(request):
    return CLASSIFIERS[request.param]().fit(X, y)


def test_initialized_and_current_epoch_follow_the_training():
    clf = CNNClassifier(filters=(4,), dense_units=4, epochs=2, random_state=0)
    assert clf.initialized_ is False and clf.current_epoch == 0
    clf.initialize(X, y)
    assert clf.initialized_ is True and clf.current_epoch == 0
    clf.fit(X, y)
    assert clf.current_epoch == 2 == len(clf.history_["loss"])
    clf.partial_fit(X, y)
    assert clf.current_epoch == 3
    clf.set_params(warm_start=True).fit(X, y)
    assert clf.current_epoch == 5


@pytest.mark.parametrize("how", list(ROUND_TRIPS))
def test_a_fitted_classifier_round_trips_with_its_predictions(fitted, how):
    restored = ROUND_TRIPS[how](fitted)
    assert restored.model_ is not fitted.model_
    assert restored.get_params() == fitted.get_params()
    assert restored.history_ == fitted.history_ and restored.current_epoch == 2
    np.testing.assert_array_equal(restored.classes_, fitted.classes_)
    # Exact: same process, same weights, same rows in the same batches: identical bits on any CPU.
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))


@pytest.mark.parametrize("kind", list(CLASSIFIERS))
def test_unfitted_and_initialised_classifiers_round_trip(kind):
    unfitted = pickle.loads(pickle.dumps(CLASSIFIERS[kind]()))
    assert unfitted.initialized_ is False
    assert unfitted.get_params() == CLASSIFIERS[kind]().get_params()
    initialised = CLASSIFIERS[kind]().initialize(X, y)
    restored = copy.deepcopy(initialised)
    assert restored.initialized_ is True and restored.current_epoch == 0
    # Exact: same process, same weights, same rows in the same batches: identical bits on any CPU.
    np.testing.assert_array_equal(restored.predict_proba(X), initialised.predict_proba(X))


@pytest.mark.parametrize("kind", ["ann", "cnn"])
def test_a_restored_classifier_continues_its_training_as_the_original_does(kind):
    # Without dropout or augmentation: Keras' .keras format does not store the
    # position of a random layer's seed generator, so those draw anew.
    original = CLASSIFIERS[kind]().set_params(dropout=0.0)
    if kind == "cnn":
        original.set_params(augment=False)
    original.fit(X, y)
    restored = pickle.loads(pickle.dumps(original))
    for clf in (original, restored):
        clf.set_params(warm_start=True, epochs=1).fit(X, y)
    assert restored.current_epoch == original.current_epoch == 3
    # The same weights and optimizer state (Adam's moments and step count) on the
    # same batches; the restored network runs a graph traced anew.
    np.testing.assert_allclose(
        restored.predict_proba(X), original.predict_proba(X), rtol=0, atol=1e-6
    )


def test_an_unpickled_network_is_loaded_in_keras_safe_mode():
    clf = CLASSIFIERS["ann"]().fit(X, y)
    clf.model_ = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Lambda(lambda x: x * 2)])
    data = pickle.dumps(clf)
    with pytest.raises(ValueError, match="safe mode.*Lambda"):
        pickle.loads(data)
    # Keras' global opt-out (enable_unsafe_deserialization) does not weaken unpickling.
    from keras.src.backend.common import global_state

    previous = global_state.get_global_attribute("safe_mode_saving")
    keras.config.enable_unsafe_deserialization()
    try:
        with pytest.raises(ValueError, match="safe mode"):
            pickle.loads(data)
    finally:
        global_state.set_global_attribute("safe_mode_saving", previous)


def test_clone_of_a_fitted_pipeline_is_unfitted_and_a_pickled_one_predicts_the_same():
    pipe = make_pipeline(PixelScaler(), CLASSIFIERS["cnn"]()).fit(X, y)
    assert clone(pipe)[-1].initialized_ is False
    restored = pickle.loads(pickle.dumps(pipe))
    # Exact: same process, same weights, same rows in the same batches: identical bits on any CPU.
    np.testing.assert_array_equal(restored.predict_proba(X), pipe.predict_proba(X))


def _global_state():
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    generator = global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR)
    return {
        "python random": random.getstate(),
        "numpy random": np.random.get_state()[1].tobytes(),  # noqa: NPY002 - the legacy stream
        "keras seed": rng_utils.get_random_seed(),
        "keras seed generator": (
            id(generator),
            None if generator is None else np.asarray(generator.state).tobytes(),
        ),
        "keras custom objects": dict(keras.saving.get_custom_objects()),
        "keras floatx": keras.config.floatx(),
        "keras dtype policy": keras.config.dtype_policy().name,
    }


def test_pickling_leaves_no_files_and_the_callers_state_as_it_was(fitted, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    pickle.loads(pickle.dumps(fitted))  # first use: Keras registers what it lazily imports
    before = _global_state()
    restored = pickle.loads(pickle.dumps(fitted))
    copy.deepcopy(restored)
    assert _global_state() == before
    assert list(tmp_path.iterdir()) == []


def test_the_classifiers_pickle_without_scikeras(tmp_path):
    """A process where scikeras cannot be imported fits, pickles, copies and clones."""
    script = (
        "import sys\n"
        "sys.modules['scikeras'] = None  # import scikeras raises ImportError\n"
        "import copy, pickle\n"
        "import numpy as np\n"
        "from sklearn.base import clone\n"
        "from skcifar import CNNClassifier\n"
        "X = np.random.RandomState(0).rand(24, 8, 8, 3).astype('float32')\n"
        "y = np.arange(24) % 2\n"
        "clf = CNNClassifier(filters=(4,), dense_units=4, epochs=1, random_state=0).fit(X, y)\n"
        "for other in (pickle.loads(pickle.dumps(clf)), copy.deepcopy(clf)):\n"
        "    assert np.array_equal(other.predict_proba(X), clf.predict_proba(X))\n"
        "clone(clf).fit(X, y)\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
