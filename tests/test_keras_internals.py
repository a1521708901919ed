"""The Keras and TensorFlow internals that skcifar uses exist and behave as it relies on.

Every internal name is reached from :mod:`skcifar.utils.keras_internals`; a
failure here names the symbol and the installed Keras and TensorFlow versions,
so an upgrade that moves one fails here rather than somewhere in a fit.
(``skcifar.load``'s use of the safe-mode scope is checked in
``tests/test_persistence.py``, against ``enable_unsafe_deserialization``.)
"""

import ast
import importlib
from pathlib import Path

import numpy as np
import pytest

from skcifar.utils import keras_internals
from skcifar.utils.backend import backend_name, backend_versions, import_keras
from skcifar.utils.keras_internals import INTERNALS

keras = import_keras()
ON_TENSORFLOW = backend_name() == "tensorflow"
if ON_TENSORFLOW:
    import tensorflow as tf


def _versions():
    return ", ".join(f"{name} {version}" for name, version in
                     {"keras": keras.__version__, **backend_versions()}.items())  # fmt: skip


def _resolve(name):
    """The object a dotted internal name stands for (an optimizer's attribute: of an SGD)."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            if value is keras.optimizers.Optimizer:  # some attributes exist on instances only
                schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
                value = keras.optimizers.SGD(learning_rate=schedule)
            value = getattr(value, attribute)
        return value
    raise ImportError(f"no module of {name!r} can be imported")


@pytest.mark.parametrize("name, relied_on", INTERNALS, ids=[name for name, _ in INTERNALS])
def test_each_internal_name_exists(name, relied_on):
    if name.startswith("tensorflow.") and not ON_TENSORFLOW:
        pytest.skip("a TensorFlow internal: used on Keras' TensorFlow backend only")
    try:
        _resolve(name)
    except (ImportError, AttributeError) as exc:
        pytest.fail(
            f"{name} is gone in {_versions()} ({type(exc).__name__}: {exc}). skcifar relies on "
            f"it as: {relied_on}. Update skcifar/utils/keras_internals.py."
        )


def _explained(what):
    return f"{what} ({_versions()}); see skcifar/utils/keras_internals.py"


def test_keras_random_state_is_put_back():
    keras.utils.set_random_seed(5)
    state = keras_internals.keras_random_state()
    first = keras.random.uniform((3,))
    keras.utils.set_random_seed(7)
    keras_internals.restore_keras_random_state(state)
    from keras.src.utils import rng_utils

    assert rng_utils.get_random_seed() == 5, _explained("Keras' global seed was not restored")
    assert not np.array_equal(first, keras.random.uniform((3,))), _explained(
        "the global SeedGenerator was not restored (it started over)"
    )


@pytest.mark.tensorflow
def test_tensorflow_global_seed_reads_set_seed():
    before = keras_internals.tensorflow_global_seed()
    try:
        tf.random.set_seed(1234)
        assert keras_internals.tensorflow_global_seed() == 1234, _explained(
            "tensorflow.python.eager.context.global_seed does not return tf.random.set_seed's"
        )
    finally:
        tf.random.set_seed(before)


@pytest.mark.tensorflow
def test_gradient_registry_holds_the_registered_gradients():
    registry = keras_internals.gradient_registry()
    assert isinstance(registry, dict), _explained("TensorFlow's gradient registry moved")
    assert "MatMul" in registry, _explained("the gradient registry is not keyed by op name")


def test_variables_created_without_values_are_recorded_and_can_be_forgotten():
    before = keras_internals.uninitialized_variables()
    with keras.StatelessScope(initialize_variables=False):
        keras.Variable(keras.initializers.Zeros(), shape=(2, 2), name="deferred")
    recorded = keras_internals.uninitialized_variables()
    keras_internals.set_uninitialized_variables(before)
    assert len(recorded) == len(before) + 1, _explained(
        "Keras no longer records variables created in a StatelessScope under "
        "'uninitialized_variables'"
    )
    assert keras_internals.uninitialized_variables() == before


def test_learning_rate_schedule_is_the_optimizers_schedule():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    found = keras_internals.learning_rate_schedule(keras.optimizers.SGD(learning_rate=schedule))
    assert found is schedule, _explained("Optimizer._learning_rate is not the schedule passed")
    assert keras_internals.learning_rate_schedule(keras.optimizers.SGD(0.1)) is None
    assert keras_internals.learning_rate_schedule(None) is None


def test_variable_index_indexes_the_slot_lists():
    first, bias = keras.Variable(np.ones((2, 2), "float32")), keras.Variable(np.ones(2, "float32"))
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    optimizer.build([first, bias])
    assert keras_internals.variable_index(optimizer, bias) == 1, _explained(
        "Optimizer._get_variable_index does not index the built variables"
    )
    assert optimizer.momentums[1].shape == bias.shape


# -- nothing else reaches in --------------------------------------------------

PACKAGE = Path(__file__).resolve().parents[1] / "skcifar"
_INTERNAL_MODULES = ("keras.src", "tensorflow.python")
_INTERNAL_ATTRIBUTES = {
    name.rpartition(".")[2] for name, _ in INTERNALS if name.startswith("keras.optimizers.")
}


def _internal_uses(path):
    relative = path.relative_to(PACKAGE.parent).as_posix()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, ast.FunctionDef):
            names = [node.name]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        else:
            continue
        for name in names:
            internal = name.startswith(_INTERNAL_MODULES) or name in _INTERNAL_ATTRIBUTES
            if internal:
                yield f"{relative}:{node.lineno}: {name}"


def test_only_keras_internals_reaches_into_keras_and_tensorflow():
    found = [
        use
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "keras_internals.py"
        for use in _internal_uses(path)
    ]
    assert not found, (
        "Keras/TensorFlow internals used outside skcifar/utils/keras_internals.py "
        "(add a function there and call it):\n" + "\n".join(found)
    )
