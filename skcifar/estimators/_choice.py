"""A ``time_budget`` with the network's size left to ``"auto"``: the network it trains best.

:func:`choose` turns the seconds a fit has left into epochs of each candidate
of :data:`~skcifar.estimators._frontier.BUDGET_NETWORKS` and picks the one
whose measured frontier (validation accuracy after that many epochs, with
the test-time views the fit will use) is highest. Speeds are measured, not
assumed: the smallest candidate's training step is timed on the fit's own
data; a larger one is timed only when, even ``OPTIMISM`` times faster per
FLOP than the smallest, it could beat the best so far (at short budgets it
cannot, and timing it would eat the budget).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..architectures import resnet_flops
from ..utils.input_pipeline import batches, distributed_batch_multiple, epoch_steps
from ._budget import VALIDATION_STEP_COST, steps_within, time_steps
from ._frontier import BUDGET_NETWORKS, DEFAULT_NETWORK

#: The sizes a budget chooses, when left to "auto".
SIZES = ("widths", "batch_size", "learning_rate")
# Training steps timed per candidate, after the one that traces the step.
CHOICE_TIMED_STEPS = 2
# A larger candidate is timed only if it could win while training this many
# times faster per FLOP than the smallest one measured (small networks use a
# CPU less well: 1.2-1.4x on the CPUs measured, see docs/benchmarks.md).
OPTIMISM = 2.0
#: Least predicted validation-accuracy gain for which a budget chooses the
#: shifted test-time views (``tta_shift=1``: three times the prediction cost;
#: chosen only where that stays within the default network's prediction cost).
TTA_SHIFT_GAIN = 0.002


def frontier_accuracy(frontier, epochs, shifted=False):
    """Validation accuracy the frontier predicts after ``epochs`` epochs.

    Linear in log2(epochs) between the measured points, flat after the
    last, and falling along the first segment's slope below the first.

    Examples
    --------
    >>> from skcifar.estimators._choice import frontier_accuracy
    >>> points = ((1, 0.70, 0.71), (2, 0.80, 0.80), (4, 0.84, 0.84))
    >>> round(frontier_accuracy(points, 3), 4), frontier_accuracy(points, 9)
    (0.8234, 0.84)
    """
    column = 2 if shifted else 1
    x = np.log2([point[0] for point in frontier])
    y = np.array([point[column] for point in frontier])
    at = math.log2(max(epochs, 1e-3))
    if at < x[0]:
        slope = (y[1] - y[0]) / (x[1] - x[0])
        return float(max(y[0] - slope * (x[0] - at), 0.0))
    return float(np.interp(at, x, y))


def predicted_accuracy(network, epochs, shifted=False):
    """Validation accuracy that ``network``'s frontier predicts after ``epochs`` epochs.

    Parameters
    ----------
    network : str
        A name in :data:`~skcifar.estimators.BUDGET_NETWORKS`.
    epochs : float
        Epochs trained (read between the measured points linearly in
        log2(epochs), flat after the last).
    shifted : bool, default=False
        With the shifted test-time views (``tta_shift=1``).

    Returns
    -------
    accuracy : float

    Examples
    --------
    >>> from skcifar.estimators import BUDGET_NETWORKS, predicted_accuracy
    >>> first = BUDGET_NETWORKS["small"].frontier[0]
    >>> predicted_accuracy("small", first[0]) == first[1]
    True
    """
    return frontier_accuracy(BUDGET_NETWORKS[network].frontier, epochs, shifted)


def explicit_sizes(estimator):
    """The sizes the user set (not ``"auto"``), normalised for comparison."""
    given = {name: getattr(estimator, name) for name in SIZES}
    given = {name: value for name, value in given.items() if not is_auto(value)}
    if "widths" in given:
        given["widths"] = tuple(int(w) for w in np.atleast_1d(given["widths"]))
    return given


def resolved_sizes(estimator, chosen=None):
    """The sizes a fit trains with: the explicit ones, the rest from ``chosen`` or the default."""
    network = BUDGET_NETWORKS[chosen or DEFAULT_NETWORK]
    return {**network.params, **explicit_sizes(estimator)}


def candidates(estimator):
    """The candidates that agree with every explicit size, smallest first.

    Over several devices, only those whose batches the devices divide.
    """
    given = explicit_sizes(estimator)
    multiple = distributed_batch_multiple()
    return [name for name, network in BUDGET_NETWORKS.items()
            if all(network.params[k] == v for k, v in given.items())
            and network.params["batch_size"] % multiple == 0]  # fmt: skip


def choose(estimator, data, deadline, build):
    """The candidate a budget ending at ``deadline`` trains most accurately, and the figures.

    ``data`` holds the fit's ``X, y, weights, rows, validation_rows``;
    ``build(params)`` returns a compiled network of those sizes (thrown away
    after timing). Returns ``(name, record)``: ``record`` is
    ``network_choice_`` (see :class:`ResNetClassifier`).
    """
    X, y, weights, rows, validation_rows = data
    n_validation = 0 if validation_rows is None else len(validation_rows)
    names = candidates(estimator)
    flops = {name: _flops(estimator, name) for name in names}
    record = {}
    best = None
    for name in names:
        params = BUDGET_NETWORKS[name].params
        if best is not None:  # could it win, were it OPTIMISM times faster per FLOP?
            ref = record[names[0]]
            per_image = ref["seconds_per_step"] / BUDGET_NETWORKS[names[0]].params["batch_size"]
            hope = per_image * flops[name] / flops[names[0]] / OPTIMISM
            epochs = _epochs(deadline, hope * params["batch_size"], ref["trace_seconds"],
                             params["batch_size"], len(rows), n_validation)  # fmt: skip
            if _accuracy(estimator, name, epochs) <= best[1]:
                record[name] = dict(timed=False, hoped_epochs=epochs)
                continue
        network = build(params)
        feed = batches(X, y, weights, batch_size=params["batch_size"], indices=rows,
                       shuffle=True, seed=0)  # fmt: skip
        trace, per_step = time_steps(network, feed, CHOICE_TIMED_STEPS)
        del network
        epochs = _epochs(deadline, per_step, trace, params["batch_size"], len(rows), n_validation)
        record[name] = dict(timed=True, seconds_per_step=per_step, trace_seconds=trace)
        if best is None or _accuracy(estimator, name, epochs) > best[1]:
            best = (name, _accuracy(estimator, name, epochs))
    # The timed candidates compared at one time, the timings done.
    for name, timed in record.items():
        if timed["timed"]:
            params = BUDGET_NETWORKS[name].params
            timed["epochs"] = _epochs(deadline, timed["seconds_per_step"], timed["trace_seconds"],
                                      params["batch_size"], len(rows), n_validation)  # fmt: skip
            timed["predicted_accuracy"] = _accuracy(estimator, name, timed["epochs"])
    timed = [name for name in record if record[name]["timed"]]
    return max(timed, key=lambda name: record[name]["predicted_accuracy"]), record


def shifted_views(network, epochs, image_shape=(32, 32, 3), n_classes=10):
    """Whether a budget adds the shifted test-time views to ``network`` after ``epochs`` epochs.

    Where its frontier gains at least ``TTA_SHIFT_GAIN`` from them, and
    their six views per image cost no more to predict than the default
    network's two (:func:`skcifar.architectures.resnet_flops`): a budget's
    choice never makes prediction costlier than the defaults'.

    Parameters
    ----------
    network : str
        A name in :data:`~skcifar.estimators.BUDGET_NETWORKS`.
    epochs : float
        Epochs trained.
    image_shape : tuple of int, default=(32, 32, 3)
        The images' ``(height, width, channels)``.
    n_classes : int, default=10
        Classes.

    Returns
    -------
    shifted : bool

    Examples
    --------
    >>> from skcifar.estimators import shifted_views
    >>> shifted_views("default", 8)  # six views of the default network cost too much
    False
    """
    gain = predicted_accuracy(network, epochs, shifted=True) - predicted_accuracy(network, epochs)

    def flops(name):
        widths = BUDGET_NETWORKS[name].params["widths"]
        return resnet_flops(image_shape, n_classes, widths=widths)

    return gain >= TTA_SHIFT_GAIN and 3 * flops(network) <= flops(DEFAULT_NETWORK)


def _accuracy(estimator, name, epochs):
    """The accuracy ``name``'s frontier predicts, with the test-time views the fit will use."""
    if not estimator._test_views():  # no views at prediction: none shifted
        shifted = False
    elif not is_auto(estimator.tta_shift):  # set: those views
        shifted = bool(estimator.tta_shift)
    else:
        shifted = shifted_views(name, epochs, estimator.image_shape_, estimator.n_classes_)
    return predicted_accuracy(name, epochs, shifted)


def _epochs(deadline, per_step, trace, batch_size, n_train, n_validation):
    """Epochs a fit of steps of ``per_step`` s fills until ``deadline`` (a trace first)."""
    steps_per_epoch = max(epoch_steps(n_train, batch_size), 1)
    per_validation = VALIDATION_STEP_COST * math.ceil(n_validation / batch_size) * per_step
    seconds = deadline - time.perf_counter() - trace
    return steps_within(seconds, 0, steps_per_epoch, per_step, per_validation) / steps_per_epoch


def _flops(estimator, name):
    shape = estimator.image_shape_
    return resnet_flops(shape, estimator.n_classes_, widths=BUDGET_NETWORKS[name].params["widths"],
                        stem_filters=estimator.stem_filters, whiten=estimator.whiten)  # fmt: skip


def is_auto(value):
    """Whether a parameter's value is the string ``"auto"`` (resolved in ``fit``)."""
    return isinstance(value, str) and value == "auto"
