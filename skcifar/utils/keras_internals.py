"""Every use of Keras' and TensorFlow's non-public API, in one module.

Keras and TensorFlow offer no public handle on a few things skcifar needs
(global random states, safe-mode scopes, variable records, optimizer slots).
Each is reached here and nowhere else, through a function named for what it
gives; :data:`INTERNALS` lists the internal names with what skcifar relies on,
and ``tests/test_keras_internals.py`` checks each against the installed
versions. Importing this module imports neither Keras nor TensorFlow.
"""

from __future__ import annotations

import contextlib

#: Module whose warnings :func:`skcifar.utils.backend.quiet` silences (Keras'
#: data adapters: "your input ran out of data" and the like).
DATA_ADAPTERS_MODULE = "keras.src.trainers.data_adapters"

#: ``(internal name, what skcifar relies on)`` for every internal name used.
INTERNALS = (
    (
        "keras.src.backend.common.global_state.get_global_attribute",
        "reads Keras' process-wide attributes by name",
    ),
    (
        "keras.src.backend.common.global_state.set_global_attribute",
        "writes Keras' process-wide attributes by name",
    ),
    (
        "keras.src.utils.rng_utils.GLOBAL_RANDOM_SEED",
        "the global attribute that keras.utils.set_random_seed sets",
    ),
    (
        "keras.src.utils.rng_utils.get_random_seed",
        "returns the seed that keras.utils.set_random_seed set",
    ),
    (
        "keras.src.random.seed_generator.GLOBAL_SEED_GENERATOR",
        "the global attribute holding Keras' global SeedGenerator",
    ),
    (
        "keras.src.saving.serialization_lib.SafeModeScope",
        "a context manager that forces safe-mode deserialization",
    ),
    (DATA_ADAPTERS_MODULE, "the module Keras' data-adapter warnings come from"),
    ("tensorflow.python.eager.context.global_seed", "returns tf.random.set_seed's seed"),
    (
        "tensorflow.python.framework.ops._gradient_registry._registry",
        "a dict of the registered gradient functions by name",
    ),
    (
        "keras.optimizers.Optimizer._learning_rate",
        "the learning rate an optimizer was built with: its LearningRateSchedule",
    ),
    (
        "keras.optimizers.Optimizer._get_variable_index",
        "the index of a trained variable in the optimizer's slot lists",
    ),
)

_UNINITIALIZED_VARIABLES = "uninitialized_variables"


def _global_state():
    from keras.src.backend.common import global_state

    return global_state


def keras_random_state():
    """Keras' global seed and seed generator (what ``keras.utils.set_random_seed`` changes)."""
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    generator = _global_state().get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR)
    return rng_utils.get_random_seed(), generator


def restore_keras_random_state(state):
    """Put back the ``state`` that :func:`keras_random_state` returned."""
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    seed, generator = state
    global_state = _global_state()
    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, generator)


def tensorflow_global_seed():
    """TensorFlow's global seed (``tf.random.set_seed``), or None when unset."""
    from tensorflow.python.eager import context

    return context.global_seed()


def gradient_registry():
    """TensorFlow's global registry of gradient functions (a dict), or None if it moved."""
    import sys

    if "tensorflow" not in sys.modules:  # nothing registered: do not import it
        return None
    try:
        from tensorflow.python.framework import ops

        return ops._gradient_registry._registry
    except (ImportError, AttributeError):  # pragma: no cover - other TF versions
        return None


def safe_mode_scope():
    """A scope in which Keras deserializes in safe mode, whatever the global switch says.

    ``keras.config.enable_unsafe_deserialization()`` overrides
    ``load_model(safe_mode=True)``, but not within this scope. Where the scope
    moved, an empty context (``load_model``'s own ``safe_mode`` still applies).
    """
    try:
        from keras.src.saving.serialization_lib import SafeModeScope
    except ImportError:  # pragma: no cover - private Keras API moved
        return contextlib.nullcontext()
    return SafeModeScope(True)


def uninitialized_variables():
    """Keras' records of variables created without values (in a ``StatelessScope``)."""
    return list(_global_state().get_global_attribute(_UNINITIALIZED_VARIABLES, []) or [])


def set_uninitialized_variables(records):
    """Replace those records (a result of :func:`uninitialized_variables`)."""
    _global_state().set_global_attribute(_UNINITIALIZED_VARIABLES, list(records))


def learning_rate_schedule(optimizer):
    """The learning-rate schedule ``optimizer`` (or None) was built with; None for a constant.

    ``optimizer.learning_rate`` gives the schedule's current value; Keras
    keeps no public handle on the schedule object itself.
    """
    import keras

    rate = getattr(optimizer, "_learning_rate", None)
    return rate if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) else None


def variable_index(optimizer, variable):
    """The index of ``variable`` in the slot lists (``momentums``...) of a built optimizer."""
    return optimizer._get_variable_index(variable)
