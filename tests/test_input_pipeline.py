"""skcifar.utils.input_pipeline: aligned arrays, batches gathered without copying X.

The ``tensorflow``-marked tests check the zero-copy hand-over to TensorFlow;
the batch tests run on every backend (tf.data on TensorFlow, ArrayBatches on
JAX and PyTorch).
"""

import numpy as np
import pytest

from skcifar import PixelScaler, ResNetClassifier
from skcifar.utils import input_pipeline
from skcifar.utils.backend import backend_name, import_keras
from skcifar.utils.input_pipeline import ArrayBatches, aligned_empty, as_tensor, batches

# Exact comparisons in this file compare moved or copied values (no arithmetic),
# the same on every CPU.

import_keras()  # quiet TensorFlow start-up
ON_TENSORFLOW = backend_name() == "tensorflow"
if ON_TENSORFLOW:
    import tensorflow as tf


def _take(data, n):
    """The first ``n`` batches of ``data`` (endless: tf.data, or a shuffled ArrayBatches)."""
    taken = [data[i] for i in range(n)] if isinstance(data, ArrayBatches) else data.take(n)
    return [
        tuple(np.asarray(t) for t in batch) if isinstance(batch, tuple) else np.asarray(batch)
        for batch in taken
    ]


class _DLPack:
    """A CPU tensor as a DLPack producer: EagerTensor has ``__dlpack__`` only from TF 2.20."""

    def __init__(self, tensor):
        self.tensor = tensor

    def __dlpack__(self, stream=None, **kwargs):
        return tf.experimental.dlpack.to_dlpack(self.tensor)

    def __dlpack_device__(self):
        return (1, 0)  # kDLCPU, device 0


def _address(tensor):
    """Address of a CPU tensor's buffer (through DLPack: ``.numpy()`` may copy)."""
    return np.from_dlpack(_DLPack(tensor)).ctypes.data


def _aligned(shape, dtype=np.float32, seed=0):
    out = aligned_empty(shape, dtype)
    out[...] = np.random.RandomState(seed).randint(0, 255, size=shape)
    return out


@pytest.mark.parametrize(
    "shape, dtype",
    [((7, 5, 5, 3), np.float32), ((3,), np.float16), ((2, 3), np.uint8), ((0, 4), np.float32)],
)
def test_aligned_empty(shape, dtype):
    out = aligned_empty(shape, dtype)
    assert out.shape == shape and out.dtype == dtype
    assert out.flags.c_contiguous and out.flags.writeable
    assert out.size == 0 or out.ctypes.data % 64 == 0


def test_aligned_empty_is_aligned_for_many_sizes():
    # NumPy's own allocations are typically only 16-byte aligned.
    assert all(aligned_empty((n, 3), np.float32).ctypes.data % 64 == 0 for n in range(1, 40))


@pytest.mark.tensorflow
def test_aligned_array_is_shared_not_copied():
    X = _aligned((6, 4, 4, 3))
    tensor = as_tensor(X)
    assert tensor.dtype == tf.float32 and tuple(tensor.shape) == X.shape
    assert _address(tensor) == X.ctypes.data
    X[2, 1, 1, 0] = -7.0  # a write to the array shows in the tensor
    assert tensor.numpy()[2, 1, 1, 0] == -7.0


@pytest.mark.tensorflow
@pytest.mark.parametrize("dtype", [np.float16, np.uint8])
def test_other_dtypes_are_shared(dtype):
    X = _aligned((5, 3), dtype)
    tensor = as_tensor(X)
    assert tensor.dtype.as_numpy_dtype == dtype
    assert _address(tensor) == X.ctypes.data


def _read_only(X):
    out = aligned_empty(X.shape, X.dtype)  # aligned and contiguous, but not writeable
    out[...] = X
    out.setflags(write=False)
    return out


def _misaligned(X):
    buffer = aligned_empty((X.size + 1,), X.dtype)
    out = buffer[1:].reshape(X.shape)
    out[...] = X
    assert out.ctypes.data % 64 != 0
    return out


def _byteswapped(X):
    return X.astype(X.dtype.newbyteorder(">" if np.little_endian else "<"))


@pytest.mark.tensorflow
@pytest.mark.parametrize(
    "make",
    [
        _read_only,
        _misaligned,
        lambda X: np.asfortranarray(X),
        lambda X: np.repeat(X, 2, axis=2)[:, :, ::2],  # a strided view
        _byteswapped,
    ],
    ids=["read-only", "misaligned", "fortran-order", "strided", "byte-swapped"],
)
def test_other_arrays_are_copied_once_with_equal_values(make):
    source = _aligned((4, 3, 3, 2))
    X = make(source)
    tensor = as_tensor(X)
    np.testing.assert_array_equal(tensor.numpy(), source)
    assert _address(tensor) % 64 == 0
    if X.flags.writeable:
        X[...] = -1  # the tensor owns its copy
        np.testing.assert_array_equal(tensor.numpy(), source)
    assert _address(tensor) != X.ctypes.data


@pytest.mark.tensorflow
def test_empty_array():
    tensor = as_tensor(np.zeros((0, 8, 8, 3), np.float32))
    assert tuple(tensor.shape) == (0, 8, 8, 3) and tensor.dtype == tf.float32


@pytest.mark.tensorflow
def test_tensor_keeps_the_array_alive():
    X = _aligned((50, 8))
    expected = X.copy()
    tensor = as_tensor(X)
    del X  # the DLPack capsule holds a reference: memory stays valid
    junk = [np.full((50, 8), 99.0, np.float32) for _ in range(20)]
    np.testing.assert_array_equal(tensor.numpy(), expected)
    del junk


def test_batches_cover_every_row_once_per_epoch_in_a_fresh_order():
    X = _aligned((50, 2, 2, 3), np.float16)
    y, w = np.arange(50), np.linspace(0, 1, 50)
    data = batches(X, y, w, batch_size=16, shuffle=True, seed=3)

    def epochs(dataset, n):
        parts = _take(dataset, 4 * n)
        assert [len(p[0]) for p in parts] == [16, 16, 16, 2] * n
        columns = [np.concatenate(column) for column in zip(*parts, strict=True)]
        return [[column[50 * k : 50 * (k + 1)] for column in columns] for k in range(n)]

    (x1, y1, w1), (x2, y2, _) = epochs(data, 2)
    assert x1.dtype == np.float32  # float16 rows are widened batch by batch, exactly
    assert sorted(y1) == sorted(y2) == list(range(50)) and not np.array_equal(y1, y2)
    # Exact: batches are gathers of X's rows, no arithmetic.
    np.testing.assert_array_equal(x1, X[y1])
    np.testing.assert_array_equal(w1, w[y1])
    again = batches(X, y, w, batch_size=16, shuffle=True, seed=3)
    np.testing.assert_array_equal(epochs(again, 1)[0][1], y1)  # the same seed, the same order
    other = batches(X, y, w, batch_size=16, shuffle=True, seed=4)
    assert not np.array_equal(epochs(other, 1)[0][1], y1)


def test_an_epochs_order_depends_on_the_seed_and_its_number_only():
    """Epoch 2 of a dataset started at epoch 2 is epoch 2 of one started at 0 (resuming)."""
    X = _aligned((30, 3), np.float32)

    def rows(dataset, n_batches):
        return np.concatenate([b[:, 0] for b in _take(dataset, n_batches)])

    from_zero = rows(batches(X, batch_size=8, shuffle=True, seed=5), 12)  # epochs 0, 1, 2
    from_two = rows(batches(X, batch_size=8, shuffle=True, seed=5, first_epoch=2), 4)
    np.testing.assert_array_equal(from_two, from_zero[60:])
    assert not np.array_equal(from_zero[:30], from_zero[30:60])


def test_batches_for_prediction_keep_the_order_of_the_chosen_rows():
    X = _aligned((20, 3), np.uint8)
    rows = np.array([19, 0, 5])
    data = batches(X, batch_size=2, indices=rows)
    got = np.concatenate([np.asarray(b) for b in data])
    np.testing.assert_array_equal(got, X[rows])


@pytest.mark.tensorflow
def test_fit_hands_scaled_images_to_tensorflow_without_a_copy(monkeypatch):
    """PixelScaler's output is shared with TensorFlow, training part of a split too."""
    seen = []

    def spy(X):
        tensor = as_tensor(X)
        seen.append((X.ctypes.data, _address(tensor)))
        return tensor

    monkeypatch.setattr(input_pipeline, "as_tensor", spy)
    images = np.random.RandomState(0).randint(0, 256, (40, 8, 8, 3)).astype(np.uint8)
    y = np.arange(40) % 2
    clf = ResNetClassifier(
        widths=(4,), stem_filters=4, epochs=1, batch_size=16, precision="float32", random_state=0
    )
    for dtype in ("float32", "float16"):
        X = PixelScaler(dtype=dtype).fit_transform(images)
        clf.fit(X, y)
        assert seen[-1] == (X.ctypes.data, X.ctypes.data)
    # a validation split gathers both parts from X itself: no rows copied out
    clf.set_params(validation_fraction=0.25).fit(X, y)
    assert seen[-2:] == [(X.ctypes.data, X.ctypes.data)] * 2
    assert len(seen) == 4
    clf.predict_proba(X)  # and so does prediction, both passes of the flip TTA
    assert seen[-1] == (X.ctypes.data, X.ctypes.data) and len(seen) == 5


@pytest.mark.tensorflow
def test_unshareable_input_is_copied_once_for_every_dataset(monkeypatch):
    """A read-only array is copied once; training and validation batches read that copy."""
    seen = []

    def spy(X):
        tensor = as_tensor(X)
        seen.append(_address(tensor))
        return tensor

    monkeypatch.setattr(input_pipeline, "as_tensor", spy)
    X = np.random.RandomState(0).rand(40, 8, 8, 3).astype(np.float32)
    X.flags.writeable = False  # as joblib's memory maps are
    y = np.arange(40) % 2
    ResNetClassifier(
        widths=(4,), stem_filters=4, epochs=1, batch_size=16, precision="float32",
        validation_fraction=0.25, random_state=0,
    ).fit(X, y)  # fmt: skip
    assert len(seen) == 2 and seen[0] == seen[1] != X.ctypes.data


def test_array_batches_mirror_each_row_on_alternate_epochs_and_widen_float16():
    """The NumPy feed of JAX and PyTorch: flips by the epoch's parity, float16 as float32."""
    X = _aligned((6, 2, 3, 1), np.float16)

    class Flip:
        rows = np.array([True, False, True, False, False, True])

    data = ArrayBatches((X, np.arange(6)), np.arange(6), 4, False, None, Flip(), 0)
    (x0, y0), (x1, y1) = list(data)
    assert x0.dtype == np.float32 and len(x0) == 4 and len(x1) == 2  # the last batch is smaller
    images = np.concatenate([x0, x1])
    np.testing.assert_array_equal(np.concatenate([y0, y1]), np.arange(6))  # in order
    mirrored = X[:, :, ::-1].astype(np.float32)
    # Exact: gathers, mirror images and float16 -> float32 widening are exact.
    np.testing.assert_array_equal(images[Flip.rows], mirrored[Flip.rows])  # epoch 0: flagged rows
    np.testing.assert_array_equal(images[~Flip.rows], X[~Flip.rows].astype(np.float32))
    odd = ArrayBatches((X, np.arange(6)), np.arange(6), 4, False, None, Flip(), 1)
    images = np.concatenate([x for x, _ in odd])
    np.testing.assert_array_equal(images[~Flip.rows], mirrored[~Flip.rows])  # epoch 1: the others
    assert not np.shares_memory(x0, X)  # a batch is a gather: X itself is never handed out
