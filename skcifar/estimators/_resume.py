"""``memory``: a fit resumes from the cached checkpoint of a shorter run of itself.

A fit with ``memory`` set and an integer ``random_state`` describes its run:
every parameter but ``epochs`` (and ``memory``, ``verbose``, ``callbacks``),
the classes, digests of the training images, labels and weights, the network's
dtype policy and the versions of skcifar, Keras and TensorFlow. It then looks
in the cache (:class:`skcifar.persistence.CheckpointCache`) for the longest
checkpoint of that run at or below its own step count, loads the network's
and the optimizer's variables and the history from it, trains only the steps
that are left, and stores a checkpoint at its own step count. Each epoch's
shuffling and augmentation depend on the seed and the epoch's number only
(:func:`skcifar.utils.input_pipeline.batches`, the random layers' seed states
are variables), so the result is the fit from scratch, bit for bit.

A run resumes only from checkpoints that end on an epoch boundary, or from
one of exactly its own step count (which is then the result, with nothing
left to train). Only the exact one is used where a longer run is not a
continuation of a shorter one: a learning-rate schedule laid out over the
whole fit (``ResNetClassifier``) and ``early_stopping`` (whose run ends on the
best epoch's weights). Fits that cannot be described, or not repeated,
do not use the cache at all: ``random_state`` not an int, user
``callbacks``, a parameter without a JSON form (an optimizer instance),
``time_budget``, ``warm_start``, ``partial_fit``.
"""

from __future__ import annotations

import warnings
from numbers import Integral

from ..checkpoints import CheckpointCache
from ..utils.backend import import_tensorflow
from ..utils.versions import library_versions
from ._budget import training_steps
from ._plugins import TrainingPlugin

# Parameters that leave the run as it is: not part of its key.
_NOT_IN_KEY = ("epochs", "memory", "verbose", "callbacks")


def cached_run(estimator, X, y, weights, *, fresh, exact_only):
    """The cached run of this fit, or None where the fit does not use the cache.

    Parameters
    ----------
    estimator : KerasImageClassifier
        Validated and built (``classes_`` and ``model_`` set).
    X, y, weights : ndarray or None
        The network input, class indices and sample weights of the fit.
    fresh : bool
        False for ``partial_fit`` and continued (``warm_start``) fits, which
        never use the cache.
    exact_only : bool
        Resume only from a checkpoint of exactly the fit's own step count (a
        longer run is no continuation of a shorter one).
    """
    if estimator.memory is None or not fresh:
        return None
    cache = CheckpointCache(estimator.memory)
    if cache.path is None:  # joblib.Memory(None)
        return None
    reason = _why_not_cached(estimator)
    description = None
    if reason is None:
        params = estimator.get_params(deep=False)
        description = {
            "class": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
            "params": {k: v for k, v in params.items() if k not in _NOT_IN_KEY},
            "classes": estimator.classes_,
            "data": {"X": X, "y": y, "sample_weight": weights},
            "policy": estimator.model_.dtype_policy.name,
            "versions": _versions(),
        }
        try:
            key = cache.key(description)
        except TypeError as exc:
            reason = f"a parameter has no deterministic form ({exc})"
    if reason is not None:
        warnings.warn(
            f"memory is set, but this fit neither resumes nor stores a checkpoint: {reason}. "
            "See the user guide page 'Searching epochs'.",
            UserWarning,
            stacklevel=5,
        )
        return None
    untrusted = cache.untrusted_reason(key)
    if untrusted is not None:
        warnings.warn(
            f"memory: {untrusted}, so a checkpoint that another user planted there would be "
            "trusted and loaded as the result of this fit. Use a directory that only you "
            "can write to (see 'Trust model' in the persistence guide).",
            UserWarning,
            stacklevel=5,
        )
    return CachedRun(cache, key, description, exact_only)


class Resume(TrainingPlugin):
    """``memory``: the plug-in that resumes a fit from its cached run and stores it.

    Parameters
    ----------
    exact_only : bool
        Use only a checkpoint of exactly the fit's own step count:
        ``early_stopping`` (the run ends on the best epoch's weights) and a
        learning-rate schedule laid out over the whole fit.
    """

    def __init__(self, exact_only):
        self.exact_only = bool(exact_only)
        self.run = None

    def resume(self, fit):
        fresh = not (fit.continuing or fit.partial)
        self.run = cached_run(
            fit.estimator, fit.X, fit.y, fit.weights, fresh=fresh, exact_only=self.exact_only
        )
        if self.run is None:
            return 0
        steps = training_steps(fit.epochs, fit.n_steps)
        return self.run.resume(fit.estimator, steps, fit.n_steps)

    def finish(self, fit, limit):
        if self.run is not None:
            self.run.store(fit.estimator, limit)


def _why_not_cached(estimator):
    if not isinstance(estimator.random_state, Integral):
        return "random_state is not an int"
    if estimator.callbacks:
        return "callbacks cannot be compared between fits"
    if estimator.time_budget is not None:
        return "a time_budget fit's length depends on the clock"
    if estimator.warm_start:
        return "warm_start continues the estimator's own network"
    return None


def _versions():
    # TensorFlow as imported: its distribution may be named tensorflow-cpu, tf-nightly, ...
    return {**library_versions("keras"), "tensorflow": import_tensorflow().__version__}


def _variables(model):
    """Every variable a run's state is in: the network's, then the optimizer's."""
    return list(model.variables) + list(model.optimizer.variables)


class CachedRun:
    """One fit's run in the cache: what it resumes from, and what it stores.

    Parameters
    ----------
    cache : CheckpointCache
        The cache.
    key : str
        The run's key.
    description : dict
        What the key was computed from (written beside the checkpoints).
    exact_only : bool
        Use only a checkpoint of exactly the fit's own step count.
    """

    def __init__(self, cache, key, description, exact_only):
        self.cache, self.key, self.description = cache, key, description
        self.exact_only = exact_only
        self.resumed_from = 0

    def resume(self, estimator, steps, n_steps):
        """Load the longest usable checkpoint into ``estimator``; return its step count.

        Sets the network's and optimizer's variables and ``history_`` (and
        ``n_iter_`` for a checkpoint of exactly ``steps``); returns 0, and
        changes nothing, when there is none.
        """
        for done in self.cache.steps(self.key):
            exact = done == steps
            if done > steps or not exact and (self.exact_only or done % n_steps):
                continue
            found = self.cache.read(self.key, done)
            if found is None:
                continue
            meta, arrays = found
            if not exact and meta.get("stopped_early") is not False:
                continue
            history = _history(meta)
            if history is None:
                self.cache.discard(self.key, done, reason="its history is malformed")
                continue
            if not _load(estimator.model_, arrays):
                self.cache.discard(self.key, done, reason="its variables do not fit the network")
                continue
            estimator.history_ = history
            if exact:
                estimator.n_iter_ = meta["n_iter"]
            self.resumed_from = done
            return done
        return 0

    def store(self, estimator, limit):
        """Store the fit's state as the checkpoint of the steps it was asked for.

        ``limit`` is the fit's :class:`StepLimit`. A failure to write warns
        and leaves the fit as it is.
        """
        meta = {
            "steps_per_epoch": limit.n_steps,
            "trained_steps": limit.steps,
            "stopped_early": limit.steps < limit.limit,
            "n_iter": estimator.n_iter_,
            "history": estimator.history_,
        }
        arrays = [variable.numpy() for variable in _variables(estimator.model_)]
        try:
            self.cache.write(self.key, limit.limit, meta, arrays, self.description)
        except OSError as exc:
            warnings.warn(
                f"memory: the checkpoint could not be stored ({exc}); the fit is unaffected.",
                UserWarning,
                stacklevel=5,
            )


def _history(meta):
    """The checkpoint's ``history_`` and a valid ``n_iter``, or None."""
    history, n_iter = meta.get("history"), meta.get("n_iter")
    if not isinstance(history, dict) or isinstance(n_iter, bool):
        return None
    if not isinstance(n_iter, (int, float)) or not all(
        isinstance(values, list) and all(isinstance(v, (int, float)) for v in values)
        for values in history.values()
    ):
        return None
    return {str(name): [float(v) for v in values] for name, values in history.items()}


def _load(model, arrays):
    """Assign ``arrays`` to the model's variables; False (nothing assigned) if they do not fit."""
    variables = _variables(model)
    if len(arrays) != len(variables) or any(
        tuple(a.shape) != tuple(v.shape) or a.dtype.name != str(v.dtype)
        for a, v in zip(arrays, variables, strict=True)
    ):
        return False
    for variable, value in zip(variables, arrays, strict=True):
        variable.assign(value)
    return True
