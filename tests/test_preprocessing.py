"""PixelScaler: scaling, standardisation, shapes, errors."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from skcifar import PixelScaler


@pytest.fixture
def images():
    return np.random.RandomState(0).randint(0, 256, size=(20, 8, 8, 3), dtype=np.uint8)


def test_scales_uint8_to_float32_unit_range(images):
    out = PixelScaler(dtype="float32").fit_transform(images)
    assert out.dtype == np.float32
    assert out.shape == images.shape
    np.testing.assert_allclose(out, images / 255.0, rtol=1e-6)
    assert out.min() >= 0 and out.max() <= 1


def test_float_pixels_give_the_same_result(images):
    as_uint8 = PixelScaler().fit_transform(images)
    as_float = PixelScaler().fit_transform(images.astype(np.float64))
    # Exact: both become the same float32 values first; one IEEE multiply each after.
    np.testing.assert_array_equal(as_uint8, as_float)


def test_flat_rows_keep_their_shape_and_values(images):
    flat = images.reshape(len(images), -1)
    out = PixelScaler(dtype="float32").fit_transform(flat)
    assert out.shape == flat.shape and out.dtype == np.float32
    expected = PixelScaler(dtype="float32").fit_transform(images)
    # Exact: elementwise arithmetic, whatever the shape.
    np.testing.assert_array_equal(out.reshape(images.shape), expected)


def test_standardize_learns_per_channel_statistics(images):
    images = images.astype(np.float32)
    images[..., 2] = 255  # a constant channel must not divide by zero
    scaler = PixelScaler(standardize=True, dtype="float32").fit(images)
    assert scaler.mean_.shape == (3,) and scaler.scale_.shape == (3,)
    np.testing.assert_allclose(
        scaler.mean_[:2], (images[..., :2] / 255).mean(axis=(0, 1, 2)), rtol=1e-5
    )
    assert scaler.scale_[2] == 1.0
    out = scaler.transform(images).reshape(-1, 3)
    np.testing.assert_allclose(out[:, :2].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out[:, :2].std(axis=0), 1, atol=1e-4)
    np.testing.assert_allclose(out[:, 2], 0, atol=1e-6)


def test_standardize_flat_rows_matches_images(images):
    flat = images.reshape(len(images), -1)
    a = PixelScaler(standardize=True, image_shape=images.shape[1:]).fit(flat)
    b = PixelScaler(standardize=True).fit(images)
    np.testing.assert_allclose(a.mean_, b.mean_)
    np.testing.assert_allclose(a.transform(flat).reshape(images.shape), b.transform(images))


@pytest.mark.parametrize("standardize", [False, True])
def test_inverse_transform_round_trips(images, standardize):
    scaler = PixelScaler(standardize=standardize, dtype="float32").fit(images)
    back = scaler.inverse_transform(scaler.transform(images))
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, images, atol=1e-3)


def test_feature_names_for_flat_input_only(images):
    flat = PixelScaler().fit(images.reshape(len(images), -1)[:, :12])
    assert list(flat.get_feature_names_out()) == [f"x{i}" for i in range(12)]
    with pytest.raises(AttributeError, match="no attribute 'get_feature_names_out'") as raised:
        PixelScaler().fit(images).get_feature_names_out()
    assert "flat (n_samples, n_features) input only" in str(raised.value.__cause__)
    assert not hasattr(PixelScaler().fit(images), "get_feature_names_out")


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.full((2, 4, 4, 3), 256.0), "Values above 255"),
        (np.full((2, 4, 4, 3), -1.0), "Negative values"),
        (np.full((2, 4, 4, 3), np.nan), "NaN"),
        (np.full((2, 4, 4, 3), np.inf), "infinity"),
        (np.zeros((2, 4, 4)), "3-D"),
        (np.zeros(12), "1-D"),
        (np.array([["a", "b"]]), "numeric"),
        (np.zeros((2, 4), dtype=complex), "Complex"),
        (np.zeros((0, 12)), "0 sample"),
    ],
)
def test_bad_input_raises_clear_value_error(bad, match):
    with pytest.raises(ValueError, match=match):
        PixelScaler().fit(bad)


def test_transform_checks_fitted_and_shape(images):
    with pytest.raises(NotFittedError):
        PixelScaler().transform(images)
    scaler = PixelScaler().fit(images)
    with pytest.raises(ValueError, match="per-sample shape"):
        scaler.transform(images[:, :4])
    with pytest.raises(ValueError, match="features"):
        PixelScaler().fit(images.reshape(20, -1)).transform(images.reshape(20, -1)[:, :10])


def test_does_not_make_float64_copies(images):
    big = np.zeros((5000, 32, 32, 3), dtype=np.uint8)
    out = PixelScaler().fit_transform(big)  # float16 by default: 2 bytes a value
    assert out.dtype == np.float16 and out.nbytes == big.size * 2
    assert PixelScaler(dtype="float32").fit_transform(big).nbytes == big.size * 4


def test_float16_output(images):
    scaler = PixelScaler(dtype="float16")
    out = scaler.fit_transform(images)
    assert out.dtype == np.float16 and out.shape == images.shape
    # Exact: one correctly rounded multiply, then the nearest float16 (every CPU alike).
    expected = (images / 255.0).astype(np.float16)
    np.testing.assert_array_equal(out, expected)
    every_value = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    np.testing.assert_array_equal(  # every pixel value maps to the nearest float16
        PixelScaler(dtype="float16").fit_transform(every_value),
        (every_value / 255.0).astype(np.float16),
    )
    flat = scaler.fit_transform(images.reshape(len(images), -1))
    assert flat.dtype == np.float16
    # Exact: the same elementwise arithmetic per value, whatever the array's shape.
    np.testing.assert_array_equal(flat.reshape(images.shape), out)
    back = scaler.fit(images).inverse_transform(out)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, images, atol=0.07)  # half a float16 step at 255
    assert PixelScaler(dtype="float16").__sklearn_tags__().transformer_tags.preserves_dtype == [
        "float16"
    ]


def test_float16_standardized(images):
    a = PixelScaler(standardize=True, dtype="float16").fit(images)
    b = PixelScaler(standardize=True).fit(images)
    # Exact: the statistics are computed the same way whatever the output dtype.
    np.testing.assert_array_equal(a.mean_, b.mean_)
    assert a.transform(images).dtype == np.float16
    np.testing.assert_allclose(a.transform(images), b.transform(images), atol=2e-3)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("n", [1, 3, 20, 4097])
def test_output_is_64_byte_aligned_and_contiguous(dtype, n):
    """So the classifiers can hand it to TensorFlow without a copy (utils.input_pipeline)."""
    X = np.random.RandomState(n).randint(0, 256, size=(n, 4, 4, 3), dtype=np.uint8)
    for out in (
        PixelScaler(dtype=dtype).fit_transform(X),
        PixelScaler(dtype=dtype).fit_transform(X.reshape(n, -1)),
        PixelScaler(standardize=True, dtype=dtype).fit_transform(X),
    ):
        assert out.ctypes.data % 64 == 0
        assert out.flags.c_contiguous and out.flags.writeable and out.flags.owndata is False
        assert np.isfinite(out).all()
    chunked = PixelScaler(dtype=dtype).fit_transform(X)  # 4097 rows: several chunks
    np.testing.assert_allclose(chunked, (X / 255.0).astype(dtype), rtol=1e-6)
