"""The user guide's OptunaSearchCV snippet runs with skcifar on tiny data."""

import pytest
from _synthetic import make_images
from sklearn.pipeline import make_pipeline

from skcifar import CNNClassifier, PixelScaler

pytest.importorskip("optuna")
optuna_integration = pytest.importorskip("optuna_integration")


# Optuna's own notices: tuple choices in a database storage (the study here is in
# memory), OptunaSearchCV's experimental status, its deprecated terminator module.
@pytest.mark.filterwarnings("ignore:Choices for a categorical distribution:UserWarning")
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:`optuna.terminator`:FutureWarning")
def test_optuna_search_over_epochs_widths_and_learning_rate():
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    X, y = make_images(n=60)
    space = {
        "cnnclassifier__epochs": IntDistribution(1, 3),
        "cnnclassifier__filters": CategoricalDistribution([(4,), (8,), (4, 8)]),
        "cnnclassifier__learning_rate": FloatDistribution(1e-4, 1e-2, log=True),
    }
    search = optuna_integration.OptunaSearchCV(
        make_pipeline(PixelScaler(), CNNClassifier(dense_units=8, random_state=0)),
        space,
        n_trials=3,
        cv=2,
        random_state=0,
        verbose=0,
    ).fit(X, y)
    assert len(search.trials_) == 3
    assert search.best_params_.keys() == space.keys()
    assert search.best_params_["cnnclassifier__filters"] in [(4,), (8,), (4, 8)]
    assert 1 <= search.best_params_["cnnclassifier__epochs"] <= 3
    assert search.best_estimator_.predict(X).shape == y.shape
