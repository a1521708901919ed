"""Stage 3 - scikit-learn classifiers that train the Keras architectures."""

from ._ann import ANNClassifier
from ._budget import TIME_BUDGET_TOLERANCE, TimeBudgetWarning
from ._choice import TTA_SHIFT_GAIN, predicted_accuracy, shifted_views
from ._cnn import CNNClassifier
from ._frontier import BUDGET_NETWORKS
from ._nonfinite import NonFiniteTrainingError
from ._resnet import ResNetClassifier

__all__ = [
    "ANNClassifier",
    "BUDGET_NETWORKS",
    "CNNClassifier",
    "NonFiniteTrainingError",
    "ResNetClassifier",
    "TIME_BUDGET_TOLERANCE",
    "TTA_SHIFT_GAIN",
    "TimeBudgetWarning",
    "predicted_accuracy",
    "shifted_views",
]
