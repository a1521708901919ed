"""Training that turns non-finite is an error, not a model: :class:`NonFiniteGuard`.

The guard is the last Keras callback of every fit: it also checks the
variables when training ends (the last step's update is in no loss).
"""

from __future__ import annotations

import math

from ..utils.backend import import_keras, to_numpy, values_of
from ._plugins import state_variables

keras = import_keras()

_CAUSES = (
    "Likely causes: a learning_rate too large for this network and data{rate}; "
    "sample_weight or class_weight values too large (scale them down by a common "
    "factor); input values too large (scale the input, e.g. with PixelScaler for "
    "pixels, to values around 1)."
)


class NonFiniteTrainingError(ValueError, FloatingPointError):
    """Training turned non-finite: the loss or the network's variables became NaN or infinite.

    ``fit`` and ``partial_fit`` raise it instead of returning a network that
    predicts NaN. A fresh fit leaves the estimator unfitted; a continued fit
    (``warm_start``, ``partial_fit`` on a fitted estimator) leaves it as it
    was before, weights, ``history_`` and ``n_iter_`` alike. It is a
    ``ValueError``, so scikit-learn's searches score such a candidate with
    their ``error_score``.

    Parameters
    ----------
    message : str
        What turned non-finite, when, and the likely causes.

    Examples
    --------
    >>> import numpy as np
    >>> from skcifar import CNNClassifier, NonFiniteTrainingError
    >>> X = np.random.RandomState(0).rand(30, 8, 8, 3)
    >>> clf = CNNClassifier(filters=(4,), dense_units=4, batch_size=8, learning_rate=1e30,
    ...                     random_state=0)
    >>> try:
    ...     clf.fit(X, np.arange(30) % 3)
    ... except NonFiniteTrainingError as error:
    ...     print(str(error)[:52])
    CNNClassifier's training diverged: the loss became n
    """


class NonFiniteGuard(keras.callbacks.Callback):
    """Raise :class:`NonFiniteTrainingError` as soon as training turns non-finite.

    ``name`` is the estimator's, for the message; with ``restore`` (a
    continued fit) the variables of the start of training are put back first.
    """

    def __init__(self, name, restore):
        super().__init__()
        self.name, self.restore = name, bool(restore)
        self._saved = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        if self.restore:
            self._saved = values_of(state_variables(self.model))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._fail(
                f"the loss became {float(loss)} at batch {batch + 1} of epoch {self._epoch + 1}"
            )

    def on_train_end(self, logs=None):
        for variable in state_variables(self.model):
            if keras.backend.is_float_dtype(variable.dtype) and not bool(
                keras.ops.all(keras.ops.isfinite(variable))
            ):
                self._fail(f"the variable {variable.path} became non-finite as training ended")

    def _fail(self, what):
        if self._saved is not None:
            for variable, value in zip(state_variables(self.model), self._saved, strict=True):
                variable.assign(value)
        self._saved = None
        after = "The estimator is not fitted."
        if self.restore:
            after = "The estimator keeps the weights it had before this call."
        raise NonFiniteTrainingError(
            f"{self.name}'s training diverged: {what}. {_CAUSES.format(rate=self._rate())} {after}"
        )

    def _rate(self):
        """``" (it is 0.01 now)"``: the optimizer's learning rate, where it has one to read."""
        try:
            rate = float(to_numpy(self.model.optimizer.learning_rate))
        except (AttributeError, TypeError, ValueError):
            return ""
        return f" (it is {rate:.3g} now)"
