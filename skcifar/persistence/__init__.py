"""Save and load estimators without pickle: one ``.skcifar`` zip file.

``joblib.load`` and ``pickle.load`` run code from the file they read, so a
shared model file is a program. :func:`save` writes an estimator as data only
(JSON, ``.npy`` arrays and Keras' own ``.keras`` format) and :func:`load`
rebuilds it from an allow-list of classes, loading the network with Keras'
``safe_mode``. See the user guide page "Saving models safely".

Archive layout::

    manifest.json        format stamp, versions, the estimator tree
    arrays/<k>.npy       numeric/str fitted arrays (np.save, allow_pickle=False)
    models/<k>.keras     each fitted network, in Keras' own format

:class:`CheckpointCache` is the other file format, re-exported here from
:mod:`skcifar.checkpoints` (below the estimators, which use it): the epoch
checkpoints that the classifiers' ``memory`` stores and resumes fits from,
also without pickle.

:data:`SKOPS_TRUSTED_TYPES` names skcifar's estimator classes for skops (and
MLflow's sklearn flavour, which writes skops files): the types to trust when
loading a skops file of a skcifar estimator or pipeline.

:func:`export` writes a fitted classifier for serving instead: one ONNX file or
TensorFlow SavedModel with the preprocessing and test-time augmentation in its
graph, read without skcifar (and without pickle) by ONNX Runtime or TensorFlow.
"""

from __future__ import annotations

import os
import tempfile
import warnings

from ..checkpoints import CheckpointCache
from ..utils.atomic import cleanup_on_sigterm
from ..utils.file_limits import check_keras_file
from ..utils.keras_internals import safe_mode_scope
from ..utils.targets import check_directory
from ..utils.versions import library_versions
from ._archive import (
    ARCHIVE_ERRORS,
    FORMAT,
    FORMAT_VERSION,
    Members,
    extract_member,
    open_archive,
    read_member,
    write_atomically,
)
from ._estimators import capture, restore
from ._export import export
from ._targets import MODEL_FILE, check_save_target

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SKOPS_TRUSTED_TYPES",
    "CheckpointCache",
    "export",
    "load",
    "save",
]

#: The types a skops file of a skcifar estimator holds beyond those skops trusts by
#: default: ``skops.io.get_untrusted_types`` of any skcifar estimator, or pipeline of
#: them, lists some of these and nothing else. Pass it as ``trusted=`` to
#: ``skops.io.load`` and as ``skops_trusted_types=`` to ``mlflow.sklearn.save_model``
#: and ``log_model``. skops files name the classes by these paths, so the paths stay
#: importable for files written earlier.
SKOPS_TRUSTED_TYPES = (
    "skcifar.estimators._ann.ANNClassifier",
    "skcifar.estimators._cnn.CNNClassifier",
    "skcifar.estimators._resnet.ResNetClassifier",
    "skcifar.preprocessing.PixelScaler",
)


def save(estimator, path):
    """Save an estimator to a single ``.skcifar`` file, without pickle.

    The file is a zip archive holding a JSON manifest (format version, the
    versions of skcifar, Keras and scikit-learn that wrote it, each
    estimator's class name, parameters and fitted attributes), fitted arrays
    as ``.npy`` and each fitted network in Keras' ``.keras`` format. It is
    written to a temporary file beside ``path`` and renamed into place, so an
    interrupted save never leaves a partial file. Paths are not stored: the
    ``memory`` parameter of a Pipeline or classifier is saved as None (set it
    again after loading, if wanted).

    Parameters
    ----------
    estimator : PixelScaler, ANNClassifier, CNNClassifier, ResNetClassifier or Pipeline
        The estimator, fitted or not; a Pipeline's steps must be supported
        estimators too (or ``"passthrough"``).
    path : str or os.PathLike
        Destination file, conventionally ending in ``.skcifar``. Its
        directory must exist. An existing file is replaced only if it is a
        ``.skcifar`` file (or empty), and keeps its permissions.

    Raises
    ------
    TypeError
        If the estimator is of another type, or one of its parameters is not
        storable as JSON (e.g. a Keras optimizer instance or callbacks): the
        message names the parameter.
    ValueError
        If something skcifar did not write is at ``path``: a directory, a
        symbolic link, or a file other than a ``.skcifar`` file. It is left
        as it is; choose another path or remove it yourself.
    OSError
        If the file cannot be written, e.g. ``FileNotFoundError`` when its
        directory does not exist; the message names ``path``.

    See Also
    --------
    load : read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import skcifar
    >>> from skcifar import PixelScaler
    >>> scaler = PixelScaler(standardize=True).fit(np.arange(12).reshape(1, 2, 2, 3))
    >>> path = os.path.join(tempfile.mkdtemp(), "scaler.skcifar")
    >>> skcifar.save(scaler, path)
    >>> skcifar.load(path)
    PixelScaler(standardize=True)
    """
    members = Members()
    # Everything that can fail on the estimator itself fails here, before any file exists.
    tree = capture(estimator, members.add_array, members.add_model)
    check_directory(path, MODEL_FILE)
    path = check_save_target(path)  # nothing that skcifar did not write is ever replaced
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": library_versions("python", "keras", "scikit-learn", "numpy"),
        "estimator": tree,
    }
    write_atomically(path, manifest, members)


def load(path):
    """Load an estimator written by :func:`save`; no code is run from the file.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save`.

    Returns
    -------
    estimator : PixelScaler, ANNClassifier, CNNClassifier, ResNetClassifier or Pipeline
        The estimator, fitted if it was saved fitted; on the same machine its
        predictions equal the saved estimator's. A network trained with
        ``precision="bfloat16"`` computes in float32 where the backend cannot
        compute bfloat16 (:func:`skcifar.architectures.bfloat16_runs`), with a
        ``UserWarning``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a skcifar model (not a zip archive, truncated, no
        or garbled manifest, another format), was written by a newer skcifar
        (upgrade skcifar), names a class outside the allow-list, sets
        ``callbacks`` (objects are never read from a file), or holds a
        network that Keras' safe mode refuses (e.g. a ``Lambda`` layer).

    Warns
    -----
    UserWarning
        If the file names a path (``memory``; files written by :func:`save`
        never do): it is not used, the parameter is None, and the warning
        names it.

    See Also
    --------
    save : write the file.

    Examples
    --------
    >>> import skcifar
    >>> model = skcifar.load("cnn.skcifar")  # doctest: +SKIP
    >>> model.predict(X_test)  # doctest: +SKIP
    """
    path = os.fspath(path)
    archive, manifest = open_archive(path)
    in_float32 = []  # the networks that compute in float32 instead of bfloat16
    notes = []  # the paths in the file, not used
    with (
        cleanup_on_sigterm(),
        archive,
        tempfile.TemporaryDirectory(prefix="skcifar-load-") as tmpdir,
    ):

        def load_model(member, where):
            network = _load_network(archive, member, tmpdir, path, where)
            computable = _computable(network)
            if computable is not network:
                in_float32.append(where)
            return computable

        try:
            estimator = restore(
                manifest.get("estimator"), read_member(archive, path), load_model, notes
            )
        except ValueError as exc:
            raise ValueError(f"Cannot load {path!r}: {exc}") from exc
        except ARCHIVE_ERRORS as exc:
            raise ValueError(f"Cannot load {path!r}: the file is damaged ({exc}).") from exc
    for note in notes:
        warnings.warn(f"{path!r}: {note}", UserWarning, stacklevel=2)
    for where in in_float32:
        warnings.warn(
            f"The network of {where} in {path!r} computes in bfloat16, which Keras' "
            "backend cannot compute on this CPU; it computes in float32 instead, so its "
            "probabilities differ from the saved model's by bfloat16's rounding.",
            UserWarning,
            stacklevel=2,
        )
    return estimator


def _load_network(archive, member, tmpdir, path, where):
    """Load one ``.keras`` member with Keras' safe mode (no lambdas, no arbitrary code)."""
    from ..utils.backend import configure_threads, import_keras

    if not isinstance(member, str) or member not in archive.namelist():
        raise ValueError(f"the network of {where} is missing from the file.")
    configure_threads()
    keras = import_keras()
    from ..architectures import register_keras_objects

    register_keras_objects()

    filename = extract_member(archive, member, tmpdir, f"model{len(os.listdir(tmpdir))}.keras")
    # Safe mode even if keras.config.enable_unsafe_deserialization() was called.
    with safe_mode_scope():
        check_keras_file(filename, where)
        try:
            return keras.saving.load_model(filename, safe_mode=True)
        except Exception as exc:
            raise ValueError(
                f"the Keras network of {where} could not be loaded in Keras' safe mode "
                f"({type(exc).__name__}: {exc}) skcifar.load always uses safe mode and refuses "
                "networks that would run code from the file (e.g. Lambda layers)."
            ) from exc


def _computable(network):
    """``network``, or its float32 copy where the backend cannot compute its bfloat16 here."""
    from ..architectures import bfloat16_runs, float32_network

    bfloat16 = any(layer.dtype_policy.compute_dtype == "bfloat16" for layer in network.layers)
    return float32_network(network) if bfloat16 and not bfloat16_runs() else network
