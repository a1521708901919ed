"""What every builder shares: explicit seeds, optimizers, compiling."""

from __future__ import annotations

from ..utils.backend import import_keras

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "nadam", "adagrad")

#: Smallest height and width that gets shifted and flipped (training
#: augmentation, test-time flips): real images, not tiny maps or the
#: one-pixel-high strips that tabular rows become.
MIN_AUGMENTED_SIZE = 8


class Seeds:
    """Explicit, distinct seeds for every random layer and initialiser.

    With ``seed=None`` layers draw their own. With an int, each initialiser
    and random layer gets ``seed + k``: weights do not depend on Python's
    global :mod:`random` state, which other threads (e.g. a Dask worker's
    event loop) may draw from while a model is built.
    """

    def __init__(self, seed):
        self.seed, self.count = seed, 0

    def next(self):
        """The next seed (None when unseeded)."""
        if self.seed is None:
            return None
        self.count += 1
        return int(self.seed) + self.count

    def kernel(self):
        """A Glorot-uniform kernel initialiser (Keras' default), seeded."""
        if self.seed is None:
            return "glorot_uniform"
        return import_keras().initializers.GlorotUniform(seed=self.next())


def make_optimizer(optimizer, learning_rate=None):
    """Return a fresh Keras optimizer.

    Parameters
    ----------
    optimizer : str or keras.optimizers.Optimizer
        A name from :data:`OPTIMIZERS` or an optimizer instance (copied from
        its config, so a shared instance never carries state between fits).
    learning_rate : float or None, default=None
        Overrides the optimizer's learning rate; None keeps the optimizer's
        own default (Keras: Adam 0.001, SGD 0.01).

    Returns
    -------
    keras.optimizers.Optimizer
        A new optimizer.
    """
    keras = import_keras()
    if isinstance(optimizer, str):
        opt = keras.optimizers.get(optimizer.lower())
    else:
        opt = optimizer.__class__.from_config(optimizer.get_config())
    if learning_rate is not None:
        opt.learning_rate = float(learning_rate)
    return opt


def compile_model(model, optimizer, loss="sparse_categorical_crossentropy"):
    """Compile with ``optimizer`` (an instance), ``loss`` and accuracy."""
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    # Create the optimizer's slot variables now, eagerly. Created lazily inside
    # the first traced train step, TensorFlow keeps their initialisation graphs
    # alive for the life of the process: ~8 MB leaked per fit in a grid search.
    model.optimizer.build(model.trainable_variables)
    return model
