"""A catalogue of bad input to the library: each case must fail fast with a clear
ValueError / TypeError / NotFittedError / OSError naming the problem.

Loader-format cases live in test_datasets.py and command-line cases in
test_cli.py; this file covers the estimators, the scaler, persistence and the
loader's lookup, plus property-based tests of the input validation.
"""

import os
import pickle
import tracemalloc
from copy import deepcopy

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import skcifar
from skcifar import (
    ANNClassifier,
    CNNClassifier,
    NonFiniteTrainingError,
    PixelScaler,
    ResNetClassifier,
)
from skcifar.datasets import fetch_cifar10, load_data
from skcifar.utils.backend import import_keras
from skcifar.utils.validation import image_shape_for, validate_pixels

keras = import_keras()

rng = np.random.RandomState(0)
IMAGES = rng.rand(30, 8, 8, 3).astype(np.float32)
LABELS = np.arange(30) % 3
TINY = dict(filters=(4,), dense_units=4, epochs=1, random_state=0)
# Finite float64 values that float32, the precision of the networks, cannot hold.
HUGE = IMAGES.astype(np.float64)
HUGE[0, 0, 0, 0] = 1e300


@pytest.fixture(scope="module")
def fitted():
    return CNNClassifier(**TINY).fit(IMAGES, LABELS)


def _fit(**params):
    return lambda: CNNClassifier(**{**TINY, **params}).fit(IMAGES, LABELS)


def _fit_resnet(**params):
    tiny = dict(widths=(4,), stem_filters=4, epochs=1, precision="float32", random_state=0)
    return lambda: ResNetClassifier(**{**tiny, **params}).fit(IMAGES, LABELS)


def _fit_data(X, y=LABELS, **kwargs):
    return lambda: CNNClassifier(**TINY).fit(X, y, **kwargs)


ESTIMATOR_CASES = {
    # shapes and dimensions
    "X 1-D": (_fit_data(IMAGES[0].ravel()), ValueError, "1-D"),
    "X 3-D (no channel axis)": (_fit_data(IMAGES[..., 0]), ValueError, "channel axis"),
    "X 5-D": (_fit_data(IMAGES[None]), ValueError, "5-D"),
    "X empty": (_fit_data(IMAGES[:0], LABELS[:0]), ValueError, "0 sample"),
    # dtypes
    "X strings": (_fit_data(np.full((30, 12), "a")), ValueError, "numeric"),
    "X complex": (_fit_data(IMAGES.astype(complex)), ValueError, "[Cc]omplex"),
    "X object of dicts": (_fit_data(np.array([[{}]] * 30)), (TypeError, ValueError), "dict"),
    "X sparse": (_fit_data(sp.csr_matrix(np.ones((30, 12)))), TypeError, "[Ss]parse"),
    "X None": (_fit_data(None), ValueError, "None"),
    # values
    "X NaN": (_fit_data(np.where(IMAGES > 0.9, np.nan, IMAGES)), ValueError, "NaN"),
    "X inf": (_fit_data(np.where(IMAGES > 0.9, np.inf, IMAGES)), ValueError, "infinity"),
    "X beyond float32": (_fit_data(HUGE), ValueError, "float32"),
    "flat X beyond float32": (_fit_data(-HUGE.reshape(30, -1)), ValueError, "float32"),
    # labels
    "a single class": (_fit_data(IMAGES, np.zeros(30)), ValueError, "2 classes"),
    "label/sample count mismatch": (_fit_data(IMAGES, LABELS[:-1]), ValueError, "inconsistent"),
    "continuous labels": (_fit_data(IMAGES, np.linspace(0, 1, 30)), ValueError, "continuous"),
    "multilabel y": (_fit_data(IMAGES, np.ones((30, 3))), ValueError, "y"),
    "y with NaN": (_fit_data(IMAGES, np.where(LABELS == 0, np.nan, LABELS)), ValueError, "NaN"),
    "sample_weight length": (
        _fit_data(IMAGES, sample_weight=np.ones(3)),
        ValueError,
        "sample_weight",
    ),
    "sample_weight all zero": (_fit_data(IMAGES, sample_weight=np.zeros(30)), ValueError, "weight"),
    "sample_weight beyond float32": (
        _fit_data(IMAGES, sample_weight=np.full(30, 1e300)),
        ValueError,
        "sample_weight.*float32",
    ),
    "sample_weight times class_weight beyond float32": (
        lambda: CNNClassifier(**TINY, class_weight={0: 1e30}).fit(
            IMAGES, LABELS, sample_weight=np.full(30, 1e30)
        ),
        ValueError,
        "sample_weight times class_weight.*float32",
    ),
    # hyperparameters
    "filters negative": (_fit(filters=(8, -1)), ValueError, "filters"),
    "filters a string": (_fit(filters="wide"), (ValueError, TypeError), "filters"),
    "kernel_size 3-D": (_fit(kernel_size=(3, 3, 3)), ValueError, "kernel_size"),
    "epochs 0": (_fit(epochs=0), ValueError, "epochs"),
    "batch_size float": (_fit(batch_size=2.5), (ValueError, TypeError), "batch_size"),
    "learning_rate negative": (_fit(learning_rate=-0.1), ValueError, "learning_rate"),
    "unknown optimizer": (_fit(optimizer="magic"), ValueError, "optimizer"),
    "dropout 1": (_fit(dropout=1.0), ValueError, "dropout"),
    "validation_fraction 1.5": (_fit(validation_fraction=1.5), ValueError, "validation_fraction"),
    "early stopping without validation": (
        _fit(early_stopping=True, validation_fraction=0.0),
        ValueError,
        "validation_fraction",
    ),
    "class_weight unknown string": (_fit(class_weight="heavy"), ValueError, "class_weight"),
    "class_weight negative": (_fit(class_weight={0: -1.0}), ValueError, r"class_weight\[0\]"),
    "class_weight infinite": (_fit(class_weight={0: np.inf}), ValueError, r"class_weight\[0\]"),
    "class_weight NaN": (_fit(class_weight={2: np.nan}), ValueError, r"class_weight\[2\]"),
    "class_weight beyond float32": (
        _fit(class_weight={1: 1e300}),
        ValueError,
        r"class_weight\[1\].*float32",
    ),
    "class_weight not a number": (_fit(class_weight={0: "x"}), ValueError, r"class_weight\[0\]"),
    "callbacks not a list": (_fit(callbacks="stop"), (ValueError, TypeError), "callbacks"),
    "random_state a string": (_fit(random_state="seed"), ValueError, "random_state"),
    "ANN activation unknown": (
        lambda: ANNClassifier(activation="wiggle").fit(IMAGES, LABELS),
        ValueError,
        "activation",
    ),
    "ANN zero-width layer": (
        lambda: ANNClassifier(hidden_layer_sizes=(0,)).fit(IMAGES, LABELS),
        ValueError,
        "hidden_layer_sizes",
    ),
    # the ResNet-style network
    "ResNet widths negative": (_fit_resnet(widths=(8, -1)), ValueError, "'widths'"),
    "ResNet widths zero": (_fit_resnet(widths=0), ValueError, "'widths'"),
    "ResNet widths a string": (_fit_resnet(widths="wide"), ValueError, "'widths'"),
    "ResNet widths floats": (_fit_resnet(widths=(8.0, 16.0)), ValueError, "'widths'"),
    "ResNet stem_filters 0": (_fit_resnet(stem_filters=0), ValueError, "'stem_filters'"),
    "ResNet precision unknown": (_fit_resnet(precision="float16"), ValueError, "'precision'"),
    "ResNet label_smoothing 1": (_fit_resnet(label_smoothing=1.0), ValueError, "label_smoothing"),
    "ResNet label_smoothing < 0": (
        _fit_resnet(label_smoothing=-0.1),
        ValueError,
        "label_smoothing",
    ),
    "ResNet momentum 1": (_fit_resnet(momentum=1.0), ValueError, "'momentum'"),
    "ResNet weight_decay negative": (_fit_resnet(weight_decay=-1e-4), ValueError, "weight_decay"),
    "ResNet warmup_fraction 1": (_fit_resnet(warmup_fraction=1), ValueError, "warmup_fraction"),
    "ResNet learning_rate None": (_fit_resnet(learning_rate=None), ValueError, "learning_rate"),
    "ResNet tta not bool": (_fit_resnet(tta="yes"), ValueError, "'tta'"),
    "ResNet temperature 0": (_fit_resnet(temperature=0), ValueError, "'temperature'"),
    "ResNet X None": (
        lambda: ResNetClassifier(epochs=1).fit(None, LABELS),
        ValueError,
        "ResNetClassifier needs X, got None",
    ),
    # the scaler
    "scaler dtype float64": (
        lambda: PixelScaler(dtype="float64").fit(IMAGES),
        ValueError,
        "'dtype'",
    ),
    "pixels above 255": (lambda: PixelScaler().fit(IMAGES * 300), ValueError, "above 255"),
    "negative pixels": (lambda: PixelScaler().fit(IMAGES - 1), ValueError, "Negative"),
    "scaler standardize not bool": (
        lambda: PixelScaler(standardize="yes").fit(IMAGES),
        ValueError,
        "standardize",
    ),
    "scaler inverse_transform beyond float32": (
        lambda: PixelScaler().fit(IMAGES).inverse_transform(HUGE),
        ValueError,
        "float32",
    ),
    "scaler not fitted": (lambda: PixelScaler().transform(IMAGES), NotFittedError, "fitted"),
    "scaler feature names of images": (
        lambda: PixelScaler().fit(IMAGES).get_feature_names_out(),
        AttributeError,
        "get_feature_names_out",
    ),
    # the loader's lookup
    "fetch subset unknown": (lambda: fetch_cifar10(subset="validation"), ValueError, "subset"),
    "load_data path missing": (
        lambda: load_data("/nonexistent/cifar.tar.gz"),
        FileNotFoundError,
        "nonexistent",
    ),
    # persistence
    "load a missing file": (
        lambda: skcifar.load("/nonexistent.skcifar"),
        FileNotFoundError,
        "nonexistent",
    ),
    "save an unsupported object": (lambda: skcifar.save(object(), os.devnull), TypeError, "object"),
}


@pytest.mark.parametrize("case", list(ESTIMATOR_CASES), ids=list(ESTIMATOR_CASES))
def test_bad_input_fails_clearly(case):
    action, errors, match = ESTIMATOR_CASES[case]
    with pytest.raises(errors, match=match):
        action()


PREDICT_CASES = {
    "predict unfitted": (lambda f: CNNClassifier().predict(IMAGES), NotFittedError),
    "unseen image size": (lambda f: f.predict(np.zeros((2, 16, 16, 3))), "per-sample shape"),
    "unseen channel count": (lambda f: f.predict(np.zeros((2, 8, 8, 1))), "per-sample shape"),
    "flat rows after images": (lambda f: f.predict(IMAGES.reshape(30, -1)), "per-sample shape"),
    "predict_proba with NaN": (lambda f: f.predict_proba(IMAGES * np.nan), "NaN"),
    "predict_proba beyond float32": (lambda f: f.predict_proba(HUGE), "float32"),
    "predict beyond float32": (lambda f: f.predict(HUGE), "float32"),
    "score beyond float32": (lambda f: f.score(HUGE, LABELS), "float32"),
    "score with unknown labels": (lambda f: f.partial_fit(IMAGES, LABELS + 5), "not in classes_"),
}


@pytest.mark.parametrize("case", list(PREDICT_CASES), ids=list(PREDICT_CASES))
def test_bad_input_after_fit_fails_clearly(case, fitted):
    action, expected = PREDICT_CASES[case]
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=expected):
            action(fitted)
    else:
        with pytest.raises(expected):
            action(fitted)


def test_values_beyond_float32_name_their_range_and_the_fix(fitted):
    with pytest.raises(ValueError, match=r"\[\S+, 1e\+300\].*float32.*[Ss]cale") as raised:
        fitted.predict_proba(HUGE)
    assert "CNNClassifier" in str(raised.value)


def test_the_float32_range_check_makes_no_copy_of_x():
    X = np.full((64, 32, 32, 3), 3e38)  # 1.5 MB of float64 values float32 still holds
    tracemalloc.start()
    try:
        validate_pixels(CNNClassifier(), X, reset=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 8


# -- training that diverges ------------------------------------------------------

# Each finite and valid, each diverges: the loss, or the weights after the last step.
DIVERGING = {
    "learning_rate 1e30, loss NaN mid-fit": (dict(learning_rate=1e30, batch_size=8), {}),
    "learning_rate 1e30, weights NaN after the last step": (
        dict(learning_rate=1e30, epochs=2),  # one step an epoch: the second's loss is finite
        {},
    ),
    "sample_weight 1e30": (dict(batch_size=8), dict(sample_weight=np.full(30, 1e30))),
    "class_weight 1e35": (dict(batch_size=8, class_weight={0: 1e35}), {}),
}
CAUSES = r"learning_rate.*sample_weight.*class_weight.*[Ss]cale the input"


@pytest.mark.parametrize("case", list(DIVERGING), ids=list(DIVERGING))
def test_a_diverging_fit_is_an_error_not_a_model(case):
    params, fit_params = DIVERGING[case]
    clf = CNNClassifier(**{**TINY, **params})
    with pytest.raises(NonFiniteTrainingError, match=CAUSES + ".*not fitted"):
        clf.fit(IMAGES, LABELS, **fit_params)
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)
    assert [name for name in vars(clf) if name.endswith("_")] == []
    with pytest.raises(NotFittedError):
        clf.predict(IMAGES)


def test_a_diverging_resnet_fit_is_an_error_too():
    tiny = dict(widths=(4,), stem_filters=4, epochs=2, precision="float32", batch_size=8)
    clf = ResNetClassifier(**tiny, learning_rate=1e30, random_state=0)
    with pytest.raises(NonFiniteTrainingError, match=CAUSES):
        clf.fit(IMAGES, LABELS)
    assert not clf.initialized_


def test_training_stops_at_the_first_non_finite_loss():
    losses = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: losses.append(logs["loss"])
    )
    # A rate that overflows the weights on every backend (PyTorch's loss stays finite at 1e30).
    clf = CNNClassifier(**{**TINY, "epochs": 3}, batch_size=2, learning_rate=3e38)
    with pytest.raises(NonFiniteTrainingError, match=r"loss became nan at batch \d+ of epoch 1"):
        clf.set_params(callbacks=[record]).fit(IMAGES, LABELS)
    assert not np.isfinite(losses[-1]) and np.isfinite(losses[:-1]).all()
    assert len(losses) < 45  # 15 steps an epoch


@pytest.mark.parametrize("how", ["warm_start", "partial_fit", "partial_fit after initialize"])
def test_a_diverging_continued_fit_keeps_what_the_estimator_had(how):
    clf = CNNClassifier(**TINY, batch_size=8, warm_start=True)
    if how.endswith("initialize"):
        clf.initialize(IMAGES, LABELS)
    else:
        clf.fit(IMAGES, LABELS)
    variables = [v.numpy() for v in clf.model_.variables + clf.model_.optimizer.variables]
    proba = clf.predict_proba(IMAGES)
    fitted = {k: deepcopy(v) for k, v in vars(clf).items() if k.endswith("_") and k != "model_"}
    train = clf.fit if how == "warm_start" else clf.partial_fit
    with pytest.raises(NonFiniteTrainingError, match="weights it had before this call"):
        train(IMAGES, LABELS, sample_weight=np.full(30, 1e30))
    after = [v.numpy() for v in clf.model_.variables + clf.model_.optimizer.variables]
    for before, now in zip(variables, after, strict=True):
        np.testing.assert_array_equal(now, before)
    # Same weights, same rows, same batches: the very same numbers.
    np.testing.assert_array_equal(clf.predict_proba(IMAGES), proba)
    now = {k: v for k, v in vars(clf).items() if k.endswith("_") and k != "model_"}
    assert (
        set(now) == set(fitted) and now["history_" if "history_" in now else "classes_"] is not None
    )
    for name, value in fitted.items():
        np.testing.assert_equal(now[name], value)
    clf.partial_fit(IMAGES, LABELS)  # and it trains on
    assert np.isfinite(clf.predict_proba(IMAGES)).all()


def test_the_non_finite_training_error_is_public_and_crosses_processes():
    assert skcifar.NonFiniteTrainingError is NonFiniteTrainingError
    assert issubclass(NonFiniteTrainingError, ValueError)
    assert issubclass(NonFiniteTrainingError, FloatingPointError)
    error = pickle.loads(pickle.dumps(NonFiniteTrainingError("the loss became nan")))
    assert type(error) is NonFiniteTrainingError and str(error) == "the loss became nan"


def test_validation_fraction_leaving_no_training_rows_is_named():
    """0.99 of 30 rows holds out all 30: skcifar names its parameter, not sklearn's test_size."""
    with pytest.raises(ValueError) as info:
        CNNClassifier(**TINY, validation_fraction=0.99).fit(IMAGES, LABELS)
    message = str(info.value)
    assert "validation_fraction=0.99" in message and "30" in message, message
    assert "test_size" not in message and "train_size" not in message, message
    weights = np.r_[np.ones(10), np.zeros(20)]  # only the 10 rows of positive weight count
    with pytest.raises(ValueError, match=r"validation_fraction=0\.95.* 10 "):
        CNNClassifier(**TINY, validation_fraction=0.95).fit(IMAGES, LABELS, sample_weight=weights)


def test_validation_split_too_small_to_stratify_is_not_stratified():
    """0.95 of 30 rows leaves 2 rows for 3 classes: a plain split, not sklearn's error."""
    clf = CNNClassifier(**TINY, validation_fraction=0.95).fit(IMAGES, LABELS)
    assert clf.n_iter_ == 1


def test_the_catalogue_is_large():
    assert len(ESTIMATOR_CASES) + len(PREDICT_CASES) >= 40


# -- properties ------------------------------------------------------------------

image_batches = hnp.arrays(
    np.uint8,
    st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 6), st.sampled_from([1, 3])),
)


@settings(max_examples=60, deadline=None)
@given(image_batches, st.booleans())
def test_scaler_maps_any_pixels_into_unit_range_and_back(X, standardize):
    # float16 keeps 11 significant bits: within 2**-12 of the value's size, 255 at most
    for dtype, atol in (("float32", 2e-3), ("float16", 0.13)):
        scaler = PixelScaler(standardize=standardize, dtype=dtype).fit(X)
        out = scaler.transform(X)
        assert out.dtype == dtype and out.shape == X.shape and np.isfinite(out).all()
        if not standardize:
            assert out.min() >= 0 and out.max() <= 1
        np.testing.assert_allclose(scaler.inverse_transform(out), X, atol=atol)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 5), st.integers(1, 12)),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=32),
    ),
)
def test_scaler_accepts_exactly_finite_values_in_pixel_range(X):
    valid = bool(np.isfinite(X).all() and X.min() >= 0 and X.max() <= 255)
    if valid:
        assert PixelScaler().fit_transform(X).shape == X.shape
    else:
        with pytest.raises(ValueError):
            PixelScaler().fit(X)


@given(st.integers(1, 20_000))
def test_reshaping_rule_keeps_every_value(n_features):
    height, width, channels = image_shape_for(n_features)
    assert height * width * channels == n_features
    assert channels in (1, 3)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([(2, 16, 16, 3), (2, 8, 8, 1), (2, 192), (2, 8, 8), (2,)]))
def test_predict_rejects_every_shape_but_the_fitted_one(fitted, shape):
    with pytest.raises(ValueError, match="shape|features|-D"):
        fitted.predict(np.zeros(shape, dtype=np.float32))
