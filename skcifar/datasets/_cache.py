"""Cache of decoded CIFAR-10 arrays as ``.npy`` files in the data home.

Layout: ``<data_home>/cifar10/<key>/{X_train,y_train,X_test,y_test}.npy``; the
key hashes the source's real path and its files' sizes and mtimes, so a changed
source gets a new entry. Entries appear whole (:func:`save_cached`) and are
read with :func:`skcifar.utils.npy.load`, which checks a header before it
allocates what it declares; a damaged entry is rebuilt (:func:`load_cached`).
Nothing in the cache directory but an entry's own four files is ever removed.
"""

import contextlib
import hashlib
import os
import shutil
import tempfile
import warnings

import numpy as np

from ..utils import npy

_CACHE_VERSION = 1
_CACHE_SUBDIR = "cifar10"
_NAMES = ("X_train", "y_train", "X_test", "y_test")
# Deep enough for [root/]split/class/file image folders and cifar-10-batches-py/.
_MAX_DEPTH = 4
_warned_homes = set()


def _walk(directory, prefix="", depth=0):
    """Yield (relative path, size, mtime_ns) of files under ``directory``."""
    with os.scandir(directory) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        rel = f"{prefix}{entry.name}"
        if entry.is_dir():
            if depth < _MAX_DEPTH:
                yield from _walk(entry.path, f"{rel}/", depth + 1)
        else:
            st = entry.stat()
            yield rel, st.st_size, st.st_mtime_ns


def source_key(path):
    """Short sha256 of the cache version, the real path and the source's stat data."""
    real = os.path.realpath(path)
    digest = hashlib.sha256(f"skcifar-cache-v{_CACHE_VERSION}\0{real}\0".encode())
    if os.path.isdir(real):
        for rel, size, mtime_ns in _walk(real):
            digest.update(f"{rel}\0{size}\0{mtime_ns}\0".encode())
    else:
        st = os.stat(real)
        digest.update(f"{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


def _cache_dir(data_home, key):
    return os.path.join(data_home, _CACHE_SUBDIR, key)


def _valid(arrays):
    X_train, y_train, X_test, y_test = arrays
    return all(
        X.dtype == np.uint8
        and X.ndim == 4
        and X.shape[1:] == (32, 32, 3)
        and X.flags.c_contiguous
        and y.dtype == np.int64
        and y.shape == (len(X),)
        for X, y in ((X_train, y_train), (X_test, y_test))
    )


def load_cached(data_home, key):
    """The cached ``(X_train, y_train, X_test, y_test)``, or None.

    A damaged entry (a file missing, truncated or garbled, or arrays of other
    dtypes or shapes) is reported with a UserWarning and its files removed.
    """
    directory = _cache_dir(data_home, key)
    if not os.path.isdir(directory):
        return None
    arrays, problem = [], None
    for name in _NAMES:
        try:
            arrays.append(npy.load(os.path.join(directory, f"{name}.npy")))
        except FileNotFoundError:
            problem = f"{name}.npy is missing"
            break
        except (OSError, ValueError) as exc:
            problem = str(exc)
            break
    else:
        if _valid(arrays):
            return tuple(arrays)
        problem = "the arrays have unexpected dtypes or shapes"
    warnings.warn(
        f"the cached CIFAR-10 arrays in {directory!r} are damaged ({problem}); "
        "decoding the source again to rebuild them.",
        UserWarning,
        stacklevel=3,
    )
    _discard(directory)
    return None


def _discard(directory):
    """Remove an entry's own files, and its directory if that leaves it empty."""
    for name in _NAMES:
        with contextlib.suppress(OSError):
            os.remove(os.path.join(directory, f"{name}.npy"))
    with contextlib.suppress(OSError):
        os.rmdir(directory)


def warn_uncached(data_home, exc):
    """Warn, once per data home, that the cache cannot be written there (``exc``)."""
    if data_home not in _warned_homes:
        _warned_homes.add(data_home)
        warnings.warn(
            f"cannot write the CIFAR-10 cache in data home {data_home!r} ({exc}); continuing "
            "without a cache, so every load decodes the data again. Set SKCIFAR_DATA_HOME "
            "or pass data_home= to use a writable directory.",
            UserWarning,
            stacklevel=4,
        )


def save_cached(data_home, key, arrays):
    """Store ``arrays`` under ``key`` atomically; warn (once) if that is impossible."""
    parent = os.path.join(data_home, _CACHE_SUBDIR)
    tmp = None
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=parent)
        for name, array in zip(_NAMES, arrays, strict=True):
            np.save(os.path.join(tmp, f"{name}.npy"), array, allow_pickle=False)
        entry = _cache_dir(data_home, key)
        try:
            os.rename(tmp, entry)
            tmp = None
        except OSError:
            if not os.path.isdir(entry):
                raise
            # The entry's directory is there: another process stored the same arrays (the
            # key fixes the source) or a damaged entry left it. Each file replaces its own.
            for name in _NAMES:
                os.replace(os.path.join(tmp, f"{name}.npy"), os.path.join(entry, f"{name}.npy"))
    except OSError as exc:
        warn_uncached(data_home, exc)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
