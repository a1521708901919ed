"""Target encoding for the classifiers: labels <-> class indices."""

from __future__ import annotations

import numpy as np
from sklearn.utils.multiclass import check_classification_targets


def fit_classes(y, classes=None):
    """The sorted classes of ``y`` (or ``classes``, when given): at least two."""
    check_classification_targets(y)
    found = np.unique(y) if classes is None else np.unique(np.asarray(classes))
    if len(found) < 2:
        raise ValueError(
            "A classifier needs samples of at least 2 classes; y has "
            f"{len(found)} class: {found.tolist()}."
        )
    return found


def encode_labels(classes, y):
    """Indices of ``y``'s labels in the sorted ``classes`` (int32); unknown labels raise."""
    idx = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    unknown = classes[idx] != y
    if np.any(unknown):
        raise ValueError(
            f"y contains labels not in classes_: {np.unique(np.asarray(y)[unknown])[:5]}; "
            f"known classes are {classes}."
        )
    return idx.astype(np.int32)
