"""The contract with scikeras: what skcifar relies on exists, and nothing else is used.

skcifar.estimators._scikeras.RELIED_ON lists every scikeras name the package
relies on. An upgrade of scikeras that moves one of them fails the first
tests; the last one runs every workflow with all the other members of
scikeras' BaseWrapper made to fail, so the fit path cannot quietly start
depending on them again.
"""

import importlib
import inspect
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skcifar import ANNClassifier, CNNClassifier, ResNetClassifier
from skcifar.estimators._scikeras import RELIED_ON
from skcifar.utils.backend import import_keras

keras = import_keras()
scikeras_wrappers = importlib.import_module("scikeras.wrappers")
BaseWrapper = scikeras_wrappers.BaseWrapper

CLASSIFIERS = {
    "ann": lambda: ANNClassifier(hidden_layer_sizes=(8,), epochs=2, random_state=0),
    "cnn": lambda: CNNClassifier(filters=(4,), dense_units=4, epochs=2, random_state=0),
    "resnet": lambda: ResNetClassifier(widths=(4, 4), stem_filters=4, epochs=2, random_state=0),
}


def _resolve(dotted):
    """The object a dotted path names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for part in parts[split:]:
            obj = inspect.getattr_static(obj, part)
        return obj
    raise ImportError(dotted)


@pytest.mark.parametrize("name", RELIED_ON)
def test_every_relied_on_name_exists(name):
    assert _resolve(name) is not None


def test_the_relied_on_members_behave_as_assumed():
    assert isinstance(inspect.getattr_static(BaseWrapper, "initialized_"), property)
    assert isinstance(inspect.getattr_static(BaseWrapper, "current_epoch"), property)
    clf = ANNClassifier()
    assert clf.initialized_ is False and clf.current_epoch == 0
    clf.model_, clf.history_ = object(), {"loss": [1.0, 0.5, 0.4]}
    assert clf.initialized_ is True and clf.current_epoch == 3


def test_importing_scikeras_makes_keras_objects_picklable():
    from scikeras import _saving_utils

    assert keras.Model.__reduce__ is _saving_utils.pack_keras_model
    assert keras.losses.Loss.__reduce__ is _saving_utils.pack_keras_loss
    assert keras.metrics.Metric.__reduce__ is _saving_utils.pack_keras_metric
    assert keras.optimizers.Optimizer.__reduce__ is _saving_utils.pack_keras_optimizer


def test_the_classifiers_are_scikeras_wrappers():
    for make in CLASSIFIERS.values():
        assert isinstance(make(), BaseWrapper)


# Class attributes of BaseWrapper that are data, not behaviour; ``__name__`` is an
# instance property there, but assigning to a class's __name__ renames the class.
_NOT_BEHAVIOUR = {"__module__", "__doc__", "__dict__", "__weakref__", "__annotations__", "__name__"}


@pytest.fixture
def poisoned_base_wrapper(monkeypatch):
    """Every BaseWrapper member outside RELIED_ON raises when used."""
    relied = {name.rsplit(".", 1)[1] for name in RELIED_ON if ".BaseWrapper." in name}
    poisoned = []
    for name, member in list(vars(BaseWrapper).items()):
        if name in relied or name in _NOT_BEHAVIOUR:
            continue

        def fail(*args, _name=name, **kwargs):
            raise AssertionError(f"skcifar used scikeras' BaseWrapper.{_name}")

        if isinstance(member, property):
            monkeypatch.setattr(BaseWrapper, name, property(fail))
        elif callable(member) or isinstance(member, (staticmethod, classmethod)):
            monkeypatch.setattr(BaseWrapper, name, fail)
        else:
            continue
        poisoned.append(name)
    assert {"_fit", "_initialize", "_validate_data", "predict", "_predict_raw"} <= set(poisoned)
    return poisoned


@pytest.mark.parametrize("kind", list(CLASSIFIERS))
def test_workflows_use_only_the_relied_on_members(kind, poisoned_base_wrapper):
    rng = np.random.RandomState(0)
    X = rng.rand(48, 8, 8, 3).astype(np.float32)
    y = np.arange(48) % 3
    clf = CLASSIFIERS[kind]()
    repr(clf)
    clf.set_params(epochs=1)
    assert clf.get_params()["epochs"] == 1
    clf.fit(X, y, sample_weight=np.ones(len(y)))
    clf.predict(X)
    clf.predict_proba(X)
    clf.score(X, y)
    clf.partial_fit(X, y)
    clf.set_params(warm_start=True).fit(X, y)
    assert clf.current_epoch == 3
    pickle.loads(pickle.dumps(clf)).predict(X)
    clone(clf).initialize(X, y).predict(X)
    GridSearchCV(clone(clf), {"epochs": [1]}, cv=2).fit(X, y)
