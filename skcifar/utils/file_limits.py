"""What a file may declare, checked before anything is inflated or allocated.

A zip member declares the size it inflates to, a JSON text how deep it nests,
a Keras config the shapes of the variables its layers create. A crafted file
declares far more than it holds: a 400 KB archive whose member inflates to a
gigabyte, a few bytes of config that build a layer with a billion weights.
Each rule here bounds what reading a file costs by the file's own size, and
each error names the rule:

- the deflated members of an archive inflate to at most
  :data:`INFLATE_RATIO` times the archive's size, or :data:`INFLATE_FLOOR`
  bytes, whichever is larger (skcifar's own manifests and arrays compress a
  few-fold; its networks are stored, not deflated); a stored member holds
  exactly the bytes it declares;
- an archive has at most :data:`MAX_MEMBERS` members, each stored or deflated, none
  encrypted;
- JSON nests at most :data:`MAX_NESTING` brackets deep (``json.loads``
  recurses once per level);
- a Keras network's variables fit in the weights file that holds their values,
  plus :data:`VARIABLES_SLACK` bytes; they are counted by building the network
  from its config without allocating them.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
import zlib

import numpy as np

from .keras_internals import set_uninitialized_variables, uninitialized_variables

INFLATE_RATIO = 20
INFLATE_FLOOR = 16 * 2**20
MAX_MEMBERS = 10_000
# skcifar's manifests nest far less (values nest at most 32 levels, two brackets each).
MAX_NESTING = 200
VARIABLES_SLACK = 16 * 2**20
_SCAN_CHUNK = 2**20
#: Errors that a damaged zip archive raises while it is opened or a member is read;
#: zipfile raises NotImplementedError for a header declaring a version or feature it lacks.
ARCHIVE_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)
# Zip flags zipfile cannot read: encrypted (bit 0), patched (bit 5), strong encryption (6).
_UNREADABLE_FLAGS = 0x1 | 0x20 | 0x40
# The compression methods skcifar writes; zipfile raises NotImplementedError on some others.
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
# The members of Keras' .keras format.
_KERAS_CONFIG = "config.json"
_KERAS_WEIGHTS = "model.weights.h5"


def check_methods(archive, where):
    """Raise ValueError if a member is encrypted, patched, or neither stored nor deflated."""
    for info in archive.infolist():
        if info.flag_bits & _UNREADABLE_FLAGS:
            raise ValueError(
                f"{where}: the member {info.filename!r} is encrypted or patched (zip flags "
                f"{info.flag_bits:#x}); skcifar writes neither. The file is damaged or was not "
                "written by skcifar."
            )
        if info.compress_type not in _METHODS:
            raise ValueError(
                f"{where}: the member {info.filename!r} uses compression method "
                f"{info.compress_type}; skcifar reads {' or '.join(_METHODS.values())} "
                "members only. The file is damaged or was not written by skcifar."
            )


def check_inflation(archive, size, where):
    """Raise ValueError if ``archive``'s members declare more than its ``size`` (bytes) allows.

    Nothing is read from the members; ``where`` names the archive in the message.
    """
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ValueError(
            f"{where} has {len(infos)} members, more than the {MAX_MEMBERS} skcifar reads; "
            "the file is damaged or was not written by skcifar."
        )
    inflated = 0
    for info in infos:
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise ValueError(
                f"{where}: the stored member {info.filename!r} declares {info.file_size} "
                f"bytes but holds {info.compress_size}; the file is damaged."
            )
        if info.compress_type != zipfile.ZIP_STORED:
            inflated += info.file_size
    allowed = max(INFLATE_FLOOR, INFLATE_RATIO * size)
    if inflated > allowed:
        raise ValueError(
            f"{where}: its compressed members declare {inflated} bytes when inflated, more "
            f"than skcifar inflates from a file of {size} bytes (at most {INFLATE_RATIO} "
            f"times its size, or {INFLATE_FLOOR} bytes); the file is damaged or crafted to "
            "exhaust memory."
        )


def read_json(data, where, **options):
    """Parse JSON ``data`` (bytes) whose nesting is checked first; errors are ValueError.

    ``options`` go to :func:`json.loads`.
    """
    depth = nesting_depth(data)
    if depth > MAX_NESTING:
        raise ValueError(
            f"{where} nests brackets {depth} deep, more than the {MAX_NESTING} levels skcifar reads"
        )
    return json.loads(data.decode("utf-8"), **options)


def nesting_depth(text):
    """The deepest nesting of ``[`` and ``{`` in JSON ``text`` (bytes), without parsing it.

    Brackets inside strings do not count. A linear scan, so that JSON nested
    too deep is refused before :func:`json.loads` recurses into it. Text that
    is not JSON gets some depth; ``json.loads`` refuses it anyway.

    Examples
    --------
    >>> nesting_depth(b'{"a": [[1], "]]]"]}')
    3
    """
    # Escaped quotes out: pairs of backslashes first, left to right, as JSON reads them.
    text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    depth = deepest = in_string = 0
    for start in range(0, len(text), _SCAN_CHUNK):
        chunk = np.frombuffer(text, np.uint8, min(_SCAN_CHUNK, len(text) - start), start)
        # 1 from an opening quote up to its closing quote, else 0
        inside = np.bitwise_xor.accumulate(chunk == ord('"'), dtype=np.uint8) ^ in_string
        opening = (chunk == ord("[")) | (chunk == ord("{"))
        closing = (chunk == ord("]")) | (chunk == ord("}"))
        steps = np.where(inside == 0, opening.astype(np.int64) - closing, 0)
        running = depth + np.cumsum(steps)
        deepest = max(deepest, int(running.max()))
        depth, in_string = int(running[-1]), int(inside[-1])
    return deepest


def check_keras_file(filename, where):
    """Raise ValueError if the ``.keras`` file declares more than it holds.

    Its zip members are checked as :func:`check_inflation` does, then its
    network is built from ``config.json`` with Keras' deferred variables
    (shapes, no values) and the bytes of its variables are compared with the
    size of ``model.weights.h5``, which holds their values. Call it inside
    Keras' safe mode, with skcifar's layers registered. An optimizer's
    variables (a few copies of the network's) are not counted.
    """
    try:
        archive = zipfile.ZipFile(filename)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"the Keras file of {where} is not a zip archive ({exc})") from None
    with archive:
        check_methods(archive, f"the Keras file of {where}")
        check_inflation(archive, os.path.getsize(filename), f"the Keras file of {where}")
        try:
            config = archive.getinfo(_KERAS_CONFIG)
            weights = archive.getinfo(_KERAS_WEIGHTS)
        except KeyError as exc:
            raise ValueError(f"the Keras file of {where} lacks a member ({exc})") from None
        if config.file_size > INFLATE_FLOOR:
            raise ValueError(
                f"the Keras config of {where} declares {config.file_size} bytes, more than "
                f"the {INFLATE_FLOOR} skcifar reads"
            )
        config = read_json(archive.read(config), f"the Keras config of {where}")
    needed = _variable_bytes(config, where)
    allowed = weights.file_size + VARIABLES_SLACK
    if needed > allowed:
        raise ValueError(
            f"the Keras config of {where} declares variables of {needed} bytes, but its "
            f"weights file holds {weights.file_size} (skcifar allows {VARIABLES_SLACK} "
            "bytes more); the file is damaged or crafted to exhaust memory."
        )


def _variable_bytes(config, where):
    """The bytes the variables of the network in ``config`` take, none allocated."""
    from ..utils.backend import import_keras

    keras = import_keras()
    try:
        # Keras records the variables a StatelessScope creates without values, to
        # allocate them when a later scope ends: the records are put back as they were.
        before = uninitialized_variables()
    except ImportError:  # pragma: no cover - private Keras API moved: no count
        return 0
    try:
        with keras.StatelessScope(initialize_variables=False):
            # The network only: an optimizer allocates its step counter as it is made, and
            # its other variables mirror the network's, once they are loaded.
            network = {k: v for k, v in config.items() if k != "compile_config"}
            network = keras.saving.deserialize_keras_object(network, safe_mode=True)
        return sum(
            int(np.prod(variable.shape, dtype=object)) * _itemsize(variable.dtype)
            for variable in network.weights
        )
    except Exception as exc:
        raise ValueError(
            f"the Keras config of {where} does not describe a network Keras' safe mode "
            f"builds ({type(exc).__name__}: {exc})"
        ) from exc
    finally:
        set_uninitialized_variables(before)


def _itemsize(dtype):
    """Bytes per value of a Keras dtype name ("float32": 4, "bfloat16": 2, "bool": 1)."""
    bits = re.search(r"\d+", str(dtype))
    return int(bits.group()) // 8 if bits else 1
