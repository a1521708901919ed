"""The fast ResNet-style network (plain by default) as a scikit-learn classifier."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ..architectures import (
    CONV_OPTIMIZERS,
    MIN_AUGMENTED_SIZE,
    PRECISIONS,
    SCHEDULES,
    build_resnet,
    patch_whitening,
    register_keras_objects,
    resnet_flops,
)
from ..utils.backend import seeded
from ..utils.input_pipeline import distributed_batch_multiple, epoch_steps
from ..utils.sizes import check_sizes
from ._base import KerasImageClassifier
from ._choice import candidates, choose, is_auto, resolved_sizes, shifted_views
from ._docstrings import training_parameters
from ._frontier import BUDGET_NETWORKS
from ._recipe import Recipe
from ._steps import training_steps
from ._tta import augmented, sharpened

register_keras_objects()  # so that pickled ResNet classifiers unpickle

# Training images the patch-whitening layer is computed from.
_WHITENING_SAMPLE = 5000


class ResNetClassifier(KerasImageClassifier):
    __doc__ = (
        """Fast ResNet-style classifier: the accurate one on a CPU budget.

    The network of :func:`skcifar.architectures.build_resnet`, with the same
    defaults. By default it is the fast recipe's plain convolutional network,
    without skip connections (``residual=False``: at equal work the plain
    network was the more accurate, see the benchmarks page); ``residual=True``
    adds one around each stage's second convolution. It is trained by a fast
    recipe: a frozen patch-whitening first layer computed
    from the training images, identity-initialised convolutions, batch norm
    with a fast-learning shift and no scale, the convolution filters trained
    by Muon and the rest by Nesterov SGD, in batches of 1,024 with a warm-up
    then linear decay, weight averaging (lookahead), label smoothing,
    alternating flips and 2-pixel shifts; ``predict_proba`` averages each
    image and its mirror image, sharpened by ``temperature``. Every piece is
    a parameter below; the defaults were chosen on a validation split of the
    CIFAR-10 training set, each piece's measured effect is on the benchmarks
    page (``docs/benchmarks.md``), with accuracy and training times. For a
    fit that must end in a given time, set ``time_budget``: with the sizes
    left to ``"auto"``, ``fit`` chooses the network that the budget trains
    best (see Notes).

    Parameters
    ----------
    widths : tuple of int or "auto", default="auto"
        Filters of each stage (one stage per entry; each halves the size).
        ``"auto"``: ``(64, 256, 256)``, or the budget's choice (Notes);
        ``widths_`` holds the widths trained.
    stem_filters : int, default=24
        Filters of the learned 2x2 stem convolution, used with
        ``whiten=False`` (the whitening layer has twice the values of a 2x2
        patch: 24 for RGB images).
    augment : bool, default=True
        Random shifts (``max_shift``) and horizontal flips (``flip``) of the
        training images, done inside the training step (images at least 8
        pixels high and wide; tabular rows are never augmented).
    learning_rate : float or "auto", default="auto"
        Peak learning rate of the schedule. ``"auto"``: 1.5, or the rate of
        the network a budget chose (Notes); ``learning_rate_`` holds it.
    momentum : float in [0, 1), default=0.85
        Nesterov momentum of SGD.
    weight_decay : float, default=0.009
        Decoupled weight decay (not applied to biases and batch-norm
        parameters, nor, with Muon, to the convolution filters).
    label_smoothing : float in [0, 1), default=0.2
        Label smoothing of the cross-entropy.
    warmup_fraction : float in [0, 1), default=0.23
        Share of the training steps spent warming the learning rate up; the
        rest decays it (``schedule``).
    tta : bool, default=True
        Test-time augmentation: ``predict_proba`` averages the probabilities
        of each image and its mirror image (twice the prediction cost). Like
        ``augment``, it applies to images at least 8 pixels high and wide.
    temperature : float > 0, default=0.5
        Softmax temperature of ``predict_proba``: the probabilities become
        ``p ** (1 / temperature)``, renormalised. Label smoothing trains the
        network to stay below full confidence even where it is right; a
        temperature under 1 undoes that, so the probabilities are calibrated
        (0.5 was chosen on a validation split for the defaults, never on the
        test set; see the benchmarks page). It never changes ``predict``. Use
        1 for the network's own output.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Compute precision; ``"auto"`` uses bfloat16 where this CPU measurably
        computes it faster than float32, and float32 elsewhere (the rule:
        :func:`skcifar.architectures.resolve_precision`). Weights and outputs
        are float32 either way.
    whiten : bool, default=True
        Replace the learned 2x2 stem by a frozen patch-whitening layer
        computed in ``fit`` from (up to 5,000 of) the training images
        (:func:`skcifar.architectures.patch_whitening`); its bias trains for
        ``whiten_bias_epochs`` epochs, then freezes.
    whiten_bias_epochs : int, default=3
        Epochs during which the whitening layer's bias trains.
    identity_init : bool, default=True
        Start each 3x3 convolution as the identity on its first input
        channels.
    activation : {"relu", "gelu"}, default="relu"
        Activation after each batch norm.
    batch_norm_scale : bool, default=False
        Learnable batch-norm scale; False keeps only the shift.
    batch_norm_momentum : float in [0, 1), default=0.6
        Keras' momentum of the batch-norm running statistics.
    bias_lr_scale : float > 0, default=64.0
        Learning-rate factor of the batch-norm shifts.
    conv_optimizer : {"sgd", "muon"}, default="muon"
        How the convolution filters train: by the SGD of the other
        parameters, or by Muon (orthogonalised momentum steps of size
        ``muon_scale`` times the scheduled rate, relative to each kernel's
        norm; no weight decay).
    muon_scale : float > 0, default=0.16
        With ``conv_optimizer="muon"``, the filters' learning rate as a
        multiple of the scheduled ``learning_rate``.
    muon_momentum : float in [0, 1), default=0.6
        With ``conv_optimizer="muon"``, the Nesterov momentum of the filters'
        gradients.
    residual : bool, default=False
        Residual connection around each stage's second convolution.
    flip : {"random", "alternating"}, default="alternating"
        Training flips: a coin toss per image and epoch, or every image
        mirrored on alternate epochs (a seeded half on even epochs, the other
        half on odd ones).
    max_shift : int or None, default=2
        Largest training shift in pixels; None: 1/8 of the image size.
    shift_padding : {"constant", "reflect"}, default="reflect"
        What shifted-in borders hold: zeros or the mirrored image.
    schedule : {"cosine", "linear"}, default="linear"
        The learning rate's decay after the warm-up: a cosine from a tenth
        of ``learning_rate`` via the peak to 0, or a line from a fifth via
        the peak to 0.07 times it.
    lookahead : bool, default=True
        From the fourth epoch on, every 5 steps pull the weights towards
        their running average, more strongly as training ends.
    tta_shift : int or "auto", default="auto"
        With ``tta``, also average the predictions (each with its mirror
        image) of the images shifted by this many pixels up-left and
        down-right, borders mirrored: 6 passes instead of 2. ``"auto"``: 0,
        or 1 where a budget chose a network that gains from it and costs
        no more to predict so than the defaults' network with 2 passes
        (:func:`~skcifar.estimators.shifted_views`); ``tta_shift_``
        holds the value ``fit`` settled, which ``predict_proba`` uses while
        the parameter is ``"auto"``."""
        + training_parameters(
            8, None, auto_batch="``\"auto\"``: 1024, or the batches of the network a "
            "budget chose (Notes); ``batch_size_`` holds them"
        )
        + """
    widths_ : tuple of int
        The widths trained (``widths``, resolved by ``fit``).
    batch_size_ : int
        The training batch size (``batch_size``, resolved).
    learning_rate_ : float
        The schedule's peak learning rate (``learning_rate``, resolved).
    tta_shift_ : int
        The shifted test-time views of ``predict_proba`` while ``tta_shift``
        is ``"auto"``.
    network_choice_ : dict or None
        How a ``time_budget`` chose the network (None when it chose none):
        ``"network"``, the name of the chosen one in
        :data:`skcifar.estimators.BUDGET_NETWORKS`, and ``"candidates"``:
        per candidate, whether it was ``"timed"`` and, if so, its measured
        ``"seconds_per_step"`` and ``"trace_seconds"`` (the first step),
        the ``"epochs"`` the budget left it and its frontier's
        ``"predicted_accuracy"`` after them; if not, the ``"hoped_epochs"``
        an optimistic speed would have left it (too few to win).

    Notes
    -----
    **Sizes left to "auto".** Without a ``time_budget``, ``widths``,
    ``batch_size``, ``learning_rate`` and ``tta_shift`` set to ``"auto"`` are
    the defaults' network: ``(64, 256, 256)``, 1024, 1.5 and 0. With a
    budget, ``fit`` chooses them among the networks of
    :data:`skcifar.estimators.BUDGET_NETWORKS` that agree with the sizes
    set explicitly (explicit values always win): it times a few training
    steps of each on the data (the smallest always, a larger one only if
    it could win), turns the seconds left into epochs of each, and takes
    the one whose measured frontier - validation accuracy on CIFAR-10
    after that many epochs - is highest; with one candidate left, that
    one, untimed and without shifted views; with none, the defaults'
    sizes for the rest. The fitted attributes ``widths_``, ``batch_size_``,
    ``learning_rate_``, ``tta_shift_`` and ``network_choice_`` say what was
    chosen and why, and
    those sizes with ``epochs=n_iter_`` (no budget, same seed) train the
    same model. A budget that leaves fewer than 2 epochs of the network
    warns (:class:`~skcifar.estimators.TimeBudgetWarning`) and names a
    smaller network that would train 2, unless the budget chose this
    network over a smaller candidate: then only more time helps. The
    docs' benchmarks page plots the frontier.

    **The schedule** is laid out over ``epochs`` passes on the training part of
    ``X`` when ``fit`` starts; ``partial_fit`` and ``warm_start`` continue
    along it and stay at its final (zero) rate once it has run out. Since a
    longer fit is no continuation of a shorter one, ``memory`` reuses only a
    cached fit of exactly the same ``epochs``.

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
    0.9...
    """
    )

    _parameter_constraints: dict = {
        **KerasImageClassifier._parameter_constraints,
        "widths": [tuple, list, np.ndarray, Integral, StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "stem_filters": [Interval(Integral, 1, None, closed="left")],
        "augment": ["boolean"],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "warmup_fraction": [Interval(Real, 0, 1, closed="left")],
        "tta": ["boolean"],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "precision": [StrOptions(set(PRECISIONS))],
        "whiten": ["boolean"],
        "whiten_bias_epochs": [Interval(Integral, 0, None, closed="left")],
        "identity_init": ["boolean"],
        "activation": [StrOptions({"relu", "gelu"})],
        "batch_norm_scale": ["boolean"],
        "batch_norm_momentum": [Interval(Real, 0, 1, closed="left")],
        "bias_lr_scale": [Interval(Real, 0, None, closed="neither")],
        "conv_optimizer": [StrOptions(set(CONV_OPTIMIZERS))],
        "muon_scale": [Interval(Real, 0, None, closed="neither")],
        "muon_momentum": [Interval(Real, 0, 1, closed="left")],
        "residual": ["boolean"],
        "flip": [StrOptions({"random", "alternating"})],
        "max_shift": [Interval(Integral, 0, None, closed="left"), None],
        "shift_padding": [StrOptions({"constant", "reflect"})],
        "schedule": [StrOptions(set(SCHEDULES))],
        "lookahead": ["boolean"],
        "tta_shift": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
    }

    def __init__(
        self,
        widths="auto",
        stem_filters=24,
        augment=True,
        *,
        image_shape=None,
        learning_rate="auto",
        momentum=0.85,
        weight_decay=0.009,
        label_smoothing=0.2,
        warmup_fraction=0.23,
        tta=True,
        temperature=0.5,
        precision="auto",
        whiten=True,
        whiten_bias_epochs=3,
        identity_init=True,
        activation="relu",
        batch_norm_scale=False,
        batch_norm_momentum=0.6,
        bias_lr_scale=64.0,
        conv_optimizer="muon",
        muon_scale=0.16,
        muon_momentum=0.6,
        residual=False,
        flip="alternating",
        max_shift=2,
        shift_padding="reflect",
        schedule="linear",
        lookahead=True,
        tta_shift="auto",
        epochs=8,
        time_budget=None,
        batch_size="auto",
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
        if not is_auto(self.widths):
            check_sizes("widths", self.widths)

    def _batch(self):
        # Before a fit resolves "auto": the network of no budget's (a devices check).
        if not is_auto(self.batch_size):
            return self.batch_size
        return getattr(self, "batch_size_", resolved_sizes(self)["batch_size"])

    def _resolve_sizes(self, data, seed, build_args, deadline):
        """``widths_``, ``batch_size_``, ``learning_rate_``, ``tta_shift_``: what the fit trains.

        Explicit values win; a ``time_budget`` fit chooses the "auto" ones
        (:mod:`skcifar.estimators._choice`), and without one they are the
        defaults' network.
        """
        names = candidates(self) if deadline is not None else []
        chosen, record = (names or [None])[0], None
        if len(names) > 1:
            n_train = len(data[3])

            def build(params):
                with seeded(seed):
                    return self._network_for(params, n_train, seed, **build_args)

            chosen, record = choose(self, data, deadline, build)
        sizes = resolved_sizes(self, chosen)
        self.widths_ = tuple(sizes["widths"])
        self.batch_size_ = int(sizes["batch_size"])
        self.learning_rate_ = float(sizes["learning_rate"])
        shift = self.tta_shift
        if is_auto(shift):  # shifted views only where predictions use views at all
            shift = int(record is not None and self._test_views() and shifted_views(
                chosen, record[chosen]["epochs"], self.image_shape_, self.n_classes_))  # fmt: skip
        self.tta_shift_ = int(shift)
        self.network_choice_ = None if record is None else {"network": chosen, "candidates": record}
        # This fit's own timing of its network, for its Budget only (_timed_step takes it).
        vars(self).pop("_chosen_timing", None)
        if record is not None:
            timed = record[chosen]
            self._chosen_timing = (timed["trace_seconds"], timed["seconds_per_step"])

    def _timed_step(self):
        # Only the fit that chose, once: a continued fit times its steps again.
        return vars(self).pop("_chosen_timing", None)

    def _smaller_network(self, work):
        def flops(widths):
            return resnet_flops(self.image_shape_, self.n_classes_, widths=tuple(widths),
                                stem_filters=self.stem_filters, whiten=self.whiten)  # fmt: skip

        widths = np.asarray(getattr(self, "widths_", self.widths))  # a file of old: the parameter
        full = flops(widths)
        tuned = list(BUDGET_NETWORKS.values())  # smallest first
        choice = getattr(self, "network_choice_", None)
        if choice is not None:  # the budget weighed the candidates: none else predicted better
            if choice["network"] != next(iter(BUDGET_NETWORKS)):
                return None  # a smaller candidate lost to this one: only more time helps
            tuned = []
        for network in tuned:  # a candidate, tuned
            if full / flops(network.params["widths"]) >= work:
                return ", ".join(f"{k}={v!r}" for k, v in network.params.items())
        trained = [name for name in ("batch_size", "learning_rate") if hasattr(self, name + "_")]
        rest = "".join(f", {name}={getattr(self, name + '_')!r}" for name in trained)
        while widths.max() > 8:  # else the widths halved
            widths = np.maximum(widths // 2, 8)
            if full / flops(widths) >= work:
                return f"widths={tuple(int(w) for w in widths)}{rest}"
        return None

    def _build_network(self, input_shape, n_classes, n_train, seed, whitening=None):
        sizes = dict(widths=self.widths_, batch_size=self.batch_size_,
                     learning_rate=self.learning_rate_)  # fmt: skip
        return self._network_for(sizes, n_train, seed, whitening)

    def _network_for(self, sizes, n_train, seed, whitening=None):
        """The compiled network of ``sizes`` (``widths``, ``batch_size``, ``learning_rate``)."""
        return build_resnet(
            self.image_shape_,
            self.n_classes_,
            widths=sizes["widths"],
            stem_filters=self.stem_filters,
            augment=self.augment,
            learning_rate=sizes["learning_rate"],
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            label_smoothing=self.label_smoothing,
            # The schedule is laid out here, over ``epochs`` of the fit's
            # steps per epoch, not by the recipe when training starts:
            # initialize() builds without a fit, and partial_fit and warm_start
            # continue along the schedule of the build. A time budget lays it
            # out again over its plan (Recipe.plan).
            schedule_steps=training_steps(
                self.epochs,
                max(epoch_steps(n_train, sizes["batch_size"], distributed_batch_multiple()), 1),
            ),
            warmup_fraction=self.warmup_fraction,
            precision=self.precision,
            seed=seed,
            whitening=whitening,
            activation=self.activation,
            batch_norm_scale=self.batch_norm_scale,
            batch_norm_momentum=self.batch_norm_momentum,
            residual=self.residual,
            identity_init=self.identity_init,
            max_shift=self.max_shift,
            flip=self.flip == "random",
            shift_padding=self.shift_padding,
            schedule=self.schedule,
            bias_lr_scale=self.bias_lr_scale,
            conv_optimizer=self.conv_optimizer,
            muon_scale=self.muon_scale,
            muon_momentum=self.muon_momentum,
        )

    def _is_image(self):
        """Large enough to shift and flip (not a tabular strip or a tiny map)."""
        return min(self.image_shape_[:2]) >= MIN_AUGMENTED_SIZE

    def _test_views(self):
        """Whether ``predict_proba`` averages test-time views (``tta`` on images)."""
        return bool(self.tta) and self._is_image()

    def _data_build_args(self, X, rows):
        if not (self.whiten and min(self.image_shape_[:2]) >= 2):
            return {}
        sample = np.sort(rows[:: max(len(rows) // _WHITENING_SAMPLE, 1)][:_WHITENING_SAMPLE])
        return {"whitening": patch_whitening(X[sample])}

    def _extra_plugins(self, fit):
        alternating = self.augment and self._is_image() and self.flip == "alternating"
        return [
            Recipe(
                alternating_flip=alternating,
                whiten_bias_epochs=self.whiten_bias_epochs if self.whiten else None,
                lookahead=self.lookahead,
            )
        ]

    def _wrap_inference(self, probabilities):
        if self._test_views():
            # "auto" and nothing resolved (a file written before): no budget's choice, 0.
            shift = getattr(self, "tta_shift_", 0) if is_auto(self.tta_shift) else self.tta_shift
            probabilities = augmented(probabilities, int(shift))
        return sharpened(probabilities, self.temperature)
