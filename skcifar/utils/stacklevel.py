"""The ``stacklevel`` that makes a warning point at the user's code."""

from __future__ import annotations

import sys

# Packages whose frames a warning passes over: skcifar, and the scikit-learn and
# joblib code between the user's call and a classifier's fit (wrappers, searches).
_LIBRARIES = frozenset({"skcifar", "sklearn", "joblib"})


def user_stacklevel():
    """``warnings.warn``'s ``stacklevel``: the first caller outside skcifar, sklearn and joblib.

    Counted from the function that calls this one, which passes it straight
    to ``warnings.warn``.
    """
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in _LIBRARIES:
        frame, level = frame.f_back, level + 1
    return level
