"""Docstring text shared by the classifiers (kept in one place)."""

from ..architectures import OPTIMIZERS

_DOC_OPTIMIZER = """
    optimizer : str or keras.optimizers.Optimizer, default={optimizer!r}
        Optimizer name ({names}, any case) or a Keras optimizer instance
        (copied for each fit).
    learning_rate : float or None, default=None
        Learning rate; None keeps the optimizer's Keras default (Adam 0.001,
        SGD 0.01), as the notebook does."""

_DOC_TRAINING = """
    image_shape : tuple of int or None, default=None
        ``(height, width, channels)`` of the images that flat rows of ``X``
        were flattened from. None applies the image-shape rule
        (:mod:`skcifar.utils.validation`): 4-D input is used as it is, flat
        rows of width 3072 are CIFAR-10's 32x32 RGB images, and any other
        width is tabular data, a one-pixel-high strip.
    epochs : int or float, default={epochs}
        Passes over the training data (ignored when ``time_budget`` is set).
        A fraction trains that share of the last epoch's batches: 2.5 is two
        epochs and half of a third.
    time_budget : float or None, default=None
        Seconds that ``fit`` may take, all of it: ``fit`` times a few
        training steps (then undoes them) and trains the epochs, to the
        batch, that fill the budget (at least one batch); a learning-rate
        schedule is laid out over them. The count is in ``n_iter_``, and
        ``set_params(time_budget=None, epochs=clf.n_iter_)`` repeats the same
        run (same seed, same machine) without the timing (a
        ``ResNetClassifier`` whose sizes a budget chose: with those sizes
        set too, see its Notes). Should the machine
        turn slower or faster during the fit, by more than a small share of
        the budget, the rest of the run is planned again to end on time (the
        schedule with it), and the repeat is then close but not exact.
        ``partial_fit`` ignores it.
    batch_size : {batch_type}, default={batch_size}
        Samples per gradient step{batch_auto}. Prediction and the validation loss run
        in batches of ``max(batch_size, 256)``; a row predicted in another
        batch can differ in its last bits (see ``predict_proba``'s Notes).
    validation_fraction : float in [0, 1) or None, default=None
        Fraction of the training data held out (stratified, seeded by
        ``random_state``) to report ``val_loss``/``val_accuracy`` each epoch
        and for early stopping. None means 0.1 when ``early_stopping`` is
        True, else no hold-out (train on everything, like the notebook).
    early_stopping : bool, default=False
        Stop when the validation loss has not improved for
        ``n_iter_no_change`` epochs and restore the best weights.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout, augmentation and the
        validation split. The same seed gives identical predictions on the
        same machine and thread count (CPU).
    verbose : int, default=0
        0 is silent, 1 shows a progress bar per epoch, 2 one line per epoch.
    callbacks : list of keras.callbacks.Callback or None, default=None
        Extra Keras callbacks for training.
    warm_start : bool, default=False
        If True, ``fit`` continues training the existing network (its epochs
        are numbered on from ``current_epoch``, as ``partial_fit``'s are).
    class_weight : dict, "balanced" or None, default=None
        Weights per class, multiplied into ``sample_weight``: finite,
        non-negative numbers (0 leaves the class out of training).
    memory : str, os.PathLike, joblib.Memory or None, default=None
        A directory (or a ``joblib.Memory``'s location) for epoch
        checkpoints, as in scikit-learn's ``Pipeline(memory=...)``; None:
        none. With an int ``random_state``, ``fit`` resumes from the longest
        cached checkpoint of the same run (equal in everything but
        ``epochs``: parameters, data, versions) at or below its ``epochs``,
        with the predictions of a fit from scratch, and stores a checkpoint
        at its own ``epochs``: a search over ``epochs`` trains the longest
        of them only. Early stopping and a schedule over the whole fit reuse
        a checkpoint of exactly the same ``epochs`` only; ``time_budget``,
        ``warm_start``, ``callbacks`` and ``partial_fit`` do not use it. No
        pickle is written or read, but a checkpoint found there is loaded
        as the fit's result: the directory is as trusted as the code, so
        use one only you can write to (skcifar creates it private, and
        warns when other users can write to it; see "Trust model" in
        the persistence guide). See the user guide page "Searching
        epochs" (the rules, the cache's layout, how to clear it).
    devices : "auto" or int, default="auto"
        Devices the training runs on, data-parallel (Keras' distribution
        API, on its JAX backend only): each batch is split evenly over them
        and the weights are copied to each. ``"auto"``: all accelerators
        (GPUs, TPUs) when Keras' backend is JAX and more than one is visible,
        else one device, with no distribution at all (as on TensorFlow). An
        int ``n``: the first ``n`` devices of
        ``keras.distribution.list_devices()``; 1 is one device, and ``n > 1``
        needs ``KERAS_BACKEND=jax`` and ``n`` visible devices. Over several
        devices ``batch_size`` must be a multiple of their count, and the
        last, smaller batch of each epoch is cut to one: at most ``n - 1``
        rows of an epoch are left out (other rows each epoch, as the epochs
        are shuffled; the validation rows' last batch is cut alike). The
        predictions equal one device's within float32 rounding. Checked when
        ``fit`` starts, with a ValueError naming the fix.

    Attributes
    ----------
    model_ : keras.Model
        The trained network.
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in fit.
    n_classes_ : int
        Number of classes.
    n_features_in_ : int
        Values per sample seen in fit (3072 for CIFAR-10 images).
    input_shape_ : tuple of int
        Per-sample shape seen in fit; predict requires the same.
    image_shape_ : tuple of int
        ``(H, W, C)`` shape fed to the network (see ``image_shape``).
    n_iter_ : int or float
        Epochs trained by the last ``fit`` (fewer than asked when early
        stopping or Ctrl-C ended it) or ``partial_fit`` (1); a float when the
        last epoch was partial.
    history_ : dict of str to list of float
        Per-epoch ``loss``, ``accuracy`` and, with a validation set,
        ``val_loss`` and ``val_accuracy``.
"""


def common_parameters(optimizer, epochs):
    """Numpydoc text of the notebook classifiers' optimiser and training parameters."""
    optimizer_doc = _DOC_OPTIMIZER.format(optimizer=optimizer, names=", ".join(OPTIMIZERS))
    return optimizer_doc + training_parameters(epochs, 32)


def training_parameters(epochs, batch_size, auto_batch=""):
    """Numpydoc text of the training parameters and attributes all classifiers share.

    ``auto_batch``: what a ``batch_size`` of "auto" (the default then) means.
    """
    if auto_batch:
        return _DOC_TRAINING.format(epochs=epochs, batch_size='"auto"', batch_type='int or "auto"',
                                    batch_auto=f"; {auto_batch}")  # fmt: skip
    return _DOC_TRAINING.format(epochs=epochs, batch_size=batch_size, batch_type="int",
                                batch_auto="")  # fmt: skip
