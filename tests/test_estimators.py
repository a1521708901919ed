"""ANNClassifier / CNNClassifier: inputs, labels, parameters, training options."""

import os
import subprocess
import sys

import numpy as np
import pytest
from _synthetic import make_images
from sklearn.exceptions import NotFittedError

from skcifar import ANNClassifier, CNNClassifier
from skcifar.utils.backend import import_keras

# Float results here depend on the CPU: make test-isa runs them again under other settings.
pytestmark = pytest.mark.cpu_numerics

keras = import_keras()

FAST_CNN = dict(filters=(4,), dense_units=8, epochs=3, learning_rate=0.01, random_state=0)
FAST_ANN = dict(
    hidden_layer_sizes=(16,), epochs=3, optimizer="adam", learning_rate=0.01, random_state=0
)


@pytest.fixture(scope="module")
def data():
    X, y = make_images()
    return (X / 255.0).astype(np.float32), y


def test_defaults_are_the_notebook_settings():
    cnn, ann = CNNClassifier(), ANNClassifier()
    assert (
        cnn.filters,
        cnn.kernel_size,
        cnn.dense_units,
        cnn.optimizer,
        cnn.epochs,
        cnn.batch_size,
    ) == ((32, 64), 3, 64, "adam", 10, 32)
    assert (ann.hidden_layer_sizes, ann.optimizer, ann.epochs, ann.batch_size) == (
        (3000, 1000),
        "sgd",
        5,
        32,
    )
    assert cnn.verbose == 0 and ann.verbose == 0


def test_fit_predict_and_fitted_attributes(data):
    X, y = data
    clf = CNNClassifier(**{**FAST_CNN, "epochs": 15}).fit(X, y)
    assert clf.n_features_in_ == 8 * 8 * 3 and clf.input_shape_ == (8, 8, 3)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert clf.score(X, y) > 0.9
    assert set(clf.history_) == {"loss", "accuracy"} and len(clf.history_["loss"]) == 15
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]


def test_images_and_flat_rows_give_the_same_model(data):
    X, y = data
    a = CNNClassifier(**FAST_CNN).fit(X, y)
    b = CNNClassifier(**FAST_CNN, image_shape=(8, 8, 3)).fit(X.reshape(len(X), -1), y)
    assert b.image_shape_ == (8, 8, 3)
    np.testing.assert_allclose(
        a.predict_proba(X), b.predict_proba(X.reshape(len(X), -1)), rtol=1e-5, atol=1e-6
    )


def test_uint8_input_accepted(data):
    X, y = make_images()
    clf = ANNClassifier(**FAST_ANN).fit(X, y)
    assert clf.predict(X).shape == (len(X),)


def test_string_labels(data):
    X, y = data
    names = np.array(["cat", "dog", "ship"])[y]
    clf = ANNClassifier(**{**FAST_ANN, "epochs": 10}).fit(X, names)
    np.testing.assert_array_equal(clf.classes_, ["cat", "dog", "ship"])
    assert set(clf.predict(X)) <= {"cat", "dog", "ship"}
    assert clf.score(X, names) > 0.8


def test_tabular_data_works_for_both(data):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(90, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    for clf in (
        ANNClassifier(**{**FAST_ANN, "epochs": 20}),
        CNNClassifier(**{**FAST_CNN, "epochs": 20}),
    ):
        assert clf.fit(X, y).image_shape_ == (1, 5, 1)
        assert clf.score(X, y) > 0.8


@pytest.mark.parametrize(
    "X_bad, match",
    [
        (lambda X: X[:, :4], "per-sample shape"),
        (lambda X: X.reshape(len(X), -1), "per-sample shape"),
        (lambda X: np.where(X > 0.5, np.nan, X), "NaN"),
        (lambda X: X[..., 0], "3-D"),
        (lambda X: X[0].ravel(), "1-D"),
        (lambda X: np.full(X.shape, "a"), "numeric"),
    ],
)
def test_predict_bad_input_says_what_was_expected(data, X_bad, match):
    X, y = data
    clf = ANNClassifier(**{**FAST_ANN, "epochs": 1}).fit(X, y)
    with pytest.raises(ValueError, match=match):
        clf.predict(X_bad(X))


def test_not_fitted():
    with pytest.raises(NotFittedError):
        CNNClassifier().predict(np.zeros((1, 8, 8, 3)))


@pytest.mark.parametrize(
    "params, name",
    [
        (dict(filters=(32, -1)), "filters"),
        (dict(filters="wide"), "filters"),
        (dict(kernel_size=(3, 3, 3)), "kernel_size"),
        (dict(epochs=0), "epochs"),
        (dict(batch_size=2.5), "batch_size"),
        (dict(learning_rate=-1.0), "learning_rate"),
        (dict(optimizer="magic"), "optimizer"),
        (dict(dropout=1.0), "dropout"),
        (dict(validation_fraction=1.5), "validation_fraction"),
        (dict(early_stopping=True, validation_fraction=0.0), "validation_fraction"),
        (dict(class_weight="heavy"), "class_weight"),
        (dict(callbacks="stop"), "callbacks"),
    ],
)
def test_invalid_hyperparameters_name_the_parameter(data, params, name):
    X, y = data
    with pytest.raises((ValueError, TypeError), match=name):
        CNNClassifier(**{**FAST_CNN, **params}).fit(X, y)


def test_invalid_ann_parameters(data):
    X, y = data
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        ANNClassifier(hidden_layer_sizes=(0,)).fit(X, y)
    with pytest.raises(ValueError, match="activation"):
        ANNClassifier(activation="wiggle").fit(X, y)


@pytest.mark.parametrize(
    "name, optimizer_class",
    [("AdamW", "AdamW"), ("RMSprop", "RMSprop"), ("NADAM", "Nadam"), ("sgd", "SGD")],
)
def test_optimizer_names_are_read_in_any_case(data, name, optimizer_class):
    X, y = data
    clf = ANNClassifier(**{**FAST_ANN, "epochs": 1, "optimizer": name}).fit(X, y)
    assert type(clf.model_.optimizer).__name__ == optimizer_class


def test_unknown_optimizer_error_lists_the_names(data):
    X, y = data
    with pytest.raises(ValueError, match="optimizer") as error:
        ANNClassifier(**{**FAST_ANN, "optimizer": "Adamax"}).fit(X, y)
    assert all(name in str(error.value) for name in ("'adam'", "'adamw'", "'rmsprop'"))


def test_label_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="2 classes"):
        ANNClassifier(**FAST_ANN).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="inconsistent"):
        ANNClassifier(**FAST_ANN).fit(X, y[:-1])
    with pytest.raises(ValueError, match="continuous"):
        ANNClassifier(**FAST_ANN).fit(X, np.linspace(0, 1, len(X)))


def test_same_random_state_same_predictions(data):
    X, y = data
    params = {**FAST_CNN, "dropout": 0.2, "augment": True, "validation_fraction": 0.2}
    a = CNNClassifier(**params).fit(X, y).predict_proba(X)
    b = CNNClassifier(**params).fit(X, y).predict_proba(X)
    c = CNNClassifier(**{**params, "random_state": 1}).fit(X, y).predict_proba(X)
    # Exact: the same seed repeats the same computation in this process.
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_fitting_does_not_touch_global_random_streams(data):
    X, y = data
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    CNNClassifier(**FAST_CNN).fit(X, y)
    assert np.random.rand() == expected


def test_validation_split_and_early_stopping(data):
    X, _ = data
    # Random labels: the network can only memorise, so validation loss soon rises.
    y = np.random.RandomState(1).randint(0, 3, len(X))
    clf = CNNClassifier(
        **{**FAST_CNN, "epochs": 50, "learning_rate": 0.05}, early_stopping=True, n_iter_no_change=2
    ).fit(X, y)
    history = clf.history_
    assert {"val_loss", "val_accuracy"} <= set(history)
    assert len(history["loss"]) < 50
    best = int(np.argmin(history["val_loss"]))
    assert len(history["loss"]) == best + 1 + 2  # stopped n_iter_no_change epochs after the best


def test_sample_weight_and_class_weight_change_the_fit(data):
    X, y = data
    base = ANNClassifier(**FAST_ANN).fit(X, y).predict_proba(X)
    weights = np.where(y == 0, 5.0, 1.0)
    weighted = ANNClassifier(**FAST_ANN).fit(X, y, sample_weight=weights).predict_proba(X)
    balanced = ANNClassifier(**FAST_ANN, class_weight={0: 5.0, 1: 1.0, 2: 1.0}).fit(X, y)
    # The weights change the fit (which way depends on the backend's random
    # streams: the fits are near-saturated), and class_weight is the same
    # weighting as sample_weight.
    assert np.abs(weighted - base).max() > 1e-3
    np.testing.assert_allclose(balanced.predict_proba(X), weighted, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="sample_weight"):
        ANNClassifier(**FAST_ANN).fit(X, y, sample_weight=np.ones(3))


def test_warm_start_and_partial_fit_continue_training(data):
    X, y = data
    clf = ANNClassifier(**FAST_ANN, warm_start=True).fit(X, y)
    first_model = clf.model_
    clf.fit(X, y)
    assert clf.model_ is first_model and len(clf.history_["loss"]) == 6
    inc = ANNClassifier(**FAST_ANN)
    inc.partial_fit(X[:30], y[:30], classes=[0, 1, 2])
    inc.partial_fit(X[30:], y[30:])
    assert len(inc.history_["loss"]) == 2 and list(inc.classes_) == [0, 1, 2]


def test_user_callbacks_run(data):
    X, y = data
    seen = []
    callback = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    ANNClassifier(**FAST_ANN, callbacks=[callback]).fit(X, y)
    assert seen == [0, 1, 2]


def test_quiet_by_default_in_a_fresh_process(tmp_path):
    """No TensorFlow C++ log lines, warnings or progress bars unless verbose asks."""
    script = (
        "import numpy as np\n"
        "from sklearn.pipeline import make_pipeline\n"
        "from skcifar import CNNClassifier, PixelScaler\n"
        "X = np.random.RandomState(0).rand(40, 8, 8, 3).astype('float32')\n"
        "CNNClassifier(filters=(4,), dense_units=4, epochs=2).fit(X, np.arange(40) % 2)"
        ".predict(X)\n"
        # float16 pixels: TensorFlow logs an error for any float16 op on this CPU
        "clf = make_pipeline(PixelScaler(), CNNClassifier(filters=(4,), dense_units=4))\n"
        "clf.fit(X * 255, np.arange(40) % 2).predict_proba(X * 255)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
