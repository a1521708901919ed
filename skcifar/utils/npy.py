"""Reading ``.npy`` data that may come from a stranger, or be damaged.

:func:`numpy.load` allocates the array that a file's header declares before it
reads the data: a 200-byte file whose header declares ``shape=(10**13,)``
makes it raise ``MemoryError``. Here the header is checked, and the size it
declares must be exactly the number of bytes that follow it, before anything
of that size is allocated; malformed input raises ``ValueError`` naming the
source and the problem. Accepted: ``.npy`` versions 1.0 to 3.0 whose header
is a dict of exactly ``descr``, ``fortran_order`` and ``shape``, of a plain
dtype of the ``kinds`` the caller accepts (:data:`NUMERIC_KINDS`,
:data:`STRING_KINDS`); never object, structured, sub-array or void dtypes.

Examples
--------
>>> import io
>>> import numpy as np
>>> from skcifar.utils import npy
>>> buffer = io.BytesIO()
>>> np.save(buffer, np.arange(3, dtype=np.int16), allow_pickle=False)
>>> npy.loads(buffer.getvalue())
array([0, 1, 2], dtype=int16)
>>> npy.loads(buffer.getvalue()[:-1])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: the .npy data: the header declares shape (3,) of int16 (6 bytes), but 5 bytes ...
"""

from __future__ import annotations

import ast
import io
import math
import os
import re
import stat
from typing import NamedTuple

import numpy as np

__all__ = [
    "NUMERIC_KINDS",
    "STRING_KINDS",
    "NpyHeader",
    "load",
    "loads",
    "open_file",
    "read_array",
    "read_header",
]

#: dtype kinds of booleans, signed and unsigned integers, floats and complex numbers.
NUMERIC_KINDS = "biufc"
#: dtype kinds of fixed-width byte strings and unicode strings.
STRING_KINDS = "SU"

_MAGIC = b"\x93NUMPY"
_VERSIONS = {(1, 0): 2, (2, 0): 4, (3, 0): 4}  # version -> bytes of the header length
# NumPy's own default limit on the header text (``max_header_size``).
_MAX_HEADER_BYTES = 10_000
_MAX_DIMS = 64  # NumPy 2's limit on an array's dimensions
_CHUNK_BYTES = 1 << 24  # read the data in pieces: a zip member's read() copies


class NpyHeader(NamedTuple):
    """The checked header of a ``.npy`` file; ``offset`` is the number of bytes before the data."""

    dtype: np.dtype
    shape: tuple
    fortran_order: bool
    offset: int

    @property
    def nbytes(self):
        """The size of the data that the header declares, in bytes."""
        return math.prod(self.shape) * self.dtype.itemsize


def read_header(file, size, *, kinds=NUMERIC_KINDS, where="the .npy data"):
    """Read and check the header of the ``.npy`` data of ``size`` bytes in ``file``.

    ``file`` is positioned at the start of the data (a file, a zip member) and
    is left at the start of the array data; ``size`` counts the bytes from
    there (the file's size, or a zip member's). ``kinds`` holds the accepted
    ``numpy.dtype.kind`` characters, e.g. ``NUMERIC_KINDS + STRING_KINDS``;
    ``where`` names what is read in error messages (a path, a member name).
    Returns the :class:`NpyHeader`, whose ``nbytes`` equals ``size - offset``.
    Raises ValueError if the data is not ``.npy`` data, the header is
    malformed, the dtype is not of ``kinds``, or the declared size differs
    from the size of the data that follows the header.
    """
    prefix = _read_exactly(file, 8, where, "the magic string and version")
    if prefix[:6] != _MAGIC:
        raise ValueError(f"{where}: not .npy data (it does not start with \\x93NUMPY)")
    version = (prefix[6], prefix[7])
    if version not in _VERSIONS:
        raise ValueError(f"{where}: unsupported .npy format version {version[0]}.{version[1]}")
    length_bytes = _VERSIONS[version]
    length = int.from_bytes(_read_exactly(file, length_bytes, where, "the header length"), "little")
    offset = 8 + length_bytes + length
    if length > _MAX_HEADER_BYTES or offset > size:
        raise ValueError(
            f"{where}: the header length {length} is impossible (at most {_MAX_HEADER_BYTES} "
            f"bytes, within the {size} bytes of the data); the data is damaged"
        )
    raw = _read_exactly(file, length, where, "the header")
    try:
        text = raw.decode("utf-8" if version == (3, 0) else "latin1")
        header = ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise ValueError(f"{where}: the header is not a Python literal: {raw[:80]!r}") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise ValueError(
            f"{where}: the header must be a dict of 'descr', 'fortran_order' and 'shape'; "
            f"got {text[:80]!r}"
        )
    dtype = _dtype(header["descr"], kinds, where)
    fortran_order, shape = header["fortran_order"], header["shape"]
    if type(fortran_order) is not bool:
        raise ValueError(f"{where}: 'fortran_order' is {fortran_order!r}, not a bool")
    if (
        type(shape) is not tuple
        or len(shape) > _MAX_DIMS
        or not all(type(n) is int and n >= 0 for n in shape)
    ):
        raise ValueError(
            f"{where}: 'shape' is {str(shape)[:80]}, not a tuple of at most {_MAX_DIMS} "
            "non-negative ints"
        )
    found = NpyHeader(dtype, shape, fortran_order, offset)
    if found.nbytes != size - offset:
        raise ValueError(
            f"{where}: the header declares shape {shape} of {dtype} ({found.nbytes} bytes), "
            f"but {size - offset} bytes follow it; the data is truncated or damaged"
        )
    return found


def read_array(file, size, *, kinds=NUMERIC_KINDS, where="the .npy data"):
    """Read the ``.npy`` data of ``size`` bytes in ``file`` as a new array, checked first.

    The arguments are those of :func:`read_header`, which checks the header,
    so the array allocated is never larger than the data that is there.
    Raises ValueError as :func:`read_header` does, or if the data ends early.
    """
    header = read_header(file, size, kinds=kinds, where=where)
    flat = np.empty(math.prod(header.shape), dtype=header.dtype)
    if flat.size:
        _read_into(file, memoryview(flat.view(np.uint8)), where)
    if header.fortran_order:
        return flat.reshape(header.shape[::-1]).transpose()
    return flat.reshape(header.shape)


def load(path, *, kinds=NUMERIC_KINDS):
    """Read the ``.npy`` file ``path`` (see :func:`open_file`), checked as :func:`read_array` does.

    Raises OSError if the file cannot be opened or read, ValueError if it is
    not a well-formed ``.npy`` file of a dtype of ``kinds`` whose data is
    exactly as long as its header declares.
    """
    path = os.fspath(path)
    with open_file(path) as file:
        size = os.fstat(file.fileno()).st_size
        return read_array(file, size, kinds=kinds, where=repr(path))


def open_file(path):
    """Open ``path`` for binary reading if it is a regular file, never waiting.

    :func:`open` on a FIFO waits for a writer, possibly forever, and a device
    may never end: the file is opened without blocking and checked before
    anything is read. Raises OSError if it cannot be opened, ValueError if it
    is not a regular file. The caller closes the file.
    """
    path = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(
                f"{path!r} is not a regular file (a FIFO, a device or a directory); "
                "only regular files are read"
            )
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def loads(data, *, kinds=NUMERIC_KINDS, where="the .npy data"):
    """Read the ``.npy`` bytes ``data``, checked as :func:`read_array` does."""
    return read_array(io.BytesIO(data), len(data), kinds=kinds, where=where)


# A byte order, a kind letter and an item size, as np.save writes a plain dtype: '<f4', '|u1'.
_PLAIN_DESCR = re.compile(r"[<>|=]?[a-zA-Z]\d{0,6}")


def _dtype(descr, kinds, where):
    if not isinstance(descr, str):
        raise ValueError(f"{where}: 'descr' is {str(descr)[:80]}, not a plain dtype string")
    if not _PLAIN_DESCR.fullmatch(descr):  # np.dtype parses other strings with ast (SyntaxError)
        raise ValueError(f"{where}: 'descr' {descr[:80]!r} is not a plain dtype string")
    try:
        dtype = np.dtype(descr)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{where}: 'descr' {descr[:80]!r} is not a dtype") from None
    if (
        dtype.kind not in kinds
        or dtype.hasobject
        or dtype.fields is not None
        or dtype.subdtype is not None
        or dtype.itemsize == 0
    ):
        raise ValueError(
            f"{where}: dtype {descr[:80]!r} is refused; accepted are plain dtypes of the "
            f"kinds {kinds!r} (never object arrays, which would need pickle)"
        )
    return dtype


def _read_exactly(file, n, where, what):
    data = file.read(n)
    if len(data) != n:
        raise ValueError(
            f"{where}: truncated while reading {what} (expected {n} bytes, got {len(data)})"
        )
    return data


def _read_into(file, buffer, where):
    done, total = 0, len(buffer)
    while done < total:
        got = file.readinto(buffer[done : done + _CHUNK_BYTES])
        if not got:
            raise ValueError(f"{where}: truncated: the data ends after {done} of its {total} bytes")
        done += got
