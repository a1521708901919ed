"""Target encoding for the classifiers: labels <-> class indices."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.multiclass import check_classification_targets


class _ClassEncoder(TransformerMixin, BaseEstimator):
    """Encode any labels (ints, strings) as indices into ``classes_``.

    Implements the contract scikeras expects of a target encoder:
    ``inverse_transform(proba, return_proba=False)`` and ``get_metadata``.
    """

    def __init__(self, classes=None):
        self.classes = classes

    def fit(self, y):
        check_classification_targets(y)
        self.classes_ = np.unique(y) if self.classes is None else np.asarray(self.classes)
        if len(self.classes_) < 2:
            raise ValueError(
                "A classifier needs samples of at least 2 classes; y has "
                f"{len(self.classes_)} class: {self.classes_.tolist()}."
            )
        return self

    def transform(self, y):
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        unknown = self.classes_[idx] != y
        if np.any(unknown):
            raise ValueError(
                f"y contains labels not in classes_: {np.unique(np.asarray(y)[unknown])[:5]}; "
                f"known classes are {self.classes_}."
            )
        return idx.astype(np.int32)

    def inverse_transform(self, proba, return_proba=False):
        if return_proba:
            return proba
        return self.classes_[np.argmax(proba, axis=1)]

    def get_metadata(self):
        return {
            "classes_": self.classes_,
            "n_classes_": len(self.classes_),
            "n_outputs_": 1,
            "n_outputs_expected_": 1,
        }
