"""One source for each default: the classifiers, their builders and their docs agree.

A classifier at its defaults builds the network its builder builds at the
builder's defaults; every parameter has a constraint its default satisfies; and
each numpydoc "Parameters" line states the default the signature has.
"""

from __future__ import annotations

import ast
import inspect
import re

import numpy as np
import pytest
from _synthetic import make_images

from skcifar import ANNClassifier, CNNClassifier, ResNetClassifier
from skcifar.architectures import build_ann, build_cnn, build_resnet

# Each classifier, the module attribute it calls its builder by, and the builder.
PAIRS = [
    (ANNClassifier, "skcifar.estimators._ann.build_ann", build_ann),
    (CNNClassifier, "skcifar.estimators._cnn.build_cnn", build_cnn),
    (ResNetClassifier, "skcifar.estimators._resnet.build_resnet", build_resnet),
]
IDS = [pair[0].__name__ for pair in PAIRS]
# Builder arguments a fit computes from its data and seed, not from a parameter.
FROM_THE_FIT = {"input_shape", "n_classes", "seed", "schedule_steps", "whitening", "compile"}
X, y = make_images(n=24, size=8)


@pytest.mark.parametrize("classifier, target, builder", PAIRS, ids=IDS)
def test_a_default_classifier_builds_with_the_builders_defaults(
    classifier, target, builder, monkeypatch
):
    passed = {}

    def recording(*args, **kwargs):
        passed.update(kwargs)
        return builder(*args, **kwargs)

    monkeypatch.setattr(target, recording)
    classifier(random_state=0).initialize(X, y)
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(builder).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    compared = sorted(set(passed) - FROM_THE_FIT)
    assert compared, "the classifier passes no parameter to its builder"
    disagree = {
        name: (passed[name], defaults.get(name, "<no default>"))
        for name in compared
        if name not in defaults or not _same(passed[name], defaults[name])
    }
    assert not disagree, (
        f"{classifier.__name__}() passes {builder.__name__} values other than its defaults "
        f"(name: (classifier's, builder's)): {disagree}"
    )


@pytest.mark.parametrize("classifier", [pair[0] for pair in PAIRS], ids=IDS)
def test_every_parameter_has_a_constraint_its_default_satisfies(classifier):
    names = set(classifier().get_params(deep=False))
    missing = names - set(classifier._parameter_constraints)
    assert not missing, f"{classifier.__name__} has no constraint for {sorted(missing)}"
    classifier()._validate_params()  # raises InvalidParameterError on a default it refuses


@pytest.mark.parametrize(
    "function",
    [pair[0] for pair in PAIRS] + [pair[2] for pair in PAIRS],
    ids=IDS + [pair[2].__name__ for pair in PAIRS],
)
def test_the_docstring_states_each_default_the_signature_has(function):
    signature = inspect.signature(function.__init__ if inspect.isclass(function) else function)
    stated = _documented_defaults(inspect.getdoc(function))
    wrong, undocumented = {}, []
    for name, parameter in signature.parameters.items():
        if name == "self" or parameter.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        if name not in stated:
            undocumented.append(name)
        elif not _same(stated[name], parameter.default):
            wrong[name] = (stated[name], parameter.default)
    assert not undocumented, f"{function.__name__}: no 'default=' line for {undocumented}"
    assert not wrong, f"{function.__name__}: (documented, signature) defaults differ: {wrong}"


def _documented_defaults(doc):
    """``{name: default}`` of the "Parameters" section, values parsed as Python literals."""
    section = doc.split("Parameters\n----------\n", 1)[1]
    section = re.split(r"\n\S[^\n]*\n-{3,}\n", section, maxsplit=1)[0]
    stated = {}
    for names, value in re.findall(r"^(\w+(?:, \w+)*) : .*?default=(.+)$", section, re.M):
        try:
            value = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            value = value.strip()
        for name in names.split(", "):
            stated[name] = value
    return stated


def _same(a, b):
    """Equal as values: tuples and lists alike, numbers by value."""
    if isinstance(a, (tuple, list, np.ndarray)) and isinstance(b, (tuple, list, np.ndarray)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b or (
        isinstance(a, (int, float)) and isinstance(b, (int, float))
        and not isinstance(a, bool) and not isinstance(b, bool) and a == b
    )  # fmt: skip


def test_the_check_sees_a_disagreement():
    """The comparisons above fail where a default differs: they can fail."""
    assert not _same(0.4, 1.5) and not _same(True, False) and not _same((1, 2), (1, 3))
    assert not _same("sgd", "muon") and not _same(None, 0) and not _same(1, True)
    assert _same((64, 256), [64, 256]) and _same(2, 2.0)
    doc = "Parameters\n----------\na : int, default=2\n    A.\nb, c : str, default='x'\n"
    assert _documented_defaults(doc) == {"a": 2, "b": "x", "c": "x"}
