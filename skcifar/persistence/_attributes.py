"""The fitted attributes stored for each class, and the checks on them when loading.

:data:`ATTRIBUTES` is the one table: for each storable class, the fitted
attributes that :func:`skcifar.save` writes and the check that a value read
from a file must pass before :func:`skcifar.load` sets it. A check raises
``ValueError`` saying what was expected, so that a crafted file fails on
loading, not later inside numpy or Keras.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from ..utils.validation import image_shape_for

_MAX_SIZE = 2**31  # bound on a count or dimension


def _is_size(value):
    return type(value) is int and 0 < value < _MAX_SIZE


def _count(value):
    """``n_features_in_``: a positive int."""
    if not _is_size(value):
        raise ValueError("expected a positive int")


def _shape(*lengths):
    """A per-sample shape: a tuple of ``lengths`` positive ints."""
    expected = " or ".join(str(n) for n in lengths)

    def check(value):
        if not (isinstance(value, tuple) and len(value) in lengths and all(map(_is_size, value))):
            raise ValueError(f"expected a tuple of {expected} positive ints")

    return check


def _is_label(item):
    if isinstance(item, bool | str):
        return True
    return isinstance(item, int | float) and math.isfinite(item)


def _labels(value, what):
    """A 1-D array of labels: numbers, strings, or an object array of them."""
    if not (isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "biufUSO"):
        raise ValueError(f"expected a 1-D array of {what}")
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        raise ValueError(f"expected a 1-D array of {what}, finite")
    if value.dtype.kind == "O" and not all(_is_label(item) for item in value):
        raise ValueError(f"expected a 1-D array of {what}")


def _classes(value):
    """``classes_``: at least two labels, sorted and distinct (as ``np.unique`` returns)."""
    _labels(value, "class labels")
    try:
        unique = np.unique(value)
    except TypeError:  # labels of mixed types
        unique = None
    if len(value) < 2 or unique is None or not np.array_equal(unique, value):
        raise ValueError("expected at least two distinct class labels, sorted")


def _names(value):
    """``feature_names_in_``: strings."""
    _labels(value, "str")
    if value.dtype.kind != "U" and not all(isinstance(name, str) for name in value):
        raise ValueError("expected a 1-D array of str")


def _history(value):
    """``history_``: lists of numbers (Keras' logs, one per epoch), by name, with ``loss``."""
    if not (
        isinstance(value, dict)
        and all(isinstance(key, str) for key in value)
        and all(isinstance(log, list) for log in value.values())
        and all(
            isinstance(entry, Real) and not isinstance(entry, bool)
            for log in value.values()
            for entry in log
        )
        and (not value or "loss" in value)
    ):
        raise ValueError("expected a dict of lists of numbers with a 'loss' entry")


def _per_channel(positive):
    """``mean_``/``scale_``: None or a 1-D float array of finite (positive) values."""

    def check(value):
        if value is None:
            return
        if not (isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind == "f"):
            raise ValueError("expected None or a 1-D float array")
        if not np.isfinite(value).all() or (positive and not (value > 0).all()):
            raise ValueError(
                "expected finite positive values" if positive else "expected finite values"
            )

    return check


def _widths(value):
    """``widths_``: a non-empty tuple of positive ints."""
    if not (isinstance(value, tuple) and value and all(map(_is_size, value))):
        raise ValueError("expected a non-empty tuple of positive ints")


def _rate(value):
    """``learning_rate_``: a finite positive float."""
    if not (isinstance(value, float) and math.isfinite(value) and value > 0):
        raise ValueError("expected a finite positive float")


def _shift(value):
    """``tta_shift_``: a non-negative int."""
    if not (type(value) is int and 0 <= value < _MAX_SIZE):
        raise ValueError("expected a non-negative int")


def _is_figure(value):
    return isinstance(value, bool) or (isinstance(value, Real) and math.isfinite(value))


def _choice(value):
    """``network_choice_``: None, or the chosen name and each candidate's figures by name."""
    if value is None:
        return
    candidates = value.get("candidates") if isinstance(value, dict) else None
    if not (
        isinstance(value, dict)
        and set(value) == {"network", "candidates"}
        and isinstance(value["network"], str)
        and isinstance(candidates, dict)
        and value["network"] in candidates
        and all(
            isinstance(name, str)
            and isinstance(figures, dict)
            and all(isinstance(k, str) and _is_figure(v) for k, v in figures.items())
            for name, figures in candidates.items()
        )
    ):
        raise ValueError(
            "expected None or a dict of 'network' (a name) and 'candidates' "
            "(names to dicts of numbers)"
        )


_COMMON = {"n_features_in_": _count, "input_shape_": _shape(1, 3), "feature_names_in_": _names}
_CLASSIFIER = {**_COMMON, "image_shape_": _shape(3), "classes_": _classes, "history_": _history}
# Fitted attributes stored per class, each with its check; classifiers derive the rest
# (n_classes_, the network's) from classes_ and the stored network.
ATTRIBUTES = {
    "PixelScaler": {**_COMMON, "mean_": _per_channel(False), "scale_": _per_channel(True)},
    "ANNClassifier": _CLASSIFIER,
    "CNNClassifier": _CLASSIFIER,
    "ResNetClassifier": {
        **_CLASSIFIER,
        "widths_": _widths,
        "batch_size_": _count,
        "learning_rate_": _rate,
        "tta_shift_": _shift,
        "network_choice_": _choice,
    },
}
#: Per class, the parameters that may be "auto", each resolved into the fitted
#: attribute of its name and "_" (a file must then hold that attribute).
RESOLVED = {"ResNetClassifier": ("widths", "batch_size", "learning_rate", "tta_shift")}
# feature_names_in_: set only by a fit on a DataFrame. The ResNet's resolved sizes:
# files written before they were fitted attributes hold the sizes as parameters.
OPTIONAL = ("feature_names_in_", "widths_", "batch_size_", "learning_rate_", "tta_shift_",
            "network_choice_")  # fmt: skip


def check_attributes(name, values, image_shape=None):
    """Check the fitted attributes ``values`` of a class ``name`` read from a file.

    ``image_shape`` is the estimator's parameter (how ``PixelScaler`` reads
    flat rows as images). Raises ValueError naming an attribute that is
    unknown, missing, of the wrong type or range, or inconsistent with another.
    """
    expected = ATTRIBUTES[name]
    unknown = sorted(set(values) - set(expected))
    if unknown:
        raise ValueError(f"unknown fitted attributes {unknown}")
    missing = sorted(set(expected) - set(values) - set(OPTIONAL))
    if missing:
        raise ValueError(f"missing fitted attributes {missing}")
    for attr, value in values.items():
        try:
            expected[attr](value)
        except ValueError as exc:
            raise ValueError(f"fitted attribute {attr!r}: {exc}, got {_show(value)}") from None
    _check_consistent(name, values, image_shape)


def _show(value):
    """A short description of a value read from a file, for messages."""
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    return f"{type(value).__name__} {str(value)[:60]!r}"


def _check_consistent(name, values, image_shape):
    """The attributes describe the same input: sizes, channels."""
    n_features = values["n_features_in_"]
    input_shape = values["input_shape_"]
    if math.prod(input_shape) != n_features:
        raise ValueError(
            f"fitted attribute 'input_shape_' {input_shape} holds {math.prod(input_shape)} "
            f"values per sample, but 'n_features_in_' is {n_features}"
        )
    names = values.get("feature_names_in_")
    if names is not None and len(names) != n_features:
        raise ValueError(
            f"fitted attribute 'feature_names_in_' names {len(names)} features, but "
            f"'n_features_in_' is {n_features}"
        )
    if "image_shape_" in values:
        shape = values["image_shape_"]
        if math.prod(shape) != n_features or (len(input_shape) == 3 and shape != input_shape):
            raise ValueError(
                f"fitted attribute 'image_shape_' {shape} does not match 'input_shape_' "
                f"{input_shape}"
            )
    if name == "PixelScaler":
        images = input_shape if len(input_shape) == 3 else image_shape_for(n_features, image_shape)
        shapes = [getattr(values[attr], "shape", None) for attr in ("mean_", "scale_")]
        if shapes not in ([None, None], [(images[-1],)] * 2):
            raise ValueError(
                "fitted attributes 'mean_' and 'scale_' must both be None or hold one value "
                f"per channel ({images[-1]}); got shapes {shapes[0]} and {shapes[1]}"
            )
