"""What is stored for each supported estimator, and how it is rebuilt.

Only the classes of :data:`_REGISTRY` can be saved or loaded. The manifest
names them by a short name; loading looks the name up here (a fixed table),
never imports a path read from the file. No path is taken from a file either
(:data:`_PATH_PARAMS`), and no parameter read from one names an object.
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ..utils.codec import decode, encode
from ._attributes import ATTRIBUTES, RESOLVED, check_attributes

# short name -> (module, attribute): the allow-list of storable classes.
_REGISTRY = {
    "PixelScaler": ("skcifar.preprocessing", "PixelScaler"),
    "ANNClassifier": ("skcifar.estimators", "ANNClassifier"),
    "CNNClassifier": ("skcifar.estimators", "CNNClassifier"),
    "ResNetClassifier": ("skcifar.estimators", "ResNetClassifier"),
    "Pipeline": ("sklearn.pipeline", "Pipeline"),
}
_CLASSIFIERS = {"ANNClassifier", "CNNClassifier", "ResNetClassifier"}
_MAX_DEPTH = 16
# Parameters that name a file or directory, per class. They are never stored, and a
# path in a file is never used: a re-fit of a Pipeline with memory=DIR unpickles the
# joblib cache entries found in DIR, so a file could name a directory holding a pickle.
_PATH_PARAMS = dict.fromkeys(["Pipeline", *sorted(_CLASSIFIERS)], ("memory",))
# Parameters that hold objects (Keras callbacks): a file may leave them empty only.
_OBJECT_PARAMS = ("callbacks",)
SUPPORTED = (
    "PixelScaler, ANNClassifier, CNNClassifier, ResNetClassifier and sklearn Pipelines of them"
)


def _resolve(name):
    module, attribute = _REGISTRY[name]
    return getattr(importlib.import_module(module), attribute)


def _short_name(obj):
    """The registry name of ``obj``'s class; ``TypeError`` if it is not supported."""
    cls = type(obj)
    name = cls.__name__
    known = name in _REGISTRY and cls.__module__.split(".")[0] == _REGISTRY[name][0].split(".")[0]
    if not known or cls is not _resolve(name):
        hint = " Save its best_estimator_ instead." if name.endswith("SearchCV") else ""
        raise TypeError(
            f"skcifar.save cannot store a {cls.__module__}.{cls.__qualname__}: it stores "
            f"only {SUPPORTED} (exactly these classes, not subclasses).{hint}"
        )
    return name


def _is_fitted(obj):
    try:
        check_is_fitted(obj)
    except NotFittedError:
        return False
    return True


_PARAM_HINTS = {
    "optimizer": " Pass the optimizer by name (e.g. optimizer='adam') with learning_rate.",
    "callbacks": (
        " Callbacks only matter for training: set_params(callbacks=None) before saving, "
        "or use joblib for files you trust."
    ),
    "random_state": " Use an int seed (or None).",
}


def _encode_param(key, value, name, where):
    try:
        return encode(value, f"parameter {key!r} of {where} ({name})")
    except TypeError as exc:
        raise TypeError(str(exc) + _PARAM_HINTS.get(key, "")) from None


def capture(obj, add_array, add_model, where=None):
    """``obj`` as a JSON-ready manifest node: class name, parameters, fitted state, members.

    ``add_array(ndarray)`` and ``add_model(network)`` store a member and
    return its name; ``where`` locates ``obj`` for error messages.
    """
    name = _short_name(obj)
    where = where or ("the pipeline" if name == "Pipeline" else "the estimator")
    params = obj.get_params(deep=False)
    steps = params.pop("steps", None)
    params.update(dict.fromkeys(_PATH_PARAMS.get(name, ()), None))  # paths are not stored
    node = {
        "class": name,
        "params": {key: _encode_param(key, value, name, where) for key, value in params.items()},
    }
    if name == "Pipeline":
        node["steps"] = [
            {
                "name": step_name,
                "estimator": step
                if step is None or isinstance(step, str)
                else capture(step, add_array, add_model, f"step {step_name!r} of {where}"),
            }
            for step_name, step in steps
        ]
        return node
    node["fitted"] = _is_fitted(obj)
    if node["fitted"]:
        node["attributes"] = {
            attr: encode(getattr(obj, attr), f"attribute {attr!r} of {where}", add_array)
            for attr in ATTRIBUTES[name]
            if hasattr(obj, attr)
        }
        if name in _CLASSIFIERS:
            node["model"] = add_model(obj.model_)
    return node


def restore(node, read_member, load_model, notes, where=None, depth=0):
    """Rebuild the estimator described by a manifest node (inverse of :func:`capture`).

    Raises ``ValueError`` for anything malformed, unknown or inconsistent, and
    appends to the list ``notes`` a message for each path read from the file
    and not used (the caller warns).
    """
    if depth > _MAX_DEPTH or not isinstance(node, dict):
        raise ValueError(f"Malformed entry for {where or 'the estimator'}.")
    name = node.get("class")
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(
            f"Unknown estimator class {str(name)[:60]!r} in the file: this skcifar loads only "
            f"{', '.join(sorted(_REGISTRY))}."
        )
    where = where or ("the pipeline" if name == "Pipeline" else "the estimator")
    cls = _resolve(name)
    params = node.get("params")
    if not isinstance(params, dict):
        raise ValueError(f"Malformed parameters for {where} ({name}).")
    params = {key: decode(value, f"parameter {key!r} of {where}") for key, value in params.items()}
    _refuse_paths_and_objects(params, name, where, notes)
    if name == "Pipeline":
        params["steps"] = _restore_steps(
            node.get("steps"), read_member, load_model, notes, where, depth
        )
    unknown = set(params) - set(inspect.signature(cls).parameters)
    if unknown:
        raise ValueError(
            f"Unknown parameters {sorted(unknown)} for {where} ({name}): the file was written by "
            "an incompatible version of skcifar or scikit-learn."
        )
    try:
        estimator = cls(**params)
        # The constraints, checked at load rather than at fit: scikit-learn has no public call.
        estimator._validate_params()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Cannot rebuild {where} ({name}): {exc}") from exc
    if name != "Pipeline" and node.get("fitted") is True:
        _restore_fitted(estimator, name, node, read_member, load_model, where)
    return estimator


def _refuse_paths_and_objects(params, name, where, notes):
    """Set path parameters to None (with a note); refuse parameters that name objects."""
    for key in _PATH_PARAMS.get(name, ()):
        if params.get(key) is not None:
            notes.append(
                f"The parameter {key!r} of {where} ({name}) is {str(params[key])[:80]!r} in "
                f"the file; skcifar.load takes no paths from a file, so it is None. Set it "
                f"again with set_params({key}=...) if wanted."
            )
            params[key] = None
    for key in _OBJECT_PARAMS:
        if params.get(key) not in (None, []):
            raise ValueError(
                f"The parameter {key!r} of {where} ({name}) is {str(params[key])[:80]!r} in the "
                f"file; a file may hold {key}=None only (they are objects, never read from a "
                "file)."
            )


def _restore_steps(steps, read_member, load_model, notes, where, depth):
    if not isinstance(steps, list) or not steps:
        raise ValueError(f"Malformed pipeline steps for {where}.")
    restored = []
    for step in steps:
        if not (isinstance(step, dict) and isinstance(step.get("name"), str)):
            raise ValueError(f"Malformed pipeline step in {where}.")
        estimator = step.get("estimator")
        if estimator is not None and estimator != "passthrough":
            place = f"step {step['name']!r} of {where}"
            estimator = restore(estimator, read_member, load_model, notes, place, depth + 1)
        restored.append((step["name"], estimator))
    return restored


def _restore_fitted(estimator, name, node, read_member, load_model, where):
    attributes = node.get("attributes")
    if not isinstance(attributes, dict) or not set(attributes) <= set(ATTRIBUTES[name]):
        raise ValueError(f"Malformed or unknown fitted attributes for {where} ({name}).")
    values = {
        attr: decode(value, f"attribute {attr!r} of {where}", read_member)
        for attr, value in attributes.items()
    }
    try:
        check_attributes(name, values, getattr(estimator, "image_shape", None))
        # Sizes a fit resolved ("auto"): what prediction and a continued fit read.
        auto = [size for size in RESOLVED.get(name, ()) if _is_auto(getattr(estimator, size))]
        unresolved = [f"{size}_" for size in auto if f"{size}_" not in values]
        if unresolved:
            raise ValueError(
                f"missing fitted attributes {unresolved} of the 'auto' parameters"
            )
    except ValueError as exc:
        raise ValueError(f"Malformed fitted state of {where} ({name}): {exc}.") from None
    for attr, value in values.items():
        setattr(estimator, attr, value)
    if name in _CLASSIFIERS:
        _restore_network(estimator, node, load_model, where)
    check_is_fitted(estimator)


def _restore_network(clf, node, load_model, where):
    """Give a classifier its network, checked against its fitted attributes."""
    try:
        classes = np.asarray(clf.classes_)
        image_shape = tuple(int(s) for s in clf.image_shape_)
        member = node["model"]
    except (AttributeError, KeyError, TypeError, ValueError):
        raise ValueError(f"Incomplete fitted state for {where}.") from None
    model = load_model(member, where)
    if (
        classes.ndim != 1
        or tuple(model.input_shape[1:]) != image_shape
        or model.output_shape[-1] != len(classes)
    ):
        raise ValueError(
            f"Inconsistent fitted state for {where}: the network maps {model.input_shape[1:]} "
            f"to {model.output_shape[-1]} outputs, but the classifier expects {image_shape} "
            f"and {len(classes)} classes."
        )
    clf.n_classes_ = len(classes)
    clf.model_ = model


def _is_auto(value):
    """A parameter left to ``"auto"`` (an array of widths is no string)."""
    return isinstance(value, str) and value == "auto"
