"""The reference notebook's dense network as a scikit-learn classifier."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import StrOptions

from ..architectures import build_ann
from ..utils.sizes import check_sizes
from ._base import NOTEBOOK_CONSTRAINTS, KerasImageClassifier
from ._docstrings import common_parameters


class ANNClassifier(KerasImageClassifier):
    __doc__ = (
        """Dense network classifier (the notebook's ANN by default).

    Flatten -> Dense 3000 relu -> Dense 1000 relu -> softmax, trained with
    plain SGD for 5 epochs in batches of 32: the reference notebook's first
    model, as a scikit-learn estimator. It also works on any tabular data,
    like scikit-learn's ``MLPClassifier``.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(3000, 1000)
        Units of each hidden layer (``()`` for softmax regression).
    activation : {"relu", "tanh", "sigmoid", "elu", "gelu", "linear"}, default="relu"
        Activation of the hidden layers.
    dropout : float in [0, 1), default=0.0
        Dropout after each hidden layer."""
        + common_parameters("sgd", 5)
        + """
    See Also
    --------
    CNNClassifier : the notebook's convolutional network.
    sklearn.neural_network.MLPClassifier : scikit-learn's own dense network.

    Examples
    --------
    >>> import numpy as np
    >>> from skcifar import ANNClassifier
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.rand(40, 12).astype("float32"), np.repeat([0, 1], 20)
    >>> X[y == 1] += 1.0
    >>> clf = ANNClassifier(hidden_layer_sizes=(16,), epochs=30, optimizer="adam",
    ...                     learning_rate=0.01, random_state=0).fit(X, y)
    >>> clf.score(X, y)
    1.0
    """
    )

    _parameter_constraints: dict = {
        **KerasImageClassifier._parameter_constraints,
        **NOTEBOOK_CONSTRAINTS,
        "hidden_layer_sizes": [tuple, list, np.ndarray, Integral],
        "activation": [StrOptions({"relu", "tanh", "sigmoid", "elu", "gelu", "linear"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(3000, 1000),
        activation="relu",
        dropout=0.0,
        *,
        image_shape=None,
        optimizer="sgd",
        learning_rate=None,
        epochs=5,
        time_budget=None,
        batch_size=32,
        validation_fraction=None,
        early_stopping=False,
        n_iter_no_change=5,
        random_state=None,
        verbose=0,
        callbacks=None,
        warm_start=False,
        class_weight=None,
        memory=None,
        devices="auto",
    ):
        self._set_params_from(locals())

    def _check_architecture(self):
        check_sizes("hidden_layer_sizes", self.hidden_layer_sizes, allow_empty=True)

    def _build_network(self, input_shape, n_classes, n_train, seed):
        return build_ann(
            input_shape,
            n_classes,
            hidden_layer_sizes=self.hidden_layer_sizes,
            activation=self.activation,
            dropout=self.dropout,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            seed=seed,
        )
