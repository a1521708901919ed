"""Epoch checkpoints on disk, without pickle: the cache behind the classifiers' ``memory``.

Layout (``<location>`` is the ``memory`` directory, or a ``joblib.Memory``'s
location)::

    <location>/skcifar-checkpoints/
        <run key>/              one run: every input of a fit but its epochs
            run.json            what the key was computed from (for people; never read back)
            steps-<n>.npz       the state after n optimiser steps

A checkpoint is one ``.npz`` file (NumPy's zip of ``.npy`` arrays), read with
``allow_pickle=False``: the variables of the network and of its optimizer, in
order (weights, batch-norm statistics, optimizer slots and step count, the
random layers' seed states), and ``meta``, a JSON text (the history, the
epochs trained, whether early stopping ended the run). Every file is written
under a temporary name beside its place and renamed into it, so a reader sees
a whole file or none, and two processes storing the same checkpoint cannot
corrupt it. A file that cannot be read is ignored and removed; the next fit
that reaches its step count writes it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import zipfile
import zlib
from numbers import Integral

import numpy as np

from ..utils.atomic import atomic_output
from ._codec import encode

DIRECTORY = "skcifar-checkpoints"
FORMAT = "skcifar-checkpoint"
FORMAT_VERSION = 1
_NAME = re.compile(r"^steps-(\d+)\.npz$")
_KEY = re.compile(r"^[0-9a-f]{64}$")
# What reading a damaged or foreign file raises.
_READ_ERRORS = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, zlib.error)


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
    >>> from skcifar.persistence import CheckpointCache
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
        text = self._json(description)
        return hashlib.sha256(text.encode()).hexdigest()

    def steps(self, key):
        """The step counts of the checkpoints stored for run ``key``, longest first."""
        found = (_NAME.match(name) for name in _listdir(self._folder(key)))
        return sorted((int(match.group(1)) for match in found if match), reverse=True)

    def read(self, key, steps):
        """``(meta, arrays)`` of a checkpoint, or None when it is missing or damaged.

        A damaged file (truncated, garbled, another format) is removed.
        """
        path = self._file(key, steps)
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"][()]))
                if (
                    meta.get("format") != FORMAT
                    or meta.get("format_version") != FORMAT_VERSION
                    or meta.get("steps") != steps
                    or not isinstance(meta.get("n_variables"), Integral)
                ):
                    raise ValueError("not a checkpoint of this format")
                arrays = [data[f"v{i}"] for i in range(meta["n_variables"])]
        except FileNotFoundError:
            return None
        except _READ_ERRORS:
            self.discard(key, steps)
            return None
        return meta, arrays

    def write(self, key, steps, meta, arrays, description):
        """Store a checkpoint (and the run's ``run.json``), atomically.

        ``meta`` is JSON-ready; ``arrays`` are the variables' values in order.
        """
        folder = self._folder(key)
        os.makedirs(folder, exist_ok=True)
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

    def discard(self, key, steps):
        """Remove one checkpoint, if it is there."""
        with contextlib.suppress(OSError):
            os.remove(self._file(key, steps))

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


def _listdir(folder):
    """The names in ``folder`` but hidden ones (temporary files); none if it is missing."""
    try:
        return sorted(name for name in os.listdir(folder) if not name.startswith("."))
    except OSError:
        return []
