"""Keras builders: the notebook's exact networks and their options."""

import pytest

from skcifar.architectures import build_ann, build_cnn, make_optimizer
from skcifar.utils.backend import import_keras

keras = import_keras()


def _layer_summary(model):
    out = []
    for layer in model.layers:
        cfg = layer.get_config()
        out.append(
            (type(layer).__name__, cfg.get("units") or cfg.get("filters"), cfg.get("activation"))
        )
    return out


def test_ann_defaults_are_the_notebook_network():
    model = build_ann()
    assert model.input_shape == (None, 32, 32, 3)
    assert _layer_summary(model) == [
        ("Flatten", None, None),
        ("Dense", 3000, "relu"),
        ("Dense", 1000, "relu"),
        ("Dense", 10, "softmax"),
    ]
    assert model.count_params() == 3072 * 3000 + 3000 + 3000 * 1000 + 1000 + 1000 * 10 + 10
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    assert model.loss == "sparse_categorical_crossentropy"


def test_cnn_defaults_are_the_notebook_network():
    model = build_cnn()
    assert _layer_summary(model) == [
        ("Conv2D", 32, "relu"),
        ("MaxPooling2D", None, None),
        ("Conv2D", 64, "relu"),
        ("MaxPooling2D", None, None),
        ("Flatten", None, None),
        ("Dense", 64, "relu"),
        ("Dense", 10, "softmax"),
    ]
    assert [layer.get_config()["kernel_size"] for layer in model.layers[::2][:2]] == [(3, 3)] * 2
    assert model.output_shape == (None, 10)
    assert model.count_params() == 167_562
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)


def test_cnn_options_add_their_layers():
    model = build_cnn(
        filters=(8, 16, 32),
        dropout=0.25,
        batch_norm=True,
        augment=True,
        dense_units=(32, 16),
        n_classes=4,
    )
    names = [type(layer).__name__ for layer in model.layers]
    assert names[:2] == ["RandomFlip", "RandomTranslation"]
    assert names.count("Conv2D") == 3 and names.count("BatchNormalization") == 3
    assert names.count("Dropout") == 5
    assert model.output_shape == (None, 4)


@pytest.mark.parametrize("shape", [(2, 2, 1), (1, 10, 1), (5, 5, 3), (64, 48, 3)])
def test_cnn_adapts_to_any_input_size(shape):
    model = build_cnn(shape, 3)
    assert model.output_shape == (None, 3)


def test_optimizer_learning_rate_and_copy():
    shared = keras.optimizers.SGD(learning_rate=0.5, momentum=0.9)
    opt = make_optimizer(shared, learning_rate=0.1)
    assert opt is not shared and float(opt.learning_rate) == pytest.approx(0.1)
    assert opt.momentum == 0.9
    assert isinstance(make_optimizer("SGD"), keras.optimizers.SGD)


def test_uncompiled_model():
    assert not build_cnn(compile=False).compiled


def test_muon_keeps_the_weight_decay_rules_of_scaled_sgd():
    import numpy as np

    from skcifar.architectures._training import MuonSGD

    # A kernel of norm sqrt(filters), which Muon's rescaling keeps as it is.
    kernel = keras.Variable(np.full((1, 1, 1, 4), 1.0, "float32"), name="kernel")
    dense = keras.Variable(np.ones((2, 2), "float32"), name="dense")
    bias = keras.Variable(np.ones(2, "float32"), name="bias")
    optimizer = MuonSGD(learning_rate=0.1, weight_decay=0.5)
    optimizer.apply_gradients([(keras.ops.zeros(v.shape), v) for v in (kernel, dense, bias)])
    # Muon's step (which rescales the kernel: a decay would change it by rounding only).
    np.testing.assert_allclose(kernel.numpy(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(dense.numpy(), 1.0 - 0.1 * 0.5, rtol=1e-6)  # SGD's decay
    np.testing.assert_allclose(bias.numpy(), 1.0, rtol=1e-6)  # decay_exempt
