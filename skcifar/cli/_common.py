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

from ..utils.atomic import atomic_output


class UsageError(Exception):
    """Bad input from the user: reported on one line, exit status 2."""


def one_line(message):
    """Collapse a (possibly multi-line) message onto one line."""
    return " ".join(str(message).split())


def describe(exc):
    """``"message"`` of an exception, or its type name when it has no message."""
    return one_line(exc) or type(exc).__name__


def as_clause(exc):
    """:func:`describe` of ``exc`` with a lower-case first letter, like the CLI's own messages."""
    message = describe(exc)
    return message[:1].lower() + message[1:]


# -- argparse types ------------------------------------------------------------
def positive_int(text):
    """argparse type: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
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


_SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600}


def duration(text):
    """argparse type: a duration in seconds, ``"90"``, ``"90s"``, ``"3m"`` or ``"1.5h"``."""
    value = text.strip().lower()
    unit = value[-1:] if value[-1:] in _SECONDS_PER_UNIT else "s"
    number = value[:-1] if value[-1:] in _SECONDS_PER_UNIT else value
    try:
        seconds = float(number) * _SECONDS_PER_UNIT[unit]
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(
            f"expected a positive duration such as 90, 90s, 3m or 1.5h; got {text!r}"
        )
    return seconds


def filters(text):
    """argparse type: comma-separated filter counts, ``"32,64"`` -> ``(32, 64)``."""
    try:
        values = tuple(int(part) for part in text.split(","))  # int() strips blanks
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


def progress_verbosity(quiet):
    """Keras ``verbose``: 0 when quiet, a progress bar on a terminal, one line per epoch else."""
    return 0 if quiet else 1 if sys.stdout.isatty() else 2


# -- models --------------------------------------------------------------------
# Output names that select joblib (pickle); every other name is written with skcifar.save.
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
# The first bytes of a zip archive (a local file header, or the end record of an empty one).
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def is_pickle_path(path):
    """Whether ``path``'s extension asks for a joblib pickle: ``.joblib``, ``.pkl``, ``.pickle``."""
    return os.path.splitext(os.fspath(path))[1].lower() in PICKLE_SUFFIXES


def how_to_load(path):
    """How to load a model file that :func:`save_model` wrote to ``path``, for messages."""
    if is_pickle_path(path):
        return (
            "a joblib pickle: load it with joblib.load, or pass --allow-pickle to skcifar "
            "evaluate/predict; only load files you trust"
        )
    return "load it with skcifar.load"


def _is_archive(path):
    """Whether the file at ``path`` starts like a zip archive.

    Not :func:`zipfile.is_zipfile`: a joblib pickle holds a zip directory too (``.keras`` bytes).
    """
    try:
        with open(path, "rb") as file:
            return file.read(4) in _ZIP_MAGIC
    except OSError as exc:
        raise UsageError(f"cannot read model file {path!r}: {describe(exc)}") from exc


def load_model(path, allow_pickle=False):
    """The fitted classifier in the model file ``path``, or UsageError.

    The format is judged by the content, not the name: a zip archive is read
    with :func:`skcifar.load`, which runs no code from the file; anything else
    may be a joblib pickle, which runs code from the file when loaded, so it
    is loaded only when ``allow_pickle`` is true (``--allow-pickle``).
    """
    if not os.path.exists(path):
        raise UsageError(f"model file {path!r} not found")
    if os.path.isdir(path):
        raise UsageError(f"model file {path!r} is a directory")
    if _is_archive(path):
        from skcifar.persistence import load

        try:
            model = load(path)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot load model {path!r}: {describe(exc)}") from exc
    elif allow_pickle:
        import joblib

        try:
            model = joblib.load(path)
        except MemoryError as exc:
            raise UsageError(f"cannot load model {path!r}: not a valid joblib file") from exc
        except Exception as exc:  # unpickling corrupt data raises almost anything
            raise UsageError(
                f"cannot load model {path!r}: not a valid joblib file ({type(exc).__name__}: "
                f"{describe(exc)})"
            ) from exc
    else:
        raise UsageError(
            f"{path!r} is not a .skcifar file; if it is a joblib/pickle file you trust, "
            "pass --allow-pickle (loading a pickle runs code from the file)"
        )
    _check_fitted_classifier(model, path)
    return model


def _check_fitted_classifier(model, path):
    from sklearn.base import is_classifier
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

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


def input_shape(model):
    """Per-sample input shape the model was fitted on, e.g. ``(32, 32, 3)`` or ``(3072,)``."""
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


def _is_pickle_file(path):
    """Whether ``path`` starts like the pickles joblib writes (protocol 2 or later)."""
    with open(path, "rb") as file:
        start = file.read(2)
    return len(start) == 2 and start[0] == 0x80 and 2 <= start[1] <= 5


def check_out(out):
    """The absolute path of ``out`` once :func:`save_model` can write there; else UsageError.

    Checked before a command trains or searches, so that no work is lost to
    a bad output path: the name does not end in a path separator; the nearest
    existing directory on its path is a writable directory (the missing ones
    are created when saving); and an existing ``out`` is a model file that
    skcifar may replace (a ``.skcifar`` archive, or a pickle for a pickle
    name) or empty, never a directory or a file of the user's.
    """
    from skcifar.persistence import check_save_target

    from ..utils.targets import check_target

    name = os.fspath(out)
    path = os.path.abspath(name)
    if name.endswith(os.sep) or (os.altsep and name.endswith(os.altsep)):
        raise UsageError(
            f"--out {name}: the name ends in a path separator; name the model file, "
            f"e.g. {os.path.join(name, 'model.skcifar')}"
        )
    existing = os.path.dirname(path)
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise UsageError(f"cannot write {path!r}: {existing!r} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {path!r}: the directory {existing!r} is not writable")
    try:
        if is_pickle_path(path):
            check_target(path, "a joblib pickle", _is_pickle_file)
        else:
            check_save_target(path)
    except ValueError as exc:
        raise UsageError(as_clause(exc)) from exc
    return path


def save_model(model, out):
    """Save ``model`` atomically to ``out``; return its absolute path, or raise UsageError.

    A ``.joblib``, ``.pkl`` or ``.pickle`` name gets a joblib pickle; any other
    name (normally ``.skcifar``) is written with :func:`skcifar.save`. Both are
    written to a temporary file and renamed into place; missing parent
    directories are created; an existing file is replaced only if
    :func:`check_out` allows it.
    """
    from skcifar.persistence import save

    out = check_out(out)
    try:
        os.makedirs(os.path.dirname(out), exist_ok=True)
        if is_pickle_path(out):
            import joblib

            with atomic_output(out) as file:  # never leave a half-written model file
                joblib.dump(model, file)
        else:
            try:
                save(model, out)
            except TypeError as exc:  # an estimator skcifar.save cannot store
                raise UsageError(
                    f"cannot save the model to {out!r} as a .skcifar file: {describe(exc)} "
                    "(a .joblib name saves a joblib pickle instead)"
                ) from exc
    except OSError as exc:
        raise UsageError(f"cannot write {out!r}: {describe(exc)}") from exc
    except ValueError as exc:  # something appeared at out since it was checked
        raise UsageError(as_clause(exc)) from exc
    return out
