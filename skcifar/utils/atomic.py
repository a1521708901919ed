"""Atomic file output: a file appears complete or not at all."""

from __future__ import annotations

import contextlib
import os
import secrets


@contextlib.contextmanager
def atomic_output(path, suffix=".tmp"):
    """Yield a binary file whose content replaces ``path`` when the block ends.

    The data goes to a temporary file in the same directory (``.<name>.<random>
    <suffix>``), is flushed to disk and renamed over ``path`` only if the block
    completes. On any exception, KeyboardInterrupt included, the temporary file
    is removed and ``path`` is left as it was. The file gets the usual
    permissions (``0o666`` less the umask), unlike :func:`tempfile.mkstemp`'s
    private ``0o600``.
    """
    path = os.path.abspath(os.fspath(path))
    directory, base = os.path.split(path)
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(4)}{suffix}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
