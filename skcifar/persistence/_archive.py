"""The ``.skcifar`` zip archive: atomic writing, validated reading."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import zipfile
from contextlib import suppress

from ..utils.atomic import atomic_output
from ..utils.codec import array_to_npy
from ..utils.file_limits import (
    ARCHIVE_ERRORS,
    check_inflation,
    check_methods,
    read_json,
)

FORMAT = "skcifar-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_MAX_MANIFEST_BYTES = 64 * 2**20


class Members:
    """Collects the archive members while the manifest is built (no I/O yet)."""

    def __init__(self):
        self.arrays = {}  # member name -> .npy bytes
        self.models = {}  # member name -> Keras model

    def add_array(self, array):
        name = f"arrays/{len(self.arrays)}.npy"
        self.arrays[name] = array_to_npy(array)
        return name

    def add_model(self, model):
        name = f"models/{len(self.models)}.keras"
        self.models[name] = model
        return name


def write_atomically(path, manifest, members):
    """Write the archive to a temporary file beside ``path``, then rename it.

    An interrupted or failing save leaves ``path`` as it was (absent, or the
    previous file) and removes the temporary file. Whether ``path`` may be
    replaced is the caller's check.
    """
    path = os.path.abspath(os.fspath(path))
    with atomic_output(path) as file:
        with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest, indent=1, allow_nan=False))
            for name, data in members.arrays.items():
                archive.writestr(name, data)
            for name, model in members.models.items():
                _write_model(archive, name, model)
    directory = os.path.dirname(path)
    with suppress(OSError):  # make the rename durable where the OS allows it
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _write_model(archive, name, model):
    """Store a Keras network in Keras' own ``.keras`` format as one member."""
    with tempfile.TemporaryDirectory(prefix="skcifar-save-") as tmpdir:
        filename = os.path.join(tmpdir, "model.keras")
        model.save(filename)
        archive.write(filename, name, compress_type=zipfile.ZIP_STORED)


def is_model_file(path):
    """Whether ``path`` is a zip archive whose manifest declares skcifar's format (any version)."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(MANIFEST)
            if info.file_size > _MAX_MANIFEST_BYTES:
                return False
            manifest = read_json(archive.read(info), MANIFEST)
    except (OSError, KeyError, ValueError, RuntimeError, NotImplementedError, *ARCHIVE_ERRORS):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT


def open_archive(path):
    """Open ``path`` and return ``(zipfile, manifest)``; clear errors for bad files."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such skcifar model file: {path!r}.")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} is not a skcifar model file: it is not a zip archive (it may be "
            "truncated, corrupted, or a joblib/pickle file). Files written by "
            "skcifar.save(estimator, path) can be loaded; for a joblib file you trust, use "
            "joblib.load."
        )
    try:
        archive = zipfile.ZipFile(path)
    except ARCHIVE_ERRORS as exc:
        raise ValueError(f"{path!r} is a damaged zip archive ({exc}); save it again.") from None
    try:
        check_methods(archive, repr(path))
        check_inflation(archive, os.path.getsize(path), repr(path))
        manifest = _read_manifest(archive, path)
    except BaseException:
        archive.close()
        raise
    return archive, manifest


def _read_manifest(archive, path):
    try:
        info = archive.getinfo(MANIFEST)
    except KeyError:
        raise ValueError(
            f"{path!r} is not a skcifar model file: the zip archive has no {MANIFEST}. "
            "Save the estimator with skcifar.save(estimator, path)."
        ) from None
    if info.file_size > _MAX_MANIFEST_BYTES:
        raise ValueError(f"{path!r}: {MANIFEST} is implausibly large; the file is damaged.")
    try:
        manifest = read_json(
            archive.read(info),
            "it",
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except (*ARCHIVE_ERRORS, ValueError) as exc:  # ValueError: JSON, UTF-8, nesting
        raise ValueError(
            f"{path!r}: cannot read {MANIFEST} ({exc}); the file is damaged. Save it again."
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ValueError(
            f"{path!r} is not a skcifar model file: its {MANIFEST} declares format "
            f"{found!r}, expected {FORMAT!r}."
        )
    version = manifest.get("format_version")
    if type(version) is not int or version < 1:
        raise ValueError(
            f"{path!r}: invalid format_version {version!r} in {MANIFEST}; the file is damaged."
        )
    if version > FORMAT_VERSION:
        written_by = manifest.get("versions", {})
        written_by = written_by.get("skcifar") if isinstance(written_by, dict) else None
        raise ValueError(
            f"{path!r} has format version {version}, written by a newer skcifar "
            f"({written_by or 'unknown version'}); this skcifar reads format versions up to "
            f"{FORMAT_VERSION}. Upgrade skcifar (pip install -U skcifar) to load it."
        )
    return manifest


def _refuse_constant(name):
    """``json.loads``' hook for NaN and Infinity, which JSON lacks and skcifar never writes."""
    raise ValueError(f"it holds the number {name}, which JSON does not allow")


def _finite_float(text):
    """``json.loads``' hook for floats: a number too large for a float (``1e400``) is refused."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"it holds the number {text}, too large for a float")
    return value


def read_member(archive, path):
    """A ``read(name) -> bytes`` function over the archive's members."""

    def read(name):
        if not isinstance(name, str):
            raise ValueError(f"member names are strings, got {type(name).__name__}")
        try:
            return archive.read(name)
        except KeyError:
            raise ValueError(f"{path!r} lacks the member {name!r}") from None

    return read


def extract_member(archive, name, directory, filename):
    """Copy member ``name`` to ``directory/filename`` (a name we choose, not the file's)."""
    target = os.path.join(directory, filename)
    with archive.open(name) as source, open(target, "wb") as destination:
        shutil.copyfileobj(source, destination)
    return target
