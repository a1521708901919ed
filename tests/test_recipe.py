"""The fast recipe's pieces: whitening, identity init, schedules, bias learning rate,
alternating flips, lookahead, shifted test-time augmentation."""

import os
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.base import clone

import skcifar
from skcifar import PixelScaler, ResNetClassifier
from skcifar.architectures import build_resnet, patch_whitening, schedule_steps
from skcifar.architectures._training import MuonSGD, ScaledSGD, WarmupDecay, orthogonalised
from skcifar.estimators._inputs import split_rows
from skcifar.estimators._recipe import AlternatingFlip, Lookahead, Recipe, WhiteningBiasFreeze
from skcifar.utils.backend import import_keras
from skcifar.utils.input_pipeline import batches

# Float results here depend on the CPU: make test-isa runs them again under other settings.
pytestmark = pytest.mark.cpu_numerics

keras = import_keras()

# The recipe as first ported (GELU, SGD, shifted test-time views; the defaults
# otherwise) on a tiny network, in small batches; the whitening bias trains for one epoch.
RECIPE = dict(
    activation="gelu",
    conv_optimizer="sgd",
    tta_shift=1,
    whiten_bias_epochs=1,
    batch_size=50,
    learning_rate=0.2,
    weight_decay=5e-3,
)
TINY = dict(widths=(8, 8), epochs=3, random_state=0, precision="float32")


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, size=(200, 12, 12, 3)).astype(np.uint8)
    images[:, :, :6] //= 2  # some structure: a darker left half
    return PixelScaler().fit_transform(images), np.arange(200) % 4


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return ResNetClassifier(**TINY, **RECIPE).fit(X, y)


def test_patch_whitening_whitens_the_patches():
    rng = np.random.RandomState(0)
    base = rng.rand(300, 9, 9, 1)
    images = np.concatenate([base, 0.5 * base + 0.1 * rng.rand(300, 9, 9, 1)], axis=3)
    kernel, bias = patch_whitening(images, eps=0.0)
    assert kernel.shape == (2, 2, 2, 16) and bias.shape == (16,)
    ops = keras.ops
    out = ops.convert_to_numpy(ops.conv(images.astype(np.float32), kernel, padding="valid")) + bias
    half = out[..., :8].reshape(-1, 8)
    np.testing.assert_allclose(half.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(np.cov(half, rowvar=False), np.eye(8), atol=2e-3)
    np.testing.assert_allclose(out[..., 8:], -out[..., :8], atol=1e-5)  # each with its negation


def test_whitening_layer_is_frozen_and_its_bias_freezes(data, tmp_path):
    X, y = data
    clf = ResNetClassifier(**{**TINY, "epochs": 1}, **RECIPE).fit(X, y)
    layer = _whitening_layer(clf)
    kernel, bias = patch_whitening(X)  # all 200 images: fewer than the 5,000 sampled
    # Exact: fit stores patch_whitening's float32 arrays and never updates the kernel.
    np.testing.assert_array_equal(layer.kernel.numpy(), kernel)  # never trained
    assert not np.allclose(layer.bias.numpy(), bias)  # trained in epoch 1
    trained = layer.bias.numpy()
    path = os.path.join(tmp_path, "whitened.skcifar")
    skcifar.save(clf, path)
    # Exact below: a frozen variable receives no update at all.
    clf.partial_fit(X, y)  # epoch 2: frozen (whiten_bias_epochs=1)
    np.testing.assert_array_equal(layer.bias.numpy(), trained)
    loaded = skcifar.load(path).partial_fit(X, y)  # the freeze follows a saved model too
    np.testing.assert_array_equal(_whitening_layer(loaded).bias.numpy(), trained)


def _whitening_layer(clf):
    return next(lay for lay in clf.model_.layers if type(lay).__name__ == "PatchWhitening")


def test_identity_init_starts_convolutions_as_the_identity():
    model = build_resnet((8, 8, 3), 2, widths=(4, 6), identity_init=True, precision="float32")
    kernels = [lay.kernel.numpy() for lay in model.layers if type(lay).__name__ == "Conv2D"]
    three_by_three = [k for k in kernels if k.shape[:2] == (3, 3)]
    assert len(three_by_three) == 4
    for kernel in three_by_three:
        n = min(kernel.shape[2:])
        identity = np.zeros((3, 3, kernel.shape[2], n))
        identity[1, 1, np.arange(n), np.arange(n)] = 1
        # Exact: the initialiser writes zeros and ones.
        np.testing.assert_array_equal(kernel[..., :n], identity)


@pytest.mark.parametrize("shape, start, end", [("cosine", 0.1, 0.0), ("linear", 0.2, 0.07)])
def test_warmup_decay_shapes(shape, start, end):
    schedule = WarmupDecay(2.0, 100, warmup_fraction=0.2, start_fraction=start,
                           end_fraction=end, shape=shape)  # fmt: skip
    rate = [float(schedule(step)) for step in (0, 10, 20, 60, 100, 200)]
    assert rate[0] == pytest.approx(2 * start) and rate[2] == pytest.approx(2.0)
    assert rate[1] == pytest.approx(2 * (start + 1) / 2)
    assert rate[4] == pytest.approx(2 * end, abs=1e-6) and rate[5] == pytest.approx(2 * end)
    middle = 2 * ((1 + end) / 2)  # half-way through the decay, for either shape
    assert rate[3] == pytest.approx(middle, rel=1e-5)
    schedule.set_total_steps(200)
    assert float(schedule(40)) == pytest.approx(2.0)


def test_batch_norm_shifts_learn_faster():
    def first_step(scale):
        keras.utils.set_random_seed(0)
        model = build_resnet((8, 8, 3), 2, widths=(4,), precision="float32", seed=0,
                             bias_lr_scale=scale, batch_norm_scale=False,
                             schedule_steps=None, learning_rate=0.1)  # fmt: skip
        before = [v.numpy() for v in model.trainable_variables]
        X = np.random.RandomState(0).rand(16, 8, 8, 3).astype(np.float32)
        model.train_on_batch(X, np.arange(16) % 2)
        return [
            (v.path.endswith("beta"), v.numpy() - b)
            for v, b in zip(model.trainable_variables, before, strict=True)
        ]

    plain, scaled = first_step(1.0), first_step(64.0)
    assert isinstance(build_resnet((8, 8, 3), 2, widths=(4,)).optimizer, ScaledSGD)
    assert sum(beta for beta, _ in plain) == 2  # the stage's two batch norms
    for (beta, a), (_, b) in zip(plain, scaled, strict=True):
        np.testing.assert_allclose(b, (64.0 if beta else 1.0) * a, rtol=1e-4, atol=1e-7)


def test_alternating_flip_mirrors_each_image_on_alternate_epochs():
    X = np.arange(6 * 2 * 3 * 1, dtype=np.float32).reshape(6, 2, 3, 1)
    flip = AlternatingFlip(len(X), seed=0)
    epochs = []
    for epoch in range(2):
        data = batches(X, batch_size=6, flip=flip, first_epoch=epoch)
        epochs.append(np.concatenate([np.asarray(batch) for batch in data]))
    # Exact: flipping moves values, it computes nothing.
    mirrored = X[:, :, ::-1]
    for row in range(len(X)):
        seen = [np.array_equal(e[row], mirrored[row]) for e in epochs]
        assert seen[0] != seen[1] and seen[0] == flip.rows[row]
        assert all(np.array_equal(e[row], X[row]) != s for e, s in zip(epochs, seen, strict=True))


def test_lookahead_without_averaging_changes_nothing(data, monkeypatch):
    X, y = data
    # 5 steps an epoch: the last averaging step ends each epoch.
    params = {**TINY, "batch_size": 40, "epochs": 5, "learning_rate": 0.2}
    plain = ResNetClassifier(**params, lookahead=False).fit(X, y).predict_proba(X)
    monkeypatch.setattr(Lookahead, "__init__", _lookahead_with(decay=0.0, start_epoch=1))
    same = ResNetClassifier(**params).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(same, plain, rtol=1e-5, atol=1e-6)
    monkeypatch.setattr(Lookahead, "__init__", _lookahead_with(decay=0.95, start_epoch=1))
    averaged = ResNetClassifier(**params).fit(X, y).predict_proba(X)
    assert not np.allclose(averaged, plain, atol=1e-4)


def test_lookahead_averages_by_the_schedule_as_planned(data):
    X, y = data
    clf = ResNetClassifier(**{**TINY, "epochs": 2}).fit(X, y)
    recipe = Recipe(alternating_flip=False, whiten_bias_epochs=None, lookahead=True)
    fit = SimpleNamespace(estimator=clf, X=X, seed=0, continuing=False)  # what the plug-in reads
    lookahead = Lookahead(start_epoch=0, every=1, decay=1.0, power=1.0)  # rho = step / total
    lookahead.set_model(clf.model_)
    clf.model_.optimizer.iterations.assign(0)  # the steps are counted from the optimizer's
    lookahead.on_train_begin()
    lookahead.on_train_batch_end(0)  # step 1: the average starts from the weights
    variable, start = lookahead.variables[0], lookahead.variables[0].numpy()
    for total, step in [(10, 2), (123, 3)]:  # a time budget plans 123 steps after step 2
        recipe.plan(fit, total)
        assert schedule_steps(clf.model_) == total
        average = variable.numpy()
        variable.assign(average + 1.0)
        lookahead.on_train_batch_end(step - 1)
        rho = step / total
        np.testing.assert_allclose(variable.numpy(), average + (1 - rho), rtol=1e-6)
    assert not np.allclose(variable.numpy(), start)


def test_validation_sees_the_lookahead_average(data):
    X, y = data
    # 150 training rows in batches of 25: 6 steps an epoch. Lookahead starts its average
    # at step 20 and the fit ends at step 28, so the epoch ends off an averaging step.
    params = dict(TINY, batch_size=25, epochs=28 / 6, learning_rate=0.2, validation_fraction=0.25)
    clf = ResNetClassifier(**params).fit(X, y)
    rows, validation_rows = split_rows(np.arange(200) % 4, None, 0.25, 0)
    assert len(rows) == 150 and clf.n_iter_ == pytest.approx(28 / 6)
    kept = clf.model_.evaluate(
        X[validation_rows], y[validation_rows], batch_size=256, verbose=0, return_dict=True
    )
    # The last validation pass measured the weights the fit kept, the average (the step-28
    # weights it trained to measure 7e-4 lower). One batch of 50 rows either way.
    assert clf.history_["val_loss"][-1] == pytest.approx(kept["loss"], rel=1e-5)


def test_lookahead_counts_the_steps_of_the_whole_run(data):
    X, y = data
    lookaheads = []

    class Spied(Recipe):
        def callbacks(self, fit):
            callbacks = super().callbacks(fit)
            lookaheads.extend(c for c in callbacks if isinstance(c, Lookahead))
            return callbacks

    class WithSpy(ResNetClassifier):
        def _extra_plugins(self, fit):
            return [Spied(alternating_flip=False, whiten_bias_epochs=None, lookahead=True)]

    # 4 steps an epoch: 16 steps fill the schedule; the warm-started fit goes past its end.
    clf = WithSpy(**{**TINY, "batch_size": 50, "epochs": 4, "warm_start": True}).fit(X, y)
    first = clf.predict_proba(X)
    clf.fit(X, y)
    assert schedule_steps(clf.model_) == 16
    assert [lookahead.step for lookahead in lookaheads] == [16, 32]
    # Past the schedule, it averages as at the schedule's end: the weights stay finite.
    assert np.isfinite(clf.predict_proba(X)).all()
    assert not np.allclose(clf.predict_proba(X), first)


def test_the_recipe_plugin_gives_the_pieces_asked_for(fitted, data):
    X, _ = data
    fit = SimpleNamespace(estimator=fitted, X=X, seed=3)
    full = Recipe(alternating_flip=True, whiten_bias_epochs=2, lookahead=True)
    flip = full.batches(fit)["flip"]
    assert isinstance(flip, AlternatingFlip) and len(flip.rows) == len(X)
    # Exact: both draw the same seeded booleans.
    np.testing.assert_array_equal(flip.rows, AlternatingFlip(len(X), seed=3).rows)
    freeze, lookahead = full.callbacks(fit)
    assert isinstance(freeze, WhiteningBiasFreeze) and freeze.epochs == 2
    assert isinstance(lookahead, Lookahead)
    bare = Recipe(alternating_flip=False, whiten_bias_epochs=None, lookahead=False)
    assert bare.batches(fit) == {} and bare.callbacks(fit) == []


_LOOKAHEAD_INIT = Lookahead.__init__


def _lookahead_with(**kwargs):
    def init(self, **ignored):
        _LOOKAHEAD_INIT(self, **kwargs)

    return init


def test_shifted_tta_averages_six_views(fitted, data):
    X, _ = data
    model = fitted.model_

    def mirror_mean(images):
        plain = model.predict(images, verbose=0)
        return (plain + model.predict(np.ascontiguousarray(images[:, :, ::-1]), verbose=0)) / 2

    padded = np.pad(X.astype(np.float32), [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    up_left, down_right = padded[:, :12, :12], padded[:, 2:, 2:]
    expected = mirror_mean(X.astype(np.float32)) / 2
    expected += (mirror_mean(up_left) + mirror_mean(down_right)) / 4
    expected = expected ** (1 / fitted.temperature)  # the temperature's formula
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(fitted.predict_proba(X), expected, rtol=1e-4, atol=1e-6)


def test_recipe_model_saves_pickles_and_repeats(fitted, data, tmp_path):
    X, y = data
    proba = fitted.predict_proba(X)
    path = os.path.join(tmp_path, "recipe.skcifar")
    skcifar.save(fitted, path)
    # Exact: the loaded copies hold the same weights, and a refit repeats the same
    # computation; all predict the same rows in the same batches in this process.
    np.testing.assert_array_equal(skcifar.load(path).predict_proba(X), proba)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).predict_proba(X), proba)
    np.testing.assert_array_equal(clone(fitted).fit(X, y).predict_proba(X), proba)


def test_orthogonalised_pushes_singular_values_towards_one():
    rng = np.random.RandomState(0)
    for shape in [(72, 16), (16, 72), (48, 24)]:  # (square ones have singular values near 0)
        matrix = rng.randn(*shape).astype(np.float32) * np.logspace(-1, 1, shape[1])[None, :]
        result = keras.ops.convert_to_numpy(orthogonalised(keras.ops.convert_to_tensor(matrix), 5))
        assert result.shape == shape
        singular = np.linalg.svd(result, compute_uv=False)
        assert singular.min() > 0.5 and singular.max() < 1.3, singular  # spread 100x before
        u, _, vt = np.linalg.svd(matrix, full_matrices=False)
        assert np.trace((u @ vt).T @ result) > 0.8 * min(shape)  # the same directions


def test_muon_moves_kernels_by_orthogonal_steps_and_sgd_the_rest():
    keras.utils.set_random_seed(0)
    model = build_resnet((8, 8, 3), 2, widths=(4,), precision="float32", seed=0,
                         conv_optimizer="muon", muon_scale=0.5, weight_decay=0.1,
                         schedule_steps=None, learning_rate=0.1, identity_init=False)  # fmt: skip
    assert isinstance(model.optimizer, MuonSGD)
    before = {v.path: v.numpy() for v in model.trainable_variables}
    X = np.random.RandomState(0).rand(16, 8, 8, 3).astype(np.float32)
    model.train_on_batch(X, np.arange(16) % 2)
    kernels = [v for v in model.trainable_variables if len(v.shape) == 4]
    assert len(kernels) == 3  # the stem and the stage's two convolutions
    for v in kernels:
        filters = v.shape[-1]
        rescaled = before[v.path] * np.sqrt(filters) / np.linalg.norm(before[v.path])
        step = (rescaled - v.numpy()).reshape(-1, filters) / (0.1 * 0.5)
        singular = np.linalg.svd(step, compute_uv=False)
        assert singular.min() > 0.3 and singular.max() < 1.3, singular  # one orthogonal step
    head = next(v for v in model.trainable_variables if len(v.shape) == 2)
    assert not np.allclose(head.numpy(), before[head.path])  # SGD (with weight decay)
    with pytest.raises(ValueError, match="conv_optimizer"):
        build_resnet((8, 8, 3), 2, widths=(4,), conv_optimizer="adam")


def test_muon_recipe_saves_and_repeats(data, tmp_path):
    X, y = data
    model = ResNetClassifier(**TINY, **{**RECIPE, "conv_optimizer": "muon"}, muon_momentum=0.7)
    proba = model.fit(X, y).predict_proba(X)
    assert model.model_.optimizer.muon_momentum == 0.7  # the parameter reaches the optimizer
    path = os.path.join(tmp_path, "muon.skcifar")
    skcifar.save(model, path)
    loaded = skcifar.load(path)
    # Exact, as in test_recipe_model_saves_pickles_and_repeats.
    np.testing.assert_array_equal(loaded.predict_proba(X), proba)
    assert isinstance(loaded.model_.optimizer, MuonSGD)
    assert loaded.model_.optimizer.muon_momentum == 0.7
    np.testing.assert_array_equal(clone(model).fit(X, y).predict_proba(X), proba)
