"""Whether the scikeras route (the ``skcifar[scikeras]`` extra) can run here."""

from __future__ import annotations

import importlib.util

import sklearn


def missing():
    """Why the scikeras route cannot run in this environment, or None when it can."""
    if importlib.util.find_spec("scikeras") is None:
        return 'the scikeras route needs the scikeras extra: pip install "skcifar[scikeras]"'
    if tuple(int(part) for part in sklearn.__version__.split(".")[:2]) < (1, 7):
        return (
            f"scikeras 0.13's KerasClassifier needs scikit-learn 1.7 (its tags fail on "
            f"{sklearn.__version__}); the scikeras extra installs it"
        )
    return None
