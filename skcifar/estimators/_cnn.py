"""The reference notebook's convolutional network as a scikit-learn classifier."""

from __future__ import annotations

from numbers import Integral

import numpy as np

from ..architectures import build_cnn
from ..utils.sizes import check_kernel_size, check_sizes
from ._base import NOTEBOOK_CONSTRAINTS, KerasImageClassifier
from ._docstrings import common_parameters


class CNNClassifier(KerasImageClassifier):
    __doc__ = (
        """Convolutional network classifier (the notebook's CNN by default).

    Conv 32 3x3 relu -> MaxPool -> Conv 64 3x3 relu -> MaxPool -> Dense 64 relu
    -> softmax, trained with Adam for 10 epochs in batches of 32: the
    reference notebook's model, as a scikit-learn estimator. Architecture
    hyperparameters are constructor parameters, so a grid search can tune them.

    Parameters
    ----------
    filters : tuple of int, default=(32, 64)
        Filters of each Conv -> MaxPool block.
    kernel_size : int or tuple of int, default=3
        Convolution kernel size.
    dense_units : int or tuple of int, default=64
        Units of the hidden Dense layer(s).
    dropout : float in [0, 1), default=0.0
        Dropout after each block and hidden Dense layer.
    batch_norm : bool, default=False
        Batch normalisation after each convolution.
    augment : bool, default=False
        Random horizontal flips and shifts of the training images (images
        at least 8 pixels high and wide; tabular rows are never augmented)."""
        + common_parameters("adam", 10)
        + """
    See Also
    --------
    ANNClassifier : the notebook's dense network.
    skcifar.PixelScaler : scale pixels first, in a Pipeline.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from skcifar import CNNClassifier, PixelScaler, load_data
    >>> (X, y), (X_test, y_test) = load_data()  # doctest: +SKIP
    >>> clf = make_pipeline(PixelScaler(), CNNClassifier(epochs=10))
    >>> clf.fit(X, y).score(X_test, y_test)  # doctest: +SKIP
    0.68...
    """
    )

    _parameter_constraints: dict = {
        **KerasImageClassifier._parameter_constraints,
        **NOTEBOOK_CONSTRAINTS,
        "filters": [tuple, list, np.ndarray, Integral],
        "kernel_size": [Integral, tuple, list, np.ndarray],
        "dense_units": [tuple, list, np.ndarray, Integral],
        "batch_norm": ["boolean"],
        "augment": ["boolean"],
    }

    def __init__(
        self,
        filters=(32, 64),
        kernel_size=3,
        dense_units=64,
        dropout=0.0,
        batch_norm=False,
        augment=False,
        *,
        image_shape=None,
        optimizer="adam",
        learning_rate=None,
        epochs=10,
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
        check_sizes("filters", self.filters)
        check_kernel_size(self.kernel_size)
        check_sizes("dense_units", self.dense_units, allow_empty=True)

    def _build_network(self, input_shape, n_classes, n_train, seed):
        return build_cnn(
            input_shape,
            n_classes,
            filters=self.filters,
            kernel_size=self.kernel_size,
            dense_units=self.dense_units,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
            augment=self.augment,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            seed=seed,
        )
