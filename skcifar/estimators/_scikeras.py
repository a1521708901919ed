"""The seam between skcifar and scikeras: all that skcifar takes from scikeras.

skcifar's classifiers are scikeras wrappers - ``isinstance(clf,
scikeras.wrappers.BaseWrapper)`` holds, so code written for scikeras
recognises them - but their fit path is skcifar's own, from ``fit`` to
``model.fit`` (:mod:`skcifar.estimators._base`). From scikeras they take
exactly what :data:`RELIED_ON` lists:

* the base class ``BaseWrapper`` and, of its members, only the
  ``initialized_`` and ``current_epoch`` properties;
* pickling of Keras objects: importing scikeras gives ``keras.Model``,
  ``keras.losses.Loss``, ``keras.metrics.Metric`` and
  ``keras.optimizers.Optimizer`` a ``__reduce__``, which is what lets joblib
  and pickle store a fitted classifier.

``tests/test_scikeras_seam.py`` checks each entry against the installed
scikeras, and runs every workflow (fit, partial_fit, initialize, predict,
score, warm start, clone, pickle, sklearn's parameter API) with every other
``BaseWrapper`` member made to fail: an upgrade of scikeras that moves what
skcifar relies on fails there, loudly.
"""

from __future__ import annotations

from ..utils.backend import import_quietly

# scikeras imports Keras and TensorFlow: quietly, and leaving the random streams as they were.
BaseWrapper = import_quietly("scikeras.wrappers").BaseWrapper

#: The scikeras names skcifar relies on (module attribute paths).
RELIED_ON = (
    "scikeras.wrappers.BaseWrapper",
    "scikeras.wrappers.BaseWrapper.initialized_",
    "scikeras.wrappers.BaseWrapper.current_epoch",
    "scikeras._saving_utils.pack_keras_model",
    "scikeras._saving_utils.pack_keras_loss",
    "scikeras._saving_utils.pack_keras_metric",
    "scikeras._saving_utils.pack_keras_optimizer",
)

__all__ = ["RELIED_ON", "BaseWrapper"]
