"""Helpers shared by the commands: argument types, data and model loading, saving.

Every problem caused by the user's input is raised as :class:`UsageError`, which
:func:`skcifar.cli.main` prints as one ``skcifar: error: ...`` line with exit
status 2 (the status argparse uses for its own errors). Heavy modules (joblib,
scikit-learn, Keras) are imported inside the functions, so ``skcifar --help``
stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys

from .._atomic import atomic_output


class UsageError(Exception):
    """Bad input from the user: reported on one line, exit status 2."""


def one_line(message):
    """Collapse a (possibly multi-line) message onto one line."""
    return " ".join(str(message).split())


def describe(exc):
    """``"message"`` of an exception, or its type name when it has no message."""
    return one_line(exc) or type(exc).__name__


# -- argparse types ------------------------------------------------------------
def positive_int(text):
    """argparse type: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text):
    """argparse type: an int >= 0 (seeds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0 or value >= 2**32:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**32), got {text!r}")
    return value


def cv_folds(text):
    """argparse type: a number of cross-validation folds, >= 2."""
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"cross-validation needs at least 2 folds, got {text!r}")
    return value


def n_jobs(text):
    """argparse type: joblib's n_jobs, a positive int or a negative one (-1: all cores)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0:
        raise argparse.ArgumentTypeError(
            f"expected a non-zero integer (-1 for all cores), got {text!r}"
        )
    return value


def filters(text):
    """argparse type: comma-separated filter counts, ``"32,64"`` -> ``(32, 64)``."""
    parts = [part.strip() for part in text.split(",")]
    try:
        values = tuple(int(part) for part in parts)
    except ValueError:
        values = ()
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 32,64; got {text!r}"
        )
    return values


# -- data ----------------------------------------------------------------------
def load_cifar10(path, quiet):
    """Load CIFAR-10 with :func:`skcifar.datasets.load_data`; data problems -> UsageError."""
    from skcifar.datasets import load_data

    try:
        return load_data(path, progress=False if quiet else None)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load CIFAR-10: {describe(exc)}") from exc


def class_names(classes):
    """Display names of ``classes``: CIFAR-10 names for the labels 0..9, else ``str``."""
    from skcifar.datasets import CLASS_NAMES

    names = [str(c) for c in classes]
    try:
        ints = [int(c) for c in classes]
    except (TypeError, ValueError):
        return names
    if all(str(i) == n for i, n in zip(ints, names, strict=True)) and all(
        0 <= i < len(CLASS_NAMES) for i in ints
    ):
        return [CLASS_NAMES[i] for i in ints]
    return names


def progress_verbosity(quiet):
    """Keras ``verbose``: 0 when quiet, a progress bar on a terminal, one line per epoch else."""
    if quiet:
        return 0
    return 1 if sys.stdout.isatty() else 2


# -- models --------------------------------------------------------------------
def load_model(path):
    """Load a fitted classifier (pipeline) saved with joblib, or raise UsageError.

    The object must be a fitted scikit-learn classifier with ``predict_proba``
    and ``classes_``, e.g. the pipelines that ``skcifar train`` saves.
    """
    if not os.path.exists(path):
        raise UsageError(f"model file {path!r} not found")
    if os.path.isdir(path):
        raise UsageError(f"model file {path!r} is a directory")
    import joblib
    from sklearn.base import is_classifier
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        model = joblib.load(path)
    except MemoryError as exc:
        raise UsageError(f"cannot load model {path!r}: not a valid joblib file") from exc
    except Exception as exc:  # unpickling corrupt data raises almost anything
        raise UsageError(
            f"cannot load model {path!r}: not a valid joblib file ({type(exc).__name__}: "
            f"{describe(exc)})"
        ) from exc
    kind = type(model).__name__
    try:
        usable = is_classifier(model) and hasattr(model, "predict_proba")
    except Exception:  # is_classifier needs scikit-learn tags: not an estimator at all
        usable = False
    if not usable:
        raise UsageError(f"{path!r} holds a {kind}, not a fitted classifier pipeline")
    try:
        check_is_fitted(model)
        model.classes_  # noqa: B018  (fitted classifiers expose their classes)
    except (NotFittedError, AttributeError, TypeError) as exc:
        raise UsageError(f"{path!r} holds an unfitted {kind}: train it first") from exc
    return model


def input_shape(model):
    """Per-sample input shape the model was fitted on, e.g. ``(32, 32, 3)`` or ``(3072,)``.

    Taken from the first pipeline step that records ``input_shape_`` (else
    ``n_features_in_``).
    """
    steps = [step for _, step in getattr(model, "steps", [])] or [model]
    for step in steps:
        shape = getattr(step, "input_shape_", None)
        if shape is not None:
            return tuple(int(s) for s in shape)
    n_features = getattr(model, "n_features_in_", None)
    if n_features is not None:
        return (int(n_features),)
    raise UsageError(f"the model ({type(model).__name__}) does not record its input shape")


def image_input(model, X):
    """Fit images ``X`` of shape (n, H, W, C) to the model's input (flat rows if needed)."""
    shape = input_shape(model)
    if X.shape[1:] == shape:
        return X
    if len(shape) == 1 and X[0].size == shape[0]:
        return X.reshape(len(X), -1)
    raise UsageError(
        f"the model expects inputs of shape {shape}, but the images have shape {X.shape[1:]}"
    )


def save_model(model, out):
    """Save ``model`` with joblib atomically: write a temporary file, then rename it."""
    import joblib

    out = os.path.abspath(out)
    try:
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with atomic_output(out) as file:  # never leave a half-written model file
            joblib.dump(model, file)
    except OSError as exc:
        raise UsageError(f"cannot write {out!r}: {describe(exc)}") from exc
    return out
