"""ResNetClassifier and its pieces: build_resnet, the learning-rate schedule, weight
decay, resolve_precision, RandomShiftFlip, SmoothedSparseCrossentropy, TTA."""

import io
import pickle

import joblib
import numpy as np
import pytest
from _synthetic import make_images
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, ShuffleSplit
from sklearn.pipeline import make_pipeline

from skcifar import PixelScaler, ResNetClassifier
from skcifar.architectures import (
    PRECISIONS,
    SCHEDULES,
    _precision,
    build_resnet,
    resolve_precision,
)
from skcifar.architectures._layers import RandomShiftFlip
from skcifar.architectures._training import MuonSGD, SmoothedSparseCrossentropy
from skcifar.utils.backend import import_keras

# Float results here depend on the CPU: make test-isa runs them again under other settings.
pytestmark = pytest.mark.cpu_numerics

keras = import_keras()

TINY = dict(
    widths=(4,),
    stem_filters=4,
    epochs=2,
    batch_size=16,
    # a warm-up and cosine schedule, whose rates the schedule tests spell out
    learning_rate=0.4,
    warmup_fraction=0.2,
    schedule="cosine",
    temperature=1.0,  # the network's own probabilities (tested separately)
    precision="float32",
    random_state=0,
)


@pytest.fixture(scope="module")
def data():
    X, y = make_images()  # 120 images 8x8x3, 3 classes
    return (X / 255.0).astype(np.float32), y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return ResNetClassifier(**TINY).fit(X, y)


def _layer_names(model):
    return [type(layer).__name__ for layer in model.layers]


def _pool_shapes(model):
    return [
        tuple(layer.output.shape[1:3])
        for layer in model.layers
        if type(layer).__name__ == "MaxPooling2D"
    ]


# -- build_resnet ------------------------------------------------------------------
def test_default_network():
    """The builder's defaults are the recipe ResNetClassifier trains (tests/test_defaults.py)."""
    model = build_resnet(precision="float32")
    names = _layer_names(model)
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    assert names[:3] == ["InputLayer", "RandomShiftFlip", "Conv2D"]
    assert model.layers[1].max_shift == 2 and not model.layers[1].flip
    assert names.count("Conv2D") == 1 + 2 * 3 and names.count("BatchNormalization") == 2 * 3
    assert names.count("Add") == 0 and names[-4:] == [
        "GlobalMaxPooling2D",
        "Dense",
        "Rescaling",
        "Activation",
    ]
    # 32 -> stem 2x2 "valid" -> 31 -> 15 -> 7 -> 3
    assert model.layers[2].output.shape[1:] == (31, 31, 24)
    assert _pool_shapes(model) == [(15, 15), (7, 7), (3, 3)]
    assert [layer.filters for layer in model.layers if type(layer).__name__ == "Conv2D"] == [
        24, 64, 64, 256, 256, 256, 256,
    ]  # fmt: skip
    assert model.count_params() == 1_973_944  # batch norm without scale
    assert build_resnet(widths=(32, 64, 128), precision="float32").count_params() == 295_544
    optimizer = model.optimizer
    assert isinstance(optimizer, MuonSGD) and optimizer.nesterov
    assert optimizer.momentum == pytest.approx(0.85)
    assert optimizer.weight_decay == pytest.approx(0.009)
    assert isinstance(model.loss, SmoothedSparseCrossentropy)
    assert model.loss.label_smoothing == pytest.approx(0.2)
    residual = build_resnet(widths=(32, 64, 128), precision="float32", residual=True)
    assert _layer_names(residual).count("Add") == 3


@pytest.mark.parametrize(
    "shape, pools",
    [
        ((5, 5, 1), [(2, 2), (1, 1)]),
        ((1, 10, 1), [(1, 4), (1, 2), (1, 1)]),
        ((1, 1, 1), []),
        ((2, 2, 3), []),
        ((7, 3, 2), [(3, 1), (1, 1)]),
        ((64, 48, 3), [(31, 23), (15, 11), (7, 5)]),
    ],
)
def test_adapts_to_any_input_size(shape, pools):
    model = build_resnet(shape, 3, widths=(4, 8, 8), stem_filters=4, precision="float32", seed=0)
    assert model.output_shape == (None, 3)
    assert _pool_shapes(model) == pools
    x = np.random.RandomState(0).rand(4, *shape).astype(np.float32)
    for training in (True, False):
        proba = keras.ops.convert_to_numpy(model(x, training=training))
        assert proba.shape == (4, 3) and np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)


def test_options_change_the_network():
    model = build_resnet(
        (8, 8, 3), 4, widths=8, augment=False, label_smoothing=0.0, weight_decay=0.0,
        precision="float32",
    )  # fmt: skip
    assert "RandomShiftFlip" not in _layer_names(model)
    assert model.loss == "sparse_categorical_crossentropy"
    assert model.optimizer.weight_decay is None
    assert len(_pool_shapes(model)) == 1 and model.output_shape == (None, 4)
    for shape, shift in [((16, 16, 3), 2), ((8, 8, 3), 1)]:  # None: 1/8 of the size
        model = build_resnet(shape, augment=True, max_shift=None, precision="float32")
        assert model.layers[1].max_shift == shift
    # No shifts or flips for maps under 8 pixels or one-pixel-high strips (tabular rows).
    for shape in [(7, 7, 3), (1, 10, 1), (10, 1, 1)]:
        assert "RandomShiftFlip" not in _layer_names(build_resnet(shape, precision="float32"))
    assert not build_resnet(compile=False, precision="float32").compiled


def test_seed_makes_weights_reproducible():
    def weights(seed):
        model = build_resnet((8, 8, 3), 3, widths=(4,), precision="float32", seed=seed)
        return [w.numpy() for w in model.weights]

    a, b, c = weights(3), weights(3), weights(4)
    # Exact: the same seeded draws.
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def _rate_at(model, step):
    model.optimizer.iterations.assign(step)
    return float(model.optimizer.learning_rate)


def test_schedule_warms_up_then_decays_along_a_cosine_to_zero():
    model = build_resnet(
        (8, 8, 3), 3, widths=(4,), precision="float32", learning_rate=0.4,
        schedule_steps=100, warmup_fraction=0.2, schedule="cosine",
    )  # fmt: skip
    assert model.optimizer.iterations.numpy() == 0
    assert _rate_at(model, 0) == pytest.approx(0.04)  # a tenth of the peak
    assert _rate_at(model, 10) == pytest.approx(0.22)  # linear warm-up
    assert _rate_at(model, 20) == pytest.approx(0.4)  # the peak after 20% of the steps
    for t in (0.25, 0.5, 0.75):  # cosine over the remaining 80 steps
        expected = 0.4 * 0.5 * (1 + np.cos(np.pi * t))
        assert _rate_at(model, 20 + 80 * t) == pytest.approx(expected, abs=1e-6)
    assert _rate_at(model, 100) == pytest.approx(0.0, abs=1e-9)
    assert _rate_at(model, 500) == pytest.approx(0.0, abs=1e-9)  # and stays there
    rates = [_rate_at(model, step) for step in range(101)]
    assert np.all(np.diff(rates[:21]) > 0) and np.all(np.diff(rates[20:]) < 0)


def test_schedule_without_warmup_or_steps():
    no_warmup = build_resnet(
        (8, 8, 3), 3, widths=(4,), precision="float32", learning_rate=0.3,
        schedule_steps=10, warmup_fraction=0.0, schedule="cosine",
    )  # fmt: skip
    assert _rate_at(no_warmup, 0) == pytest.approx(0.3)
    assert _rate_at(no_warmup, 5) == pytest.approx(0.15)
    assert _rate_at(no_warmup, 10) == pytest.approx(0.0, abs=1e-9)
    constant = build_resnet((8, 8, 3), 3, widths=(4,), precision="float32", learning_rate=0.3)
    assert _rate_at(constant, 0) == _rate_at(constant, 10_000) == pytest.approx(0.3)


def test_weight_decay_spares_biases_and_batch_norm_parameters():
    model = build_resnet(
        (8, 8, 3), 3, widths=(4,), precision="float32", learning_rate=0.5, weight_decay=0.1,
        seed=0, conv_optimizer="sgd", batch_norm_scale=True,
    )  # fmt: skip
    optimizer = model.optimizer
    assert optimizer._exclude_from_weight_decay_pattern is not None
    rng = np.random.RandomState(0)
    for variable in model.trainable_variables:  # beta and bias start at 0: make them visible
        variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype(np.float32))
    before = {v.path: v.numpy() for v in model.trainable_variables}
    zeros = [np.zeros(v.shape, np.float32) for v in model.trainable_variables]
    optimizer.apply_gradients(zip(zeros, model.trainable_variables, strict=True))
    decayed, kept = set(), set()
    for variable in model.trainable_variables:
        ratio = variable.numpy() / before[variable.path]
        if np.allclose(ratio, 1 - 0.5 * 0.1):
            decayed.add(variable.name)
        # Exact: a variable with a zero gradient and no decay is not changed at all.
        elif np.array_equal(ratio, np.ones_like(ratio)):
            kept.add(variable.name)
    assert decayed == {"kernel"}
    assert kept == {"bias", "gamma", "beta"}
    assert len(model.trainable_variables) == 9  # stem (kernel, bias), 2 convs, 2 BNs, dense


def test_plain_keras_save_and_load_in_safe_mode(tmp_path):
    model = build_resnet((8, 8, 3), 3, widths=(4,), precision="float32", seed=0,
                         schedule_steps=10, schedule="cosine")  # fmt: skip
    model.save(tmp_path / "resnet.keras")
    loaded = keras.saving.load_model(tmp_path / "resnet.keras", safe_mode=True)
    x = np.random.RandomState(0).rand(4, 8, 8, 3).astype(np.float32)
    # Exact: same process, same weights, same rows in the same batches: identical bits on any CPU.
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert type(loaded.layers[1]) is RandomShiftFlip
    assert isinstance(loaded.loss, SmoothedSparseCrossentropy)
    assert _rate_at(loaded, 10) == pytest.approx(0.0, abs=1e-9)  # the schedule is kept


# -- precision -----------------------------------------------------------------------
def test_resolve_precision(monkeypatch):
    assert PRECISIONS == ("auto", "float32", "bfloat16")
    assert resolve_precision("float32") == "float32"
    monkeypatch.setattr(_precision, "bfloat16_runs", lambda: True)
    assert resolve_precision("bfloat16") == "mixed_bfloat16"
    monkeypatch.setattr(_precision, "bfloat16_speedup", lambda: 2.0)
    assert resolve_precision("auto") == "mixed_bfloat16"
    monkeypatch.setattr(_precision, "bfloat16_speedup", lambda: 1.1)  # has it, but slower
    assert resolve_precision("auto") == "float32"
    monkeypatch.setattr(_precision, "bfloat16_speedup", lambda: 0.0)
    assert resolve_precision("auto") == "float32"
    for bad in ("float16", "FLOAT32", None, 32):
        with pytest.raises(ValueError, match="precision must be one of"):
            resolve_precision(bad)


def test_bfloat16_where_tensorflow_cannot_compute_it(monkeypatch):
    # As under ONEDNN_MAX_CPU_ISA=AVX2 on a CPU with bfloat16 instructions.
    monkeypatch.setattr(_precision, "bfloat16_runs", lambda: False)
    monkeypatch.setattr(_precision, "_cpu_has_bf16", lambda: True)
    with pytest.raises(ValueError, match="precision='float32', or 'auto'"):
        resolve_precision("bfloat16")
    _precision.bfloat16_speedup.cache_clear()
    try:
        assert _precision.bfloat16_speedup() == 0.0  # nothing is timed
        assert resolve_precision("auto") == "float32"
    finally:
        _precision.bfloat16_speedup.cache_clear()


@pytest.mark.parametrize(
    "cpuinfo, expected",
    [
        ("flags\t\t: fpu sse avx512f avx512_bf16 amx_tile\n", True),
        ("flags\t\t: fpu sse amx_bf16 amx_tile\n", True),
        ("flags\t\t: fpu sse avx512f avx2\n", False),
        (OSError("no /proc"), False),
    ],
)
def test_native_bfloat16_detection(monkeypatch, cpuinfo, expected):
    def fake_open(*args, **kwargs):
        if isinstance(cpuinfo, Exception):
            raise cpuinfo
        return io.StringIO(cpuinfo)

    monkeypatch.setattr(_precision, "open", fake_open, raising=False)
    assert _precision._cpu_has_bf16() is expected


def test_bfloat16_speedup_is_measured_once_and_only_with_the_instructions(monkeypatch):
    _precision.bfloat16_speedup.cache_clear()
    monkeypatch.setattr(_precision, "_cpu_has_bf16", lambda: False)
    assert _precision.bfloat16_speedup() == 0.0  # nothing timed
    _precision.bfloat16_speedup.cache_clear()
    timed = []
    # The machine turns busy after five runs, for ten (four times slower): timed in
    # blocks of five, every bfloat16 run would be slow (a ratio of 0.375);
    # alternated, each precision keeps quiet runs.
    busy = iter([False] * 5 + [True] * 10 + [False] * 100)

    def fake_timer(x, kernel, dtype):
        def run():
            timed.append(dtype)
            slow = 4.0 if next(busy) else 1.0
            return {"float32": 3.0, "bfloat16": 2.0}[dtype] * slow

        return run

    monkeypatch.setattr(_precision, "_cpu_has_bf16", lambda: True)
    monkeypatch.setattr(_precision, "bfloat16_runs", lambda: True)
    monkeypatch.setattr(_precision, "_convolution_timer", fake_timer)
    assert _precision.bfloat16_speedup() == pytest.approx(1.5)
    assert _precision.bfloat16_speedup() == pytest.approx(1.5)
    assert timed == ["float32", "bfloat16"] * 10  # alternated; cached after the first call
    _precision.bfloat16_speedup.cache_clear()


@pytest.mark.usefixtures("needs_bfloat16")
def test_bfloat16_speedup_probe_times_both_and_keeps_the_random_state(monkeypatch):
    monkeypatch.setattr(_precision, "_cpu_has_bf16", lambda: True)
    np.random.seed(5)  # noqa: NPY002 - the global state is what is checked
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    speedup = _precision.bfloat16_speedup.__wrapped__(repeats=1)  # uncached: really timed
    assert 0.05 < speedup < 20
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


@pytest.mark.usefixtures("needs_bfloat16")
def test_bfloat16_network_keeps_float32_weights_and_outputs():
    model = build_resnet((8, 8, 3), 3, widths=(4,), precision="bfloat16", seed=0)
    conv = next(layer for layer in model.layers if type(layer).__name__ == "Conv2D")
    assert conv.compute_dtype == "bfloat16" and conv.variable_dtype == "float32"
    assert all(w.dtype == "float32" for w in model.weights)
    proba = model.predict(np.random.RandomState(0).rand(5, 8, 8, 3), verbose=0)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-3)


# -- RandomShiftFlip -------------------------------------------------------------------
def _distinct_images(n=64, shape=(6, 7, 2)):
    """Images whose pixel values are all distinct (and non-zero), so windows are unique."""
    values = np.random.RandomState(0).permutation(n * int(np.prod(shape))) + 1
    return values.reshape(n, *shape).astype(np.float32)


def _which_window(image, out, shift):
    """(row offset, col offset, flipped) of the window of the padded image equal to out."""
    height, width = image.shape[:2]
    padded = np.pad(image, ((shift, shift), (shift, shift), (0, 0)))
    matches = [
        (r, c, flipped)
        for r in range(2 * shift + 1)
        for c in range(2 * shift + 1)
        for flipped in (False, True)
        if np.array_equal(
            out,
            padded[r : r + height, c : c + width][:, ::-1]
            if flipped
            else padded[r : r + height, c : c + width],
        )
    ]
    assert len(matches) == 1, "the output is not a shifted/flipped window of the input"
    return matches[0]


def test_random_shift_flip_crops_a_window_of_the_padded_image_for_every_image():
    x = _distinct_images()
    out = np.asarray(RandomShiftFlip(2, seed=1)(x, training=True))
    assert out.shape == x.shape and out.dtype == np.float32
    windows = [_which_window(image, o, 2) for image, o in zip(x, out, strict=True)]
    offsets = {(r, c) for r, c, _ in windows}
    flips = [flipped for _, _, flipped in windows]
    assert len(offsets) >= 10  # each image gets its own shift ...
    assert 10 <= sum(flips) <= 54  # ... and its own coin flip


def test_random_shift_flip_options():
    x = _distinct_images(32)
    flips_only = np.asarray(RandomShiftFlip(0, seed=2)(x, training=True))
    windows = [_which_window(image, o, 0) for image, o in zip(x, flips_only, strict=True)]
    assert {w[:2] for w in windows} == {(0, 0)} and 0 < sum(w[2] for w in windows) < 32
    shifts_only = np.asarray(RandomShiftFlip(1, flip=False, seed=2)(x, training=True))
    windows = [_which_window(image, o, 1) for image, o in zip(x, shifts_only, strict=True)]
    assert not any(w[2] for w in windows) and len({w[:2] for w in windows}) > 1


def test_random_shift_flip_is_the_identity_at_inference():
    x = _distinct_images(8)
    layer = RandomShiftFlip(3, seed=0)
    # Exact: at inference the layer passes its input through.
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    model = keras.Sequential([keras.Input(x.shape[1:]), layer])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    assert layer.compute_output_shape((None, 6, 7, 2)) == (None, 6, 7, 2)


def test_random_shift_flip_seed():
    x = _distinct_images(32)

    def augment(seed):
        return np.asarray(RandomShiftFlip(2, seed=seed)(x, training=True))

    # Exact: shifts and flips move values (the same seed, the same moves).
    np.testing.assert_array_equal(augment(5), augment(5))
    assert not np.array_equal(augment(5), augment(6))
    layer = RandomShiftFlip(2, seed=5)
    first, second = layer(x, training=True), layer(x, training=True)
    assert not np.array_equal(first, second)  # the generator advances between batches


def test_random_shift_flip_config_round_trip():
    layer = RandomShiftFlip(3, flip=False, seed=7, name="augment")
    config = layer.get_config()
    assert {"max_shift": 3, "flip": False, "seed": 7, "name": "augment"}.items() <= config.items()
    copy = RandomShiftFlip.from_config(config)
    assert copy.get_config() == config
    x = _distinct_images(16)
    # Exact: the same seed moves the same values.
    np.testing.assert_array_equal(
        np.asarray(copy(x, training=True)), np.asarray(layer(x, training=True))
    )
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == "skcifar>RandomShiftFlip"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is RandomShiftFlip and restored.get_config() == config


# -- SmoothedSparseCrossentropy --------------------------------------------------------
@pytest.fixture
def predictions():
    rng = np.random.RandomState(0)
    logits = rng.normal(size=(12, 5)).astype(np.float32)
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return rng.randint(0, 5, 12), proba, rng.uniform(0, 2, 12).astype(np.float32)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_smoothed_loss_equals_categorical_crossentropy_on_one_hot_labels(predictions, smoothing):
    labels, proba, weights = predictions
    one_hot = np.eye(5, dtype=np.float32)[labels]
    ours = SmoothedSparseCrossentropy(smoothing)
    reference = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
    assert float(ours(labels, proba)) == pytest.approx(float(reference(one_hot, proba)), rel=1e-6)
    assert float(ours(labels[:, None], proba, sample_weight=weights)) == pytest.approx(
        float(reference(one_hot, proba, sample_weight=weights)), rel=1e-6
    )
    target = (1 - smoothing) * one_hot + smoothing / 5
    manual = -(target * np.log(proba)).sum(axis=1).mean()
    assert float(ours(labels, proba)) == pytest.approx(manual, rel=1e-5)


def test_unsmoothed_loss_is_sparse_categorical_crossentropy(predictions):
    labels, proba, _ = predictions
    expected = keras.losses.SparseCategoricalCrossentropy()(labels, proba)
    assert float(SmoothedSparseCrossentropy()(labels, proba)) == pytest.approx(
        float(expected), rel=1e-6
    )


def test_smoothed_loss_config_round_trip(predictions):
    labels, proba, _ = predictions
    loss = SmoothedSparseCrossentropy(0.2, name="smooth")
    config = loss.get_config()
    assert config["label_smoothing"] == pytest.approx(0.2) and config["name"] == "smooth"
    copy = SmoothedSparseCrossentropy.from_config(config)
    assert copy.get_config() == config
    # Exact: the same computation on the same tensors in one process.
    assert float(copy(labels, proba)) == float(loss(labels, proba))
    serialized = keras.saving.serialize_keras_object(loss)
    assert serialized["registered_name"] == "skcifar>SmoothedSparseCrossentropy"
    assert keras.saving.deserialize_keras_object(serialized).label_smoothing == pytest.approx(0.2)


# -- ResNetClassifier --------------------------------------------------------------------
def test_defaults():
    clf = ResNetClassifier()
    assert clf.get_params() == dict(
        widths="auto", stem_filters=24, augment=True, learning_rate="auto",
        momentum=0.85, weight_decay=0.009, label_smoothing=0.2, warmup_fraction=0.23, tta=True,
        temperature=0.5, precision="auto", whiten=True, whiten_bias_epochs=3,
        identity_init=True, activation="relu", batch_norm_scale=False, batch_norm_momentum=0.6,
        bias_lr_scale=64.0, conv_optimizer="muon", muon_scale=0.16, muon_momentum=0.6,
        residual=False, flip="alternating", max_shift=2,
        shift_padding="reflect", schedule="linear", lookahead=True, tta_shift="auto",
        image_shape=None, epochs=8, time_budget=None, batch_size="auto", validation_fraction=None,
        early_stopping=False, n_iter_no_change=5, random_state=None, verbose=0,
        callbacks=None, warm_start=False, class_weight=None, memory=None, devices="auto",
    )  # fmt: skip


def test_fit_predict_and_fitted_attributes(fitted, data):
    X, y = data
    clf = fitted
    assert clf.input_shape_ == clf.image_shape_ == (8, 8, 3) and clf.n_features_in_ == 192
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 3) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert set(clf.history_) == {"loss", "accuracy"} and len(clf.history_["loss"]) == 2
    assert all(0 <= a <= 1 for a in clf.history_["accuracy"])
    # The network is the one build_resnet describes, with the classifier's parameters.
    assert "RandomShiftFlip" in _layer_names(clf.model_)
    assert clf.model_.loss.label_smoothing == pytest.approx(0.2)
    assert isinstance(clf.model_.optimizer, keras.optimizers.SGD)
    with pytest.raises(NotFittedError):
        ResNetClassifier().predict_proba(X)


def test_accuracy_metric_is_the_classification_accuracy(fitted, data):
    X, y = data
    model = fitted.model_
    result = model.evaluate(X, y, verbose=0, return_dict=True)
    predicted = model.predict(X, verbose=0).argmax(axis=1)
    assert result["accuracy"] == pytest.approx(np.mean(predicted == y))


def test_schedule_spans_the_training_steps(data):
    X, y = data
    clf = ResNetClassifier(**TINY).fit(X, y)  # 120 images in batches of 16: 8 steps per epoch
    optimizer = clf.model_.optimizer
    assert optimizer.iterations.numpy() == 16
    assert float(optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)  # decayed to 0
    assert _rate_at(clf.model_, 0) == pytest.approx(0.04)
    assert _rate_at(clf.model_, 3) == pytest.approx(0.4)  # warm-up: 20% of 16 steps
    # With a validation split, the schedule spans the training part only (90 images).
    clf = ResNetClassifier(**TINY, validation_fraction=0.25).fit(X, y)
    assert clf.model_.optimizer.iterations.numpy() == 12
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)
    assert {"val_loss", "val_accuracy"} <= set(clf.history_)


def test_partial_fit_follows_the_schedule_of_epochs(data):
    X, y = data
    clf = ResNetClassifier(**TINY)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    assert float(clf.model_.optimizer.learning_rate) > 0.1  # half-way along a 2-epoch plan
    clf.partial_fit(X, y)
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)
    assert len(clf.history_["loss"]) == 2


@pytest.mark.parametrize(
    "n_features, image_shape", [(25, (5, 5, 1)), (75, (5, 5, 3)), (10, (1, 10, 1))]
)
def test_flat_rows_and_tiny_images(n_features, image_shape):
    rng = np.random.RandomState(0)
    X = rng.rand(60, n_features).astype(np.float32)
    y = np.arange(60) % 2
    told = image_shape if image_shape[0] > 1 else None  # strips need no image_shape
    clf = ResNetClassifier(**TINY, image_shape=told).fit(X, y)
    assert clf.image_shape_ == image_shape and clf.model_.input_shape[1:] == image_shape
    proba = clf.predict_proba(X)
    assert proba.shape == (60, 2) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)


def test_learns_tabular_rows_with_the_defaults():
    # augment=True and tta=True (the defaults) leave one-pixel-high strips alone.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    params = {**TINY, "widths": (16,), "stem_filters": 16, "epochs": 10, "learning_rate": 0.1}
    clf = ResNetClassifier(**params).fit(X, y)
    assert clf.image_shape_ == (1, 6, 1)
    assert "RandomShiftFlip" not in _layer_names(clf.model_)
    plain = clf.model_.predict(X[:, None, :, None], verbose=0)
    # Other batches (Keras' 32 rows, in X's order): float32 round-off apart.
    np.testing.assert_allclose(clf.predict_proba(X), plain, rtol=0, atol=1e-6)
    assert clf.score(X, y) > 0.85


def test_tta_averages_the_image_and_its_mirror_image(fitted, data):
    X, _ = data
    model = fitted.model_
    plain = model.predict(X, verbose=0, batch_size=16)
    mirrored = model.predict(np.ascontiguousarray(X[:, :, ::-1]), verbose=0, batch_size=16)
    with_tta = fitted.predict_proba(X)
    np.testing.assert_allclose(with_tta, (plain + mirrored) / 2, rtol=1e-5, atol=1e-7)
    assert not np.allclose(plain, mirrored)  # so TTA is not a no-op here
    # Flat rows are mirrored as images, not as rows.
    flat_clf = clone(fitted).set_params(image_shape=X.shape[1:])
    flat_clf.fit(X.reshape(len(X), -1), data[1])
    flat = flat_clf.predict_proba(X.reshape(len(X), -1))
    flat_model = flat_clf.model_
    expected = (flat_model.predict(X, verbose=0) + flat_model.predict(X[:, :, ::-1], verbose=0)) / 2
    np.testing.assert_allclose(flat, expected, rtol=1e-5, atol=1e-7)
    # tta=False: the network's own output.
    no_tta = pickle.loads(pickle.dumps(fitted)).set_params(tta=False)
    np.testing.assert_allclose(no_tta.predict_proba(X), plain, rtol=1e-5, atol=1e-7)


def test_temperature_sharpens_probabilities_but_never_predictions(fitted, data):
    X, _ = data
    plain = fitted.predict_proba(X)
    sharp = clone(fitted).set_params(temperature=0.5)
    sharp.__dict__.update({k: v for k, v in vars(fitted).items() if k.endswith("_")})
    proba = sharp.predict_proba(X)
    expected = plain**2 / (plain**2).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(proba, expected, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert (proba.max(axis=1) >= plain.max(axis=1) - 1e-6).all()
    assert (proba.max(axis=1) > plain.max(axis=1) + 1e-3).any()
    # Exact: the same network outputs, and the temperature keeps each row's order.
    np.testing.assert_array_equal(sharp.predict(X), fitted.predict(X))
    assert ResNetClassifier().temperature == 0.5


def test_tta_on_read_only_input_in_other_batch_sizes_gives_the_same_result(fitted, data):
    X, _ = data
    whole = fitted.predict_proba(X)
    read_only = X.copy()
    read_only.setflags(write=False)  # as joblib's memory maps hand it over
    small_batches = pickle.loads(pickle.dumps(fitted)).set_params(batch_size=7)
    np.testing.assert_allclose(small_batches.predict_proba(read_only), whole, rtol=1e-5, atol=1e-7)


def test_same_random_state_same_predictions(data, fitted):
    X, y = data
    again = ResNetClassifier(**TINY).fit(X, y).predict_proba(X)
    other = ResNetClassifier(**{**TINY, "random_state": 1}).fit(X, y).predict_proba(X)
    # Exact: the same seed repeats the same computation in this process.
    np.testing.assert_array_equal(again, fitted.predict_proba(X))
    assert not np.allclose(again, other)


@pytest.mark.usefixtures("needs_bfloat16")
def test_bfloat16_and_auto_precision(data, monkeypatch):
    X, y = data
    clf = ResNetClassifier(**{**TINY, "precision": "bfloat16"}).fit(X, y)
    policies = {layer.dtype_policy.name for layer in clf.model_.layers[1:-1]}
    assert policies == {"mixed_bfloat16"}
    proba = clf.predict_proba(X)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-3)
    monkeypatch.setattr(_precision, "bfloat16_speedup", lambda: 0.0)
    auto = ResNetClassifier(**{**TINY, "precision": "auto", "epochs": 1}).fit(X, y)
    assert {layer.dtype_policy.name for layer in auto.model_.layers} == {"float32"}


def test_float16_and_uint8_inputs(data):
    X, y = data
    pixels = (X * 255).round().astype(np.uint8)
    half = PixelScaler(dtype="float16").fit_transform(pixels)
    clf = ResNetClassifier(**TINY).fit(half, y)
    from_half = clf.predict_proba(half)
    np.testing.assert_allclose(from_half, clf.predict_proba(half.astype(np.float32)), atol=1e-6)
    assert ResNetClassifier(**TINY).fit(pixels, y).predict(pixels).shape == (120,)


def test_pickle_joblib_and_clone(fitted, data, tmp_path):
    X, _ = data
    expected = fitted.predict_proba(X)
    # Exact: same process, same weights, same rows in the same batches: identical bits on any CPU.
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X), expected)
    joblib.dump(fitted, tmp_path / "resnet.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "resnet.joblib").predict_proba(X), expected
    )
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "model_")
    assert repr(copy) == repr(fitted)


def test_grid_search(data):
    X, y = data
    pipe = make_pipeline(PixelScaler(), ResNetClassifier(**{**TINY, "epochs": 1}))
    grid = {
        "resnetclassifier__widths": [(4,), (4, 8)],
        "resnetclassifier__epochs": [1, 2],
    }
    pixels = (X * 255).round().astype(np.uint8)
    split = ShuffleSplit(n_splits=1, test_size=0.25, random_state=0)  # 4 fits + the refit
    search = GridSearchCV(pipe, grid, cv=split, n_jobs=1, error_score="raise").fit(pixels, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_[-1]
    assert (best.widths, best.epochs) == (
        search.best_params_["resnetclassifier__widths"],
        search.best_params_["resnetclassifier__epochs"],
    )
    assert len(best.history_["loss"]) == best.epochs
    assert search.predict(pixels[:5]).shape == (5,)


# -- real data -------------------------------------------------------------------------
def test_learns_cifar10(cifar10_real):
    (X_train, y_train), (X_test, y_test) = cifar10_real
    clf = make_pipeline(
        PixelScaler(),
        ResNetClassifier(  # a small set: smaller batches, the rate scaled down alike
            widths=(16, 32),
            epochs=4,
            batch_size=128,
            learning_rate=0.2,
            precision="float32",
            random_state=0,
        ),
    ).fit(X_train[:2000], y_train[:2000])
    history = clf[-1].history_
    assert history["loss"][-1] < history["loss"][0]
    end = SCHEDULES["linear"]["end_fraction"] * 0.2  # the schedule ran its course
    assert float(clf[-1].model_.optimizer.learning_rate) == pytest.approx(end, rel=1e-5)
    accuracy = clf.score(X_test[:1000], y_test[:1000])  # held-out images; chance is 0.1
    assert accuracy > 0.25, accuracy


@pytest.mark.slow
def test_budget_configuration_on_full_cifar10(cifar10_real):
    """The documented budget configuration: widths=(32, 64, 128), 5 epochs -> about 85%."""
    (X_train, y_train), (X_test, y_test) = cifar10_real
    clf = make_pipeline(
        PixelScaler(dtype="float16"),
        ResNetClassifier(widths=(32, 64, 128), epochs=5, random_state=0),
    ).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.8
