"""scikit-learn's own estimator checks, with the documented expected failures."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skcifar import ANNClassifier, CNNClassifier, PixelScaler, ResNetClassifier
from skcifar.utils.estimator_checks import expected_failed_checks

# Float results here depend on the CPU: make test-isa runs them again under other settings.
pytestmark = pytest.mark.cpu_numerics

# Small networks: the checks fit hundreds of times on tiny tabular data.
ESTIMATORS = [
    PixelScaler(),
    PixelScaler(standardize=True),
    ANNClassifier(
        hidden_layer_sizes=(32,), optimizer="adam", learning_rate=0.02, epochs=8, random_state=0
    ),
    CNNClassifier(filters=(8,), dense_units=16, learning_rate=0.02, epochs=8, random_state=0),
    PixelScaler(dtype="float16"),
    # The checks use tabular data, read as one-pixel-high strips (1, w, 1), which the
    # default augmentation and TTA leave alone (tests/test_resnet.py covers them on images).
    ResNetClassifier(
        widths=(16,),
        stem_filters=16,
        learning_rate=0.2,  # learns the checks' tiny tabular sets in 3 epochs
        epochs=3,
        batch_size=32,
        precision="float32",
        random_state=0,
    ),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_at_most_one_documented_expected_failure(estimator):
    xfails = expected_failed_checks(estimator)
    assert len(xfails) <= 1
    assert all(len(reason) > 40 for reason in xfails.values())
