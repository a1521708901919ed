"""``memory``: a fit resumes from the cached checkpoint of a shorter run of itself.

A run's key (:class:`skcifar.checkpoints.CheckpointCache`) is every parameter
but those of ``_NOT_IN_KEY``, the classes, digests of the training data, the
network's dtype policy and the versions of skcifar, Keras and its backend.
A fit loads the longest checkpoint of its run at or below its own step count
that ends an epoch (or has exactly its step count; only that one where a
longer run is no continuation of a shorter one), trains the steps left and
stores a checkpoint at its own step count. Each epoch's shuffling and
augmentation depend on the seed and the epoch's number only, so the result
is the fit from scratch, bit for bit. The rules, and the fits that cannot
use the cache: the user guide page "Searching epochs".
"""

from __future__ import annotations

import warnings
from numbers import Integral

from ..checkpoints import CheckpointCache
from ..utils.backend import backend_versions, values_of
from ..utils.stacklevel import user_stacklevel
from ..utils.versions import library_versions
from ._plugins import TrainingPlugin, state_variables
from ._steps import training_steps

# Parameters that leave the run as it is: not part of its key.
_NOT_IN_KEY = ("epochs", "memory", "verbose", "callbacks")


class Resume(TrainingPlugin):
    """``memory``: the plug-in that resumes a fit from its cached run and stores the run.

    The fit's plug-ins say what it may do: a plug-in's
    :meth:`~skcifar.estimators._plugins.TrainingPlugin.not_cached_because`
    keeps the fit out of the cache, and one with ``continues_shorter_runs``
    False (``early_stopping``, the ResNet's recipe) lets it use only a
    checkpoint of exactly the fit's own step count.
    """

    def __init__(self):
        self.cache = self.key = self.description = None

    def resume(self, fit):
        if fit.continuing or fit.partial:  # a continued fit trains the estimator's network
            return 0
        estimator = fit.estimator
        cache = CheckpointCache(estimator.memory)
        if cache.path is None:  # joblib.Memory(None)
            return 0
        reason = _why_not_cached(fit)
        if reason is None:
            params = estimator.get_params(deep=False)
            description = {
                "class": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
                "params": {k: v for k, v in params.items() if k not in _NOT_IN_KEY},
                "classes": estimator.classes_,
                "data": {"X": fit.X, "y": fit.y, "sample_weight": fit.weights},
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
                stacklevel=user_stacklevel(),
            )
            return 0
        untrusted = cache.untrusted_reason(key)
        if untrusted is not None:
            warnings.warn(
                f"memory: {untrusted}, so a checkpoint that another user planted there would be "
                "trusted and loaded as the result of this fit. Use a directory that only you "
                "can write to (see 'Trust model' in the persistence guide).",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        self.cache, self.key, self.description = cache, key, description
        exact_only = not all(plugin.continues_shorter_runs for plugin in fit.plugins)
        steps = training_steps(fit.epochs, fit.steps_per_epoch)
        return self._load_longest(estimator, steps, fit.steps_per_epoch, exact_only)

    def _load_longest(self, estimator, steps, steps_per_epoch, exact_only):
        """Load the longest usable checkpoint of at most ``steps``; return its steps (0: none).

        ``exact_only``: only a checkpoint of exactly ``steps``.
        """
        for done in self.cache.steps(self.key):
            exact = done == steps
            if done > steps or not exact and (exact_only or done % steps_per_epoch):
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
            if not _assign(estimator.model_, arrays):
                self.cache.discard(self.key, done, reason="its variables do not fit the network")
                continue
            estimator.history_ = history
            if exact:
                estimator.n_iter_ = meta["n_iter"]
            return done
        return 0

    def finish(self, fit, limit):
        """Store the run's state as the checkpoint of the steps it was asked for (or warn)."""
        if self.key is None:
            return
        meta = {
            "stopped_early": limit.trained < limit.limit,
            "n_iter": fit.estimator.n_iter_,
            "history": fit.estimator.history_,
        }
        arrays = values_of(state_variables(fit.estimator.model_))
        try:
            self.cache.write(self.key, limit.limit, meta, arrays, self.description)
        except OSError as exc:
            warnings.warn(
                f"memory: the checkpoint could not be stored ({exc}); the fit is unaffected.",
                UserWarning,
                stacklevel=user_stacklevel(),
            )


def _why_not_cached(fit):
    """Why the cache can hold no run of ``fit``: this plug-in's reasons, then the others'."""
    if not isinstance(fit.estimator.random_state, Integral):
        return "random_state is not an int"
    if fit.estimator.warm_start:
        return "warm_start continues the estimator's own network"
    reasons = (plugin.not_cached_because(fit) for plugin in fit.plugins)
    return next((reason for reason in reasons if reason is not None), None)


def _versions():
    return {**library_versions("keras"), **backend_versions()}


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


def _assign(model, arrays):
    """Assign ``arrays`` to the model's variables; False (nothing assigned) if they do not fit."""
    variables = state_variables(model)
    if len(arrays) != len(variables) or any(
        tuple(a.shape) != tuple(v.shape) or a.dtype.name != str(v.dtype)
        for a, v in zip(arrays, variables, strict=True)
    ):
        return False
    for variable, value in zip(variables, arrays, strict=True):
        variable.assign(value)
    return True
