"""Atomic file output: a file or directory appears complete or not at all."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import stat
import threading


class Terminated(BaseException):
    """SIGTERM arrived during :func:`cleanup_on_sigterm`: raised so that clean-ups run."""


@contextlib.contextmanager
def cleanup_on_sigterm():
    """Run the block's clean-ups when SIGTERM arrives, then end the process as SIGTERM would.

    By default SIGTERM ends Python at once, without running ``finally`` blocks,
    which would leave temporary files behind. In the main thread, while SIGTERM
    has its default action, the block runs with a handler that raises
    :class:`Terminated`; after the clean-ups the signal is sent again with its
    default action, so the process ends with SIGTERM's status. Elsewhere, or
    when the caller handles or ignores SIGTERM, nothing changes.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def terminate(signum, frame):
        raise Terminated(signum)

    try:
        signal.signal(signal.SIGTERM, terminate)
        yield
    except Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _naming(exc, path):
    """``exc``, an OSError about a temporary file, as the same error about ``path``."""
    return type(exc)(exc.errno, exc.strerror, path)


def temporary_name(path, suffix=".tmp"):
    """``.<name>.<random><suffix>`` beside ``path``: where its new content is written first."""
    directory, base = os.path.split(path)
    return os.path.join(directory, f".{base}.{secrets.token_hex(4)}{suffix}")


def permissions(path):
    """The permission bits (``0o777`` part) of ``path``, or None if it does not exist."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode) & 0o777
    except OSError:
        return None


@contextlib.contextmanager
def atomic_output(path, suffix=".tmp"):
    """Yield a binary file whose content replaces ``path`` when the block ends.

    The data goes to a temporary file in the same directory (``.<name>.<random>
    <suffix>``), is flushed to disk and renamed over ``path`` only if the block
    completes. On any exception, KeyboardInterrupt included, and on SIGTERM
    (see :func:`cleanup_on_sigterm`), the temporary file is removed and
    ``path`` is left as it was. A new file gets the usual permissions
    (``0o666`` less the umask), unlike :func:`tempfile.mkstemp`'s private
    ``0o600``; a replaced file keeps its permissions. An error creating the
    file names ``path``, not the temporary file. Whether ``path`` may be
    replaced at all is the caller's check (:mod:`skcifar.utils.targets`).
    """
    path = os.path.abspath(os.fspath(path))
    tmp = temporary_name(path, suffix)
    mode = permissions(path)
    with cleanup_on_sigterm():
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise _naming(exc, path) from None
        try:
            with os.fdopen(fd, "wb") as file:
                if mode is not None:
                    os.chmod(tmp, mode)
                yield file
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(OSError):  # absent once renamed into place
                os.remove(tmp)


@contextlib.contextmanager
def atomic_directory(path):
    """Yield a directory path whose content replaces ``path`` when the block ends.

    :func:`atomic_output` for a directory: the block writes the directory it
    is given (it does not exist yet), inside a scratch directory beside
    ``path`` (``.<name>.<random>.tmp``). When the block completes, an
    existing ``path`` is moved into the scratch directory, the new directory
    renamed to ``path`` and the scratch directory removed; on any exception,
    KeyboardInterrupt included, and on SIGTERM, the scratch directory is
    removed and ``path`` is left as it was. A replaced directory's
    permissions carry over; an error creating the scratch directory names
    ``path``; whether ``path`` may be replaced is the caller's check.
    """
    path = os.path.abspath(os.fspath(path))
    scratch = temporary_name(path)
    with cleanup_on_sigterm():
        try:
            os.mkdir(scratch)
        except OSError as exc:
            raise _naming(exc, path) from None
        try:
            new, old = os.path.join(scratch, "new"), os.path.join(scratch, "old")
            yield new
            mode = permissions(path)
            if mode is not None:
                os.chmod(new, mode)
                os.replace(path, old)
            try:
                os.replace(new, path)
            except BaseException:
                if mode is not None:
                    os.replace(old, path)
                raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
