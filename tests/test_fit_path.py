"""The fit path: initialize, weights without copies, sizes, image shapes, pandas output,
and no lasting side effects on the caller's process."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sklearn
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skcifar import ANNClassifier, CNNClassifier, PixelScaler, ResNetClassifier
from skcifar.estimators import _base
from skcifar.estimators._row_order import content_order
from skcifar.utils.backend import import_keras

# Float results here depend on the CPU: make test-isa runs them again under other settings.
pytestmark = pytest.mark.cpu_numerics

keras = import_keras()

SMALL = {
    "ann": (ANNClassifier, dict(hidden_layer_sizes=(8,), epochs=1, random_state=0)),
    "cnn": (CNNClassifier, dict(filters=(4,), dense_units=4, epochs=1, random_state=0)),
    "resnet": (ResNetClassifier, dict(widths=(4, 4), stem_filters=4, epochs=1, random_state=0)),
}
# Each classifier's size parameters, as grids built with NumPy.
SIZE_GRIDS = {
    "ann": {"hidden_layer_sizes": list(np.arange(4, 9, 4))},
    "cnn": {
        "filters": [tuple(np.arange(2, 7, 2)[:k]) for k in (1, 2)],
        "dense_units": list(np.linspace(4, 8, 2, dtype=int)),
        "kernel_size": [np.int64(3)],
    },
    "resnet": {"widths": [tuple(np.arange(4, 9, 4)), np.arange(4, 9, 4)]},
}


@pytest.fixture(scope="module")
def images():
    rng = np.random.RandomState(0)
    return rng.randint(0, 256, size=(60, 8, 8, 3)).astype(np.uint8), np.arange(60) % 3


@pytest.mark.parametrize("kind", list(SMALL))
def test_initialize_builds_an_untrained_network(kind, images):
    X, y = images
    cls, params = SMALL[kind]
    clf = cls(**params).initialize(X, y)
    assert clf.current_epoch == 0 and clf.initialized_
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.predict_proba(X).shape == (len(X), 3)
    clf.partial_fit(X, y)
    assert clf.current_epoch == 1


@pytest.mark.parametrize("weights", ["sample_weight", "class_weight"])
def test_weights_feed_x_itself_not_a_copy(weights, images, monkeypatch):
    X, y = images
    X = PixelScaler().fit_transform(X)  # aligned memory, shared with TensorFlow as is
    fed = []
    original = _base.batches

    def spy(data, *args, **kwargs):
        fed.append(data)
        return original(data, *args, **kwargs)

    monkeypatch.setattr(_base, "batches", spy)
    sample_weight = np.where(np.arange(len(y)) < 10, 0.0, 2.0)  # zeros leave rows out
    if weights == "sample_weight":
        clf = CNNClassifier(**SMALL["cnn"][1]).fit(X, y, sample_weight=sample_weight)
    else:
        clf = CNNClassifier(**SMALL["cnn"][1], class_weight={0: 0.0, 1: 1.0, 2: 3.0}).fit(X, y)
    assert fed and all(np.shares_memory(data, X) for data in fed)
    assert clf.history_["loss"]


def test_all_zero_weights_are_refused(images):
    X, y = images
    with pytest.raises(ValueError, match="weight"):
        CNNClassifier(**SMALL["cnn"][1]).fit(X, y, sample_weight=np.zeros(len(y)))


@pytest.mark.parametrize("kind", list(SMALL))
def test_numpy_integer_sizes_everywhere(kind, images):
    X, y = images
    cls, params = SMALL[kind]
    name, grid = next(iter(SIZE_GRIDS[kind].items()))
    cls(**{**params, name: grid[0]}).fit(X, y)  # a NumPy integer or tuple of them
    search = GridSearchCV(cls(**params), SIZE_GRIDS[kind], cv=2, error_score="raise")
    search.fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_scalar_numpy_size_is_a_single_layer(images):
    X, y = images
    clf = ANNClassifier(hidden_layer_sizes=np.int64(16), epochs=1).fit(X, y)
    assert [layer.units for layer in clf.model_.layers[1:]] == [16, 3]


def test_tabular_width_is_a_strip_never_augmented(images):
    X, y = images
    table = X.reshape(len(X), -1)[:, :64].astype(np.float32)  # 64 columns, 8*8 by chance
    clf = ResNetClassifier(**SMALL["resnet"][1]).fit(table, y)
    assert clf.image_shape_ == (1, 64, 1)
    assert not any(type(layer).__name__ == "RandomShiftFlip" for layer in clf.model_.layers)
    cnn = CNNClassifier(**SMALL["cnn"][1], augment=True).fit(table, y)
    assert cnn.image_shape_ == (1, 64, 1)
    assert not any(layer.name.startswith("random_") for layer in cnn.model_.layers)


def test_image_shape_reshapes_flat_rows_when_told(images):
    X, y = images
    flat = X.reshape(len(X), -1)
    clf = ResNetClassifier(**SMALL["resnet"][1], image_shape=(8, 8, 3)).fit(flat, y)
    assert clf.image_shape_ == (8, 8, 3) and clf.input_shape_ == (192,)
    assert any(type(layer).__name__ == "RandomShiftFlip" for layer in clf.model_.layers)
    same = ResNetClassifier(**SMALL["resnet"][1]).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(flat), same.predict_proba(X), atol=1e-6)


def test_cifar_width_is_read_as_cifar_images():
    X = np.zeros((4, 3072), np.uint8)
    clf = ANNClassifier(hidden_layer_sizes=(), epochs=1).fit(X, [0, 1, 0, 1])
    assert clf.image_shape_ == (32, 32, 3)


@pytest.mark.parametrize(
    "image_shape, X_shape, match",
    [
        ((8, 8, 1), (10, 192), "192"),
        ((4, 4, 3), (10, 8, 8, 3), "image_shape"),
        ((8, 8), (10, 64), "height, width, channels"),
    ],
)
def test_image_shape_that_does_not_fit_is_refused(image_shape, X_shape, match):
    X, y = np.zeros(X_shape, np.float32), np.arange(X_shape[0]) % 2
    with pytest.raises(ValueError, match=match):
        CNNClassifier(image_shape=image_shape, epochs=1).fit(X, y)


@pytest.fixture
def pandas_output():
    pytest.importorskip("pandas")
    with sklearn.config_context(transform_output="pandas"):
        yield


def test_image_pipeline_under_pandas_output_predicts_as_by_default(images, pandas_output):
    X, y = images
    pipe = make_pipeline(PixelScaler(), CNNClassifier(**SMALL["cnn"][1]))
    proba = pipe.fit(X, y).predict_proba(X)
    with sklearn.config_context(transform_output="default"):
        expected = make_pipeline(PixelScaler(), CNNClassifier(**SMALL["cnn"][1]))
        # Exact: the same arrays reach the same fit, whatever the output container.
        np.testing.assert_array_equal(expected.fit(X, y).predict_proba(X), proba)
    assert isinstance(pipe[0].transform(X), np.ndarray)


def test_flat_input_under_pandas_output_is_a_dataframe(images, pandas_output):
    import pandas as pd

    X, y = images
    table = pd.DataFrame(X.reshape(len(X), -1)[:, :12]).add_prefix("px")
    out = PixelScaler().fit(table).transform(table)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(table.columns)
    pipe = make_pipeline(PixelScaler(), ANNClassifier(**SMALL["ann"][1])).fit(table, y)
    assert list(pipe[-1].feature_names_in_) == list(table.columns)


_SIDE_EFFECTS = textwrap.dedent(
    """
    import logging, os, random, sys, warnings
    import numpy as np

    def state(full):
        seen = dict(
            tf_logger=logging.getLogger("tensorflow").level,
            env=os.environ.get("TF_CPP_MIN_LOG_LEVEL"),
        )
        if full:  # needs the backend imported; TensorFlow's import adds warnings filters itself
            from keras.src.utils import rng_utils

            seen.update(filters=list(warnings.filters), keras_seed=rng_utils.get_random_seed())
            if "tensorflow" in sys.modules:
                from tensorflow.python.eager import context
                import absl.logging

                seen.update(absl=absl.logging.get_verbosity(), tf_seed=context.global_seed())
            if "torch" in sys.modules:
                import torch

                seen.update(torch_rng=bytes(torch.random.get_rng_state().numpy()))
        return seen

    import sklearn.model_selection  # the caller's own scikit-learn (its import draws from random)

    full = sys.argv[1] == "keras-first"
    if full:
        import keras  # the caller's own Keras, before skcifar
    before = state(full)
    random.seed(1); np.random.seed(1)
    py, npy = random.getstate(), np.random.get_state()[1].copy()
    import skcifar
    from skcifar import CNNClassifier
    X = np.random.RandomState(0).rand(20, 8, 8, 3).astype("float32")
    clf = CNNClassifier(filters=(2,), dense_units=2, epochs=1, random_state=3)
    clf.fit(X, np.arange(20) % 2).predict(X)
    skcifar.load  # the lazy imports, too
    after = state(full)
    assert after == before, (before, after)
    assert random.getstate() == py and (np.random.get_state()[1] == npy).all()
    print("unchanged")
    """
)


@pytest.mark.parametrize("order", ["skcifar-first", "keras-first"])
def test_import_and_fit_leave_the_process_as_it_was(order):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-c", _SIDE_EFFECTS, order],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "unchanged"


def test_release_memory_spaces_its_collections(monkeypatch):
    """A collection costs about 0.2 s: right after one, another waits."""
    from skcifar.utils import backend

    collections = []
    monkeypatch.setattr(backend, "_last_release", None)  # restored afterwards
    monkeypatch.setattr(backend.gc, "collect", lambda: collections.append(1) or 0)
    assert backend.release_memory()  # the first call always collects
    backend._last_release = (backend._last_release[0], 1.0, backend._last_release[2])  # took 1 s
    assert not backend.release_memory()  # less than 20 s since: spaced out
    assert len(collections) == 1
    ended, _, resident = backend._last_release
    backend._last_release = (ended - 30.0, 1.0, resident)  # 30 s ago, took 1 s: 3% of the time
    assert backend.release_memory()
    if resident is not None:  # grown by RELEASE_GROWTH since: collect at once
        backend._last_release = (backend._last_release[0], 1.0, resident - backend.RELEASE_GROWTH)
        assert backend.release_memory()
    assert len(collections) == 2 + (resident is not None)


def test_float16_pixels_are_checked_for_infinity_without_overflowing():
    """The float16 fast path must still catch a non-finite value, and pass finite images."""
    from skcifar.utils.validation import validate_pixels

    X = np.full((300, 32, 32, 3), 60000.0, dtype=np.float16)  # a float16 sum overflows
    assert validate_pixels(CNNClassifier(), X, reset=True) is not None
    X[7, 1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        validate_pixels(CNNClassifier(), X, reset=True)


def test_content_order_is_a_function_of_the_rows_alone():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 3, size=(3000, 2)).astype(np.uint8)  # 9 distinct rows, repeated
    rows, inverse = content_order(X)
    assert len(rows) == len(np.unique(X, axis=0)) == 9
    np.testing.assert_array_equal(X[rows][inverse], X)  # (indices only: exact)
    order = rng.permutation(len(X))
    rows_again, inverse_again = content_order(X[order])
    np.testing.assert_array_equal(X[order][rows_again], X[rows])
    np.testing.assert_array_equal(inverse_again, inverse[order])
    signed_zeros = np.array([[0.0], [-0.0], [0.0]], dtype=np.float32)
    assert content_order(signed_zeros)[1].tolist() == [0, 1, 0]  # rows differ in their bytes


# Networks wide enough for a row's last bit to depend on its place in a batch on AVX2.
WIDER = {
    "ann": (ANNClassifier, dict(hidden_layer_sizes=(32,), epochs=2, random_state=0)),
    "cnn": (CNNClassifier, dict(filters=(8,), dense_units=16, epochs=2, random_state=0)),
    "resnet": (ResNetClassifier, dict(widths=(16,), stem_filters=16, epochs=2, random_state=0)),
}


@pytest.mark.parametrize("kind", list(WIDER))
def test_predict_proba_follows_the_rows_not_their_places(kind):
    """Reordered rows give reordered probabilities and repeated rows repeated ones, to
    the bit, on every CPU: also where a row's float32 result depends on its place in a
    batch (AVX2-only CPUs, TensorFlow without oneDNN: ``make test-isa``), there for
    batches whose size is no multiple of 8 (here 15 rows and 256 + 34)."""
    cls, params = WIDER[kind]
    rng = np.random.RandomState(0)
    X = 3 * rng.uniform(size=(60, 3))  # as scikit-learn's sample-order check
    clf = cls(**params).fit(X, X[:, 0].astype(int))
    for n in (15, 290):
        new = 3 * rng.uniform(size=(n, 3))
        new = np.concatenate([new, new[:5]])
        proba = clf.predict_proba(new)
        assert proba.dtype == np.float32 and proba.shape == (n + 5, 3)
        # Exact: each distinct row is predicted once, in an order set by the rows' contents.
        np.testing.assert_array_equal(proba[n:], proba[:5])
        for seed in range(5):
            order = np.random.RandomState(seed).permutation(len(new))
            np.testing.assert_array_equal(clf.predict_proba(new[order]), proba[order])
