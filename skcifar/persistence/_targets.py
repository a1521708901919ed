"""What a save or an export may replace: only what skcifar wrote there before.

:func:`skcifar.save` and :func:`skcifar.export` write to a path the user
names. An existing target is replaced only if it is empty or recognisably
skcifar's own output of the same kind: a ``.skcifar`` archive, an ONNX file
whose metadata skcifar wrote, or a SavedModel directory holding skcifar's
``assets.extra/skcifar.json`` and nothing beside what the export writes. The
checks read a bounded amount of the existing file, however large it is.
"""

from __future__ import annotations

import json
import os

from ..utils.file_limits import read_json
from ..utils.targets import check_directory, check_target
from ._archive import is_model_file

MODEL_FILE = "a .skcifar model file"
ONNX_FILE = "an ONNX model"
SAVEDMODEL = "a SavedModel"
# Beside a SavedModel's own files, where TensorFlow Serving keeps extra files.
SAVEDMODEL_METADATA = os.path.join("assets.extra", "skcifar.json")
# The entries of a SavedModel directory that skcifar exported (fingerprint.pb: newer TensorFlow).
_SAVEDMODEL_ENTRIES = frozenset(
    {"saved_model.pb", "fingerprint.pb", "variables", "assets", "assets.extra"}
)
_MAX_METADATA_BYTES = 16 * 2**20
# ModelProto.metadata_props is field 14; its entries hold a key (1) and a value (2).
_ONNX_METADATA_FIELD = 14
_MAX_ONNX_FIELDS = 100_000  # top-level fields read before a file counts as not skcifar's


def check_save_target(path):
    """The absolute ``path`` if :func:`skcifar.save` may replace what is there; else ValueError.

    Absent, empty, or a ``.skcifar`` file; whether its directory exists is
    not checked here (see :func:`~skcifar.utils.atomic.check_directory`).
    """
    return check_target(path, MODEL_FILE, is_model_file)


def check_export_target(path, format):
    """The absolute ``path`` if :func:`skcifar.export` may write ``format`` there, else an error.

    Its directory must exist (FileNotFoundError or NotADirectoryError), and
    what is there must be absent, empty, or an export of skcifar's in that
    format (ValueError).
    """
    if format == "onnx":
        check_directory(path, ONNX_FILE)
        return check_target(path, ONNX_FILE, is_onnx_export)
    check_directory(path, SAVEDMODEL)
    return check_target(path, SAVEDMODEL, is_savedmodel_export, directory=True)


def is_savedmodel_export(path):
    """Whether the directory ``path`` is a SavedModel that :func:`skcifar.export` wrote, untouched.

    It holds ``assets.extra/skcifar.json`` (declaring ``"format": "savedmodel"``)
    and nothing but the entries an export writes, so replacing it loses
    nothing else.
    """
    try:
        entries = set(os.listdir(path))
        extra = set(os.listdir(os.path.join(path, "assets.extra")))
        metadata = os.path.join(path, SAVEDMODEL_METADATA)
        if not entries <= _SAVEDMODEL_ENTRIES or extra != {"skcifar.json"}:
            return False
        if os.path.islink(metadata) or os.path.getsize(metadata) > _MAX_METADATA_BYTES:
            return False
        with open(metadata, "rb") as file:
            info = read_json(file.read(), metadata)
    except (OSError, ValueError):  # ValueError: JSON, UTF-8, nesting
        return False
    return isinstance(info, dict) and info.get("format") == "savedmodel"


def is_onnx_export(path):
    """Whether ``path`` is an ONNX model whose metadata :func:`skcifar.export` wrote.

    Its metadata properties hold ``"format"`` (``"onnx"``, JSON-encoded) and
    ``"classes"``. The file is walked field by field as protocol buffers
    encode it, without reading the graph, so a large or foreign file costs a
    bounded amount of memory.
    """
    try:
        props = _onnx_metadata(path)
    except (OSError, ValueError):
        return False
    return props.get("format") == json.dumps("onnx") and "classes" in props


def _onnx_metadata(path):
    """The metadata properties of the ONNX file ``path``; ValueError if it is garbled."""
    size = os.path.getsize(path)
    props = {}
    with open(path, "rb") as file:
        for _ in range(_MAX_ONNX_FIELDS):
            if file.tell() >= size:
                return props
            field, wire_type = divmod(_varint(file), 8)
            if field == 0:
                raise ValueError("not a protocol buffer")
            if wire_type == 0:
                _varint(file)
            elif wire_type in (1, 5):  # fixed 64 or 32 bits
                file.seek(8 if wire_type == 1 else 4, os.SEEK_CUR)
            elif wire_type == 2:  # length-delimited: a string, bytes or a message
                length = _varint(file)
                if file.tell() + length > size:
                    raise ValueError("a field runs past the end of the file")
                if field == _ONNX_METADATA_FIELD and length <= _MAX_METADATA_BYTES:
                    key, value = _string_pair(file.read(length))
                    props[key] = value
                else:
                    file.seek(length, os.SEEK_CUR)
            else:
                raise ValueError("not a protocol buffer")
    raise ValueError("too many fields")


def _varint(file):
    value = shift = 0
    while shift < 64:
        byte = file.read(1)
        if not byte:
            raise ValueError("the file ends inside a field")
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
        shift += 7
    raise ValueError("an overlong varint")


def _string_pair(data):
    """``(key, value)`` of an ONNX ``StringStringEntryProto``."""
    import io

    buffer, strings = io.BytesIO(data), {1: "", 2: ""}
    while buffer.tell() < len(data):
        field, wire_type = divmod(_varint(buffer), 8)
        if wire_type != 2:
            raise ValueError("not a string entry")
        length = _varint(buffer)
        text = buffer.read(length)
        if len(text) != length:
            raise ValueError("a string runs past its entry")
        strings[field] = text.decode("utf-8")
    return strings[1], strings[2]
