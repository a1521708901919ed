"""Stage 3 - scikit-learn classifiers that train the Keras architectures."""

from ._ann import ANNClassifier
from ._cnn import CNNClassifier

__all__ = ["ANNClassifier", "CNNClassifier"]
