"""Layer-size parameters: the one normaliser every size goes through.

Every size parameter (``hidden_layer_sizes``, ``filters``, ``widths``...) goes
through :func:`check_sizes`, which accepts NumPy integers too (grids built with
``np.arange``). NumPy only: the Keras builders use it without scikit-learn.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def check_sizes(name, value, *, allow_empty=False):
    """Normalise a layer-size parameter to a tuple of Python ints.

    Parameters
    ----------
    name : str
        The parameter's name, for the error message.
    value : int or sequence of int
        A positive integer (Python or NumPy) or a tuple, list or 1-D array
        of them.
    allow_empty : bool, default=False
        Also accept ``()``, ``[]``, ``0`` and ``None``: no layers.

    Returns
    -------
    tuple of int
        The sizes, as Python ints.

    Raises
    ------
    ValueError
        If ``value`` is anything else; the message names the parameter.

    Examples
    --------
    >>> import numpy as np
    >>> check_sizes("filters", np.int64(16))
    (16,)
    >>> check_sizes("filters", np.arange(16, 48, 16))
    (16, 32)
    >>> check_sizes("dense_units", 0, allow_empty=True)
    ()
    """
    if allow_empty and (value is None or (_is_int(value) and value == 0)):
        return ()
    if _is_int(value):
        sizes = (value,)
    elif isinstance(value, (tuple, list)) or (isinstance(value, np.ndarray) and value.ndim == 1):
        sizes = tuple(value)
    else:
        sizes = None
    if sizes is None or not all(_is_int(s) and s > 0 for s in sizes) or not (sizes or allow_empty):
        empty = " (or () for none)" if allow_empty else ""
        raise ValueError(
            f"The '{name}' parameter must be a positive int or a tuple of positive ints{empty}, "
            f"e.g. {name}=(32, 64); got {value!r}."
        )
    return tuple(int(s) for s in sizes)


def check_kernel_size(value):
    """A convolution kernel size as a ``(height, width)`` pair of Python ints.

    Examples
    --------
    >>> check_kernel_size(3)
    (3, 3)
    """
    kernel = check_sizes("kernel_size", value)
    if len(kernel) > 2:
        raise ValueError(
            f"The 'kernel_size' parameter must be an int or a (height, width) pair; got {value!r}."
        )
    return (kernel[0], kernel[-1])
