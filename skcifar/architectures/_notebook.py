"""The reference notebook's networks as Keras builders.

The defaults are the notebook's exact networks:

* ANN: Flatten -> Dense 3000 relu -> Dense 1000 relu -> Dense 10 softmax, SGD;
* CNN: Conv 32 3x3 relu -> MaxPool 2x2 -> Conv 64 3x3 relu -> MaxPool 2x2 ->
  Flatten -> Dense 64 relu -> Dense 10 softmax, Adam.

Both compile with sparse categorical cross-entropy and accuracy, as the
notebook does, unless ``compile=False``.
"""

from __future__ import annotations

from ..utils.backend import import_keras
from ..utils.sizes import check_kernel_size, check_sizes
from ._shared import MIN_AUGMENTED_SIZE, Seeds, compile_model, make_optimizer


def build_ann(
    input_shape=(32, 32, 3),
    n_classes=10,
    *,
    hidden_layer_sizes=(3000, 1000),
    activation="relu",
    dropout=0.0,
    optimizer="sgd",
    learning_rate=None,
    seed=None,
    compile=True,
):
    """Build the notebook's dense network (a multi-layer perceptron).

    Parameters
    ----------
    input_shape : tuple of int, default=(32, 32, 3)
        Shape of one sample; it is flattened first.
    n_classes : int, default=10
        Number of softmax outputs.
    hidden_layer_sizes : tuple of int, default=(3000, 1000)
        Units of each hidden Dense layer.
    activation : str, default="relu"
        Activation of the hidden layers.
    dropout : float, default=0.0
        Dropout rate after each hidden layer (0 disables it).
    optimizer : str or keras.optimizers.Optimizer, default="sgd"
        See :func:`make_optimizer`.
    learning_rate : float or None, default=None
        See :func:`make_optimizer`.
    seed : int or None, default=None
        Seeds the weight initialisers and dropout (explicitly, layer by layer).
    compile : bool, default=True
        Compile with sparse categorical cross-entropy and accuracy.

    Returns
    -------
    keras.Sequential
        The model.

    Examples
    --------
    >>> from skcifar.architectures import build_ann
    >>> model = build_ann()
    >>> [layer.__class__.__name__ for layer in model.layers]
    ['Flatten', 'Dense', 'Dense', 'Dense']
    """
    keras = import_keras()
    layers = keras.layers
    seeds = Seeds(seed)
    model = keras.Sequential(name="ann")
    model.add(keras.Input(shape=tuple(input_shape)))
    model.add(layers.Flatten())
    for units in check_sizes("hidden_layer_sizes", hidden_layer_sizes, allow_empty=True):
        model.add(layers.Dense(units, activation=activation, kernel_initializer=seeds.kernel()))
        if dropout:
            model.add(layers.Dropout(dropout, seed=seeds.next()))
    model.add(layers.Dense(n_classes, activation="softmax", kernel_initializer=seeds.kernel()))
    return compile_model(model, make_optimizer(optimizer, learning_rate)) if compile else model


def build_cnn(
    input_shape=(32, 32, 3),
    n_classes=10,
    *,
    filters=(32, 64),
    kernel_size=3,
    dense_units=64,
    dropout=0.0,
    batch_norm=False,
    augment=False,
    optimizer="adam",
    learning_rate=None,
    seed=None,
    compile=True,
):
    """Build the notebook's convolutional network, with optional extras.

    Each entry of ``filters`` adds a block: Conv2D (relu) -> MaxPool 2x2.
    Blocks adapt to small inputs: a convolution larger than the current
    feature map uses ``"same"`` padding and a pooling that would leave nothing
    is skipped, so any input size works (32x32 images get exactly the notebook
    network).

    Parameters
    ----------
    input_shape : tuple of int, default=(32, 32, 3)
        ``(height, width, channels)`` of one image.
    n_classes : int, default=10
        Number of softmax outputs.
    filters : tuple of int, default=(32, 64)
        Filters of each convolutional block.
    kernel_size : int or tuple of int, default=3
        Convolution kernel size.
    dense_units : int or tuple of int, default=64
        Units of the Dense layer(s) after flattening; 0 or () for none.
    dropout : float, default=0.0
        Dropout rate after each block and hidden Dense layer.
    batch_norm : bool, default=False
        Conv -> BatchNormalization -> relu instead of Conv(relu).
    augment : bool, default=False
        Random horizontal flips and shifts during training (images at least
        8 pixels high and wide; tabular rows are never augmented).
    optimizer : str or keras.optimizers.Optimizer, default="adam"
        See :func:`make_optimizer`.
    learning_rate : float or None, default=None
        See :func:`make_optimizer`.
    seed : int or None, default=None
        Seeds the weight initialisers, dropout and augmentation (explicitly,
        layer by layer).
    compile : bool, default=True
        Compile with sparse categorical cross-entropy and accuracy.

    Returns
    -------
    keras.Sequential
        The model.

    Examples
    --------
    >>> from skcifar.architectures import build_cnn
    >>> model = build_cnn()
    >>> model.count_params()
    167562
    """
    keras = import_keras()
    layers = keras.layers
    kernel = check_kernel_size(kernel_size)
    height, width = int(input_shape[0]), int(input_shape[1])
    seeds = Seeds(seed)
    model = keras.Sequential(name="cnn")
    model.add(keras.Input(shape=tuple(input_shape)))
    if augment and min(height, width) >= MIN_AUGMENTED_SIZE:  # flips, shifts up to 1/8
        model.add(layers.RandomFlip("horizontal", seed=seeds.next()))
        model.add(layers.RandomTranslation(0.125, 0.125, fill_mode="constant", seed=seeds.next()))
    for n_filters in check_sizes("filters", filters):
        fits = height >= kernel[0] and width >= kernel[1]
        padding = "valid" if fits else "same"
        if fits:
            height, width = height - kernel[0] + 1, width - kernel[1] + 1
        activation = None if batch_norm else "relu"
        model.add(
            layers.Conv2D(
                n_filters,
                kernel,
                padding=padding,
                activation=activation,
                kernel_initializer=seeds.kernel(),
            )
        )
        if batch_norm:
            model.add(layers.BatchNormalization())
            model.add(layers.Activation("relu"))
        pool = (2 if height >= 2 else 1, 2 if width >= 2 else 1)
        if pool != (1, 1):
            model.add(layers.MaxPooling2D(pool))
            height, width = height // pool[0], width // pool[1]
        if dropout:
            model.add(layers.Dropout(dropout, seed=seeds.next()))
    model.add(layers.Flatten())
    for units in check_sizes("dense_units", dense_units, allow_empty=True):
        if units:
            model.add(layers.Dense(units, activation="relu", kernel_initializer=seeds.kernel()))
            if dropout:
                model.add(layers.Dropout(dropout, seed=seeds.next()))
    model.add(layers.Dense(n_classes, activation="softmax", kernel_initializer=seeds.kernel()))
    return compile_model(model, make_optimizer(optimizer, learning_rate)) if compile else model
