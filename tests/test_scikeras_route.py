"""Your own Keras builder with scikeras: skcifar's builders in scikeras' KerasClassifier.

The user guide's route for networks that skcifar's classifiers do not build:
``scikeras.wrappers.KerasClassifier(model=build_cnn, model__filters=...)`` after
:class:`skcifar.PixelScaler` in a Pipeline, grid-searched and pickled. It needs
the ``scikeras`` extra (``pip install "skcifar[scikeras]"``; the dev and test
extras hold it, and it requires scikit-learn 1.7).
"""

import io

import joblib
import numpy as np
import pytest
from _scikeras_route import missing
from _synthetic import make_images
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skcifar import PixelScaler
from skcifar.architectures import build_ann, build_cnn

if missing() is not None:
    pytest.skip(missing(), allow_module_level=True)
wrappers = pytest.importorskip("scikeras.wrappers")

X, y = make_images(n=120, size=8)


def _pipeline(builder, **model_params):
    return make_pipeline(
        PixelScaler(),
        wrappers.KerasClassifier(
            model=builder,
            model__input_shape=X.shape[1:],
            model__n_classes=3,
            model__seed=0,
            **{f"model__{name}": value for name, value in model_params.items()},
            epochs=10,
            batch_size=16,
            random_state=0,
            verbose=0,
        ),
    )


def test_a_grid_search_over_a_builders_parameters_and_a_joblib_round_trip():
    search = GridSearchCV(
        _pipeline(build_cnn, filters=(4,), dense_units=4, learning_rate=0.02),
        {"kerasclassifier__model__dense_units": [4, 8]},
        cv=2,
    ).fit(X, y)
    assert search.cv_results_["mean_test_score"].shape == (2,)
    best = search.best_estimator_
    units = search.best_params_["kerasclassifier__model__dense_units"]
    dense = [layer for layer in best[-1].model_.layers if type(layer).__name__ == "Dense"]
    assert [layer.units for layer in dense] == [units, 3]  # the grid's value reached the builder
    assert best.score(X, y) > 0.6  # chance is 1/3: the quadrant images are learnt
    buffer = io.BytesIO()
    joblib.dump(best, buffer)
    buffer.seek(0)
    restored = joblib.load(buffer)
    # Exact: same process, same weights, same rows in the same batches: identical bits on any CPU.
    np.testing.assert_array_equal(restored.predict_proba(X), best.predict_proba(X))


def test_the_dense_builder_takes_the_scaled_images_as_they_are():
    model = _pipeline(build_ann, hidden_layer_sizes=(16,), learning_rate=0.02).fit(X, y)
    assert model[-1].model_.input_shape == (None, *X.shape[1:])
    assert model.score(X, y) > 0.6
