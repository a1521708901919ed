"""Stage 3 - scikit-learn classifiers that train the Keras architectures."""

from ._ann import ANNClassifier
from ._budget import TIME_BUDGET_TOLERANCE
from ._cnn import CNNClassifier
from ._nonfinite import NonFiniteTrainingError
from ._resnet import ResNetClassifier

__all__ = [
    "ANNClassifier",
    "CNNClassifier",
    "NonFiniteTrainingError",
    "ResNetClassifier",
    "TIME_BUDGET_TOLERANCE",
]
