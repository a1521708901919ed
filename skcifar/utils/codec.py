"""Values <-> JSON without pickle: parameters and fitted attributes.

JSON has no tuples, no non-string dict keys and no NaN, so those are tagged:
a JSON object in the encoded form is always a one-key tag,

* ``{"tuple": [...]}`` - a tuple (``filters=(32, 64)`` stays a tuple);
* ``{"dict": [[key, value], ...]}`` - a dict, keys of any storable type;
* ``{"float": "nan" | "inf" | "-inf"}`` - a non-finite float;
* ``{"ndarray": member}`` - a numeric/str array, saved with
  ``np.save(..., allow_pickle=False)`` as a member of the archive;
* ``{"object_array": {"shape": [...], "items": [...]}}`` - an object array
  of scalars (e.g. string class labels), as a JSON list.

Anything else (an optimizer instance, a callback, a random generator) is not
storable: :func:`encode` raises ``TypeError`` naming where it was found. Values
nest at most :data:`MAX_NESTING` levels (lists, tuples, dicts): deeper ones are
refused by :func:`encode` and by :func:`decode`, before recursing.
"""

from __future__ import annotations

import io
import math
from numbers import Integral, Real

import numpy as np

from . import npy

_TAGS = ("tuple", "dict", "float", "ndarray", "object_array")
_SCALARS = (str, bool, int, float, type(None))
MAX_NESTING = 32


def _encode_scalar(value):
    """A JSON scalar for ``value``, or ``NotImplemented`` when it is no scalar."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real) and not isinstance(value, np.ndarray):
        value = float(value)
        if math.isfinite(value):
            return value
        return {"float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    return NotImplemented


def _deeper(depth, prefix, error):
    """``depth + 1``, checked before recursing into a list, tuple or dict one level deeper."""
    if depth >= MAX_NESTING:
        raise error(f"{prefix} it is nested deeper than {MAX_NESTING} levels.")
    return depth + 1


def encode(value, where, arrays=None, depth=0):
    """Encode ``value`` as JSON-compatible data (see the module docstring).

    ``where`` says where the value comes from, for error messages ("parameter
    'filters' of CNNClassifier"); ``arrays(ndarray) -> member name`` stores a
    numeric array in the archive (None: arrays are not storable here, as in
    parameters); ``depth`` is how deep ``value`` is nested in what is encoded.
    """
    scalar = _encode_scalar(value)
    if scalar is not NotImplemented:
        return scalar
    if isinstance(value, (tuple, list, dict)):
        depth = _deeper(depth, f"Cannot store {where}:", TypeError)
    if isinstance(value, tuple):
        return {"tuple": [encode(v, where, arrays, depth) for v in value]}
    if isinstance(value, list):
        return [encode(v, where, arrays, depth) for v in value]
    if isinstance(value, dict):
        return {
            "dict": [
                [encode(k, where, arrays, depth), encode(v, where, arrays, depth)]
                for k, v in value.items()
            ]
        }
    if isinstance(value, np.ndarray) and arrays is not None:
        if value.dtype == object:
            items = [_encode_scalar(v) for v in value.ravel()]
            if any(item is NotImplemented for item in items):
                raise TypeError(
                    f"Cannot store {where}: its object array holds values other than "
                    "strings and numbers."
                )
            return {"object_array": {"shape": list(value.shape), "items": items}}
        if value.dtype.hasobject or value.dtype.kind == "V":
            raise TypeError(f"Cannot store {where}: arrays of dtype {value.dtype} need pickle.")
        return {"ndarray": arrays(value)}
    cls = type(value)
    kind = cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    raise TypeError(
        f"Cannot store {where}: a {kind} is not representable as JSON. "
        "skcifar.save stores plain values only (None, bool, int, float, str and "
        "tuples, lists and dicts of them)."
    )


def array_to_npy(array):
    """The bytes of ``np.save(array, allow_pickle=False)``."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def decode(data, where, read_member=None, depth=0):
    """Inverse of :func:`encode` on the output of ``json.loads``; ValueError if malformed.

    ``read_member(name) -> bytes`` reads ``{"ndarray": name}`` tags (None
    where arrays are not allowed); ``where`` names what is decoded in error
    messages, ``depth`` how deep ``data`` is nested in it.
    """
    if isinstance(data, _SCALARS):
        return data
    if isinstance(data, list):
        depth = _deeper(depth, f"Malformed value in {where}:", ValueError)
        return [decode(v, where, read_member, depth) for v in data]
    if not (isinstance(data, dict) and len(data) == 1 and next(iter(data)) in _TAGS):
        raise ValueError(f"Malformed value in {where}: {str(data)[:80]}")
    ((tag, body),) = data.items()
    if tag in ("tuple", "dict"):
        depth = _deeper(depth, f"Malformed value in {where}:", ValueError)
    try:
        if tag == "tuple":
            return tuple(decode(v, where, read_member, depth) for v in _as_list(body))
        if tag == "dict":
            return {
                decode(k, where, read_member, depth): decode(v, where, read_member, depth)
                for k, v in _as_list(body)
            }
        if tag == "float":
            return float({"nan": "nan", "inf": "inf", "-inf": "-inf"}[body])
        if tag == "ndarray" and read_member is not None and isinstance(body, str):
            kinds = npy.NUMERIC_KINDS + npy.STRING_KINDS
            return npy.loads(read_member(body), kinds=kinds, where=repr(body))
        if tag == "object_array" and read_member is not None:
            items = [decode(v, where, None, depth) for v in _as_list(body["items"])]
            array = np.empty(len(items), dtype=object)
            array[:] = items
            return array.reshape(tuple(_as_list(body["shape"])))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"Malformed value in {where}: {exc}") from None
    raise ValueError(f"Malformed value in {where}: unexpected {tag!r} entry.")


def _as_list(body):
    if not isinstance(body, list):
        raise ValueError(f"expected a list, got {type(body).__name__}")
    return body
