"""scikit-learn workflows on a small slice of the real CIFAR-10.

Needs ``SKCIFAR_DATA`` (set by ``.ci/run`` and the Makefile); skipped without it.
"""

import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest
from scipy.stats import uniform
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline

from skcifar import CNNClassifier, PixelScaler

# Float results here depend on the CPU: make test-isa runs them again under other settings.
pytestmark = pytest.mark.cpu_numerics

SMALL = dict(filters=(8, 16), dense_units=32, epochs=1, learning_rate=0.003, random_state=0)


@pytest.fixture(scope="module")
def cifar_slice(cifar10_real):
    """1,500 training and 500 test images; the loader interleaves classes, so
    leading slices are class-balanced."""
    (X_train, y_train), (X_test, y_test) = cifar10_real
    return X_train[:1500], y_train[:1500], X_test[:500], y_test[:500]


@pytest.fixture(scope="module")
def fitted_pipeline(cifar_slice):
    X, y, _, _ = cifar_slice
    return make_pipeline(PixelScaler(), CNNClassifier(epochs=4, random_state=0)).fit(X, y)


def test_notebook_cnn_pipeline_learns(cifar_slice, fitted_pipeline):
    _, _, X_test, y_test = cifar_slice
    assert np.bincount(cifar_slice[1]).tolist() == [150] * 10
    assert fitted_pipeline.score(X_test, y_test) > 0.25  # chance is 0.10
    proba = fitted_pipeline.predict_proba(X_test)
    assert proba.shape == (500, 10)


def _grid(n_jobs):
    return GridSearchCV(
        make_pipeline(PixelScaler(), CNNClassifier(**SMALL)),
        {"cnnclassifier__filters": [(4,), (8, 16)], "cnnclassifier__epochs": [1, 3]},
        cv=2,
        n_jobs=n_jobs,
    )


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_over_filters_and_epochs(cifar_slice, n_jobs):
    X, y = cifar_slice[0][:1000], cifar_slice[1][:1000]
    search = _grid(n_jobs).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 4 and np.all(scores > 0.1), scores  # chance is 0.10
    # 750 rows a fold: chance's standard deviation is 0.011, so 0.15 is learning.
    assert search.best_score_ > 0.15 and search.best_params_["cnnclassifier__epochs"] == 3
    best = search.best_estimator_[-1]
    assert best.filters == search.best_params_["cnnclassifier__filters"]
    assert len(best.history_["loss"]) == search.best_params_["cnnclassifier__epochs"]
    restored = pickle.loads(pickle.dumps(search))
    # Exact: same process, same weights, same rows in the same batches: identical bits on any CPU.
    np.testing.assert_array_equal(restored.predict_proba(X[:50]), search.predict_proba(X[:50]))


def test_randomized_search(cifar_slice):
    X, y = cifar_slice[0][:600], cifar_slice[1][:600]
    search = RandomizedSearchCV(
        make_pipeline(PixelScaler(), CNNClassifier(**SMALL)),
        {"cnnclassifier__dropout": uniform(0, 0.5), "cnnclassifier__filters": [(4,), (8,)]},
        n_iter=2,
        cv=2,
        random_state=0,
    ).fit(X, y)
    assert 0 <= search.best_params_["cnnclassifier__dropout"] < 0.5
    assert search.score(X, y) > 0.12


def test_cross_val_score(cifar_slice):
    X, y = cifar_slice[0], cifar_slice[1]
    model = make_pipeline(PixelScaler(), CNNClassifier(**{**SMALL, "epochs": 3}))
    scores = cross_val_score(model, X, y, cv=3)
    # Chance is 0.10 on each fold's 500 rows (standard deviation 0.013): 0.14 is three above.
    assert scores.shape == (3,) and np.all(scores > 0.14), scores


def test_clone_and_set_params(fitted_pipeline):
    copy = clone(fitted_pipeline)
    assert not hasattr(copy[-1], "model_")
    copy.set_params(cnnclassifier__filters=(4,), cnnclassifier__epochs=1)
    assert copy.get_params()["cnnclassifier__filters"] == (4,)
    assert fitted_pipeline[-1].filters == (32, 64)


def test_pickle_unfitted_and_fitted(cifar_slice, fitted_pipeline):
    unfitted = pickle.loads(pickle.dumps(CNNClassifier(filters=(4,))))
    assert unfitted.filters == (4,)
    X_test = cifar_slice[2]
    restored = pickle.loads(pickle.dumps(fitted_pipeline))
    # Exact: same process, same weights, same rows in the same batches: identical bits on any CPU.
    np.testing.assert_array_equal(
        restored.predict_proba(X_test), fitted_pipeline.predict_proba(X_test)
    )


def test_joblib_round_trip_in_a_fresh_process(tmp_path, cifar_slice, fitted_pipeline):
    X_test = cifar_slice[2][:100]
    joblib.dump(fitted_pipeline, tmp_path / "pipe.joblib")
    np.save(tmp_path / "X.npy", X_test)
    script = (
        "import sys, joblib, numpy as np\n"
        "d = sys.argv[1]\n"
        "pipe = joblib.load(d + '/pipe.joblib')\n"
        "np.save(d + '/proba.npy', pipe.predict_proba(np.load(d + '/X.npy')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    # Exact: the other process runs on this CPU with the same thread count, the same
    # weights and the same batches.
    np.testing.assert_array_equal(
        np.load(tmp_path / "proba.npy"), fitted_pipeline.predict_proba(X_test)
    )
