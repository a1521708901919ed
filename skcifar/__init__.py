"""skcifar: scikit-learn compatible Keras image classifiers for CIFAR-10.

The package follows the four stages of the reference notebook:

1. data (:mod:`skcifar.datasets`) and preprocessing (:class:`PixelScaler`);
2. architectures (:mod:`skcifar.architectures`: plain Keras model builders);
3. training through scikit-learn estimators (:class:`ANNClassifier`,
   :class:`CNNClassifier`, :class:`ResNetClassifier`);
4. estimating performance (:mod:`skcifar.evaluation`: metrics, plots, report).

The ``skcifar`` command line (:mod:`skcifar.cli`) sits on top.

Heavy modules (Keras and its backend) are imported on first use, so importing
``skcifar`` or loading data stays fast; importing it changes nothing in the
caller's process (logging, warnings filters, environment, random seeds).
"""

from __future__ import annotations

import importlib

from .utils.versions import __version__ as __version__

_LAZY = {
    "load_data": "skcifar.datasets",
    "fetch_cifar10": "skcifar.datasets",
    "CLASS_NAMES": "skcifar.datasets",
    "PixelScaler": "skcifar.preprocessing",
    "build_ann": "skcifar.architectures",
    "build_cnn": "skcifar.architectures",
    "build_resnet": "skcifar.architectures",
    "ANNClassifier": "skcifar.estimators",
    "CNNClassifier": "skcifar.estimators",
    "ResNetClassifier": "skcifar.estimators",
    "NonFiniteTrainingError": "skcifar.estimators",
    "evaluate": "skcifar.evaluation",
    "write_report": "skcifar.evaluation",
    "save": "skcifar.persistence",
    "load": "skcifar.persistence",
    "export": "skcifar.persistence",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'skcifar' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
