"""Reading ``.npy`` data that may come from a stranger, or be damaged.

:func:`numpy.load` allocates the array that a file's header declares before it
reads the data: a 200-byte file whose header declares ``shape=(10**13,)``
makes it raise ``MemoryError``. The functions here read the header, check it,
and check that the size it declares is exactly the number of bytes that follow
it, before anything of that size is allocated. Every malformed input raises
``ValueError`` with a message naming the source and what is wrong.

Accepted: the ``.npy`` format versions 1.0, 2.0 and 3.0; a header that is a
dict of exactly ``descr``, ``fortran_order`` (a bool) and ``shape`` (a tuple
of non-negative ints); a plain dtype of either byte order: booleans,
integers, floats and complex numbers (:data:`NUMERIC_KINDS`), and fixed-width
byte and unicode strings where the caller asks for them
(:data:`STRING_KINDS`). Refused: object arrays (pickle), structured,
sub-array and void dtypes, and anything of zero item size. A path is opened
with :func:`open_file`, which reads regular files only: a FIFO in place of a
file would make :func:`open` wait for a writer.

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
    """The checked header of a ``.npy`` file.

    Attributes
    ----------
    dtype : numpy.dtype
        The array's dtype.
    shape : tuple of int
        The array's shape.
    fortran_order : bool
        Whether the data is in Fortran (column-major) order.
    offset : int
        Bytes from the start of the file to the data: the magic string, the
        version, the header length and the header itself.
    """

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

    Parameters
    ----------
    file : binary file object
        Positioned at the start of the ``.npy`` data; left at the start of
        the array data.
    size : int
        The number of bytes of ``.npy`` data available from the current
        position: the file's size, or a zip member's.
    kinds : str, default=NUMERIC_KINDS
        The dtype kinds accepted (``numpy.dtype.kind`` characters), e.g.
        ``NUMERIC_KINDS + STRING_KINDS``.
    where : str, default="the .npy data"
        What is read, for error messages (a path, a member name).

    Returns
    -------
    NpyHeader
        The header; its ``nbytes`` equals ``size - offset``.

    Raises
    ------
    ValueError
        If the data is not ``.npy`` data, the header is malformed, the dtype
        is not of ``kinds``, or the declared size differs from the size of
        the data that follows the header.
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
    """Read the ``.npy`` data of ``size`` bytes in ``file`` as an array, checked first.

    The header is checked with :func:`read_header`, so the array allocated is
    never larger than the data that is there.

    Parameters
    ----------
    file : binary file object
        Positioned at the start of the ``.npy`` data (a file, a zip member,
        a ``BytesIO``).
    size : int
        The number of bytes of ``.npy`` data available from the current position.
    kinds : str, default=NUMERIC_KINDS
        The dtype kinds accepted.
    where : str, default="the .npy data"
        What is read, for error messages.

    Returns
    -------
    ndarray
        A new, writable array.

    Raises
    ------
    ValueError
        As :func:`read_header`, or if the data ends early.
    """
    header = read_header(file, size, kinds=kinds, where=where)
    flat = np.empty(math.prod(header.shape), dtype=header.dtype)
    if flat.size:
        _read_into(file, memoryview(flat.view(np.uint8)), where)
    if header.fortran_order:
        return flat.reshape(header.shape[::-1]).transpose()
    return flat.reshape(header.shape)


def load(path, *, kinds=NUMERIC_KINDS):
    """Read the ``.npy`` file ``path``, checked before anything is allocated.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    kinds : str, default=NUMERIC_KINDS
        The dtype kinds accepted.

    Returns
    -------
    ndarray
        The array.

    Raises
    ------
    OSError
        If the file cannot be opened or read.
    ValueError
        If it is not a well-formed ``.npy`` file of a dtype of ``kinds``
        whose data is exactly as long as its header declares.
    """
    path = os.fspath(path)
    with open_file(path) as file:
        size = os.fstat(file.fileno()).st_size
        return read_array(file, size, kinds=kinds, where=repr(path))


def open_file(path):
    """Open ``path`` for binary reading if it is a regular file, never waiting.

    :func:`open` on a FIFO waits for a writer, possibly forever, and a device
    may never end. The file is opened without blocking and checked before
    anything is read.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    file object
        Opened ``"rb"``; the caller closes it.

    Raises
    ------
    OSError
        If it cannot be opened.
    ValueError
        If it is not a regular file (a FIFO, a device, a directory).
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
    """Read ``.npy`` bytes, checked before anything is allocated.

    Parameters
    ----------
    data : bytes
        The whole ``.npy`` data.
    kinds : str, default=NUMERIC_KINDS
        The dtype kinds accepted.
    where : str, default="the .npy data"
        What is read, for error messages.

    Returns
    -------
    ndarray
        A new, writable array.

    Raises
    ------
    ValueError
        As :func:`read_array`.
    """
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
