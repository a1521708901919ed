"""The fast residual network as a scikit-learn classifier."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ..architectures import (
    MIN_AUGMENTED_SIZE,
    PRECISIONS,
    build_resnet,
    register_keras_objects,
    set_schedule_steps,
)
from ..utils.backend import import_tensorflow
from ..utils.validation import check_sizes
from ._base import KerasImageClassifier
from ._docstrings import training_parameters

register_keras_objects()  # so that pickled ResNet classifiers unpickle


class ResNetClassifier(KerasImageClassifier):
    __doc__ = (
        """Fast residual network classifier: the accurate one on a CPU budget.

    A small ResNet (:func:`skcifar.architectures.build_resnet`) with batch
    normalisation and residual units, trained with random crop + flip
    augmentation, SGD with Nesterov momentum, a warm-up then cosine-decay
    learning-rate schedule spanning the ``epochs``, label smoothing and weight
    decay. The defaults are the accurate configuration; ``widths=(32, 64,
    128), epochs=4`` is the quick one, which trains within the notebook
    CNN's own training time. Measured accuracy and training times, with the
    machine and library versions: see the benchmarks page
    (``docs/benchmarks.md``).

    Parameters
    ----------
    widths : tuple of int, default=(64, 256, 256)
        Filters of each stage (one stage per entry; each halves the size).
    stem_filters : int, default=24
        Filters of the 2x2 stem convolution.
    augment : bool, default=True
        Random shifts (up to 1/8 of the size, zero padded) and horizontal
        flips of the training images, done inside the training step (images
        at least 8 pixels high and wide; tabular rows are never augmented).
    learning_rate : float, default=0.4
        Peak learning rate of the schedule.
    momentum : float in [0, 1), default=0.9
        Nesterov momentum of SGD.
    weight_decay : float, default=5e-3
        Decoupled weight decay (not applied to biases and batch-norm
        parameters).
    label_smoothing : float in [0, 1), default=0.1
        Label smoothing of the cross-entropy.
    warmup_fraction : float in [0, 1), default=0.2
        Share of the training steps spent warming the learning rate up, from
        a tenth of ``learning_rate``; the rest decays it to 0 along a cosine.
    tta : bool, default=True
        Test-time augmentation: ``predict_proba`` averages the probabilities
        of each image and its mirror image (twice the prediction cost). Like
        ``augment``, it applies to images at least 8 pixels high and wide.
    temperature : float > 0, default=0.6
        Softmax temperature of ``predict_proba``: the probabilities become
        ``p ** (1 / temperature)``, renormalised. Label smoothing trains the
        network to stay below full confidence even where it is right; a
        temperature under 1 undoes that, so the probabilities are calibrated
        (0.6 was chosen on a validation split, never on the test set; see the
        benchmarks page). It never changes ``predict``. Use 1 for the
        network's own output.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Compute precision; ``"auto"`` uses bfloat16 where the CPU computes it
        natively (AMX or AVX512-BF16), float32 elsewhere. Weights and outputs
        are float32 either way."""
        + training_parameters(12, 256)
        + """
    Notes
    -----
    The schedule is laid out over ``epochs`` passes on the training part of
    ``X`` when ``fit`` starts; ``partial_fit`` and ``warm_start`` continue
    along it and stay at its final (zero) rate once it has run out.

    See Also
    --------
    CNNClassifier : the notebook's convolutional network.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from skcifar import PixelScaler, ResNetClassifier, load_data
    >>> (X, y), (X_test, y_test) = load_data()  # doctest: +SKIP
    >>> clf = make_pipeline(PixelScaler(), ResNetClassifier(random_state=0))
    >>> clf.fit(X, y).score(X_test, y_test)  # doctest: +SKIP
    0.89...
    """
    )

    _parameter_constraints: dict = {
        **KerasImageClassifier._parameter_constraints,
        "widths": [tuple, list, np.ndarray, Integral],
        "stem_filters": [Interval(Integral, 1, None, closed="left")],
        "augment": ["boolean"],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "warmup_fraction": [Interval(Real, 0, 1, closed="left")],
        "tta": ["boolean"],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "precision": [StrOptions(set(PRECISIONS))],
    }

    def __init__(
        self,
        widths=(64, 256, 256),
        stem_filters=24,
        augment=True,
        *,
        image_shape=None,
        learning_rate=0.4,
        momentum=0.9,
        weight_decay=5e-3,
        label_smoothing=0.1,
        warmup_fraction=0.2,
        tta=True,
        temperature=0.6,
        precision="auto",
        epochs=12,
        time_budget=None,
        batch_size=256,
        validation_fraction=None,
        early_stopping=False,
        n_iter_no_change=5,
        random_state=None,
        verbose=0,
        callbacks=None,
        warm_start=False,
        class_weight=None,
    ):
        self.widths = widths
        self.stem_filters = stem_filters
        self.augment = augment
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.label_smoothing = label_smoothing
        self.warmup_fraction = warmup_fraction
        self.tta = tta
        self.temperature = temperature
        self.precision = precision
        self.image_shape = image_shape
        self.epochs = epochs
        self.time_budget = time_budget
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.class_weight = class_weight

    def _check_architecture(self):
        check_sizes("widths", self.widths)

    def _build_network(self, input_shape, n_classes, n_train, seed):
        return build_resnet(
            input_shape,
            n_classes,
            widths=self.widths,
            stem_filters=self.stem_filters,
            augment=self.augment,
            learning_rate=self.learning_rate,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            label_smoothing=self.label_smoothing,
            schedule_steps=math.ceil(max(n_train, 1) / self.batch_size) * self.epochs,
            warmup_fraction=self.warmup_fraction,
            precision=self.precision,
            seed=seed,
        )

    def _plan_epochs(self, epochs, n_train):
        set_schedule_steps(self.model_, math.ceil(max(n_train, 1) / self.batch_size) * epochs)

    def _predict_batches(self, data):
        proba = super()._predict_batches(data)
        if self.tta and min(self.image_shape_[:2]) >= MIN_AUGMENTED_SIZE:
            tf = import_tensorflow()

            mirrored = data.map(lambda images: tf.reverse(images, axis=[2]))
            proba += super()._predict_batches(mirrored)
            proba /= 2
        return _with_temperature(proba, self.temperature)


def _with_temperature(proba, temperature):
    """Rows of ``proba ** (1 / temperature)``, renormalised (softmax of scaled log-probs)."""
    if temperature == 1:
        return proba
    logits = np.log(np.maximum(proba, np.finfo(proba.dtype).tiny)) / proba.dtype.type(temperature)
    logits -= logits.max(axis=1, keepdims=True)
    sharpened = np.exp(logits)
    return sharpened / sharpened.sum(axis=1, keepdims=True)
