"""Epoch checkpoints on disk, without pickle: the cache behind the classifiers' ``memory``.

``<location>/skcifar-checkpoints/<run key>/steps-<n>.npz`` holds the state
after n optimiser steps: the variables of the network and its optimizer, in
order, and ``meta``, a JSON text; ``run.json`` beside it, what the key was
computed from, is for people only. Members are read with
:func:`skcifar.utils.npy.read_array` (headers checked before allocating),
never with pickle. Every file is written under a temporary name and renamed
into place; a file that is not a well-formed checkpoint is discarded with a
UserWarning naming it. The layout, the rules and the trust model: the user
guide page "Searching epochs".
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import warnings
import zipfile

import numpy as np

from .utils import npy
from .utils.atomic import atomic_output
from .utils.codec import encode
from .utils.file_limits import ARCHIVE_ERRORS, check_methods, read_json
from .utils.stacklevel import user_stacklevel

DIRECTORY = "skcifar-checkpoints"
FORMAT = "skcifar-checkpoint"
FORMAT_VERSION = 1
_NAME = re.compile(r"^steps-(\d+)\.npz$")
_KEY = re.compile(r"^[0-9a-f]{64}$")
# What reading a damaged or foreign file raises.
_READ_ERRORS = (OSError, ValueError, *ARCHIVE_ERRORS)
_PRIVATE = 0o700
# Deflate expands its input at most about 1032-fold: a member claiming more is damaged.
_MAX_DEFLATE_RATIO = 1032


def _location(memory):
    """The directory of ``memory`` (a path or a ``joblib.Memory``), or None (caching off)."""
    if memory is None or isinstance(memory, (str, os.PathLike)):
        return None if memory is None else os.fspath(memory)
    location = getattr(memory, "location", memory)  # no location: refused below
    if location is None or isinstance(location, (str, os.PathLike)):
        return None if location is None else os.fspath(location)
    raise TypeError(
        "memory must be None, a directory path (str or os.PathLike) or a joblib.Memory "
        f"with a location; got {type(memory).__name__}. Pass e.g. memory='cache/'."
    )


def _digest(array):
    """SHA-256 of an array's dtype, shape and bytes (the bytes are not copied)."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(memoryview(array.reshape(-1)).cast("B"))
    return "sha256:" + digest.hexdigest()


class CheckpointCache:
    """The epoch checkpoints that the classifiers' ``memory`` stores and resumes from.

    A classifier fitted with ``memory=location`` keeps the state of each fit
    in ``<location>/skcifar-checkpoints/``, one directory per run (a run is
    every input of a fit but its ``epochs``) and one ``.npz`` file per
    checkpoint: no pickle is written or read. This class gives that
    directory's size and clears it; the classifiers use it to read and write
    checkpoints. See the user guide page "Searching epochs".

    Parameters
    ----------
    memory : str, os.PathLike, joblib.Memory or None
        The classifiers' ``memory``: a directory, or a ``joblib.Memory``
        whose location is used; None (or a ``joblib.Memory(None)``) is no
        cache at all.

    Attributes
    ----------
    path : str or None
        The cache directory, ``<location>/skcifar-checkpoints``; None when
        ``memory`` is None.

    Raises
    ------
    TypeError
        If ``memory`` is of another type.
    ValueError
        If ``memory`` names a file, not a directory.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from skcifar import ANNClassifier
    >>> from skcifar.checkpoints import CheckpointCache
    >>> location = tempfile.mkdtemp()
    >>> X, y = np.random.RandomState(0).rand(40, 6).astype("float32"), np.arange(40) % 2
    >>> clf = ANNClassifier(hidden_layer_sizes=(8,), epochs=2, random_state=0, memory=location)
    >>> clf = clf.fit(X, y).set_params(epochs=3).fit(X, y)  # resumes after epoch 2
    >>> cache = CheckpointCache(location)
    >>> info = cache.info()
    >>> info["runs"], info["checkpoints"], info["bytes"] > 0
    (1, 2, True)
    >>> cache.clear()
    >>> cache.info()["checkpoints"]
    0
    """

    def __init__(self, memory):
        location = _location(memory)
        if location is not None and os.path.exists(location) and not os.path.isdir(location):
            raise ValueError(
                f"memory={location!r} is a file, not a directory: pass a directory for the "
                "epoch checkpoints (it is created if missing)."
            )
        self.path = None if location is None else os.path.join(location, DIRECTORY)

    # -- for people -------------------------------------------------------------
    def info(self):
        """The cache's size: runs, checkpoints and bytes on disk.

        Returns
        -------
        dict
            ``{"path", "runs", "checkpoints", "bytes"}``; zeros for a cache
            that does not exist (yet).
        """
        runs = checkpoints = size = 0
        for key in self._keys():
            runs += 1
            folder = os.path.join(self.path, key)
            for name in _listdir(folder):
                with contextlib.suppress(OSError):
                    size += os.path.getsize(os.path.join(folder, name))
                    checkpoints += bool(_NAME.match(name))
        return {"path": self.path, "runs": runs, "checkpoints": checkpoints, "bytes": size}

    def clear(self):
        """Remove every checkpoint: the whole ``skcifar-checkpoints`` directory."""
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)

    # -- for the classifiers ----------------------------------------------------
    def key(self, description):
        """The run key of ``description``: SHA-256 of its JSON form, arrays by digest.

        Parameters
        ----------
        description : dict
            Plain values (None, bool, numbers, str, tuples, lists, dicts) and
            arrays; an array enters by the digest of its dtype, shape and bytes.

        Returns
        -------
        str
            64 hex digits.

        Raises
        ------
        TypeError
            If a value has no deterministic JSON form (an optimizer instance,
            a random generator): such a run cannot be cached.
        """
        return hashlib.sha256(self._json(description).encode()).hexdigest()

    def steps(self, key):
        """The step counts of the checkpoints stored for run ``key``, longest first."""
        found = (_NAME.match(name) for name in _listdir(self._folder(key)))
        return sorted((int(match.group(1)) for match in found if match), reverse=True)

    def read(self, key, steps):
        """``(meta, arrays)`` of a checkpoint, or None when it is missing or damaged.

        A damaged file (truncated, garbled, another format, a malformed
        ``meta``, a member missing) is discarded with a UserWarning.
        """
        path = self._file(key, steps)
        try:
            return _read_checkpoint(path, steps)
        except FileNotFoundError:
            return None
        except _READ_ERRORS as exc:
            self.discard(key, steps, reason=str(exc))
            return None

    def write(self, key, steps, meta, arrays, description):
        """Store a checkpoint (and the run's ``run.json``), atomically.

        ``meta`` is JSON-ready; ``arrays`` are the variables' values in order.
        The directories that do not exist yet are created private (``0o700``).
        """
        folder = self._folder(key)
        os.makedirs(os.path.dirname(self.path), mode=_PRIVATE, exist_ok=True)
        for directory in (self.path, folder):
            with contextlib.suppress(FileExistsError):
                os.mkdir(directory, _PRIVATE)
        run_file = os.path.join(folder, "run.json")
        if not os.path.exists(run_file):
            with atomic_output(run_file) as file:
                file.write(self._json(description, indent=1).encode())
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "steps": int(steps),
            "n_variables": len(arrays),
            **meta,
        }
        members = {f"v{i}": np.asarray(value) for i, value in enumerate(arrays)}
        with atomic_output(self._file(key, steps)) as file:
            np.savez(file, meta=np.array(json.dumps(meta)), **members)

    def discard(self, key, steps, reason=None):
        """Remove one checkpoint, if it is there; warn naming it when ``reason`` is given."""
        path = self._file(key, steps)
        if reason is not None:
            warnings.warn(
                f"memory: discarded the damaged checkpoint {path!r} ({reason}); the fit "
                "trains its steps again.",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        with contextlib.suppress(OSError):
            os.remove(path)

    def untrusted_reason(self, key=None):
        """Why other users could plant checkpoints here, or None.

        A checkpoint found in the cache is loaded as the result of a fit, so
        the directories it is read from must be writable by this user (or
        root) only: the ``memory`` location, ``skcifar-checkpoints`` in it and
        the run's directory. A location that others may write to is safe only
        with the sticky bit set (as ``/tmp``) and ``skcifar-checkpoints`` this
        user's (others can then neither remove nor rename it).

        Parameters
        ----------
        key : str or None, default=None
            A run key: check that run's directory too.

        Returns
        -------
        str or None
            The reason, naming the directory; None where only this user (or
            root) can write, on systems without POSIX permissions, and when
            there is no cache.
        """
        if self.path is None or os.name != "posix":
            return None
        chain = [os.path.dirname(self.path), self.path]
        if key is not None:
            chain.append(self._folder(key))
        me = os.geteuid()
        for depth, directory in enumerate(chain):
            try:
                st = os.stat(directory)
            except OSError:
                return None  # skcifar creates it (and what is below it) private
            if st.st_uid not in (me, 0):
                return f"{directory!r} belongs to another user (uid {st.st_uid})"
            if not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                continue
            if depth == 0 and st.st_mode & stat.S_ISVTX:
                continue  # others cannot replace what is this user's in it: checked next
            return f"{directory!r} is writable by other users (mode {stat.S_IMODE(st.st_mode):o})"
        return None

    # -- paths ------------------------------------------------------------------
    def _json(self, description, indent=None):
        data = encode(description, "the description of the run", _digest)
        return json.dumps(data, sort_keys=True, indent=indent, allow_nan=False)

    def _folder(self, key):
        if self.path is None or not _KEY.match(key):
            raise ValueError(f"no cache, or a malformed run key {key!r}")
        return os.path.join(self.path, key)

    def _file(self, key, steps):
        return os.path.join(self._folder(key), f"steps-{int(steps):09d}.npz")

    def _keys(self):
        if self.path is None:
            return []
        return [name for name in _listdir(self.path) if _KEY.match(name)]


def _read_checkpoint(path, steps):
    """``(meta, arrays)`` of the checkpoint file ``path``; ValueError if it is malformed."""
    with npy.open_file(path) as file, zipfile.ZipFile(file) as archive:
        size = os.fstat(file.fileno()).st_size
        check_methods(archive, repr(path))

        def member(name, kinds):
            try:
                info = archive.getinfo(f"{name}.npy")
            except KeyError:
                raise ValueError(f"the member {name}.npy is missing") from None
            stored = info.compress_type == zipfile.ZIP_STORED
            most = info.compress_size * (1 if stored else _MAX_DEFLATE_RATIO)
            if info.compress_size > size or info.file_size > most:
                raise ValueError(
                    f"the member {name}.npy claims {info.file_size} bytes, more than the file holds"
                )
            with archive.open(info) as data:
                return npy.read_array(data, info.file_size, kinds=kinds, where=f"{name}.npy")

        text = member("meta", npy.STRING_KINDS)
        if text.shape != () or text.dtype.kind != "U":
            raise ValueError(f"meta is a {text.dtype} array of shape {text.shape}, not a text")
        meta = read_json(str(text[()]).encode(), "meta")
        if not isinstance(meta, dict):
            raise ValueError(f"meta is a JSON {type(meta).__name__}, not an object")
        n_variables = meta.get("n_variables")
        if (
            meta.get("format") != FORMAT
            or meta.get("format_version") != FORMAT_VERSION
            or meta.get("steps") != steps
            or type(n_variables) is not int
            or n_variables < 0
        ):
            raise ValueError(f"not a {FORMAT} version {FORMAT_VERSION} of {steps} steps")
        names = {"meta.npy", *(f"v{i}.npy" for i in range(n_variables))}
        if set(archive.namelist()) != names:
            extra = sorted(set(archive.namelist()) - names)
            missing = sorted(names - set(archive.namelist()))
            raise ValueError(f"members missing {missing[:3]}, unexpected {extra[:3]}")
        arrays = [member(f"v{i}", npy.NUMERIC_KINDS) for i in range(n_variables)]
    return meta, arrays


def _listdir(folder):
    """The names in ``folder`` but hidden ones (temporary files); none if it is missing."""
    try:
        return sorted(name for name in os.listdir(folder) if not name.startswith("."))
    except OSError:
        return []
