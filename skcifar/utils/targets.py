"""Whether skcifar may write to a path: it replaces only what it wrote itself.

The writers (:func:`skcifar.save`, :func:`skcifar.export`, the command line)
check their target with these before any work, and the atomic writers of
:mod:`skcifar.utils.atomic` then replace it.
"""

from __future__ import annotations

import os
import stat


def check_target(path, what, is_own, *, directory=False):
    """Raise ValueError unless writing ``what`` to ``path`` destroys nothing skcifar did not write.

    ``path`` may be absent; an empty file (an empty directory with
    ``directory=True``), which holds nothing to lose; or a file (directory)
    that ``is_own(path)`` recognises as ``what`` written by skcifar. A symbolic
    link, a directory where a file goes (and the reverse), anything else that
    is not a regular file, and content skcifar did not write are refused, with
    a message naming ``path`` and the fix. ``what`` names what is written in
    the message (``"a .skcifar model file"``). Returns the absolute path.
    """
    path = os.path.abspath(os.fspath(path))
    try:
        info = os.lstat(path)
    except OSError:  # absent, or below something that is not a directory: creating it will say
        return path
    if stat.S_ISLNK(info.st_mode):
        found = "a symbolic link"
    elif stat.S_ISDIR(info.st_mode):
        if directory and (not os.listdir(path) or is_own(path)):
            return path
        found = "a non-empty directory" if directory else "a directory"
    elif stat.S_ISREG(info.st_mode):
        if not directory and (info.st_size == 0 or is_own(path)):
            return path
        found = "a file"
    else:
        found = "neither a regular file nor a directory"
    raise ValueError(
        f"Cannot write {what} to {path!r}: it is {found}, not {what} that skcifar "
        "wrote, and skcifar never replaces what it did not write. Choose another "
        f"path, or move or remove {path!r} yourself."
    )


def check_directory(path, what):
    """Raise FileNotFoundError or NotADirectoryError naming ``path`` if its directory is not there.

    Returns the absolute ``path``.
    """
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        error = NotADirectoryError if os.path.lexists(parent) else FileNotFoundError
        found = "is not a directory" if os.path.lexists(parent) else "does not exist"
        raise error(
            f"Cannot write {what} to {path!r}: {parent!r} {found}. Create the directory "
            "first, or choose another path."
        )
    return path
