"""Tests for skcifar.datasets: formats, lookup order, download, errors and cache."""

import hashlib
import io
import os
import pickle
import socket
import subprocess
import sys
import tarfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from _data_factory import (
    BATCHES,
    CLASS_NAMES,
    make_tar,
    pickle_batch,
    random_images,
    save_image,
    write_image_folder,
    write_official,
)
from _processes import run_together

from skcifar.datasets import (
    CLASS_NAMES as LIB_CLASS_NAMES,
)
from skcifar.datasets import (
    DESCR,
    _cache,
    _download,
    _home,
    _readers,
    clear_data_home,
    fetch_cifar10,
    get_data_home,
    load_data,
)

_REAL = os.environ.get("SKCIFAR_DATA")
requires_real_data = pytest.mark.skipif(
    not (_REAL and os.path.isfile(_REAL)),
    reason="SKCIFAR_DATA does not point at the CIFAR-10 archive",
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every test gets its own HOME, Keras home and data home, and no SKCIFAR_DATA."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("SKCIFAR_DATA_HOME", str(tmp_path / "data_home"))
    monkeypatch.delenv("SKCIFAR_DATA", raising=False)
    monkeypatch.delenv("SKCIFAR_PROGRESS", raising=False)
    monkeypatch.setattr(_cache, "_warned_homes", set())


@pytest.fixture
def data_home(tmp_path):
    return str(tmp_path / "data_home")


def _load(path=None, **kwargs):
    (X_train, y_train), (X_test, y_test) = load_data(path, progress=False, **kwargs)
    return X_train, y_train, X_test, y_test


def assert_dataset_equal(actual, expected):
    for a, e in zip(actual, expected, strict=True):
        assert a.dtype == e.dtype and a.flags.c_contiguous
        np.testing.assert_array_equal(a, e)
    X_train, y_train, X_test, y_test = actual
    assert X_train.dtype == np.uint8 and X_train.shape[1:] == (32, 32, 3)
    assert y_train.dtype == np.int64 and y_train.shape == (len(X_train),)
    assert X_test.dtype == np.uint8 and y_test.shape == (len(X_test),)


def _cache_entries(data_home):
    cache = os.path.join(data_home, "cifar10")
    return sorted(os.listdir(cache)) if os.path.isdir(cache) else []


def _fail(*args, **kwargs):
    raise AssertionError("decoded again instead of using the cache")


# -- network guard ---------------------------------------------------------------


def test_network_access_is_blocked():
    # 192.0.2.1 is TEST-NET-1 (never routed); loopback stays allowed for local clusters.
    with pytest.raises(RuntimeError, match="network access in tests"):
        socket.create_connection(("192.0.2.1", 9), timeout=1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(RuntimeError, match="network access in tests"):
            sock.connect(("192.0.2.1", 9))
    with pytest.raises(RuntimeError, match="network access in tests"):
        socket.create_connection(("example.org", 80), timeout=1)


# -- formats ---------------------------------------------------------------------


@pytest.mark.parametrize("legacy_numpy", [True, False])
def test_official_tar_gz_round_trip(tmp_path, legacy_numpy):
    path, expected = write_official(tmp_path, legacy_numpy=legacy_numpy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. numpy.core DeprecationWarning
        assert_dataset_equal(_load(path), expected)


def test_official_extracted_dir_and_its_parent(tmp_path):
    path, expected = write_official(tmp_path, archive=False)
    assert_dataset_equal(_load(path), expected)
    assert_dataset_equal(_load(os.path.dirname(path)), expected)


@pytest.mark.parametrize("archive", [None, ".tar", ".tar.gz", ".tgz"])
def test_image_folder_png_round_trip(tmp_path, archive):
    path, expected = write_image_folder(tmp_path, archive=archive)
    assert_dataset_equal(_load(path), expected)


@pytest.mark.parametrize("archive", [None, ".tar.gz"])
def test_image_folder_jpeg_matches_pillow(tmp_path, archive):
    path, expected = write_image_folder(tmp_path, fmt="JPEG", archive=archive)
    assert_dataset_equal(_load(path), expected)


@pytest.mark.parametrize("archive", [None, ".tar.gz"])
def test_image_folder_with_leading_directory(tmp_path, archive):
    path, expected = write_image_folder(tmp_path, archive=archive, leading_dir="cifar10")
    assert_dataset_equal(_load(path), expected)


def test_image_folder_order_is_class_interleaved(tmp_path):
    path, _ = write_image_folder(tmp_path, n_train=4, n_test=3)
    X_train, y_train, X_test, y_test = _load(path)
    np.testing.assert_array_equal(y_train, np.tile(np.arange(10), 4))
    np.testing.assert_array_equal(np.bincount(y_train[:20]), np.full(10, 2))
    np.testing.assert_array_equal(y_test, np.tile(np.arange(10), 3))


def test_image_folder_sorted_by_name_skips_hidden_files(tmp_path):
    path, expected = write_image_folder(tmp_path, n_train=2, n_test=1)
    # Out-of-order names are sorted within a class; hidden files are ignored.
    late, early = random_images(2, seed=42)
    save_image(os.path.join(path, "train", "cat", "zzz.png"), late)
    save_image(os.path.join(path, "train", "cat", "0000a.png"), early)
    with open(os.path.join(path, "train", "cat", ".DS_Store"), "wb") as f:
        f.write(b"not an image")
    X_train, y_train, _, _ = _load(path)
    cat = X_train[y_train == 3]
    np.testing.assert_array_equal(cat[1], early)
    np.testing.assert_array_equal(cat[3], late)
    assert len(X_train) == len(expected[0]) + 2


# -- fetch_cifar10 -----------------------------------------------------------------


def test_fetch_cifar10_subsets_and_bunch(tmp_path):
    path, (X_train, y_train, X_test, y_test) = write_image_folder(tmp_path)
    bunch = fetch_cifar10(path=path, progress=False)
    assert set(bunch) == {"data", "target", "target_names", "DESCR"}
    np.testing.assert_array_equal(bunch.data, X_train)
    np.testing.assert_array_equal(bunch.target, y_train)
    np.testing.assert_array_equal(bunch.target_names, np.array(CLASS_NAMES))
    assert bunch.DESCR == DESCR and "CIFAR-10" in DESCR
    data, target = fetch_cifar10("test", path=path, return_X_y=True, progress=False)
    np.testing.assert_array_equal(data, X_test)
    np.testing.assert_array_equal(target, y_test)
    data, target = fetch_cifar10("all", path=path, return_X_y=True, progress=False)
    np.testing.assert_array_equal(data, np.concatenate([X_train, X_test]))
    np.testing.assert_array_equal(target, np.concatenate([y_train, y_test]))
    assert data.dtype == np.uint8 and target.dtype == np.int64


@pytest.mark.parametrize("subset", ["validation", "TRAIN", None])
def test_fetch_cifar10_invalid_subset(subset):
    with pytest.raises(ValueError, match="'train', 'test', 'all'"):
        fetch_cifar10(subset)


def test_class_names():
    assert LIB_CLASS_NAMES == CLASS_NAMES and isinstance(LIB_CLASS_NAMES, tuple)


# -- lookup order -----------------------------------------------------------------


def _tagged(root, seed, **kwargs):
    """An official-format dataset, distinct from others by its seed."""
    return write_official(root, seed=seed, **kwargs)


def test_lookup_order(tmp_path, monkeypatch, data_home):
    path_a, a = _tagged(tmp_path / "a", 1)
    path_b, b = _tagged(tmp_path / "b", 2)
    # data home copy (as if downloaded) and an extracted Keras cache
    _, c = _tagged(tmp_path / "c", 3)
    os.makedirs(data_home)
    os.replace(
        tmp_path / "c" / "cifar-10-python.tar.gz", os.path.join(data_home, _download.FILENAME)
    )
    keras_datasets = tmp_path / "keras_home" / "datasets"
    os.makedirs(keras_datasets)
    _, d = _tagged(keras_datasets, 4, archive=False)

    monkeypatch.setenv("SKCIFAR_DATA", path_b)
    assert_dataset_equal(_load(path_a), a)  # path beats SKCIFAR_DATA
    assert_dataset_equal(_load(), b)  # SKCIFAR_DATA beats the data home
    monkeypatch.delenv("SKCIFAR_DATA")
    assert_dataset_equal(_load(), c)  # data home beats the Keras cache
    os.remove(os.path.join(data_home, _download.FILENAME))
    assert_dataset_equal(_load(), d)  # Keras cache beats the download


@pytest.mark.parametrize("keras_name", ["cifar-10-batches-py.tar.gz", "cifar-10-batches-py-target"])
def test_keras_cache_archive_and_keras3_layout(tmp_path, keras_name):
    datasets = tmp_path / "keras_home" / "datasets"
    if keras_name.endswith(".tar.gz"):
        path, expected = write_official(tmp_path / "src")
        os.makedirs(datasets)
        os.replace(path, datasets / keras_name)
    else:  # Keras 3: datasets/cifar-10-batches-py-target/cifar-10-batches-py/
        _, expected = write_official(datasets / keras_name, archive=False)
    assert_dataset_equal(_load(), expected)


def test_keras_home_defaults_to_dot_keras(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME")
    datasets = tmp_path / "home" / ".keras" / "datasets"
    os.makedirs(datasets)
    _, expected = write_official(datasets, archive=False)
    assert_dataset_equal(_load(), expected)


def test_missing_path_raises_without_fallback(tmp_path, monkeypatch):
    path_b, _ = _tagged(tmp_path / "b", 2)
    monkeypatch.setenv("SKCIFAR_DATA", path_b)
    missing = str(tmp_path / "nope.tar.gz")
    with pytest.raises(FileNotFoundError, match="nope.tar.gz"):
        _load(missing)


def test_missing_skcifar_data_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("SKCIFAR_DATA", str(tmp_path / "gone.tar.gz"))
    with pytest.raises(FileNotFoundError, match=r"SKCIFAR_DATA.*gone\.tar\.gz"):
        _load()


def test_data_home_resolution(tmp_path, monkeypatch):
    assert get_data_home() == str(tmp_path / "data_home")
    assert os.path.isdir(tmp_path / "data_home")
    assert get_data_home(tmp_path / "explicit") == str(tmp_path / "explicit")
    monkeypatch.delenv("SKCIFAR_DATA_HOME")
    home = get_data_home()
    assert home == str(tmp_path / "home" / "skcifar_data") and os.path.isdir(home)
    assert get_data_home("~/other") == str(tmp_path / "home" / "other")
    clear_data_home()
    assert not os.path.exists(home)


# -- download --------------------------------------------------------------------


def _serve(monkeypatch, archive, md5=None):
    with open(archive, "rb") as f:
        digest = hashlib.md5(f.read()).hexdigest()
    monkeypatch.setattr(_download, "URL", f"file://{os.path.abspath(archive)}")
    monkeypatch.setattr(_download, "MD5", md5 or digest)


def test_download_success_then_reuse(tmp_path, monkeypatch, data_home):
    archive, expected = write_official(tmp_path / "server")
    _serve(monkeypatch, archive)
    assert_dataset_equal(_load(), expected)
    target = os.path.join(data_home, _download.FILENAME)
    assert os.path.isfile(target)
    assert [f for f in os.listdir(data_home) if f.startswith(".")] == []
    # The data home copy is found before any download is attempted.
    monkeypatch.setattr(_download, "URL", "file:///nonexistent/cifar.tar.gz")
    monkeypatch.setattr(_readers, "_load_batch", _fail)
    assert_dataset_equal(_load(), expected)


def test_download_md5_mismatch_leaves_nothing(tmp_path, monkeypatch, data_home):
    archive, _ = write_official(tmp_path / "server")
    _serve(monkeypatch, archive, md5="0" * 32)
    with pytest.raises(OSError, match="CIFAR-10 data not found") as info:
        _load()
    assert "md5 mismatch" in str(info.value)
    assert "md5 mismatch" in str(info.value.__cause__)
    assert os.listdir(data_home) == []


def test_download_interrupted_leaves_nothing(tmp_path, monkeypatch):
    class Interrupted(io.BytesIO):
        headers = {"Content-Length": "1000"}

        def read(self, size=-1):
            raise KeyboardInterrupt

    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: Interrupted())
    target = tmp_path / "dl" / "cifar.tar.gz"
    with pytest.raises(KeyboardInterrupt):
        _download.download("http://example.invalid/x", str(target), "0" * 32, progress=False)
    assert os.listdir(tmp_path / "dl") == []


@pytest.mark.parametrize(
    "url, download_if_missing",
    [
        (None, True),  # the official URL, refused by the network guard
        ("file:///nonexistent/cifar-10-python.tar.gz", True),
        (None, False),
    ],
)
def test_offline_error_lists_every_place(
    tmp_path, monkeypatch, data_home, url, download_if_missing
):
    if url is not None:
        monkeypatch.setattr(_download, "URL", url)
    start = time.perf_counter()
    with pytest.raises(OSError, match="CIFAR-10 data not found") as info:
        _load(download_if_missing=download_if_missing)
    # A hang guard, not a speed target: no retries and no waiting on a network
    # timeout (the call takes milliseconds; 30 s holds on any machine).
    assert time.perf_counter() - start < 30
    message = str(info.value)
    keras = str(tmp_path / "keras_home" / "datasets")
    for place in (
        "SKCIFAR_DATA",
        os.path.join(data_home, "cifar-10-python.tar.gz"),
        os.path.join(keras, "cifar-10-batches-py"),
        os.path.join(keras, "cifar-10-batches-py.tar.gz"),
        os.path.join(keras, "cifar-10-batches-py-target"),
        _download.URL,
        "export SKCIFAR_DATA=/path/to/cifar10-jpg.tar.gz",
        "path=",
    ):
        assert place in message
    if not download_if_missing:
        assert info.value.__cause__ is None and "download_if_missing=False" in message
    elif url is None:
        assert isinstance(info.value.__cause__, RuntimeError)
        assert "network access in tests" in message
    else:
        assert isinstance(info.value.__cause__, OSError)  # urllib's URLError
    assert os.listdir(data_home) == []


# -- errors ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["official", "images-gz", "images-tar"])
def test_truncated_archive(tmp_path, data_home, kind):
    if kind == "official":
        path, _ = write_official(tmp_path)
    else:
        archive = ".tar.gz" if kind == "images-gz" else ".tar"
        path, _ = write_image_folder(tmp_path, archive=archive)
    with open(path, "rb") as f:
        raw = f.read()
    with open(path, "wb") as f:
        f.write(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated") as info:
        _load(path)
    assert path in str(info.value)
    assert _cache_entries(data_home) == []


@pytest.mark.parametrize("name", ["garbage.tar.gz", "garbage.tar"])
def test_corrupt_archive(tmp_path, data_home, name):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ValueError, match=f"{name}.*corrupt or truncated"):
        _load(path)
    assert _cache_entries(data_home) == []


def test_corrupt_batch_in_extracted_dir(tmp_path):
    path, _ = write_official(tmp_path, archive=False)
    with open(os.path.join(path, "data_batch_3"), "r+b") as f:
        f.truncate(100)
    with pytest.raises(ValueError, match="data_batch_3.*corrupt or truncated"):
        _load(path)


@pytest.mark.parametrize("archive", [None, ".tar.gz"])
def test_missing_class_folder(tmp_path, data_home, archive):
    tree, _ = write_image_folder(tmp_path / "src")
    for name in os.listdir(os.path.join(tree, "test", "cat")):
        os.remove(os.path.join(tree, "test", "cat", name))
    os.rmdir(os.path.join(tree, "test", "cat"))
    path = tree if archive is None else make_tar(tree, tmp_path / f"c{archive}")
    with pytest.raises(ValueError, match=r"test/cat.*airplane, automobile, bird, cat"):
        _load(path)
    assert _cache_entries(data_home) == []


@pytest.mark.parametrize("archive", [None, ".tar.gz"])
def test_unknown_class_folder(tmp_path, archive):
    tree, _ = write_image_folder(tmp_path / "src")
    save_image(os.path.join(tree, "train", "unicorn", "0000.png"), random_images(1)[0])
    path = tree if archive is None else make_tar(tree, tmp_path / f"c{archive}")
    with pytest.raises(ValueError, match=r"unknown class folder train/unicorn.*airplane"):
        _load(path)


@pytest.mark.parametrize("archive", [None, ".tar.gz"])
def test_non_image_file(tmp_path, archive):
    tree, _ = write_image_folder(tmp_path / "src")
    with open(os.path.join(tree, "train", "dog", "notes.txt"), "w") as f:
        f.write("not an image")
    path = tree if archive is None else make_tar(tree, tmp_path / f"c{archive}")
    with pytest.raises(ValueError, match=r"cannot decode image file .*dog/notes\.txt"):
        _load(path)


def test_wrong_image_size(tmp_path):
    tree, _ = write_image_folder(tmp_path / "src")
    save_image(os.path.join(tree, "test", "frog", "0000.png"), random_images(1, size=40)[0])
    with pytest.raises(ValueError, match=r"frog/0000\.png is 40x40 pixels"):
        _load(tree)


@pytest.mark.parametrize("make", ["empty-dir", "text-file", "zip-name"])
def test_neither_format(tmp_path, make):
    path = tmp_path / "thing"
    if make == "empty-dir":
        path.mkdir()
    else:
        path = tmp_path / ("data.txt" if make == "text-file" else "data.zip")
        path.write_text("hello")
    with pytest.raises(ValueError, match="not a CIFAR-10 dataset.*official.*image folder"):
        _load(path)


def test_malicious_pickle_is_rejected(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    path, _ = write_official(tmp_path, archive=False)
    with open(os.path.join(path, "data_batch_2"), "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": [0]}, f, protocol=2)
    with pytest.raises(ValueError, match=r"refusing to load .*data_batch_2.*(posix|os)\.system"):
        _load(path)
    assert not marker.exists()
    # Also inside an archive.
    archive = make_tar(os.path.dirname(path), tmp_path / "evil.tar.gz")
    with pytest.raises(ValueError, match="refusing to load"):
        _load(archive)
    assert not marker.exists()


def test_batch_with_wrong_content(tmp_path):
    path, _ = write_official(tmp_path, archive=False)
    bad = pickle_batch(random_images(2), [0, 12])  # label out of range
    with open(os.path.join(path, "test_batch"), "wb") as f:
        f.write(bad)
    with pytest.raises(ValueError, match="test_batch is not a CIFAR-10 batch"):
        _load(path)


def test_missing_batch(tmp_path):
    path, _ = write_official(tmp_path, archive=False)
    os.remove(os.path.join(path, BATCHES[4]))
    with pytest.raises(ValueError, match="lacks data_batch_5"):
        _load(path)


# -- cache -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["images", "official"])
def test_cache_hit_skips_decoding(tmp_path, monkeypatch, data_home, kind):
    if kind == "images":
        path, expected = write_image_folder(tmp_path, archive=".tar.gz")
    else:
        path, expected = write_official(tmp_path)
    first = _load(path)
    assert len(_cache_entries(data_home)) == 1
    monkeypatch.setattr(_readers, "_decode_image", _fail)
    monkeypatch.setattr(_readers, "_load_batch", _fail)
    second = _load(path)
    assert_dataset_equal(second, expected)
    assert second[0] is not first[0]


def test_cache_key_changes_with_the_source(tmp_path, monkeypatch, data_home):
    path, _ = write_image_folder(tmp_path)  # a directory
    _load(path)
    key = _cache.source_key(path)
    extra = random_images(1, seed=9)[0]
    save_image(os.path.join(path, "train", "ship", "9999.png"), extra)
    assert _cache.source_key(path) != key
    calls = []
    real = _readers._decode_image
    monkeypatch.setattr(_readers, "_decode_image", lambda *a: calls.append(1) or real(*a))
    X_train, y_train, _, _ = _load(path)
    assert len(calls) == 51 and len(X_train) == 31
    np.testing.assert_array_equal(X_train[-1], extra)
    assert len(_cache_entries(data_home)) == 2
    # An archive's key follows its size and modification time.
    archive, _ = write_official(tmp_path / "official")
    key = _cache.source_key(archive)
    os.utime(archive, ns=(0, 10**18))
    assert _cache.source_key(archive) != key


def test_cache_never_half_written(tmp_path, monkeypatch, data_home):
    path, expected = write_image_folder(tmp_path)
    real_save, calls = np.save, []

    def flaky_save(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("No space left on device")
        real_save(*args, **kwargs)

    monkeypatch.setattr(np, "save", flaky_save)
    with pytest.warns(UserWarning, match="No space left on device"):
        assert_dataset_equal(_load(path), expected)
    assert _cache_entries(data_home) == []  # no entry, no temporary directory
    monkeypatch.setattr(np, "save", real_save)
    assert_dataset_equal(_load(path), expected)
    assert len(_cache_entries(data_home)) == 1


def test_incomplete_cache_entry_is_rebuilt(tmp_path, data_home):
    path, expected = write_image_folder(tmp_path)
    _load(path)
    (entry,) = _cache_entries(data_home)
    os.remove(os.path.join(data_home, "cifar10", entry, "y_test.npy"))
    with pytest.warns(UserWarning, match="y_test.npy is missing"):
        assert_dataset_equal(_load(path), expected)
    with open(os.path.join(data_home, "cifar10", entry, "X_train.npy"), "wb") as f:
        f.write(b"garbage")
    with pytest.warns(UserWarning, match="X_train.npy.*truncated"):
        assert_dataset_equal(_load(path), expected)
    np.save(os.path.join(data_home, "cifar10", entry, "y_train.npy"), expected[1].astype(np.int32))
    with pytest.warns(UserWarning, match="unexpected dtypes or shapes"):
        assert_dataset_equal(_load(path), expected)
    assert _cache_entries(data_home) == [entry]


def _inflate_first_dimension(path):
    """Put ten digits before the first number of a ``.npy`` file's shape (its header grows)."""
    data = path.read_bytes()
    length = int.from_bytes(data[8:10], "little")
    header = (
        data[10 : 10 + length].decode("latin1").replace("'shape': (", "'shape': (9999999999", 1)
    )
    new = data[:8] + len(header).to_bytes(2, "little") + header.encode("latin1")
    path.write_bytes(new + data[10 + length :])


@pytest.mark.parametrize("name", ["X_train", "y_test"])
def test_a_cache_entry_with_a_damaged_header_is_rebuilt(tmp_path, data_home, name):
    path, expected = write_image_folder(tmp_path)
    _load(path)
    (entry,) = _cache_entries(data_home)
    folder = os.path.join(data_home, "cifar10", entry)
    _inflate_first_dimension(Path(folder, f"{name}.npy"))
    with pytest.warns(UserWarning, match=f"damaged.*{entry}.*{name}.npy.*declares"):
        assert_dataset_equal(_load(path), expected)  # np.load: MemoryError, every time
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_dataset_equal(_load(path), expected)  # from the rebuilt entry
    assert _cache_entries(data_home) == [entry]


def test_a_damaged_entry_loses_only_the_files_skcifar_wrote(tmp_path, monkeypatch, data_home):
    path, expected = write_image_folder(tmp_path)
    _load(path)
    (entry,) = _cache_entries(data_home)
    folder = Path(data_home, "cifar10", entry)
    (folder / "notes.txt").write_text("not skcifar's")
    (folder / "X_test.npy").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="damaged"):
        assert_dataset_equal(_load(path), expected)
    assert (folder / "notes.txt").read_text() == "not skcifar's"
    monkeypatch.setattr(_readers, "_decode_image", _fail)  # the entry was rebuilt in place
    assert_dataset_equal(_load(path), expected)


def test_concurrent_writer_wins(tmp_path, data_home):
    path, expected = write_image_folder(tmp_path)
    _load(path)
    key = _cache.source_key(path)
    _cache.save_cached(data_home, key, expected)  # the entry exists: ours is discarded
    assert _cache_entries(data_home) == [key]


_CACHE_WRITER = """
import os, sys, time
import numpy as np
from skcifar.datasets import _cache
home, key, me = sys.argv[1:]
arrays = (np.full((2, 32, 32, 3), 7, np.uint8), np.arange(2), np.zeros((1, 32, 32, 3), np.uint8),
          np.arange(1))
saves = 0
while not os.path.exists(os.path.join(home, "stop")):
    _cache.save_cached(home, key, arrays)
    saves += 1
    if saves == 1:
        open(os.path.join(home, f"ready-{me}"), "w").close()
print(saves)
"""


def test_two_processes_storing_one_entry_corrupt_and_lose_nothing(tmp_path, monkeypatch):
    home, key = str(tmp_path / "home"), "0123456789abcdef"
    os.makedirs(home)
    damaged = []
    monkeypatch.setattr(_cache, "_discard", damaged.append)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _CACHE_WRITER, home, key, me],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for me in ("a", "b")
    ]
    expected = (np.full((2, 32, 32, 3), 7, np.uint8), np.arange(2),
                np.zeros((1, 32, 32, 3), np.uint8), np.arange(1))  # fmt: skip
    reads, both_since = 0, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a damaged entry warns: fail at once
            while both_since is None or time.monotonic() - both_since < 1.0:
                assert all(writer.poll() is None for writer in writers)
                if both_since is None and all(
                    os.path.exists(os.path.join(home, f"ready-{me}")) for me in "ab"
                ):
                    both_since = time.monotonic()  # both writers are storing from now on
                found = _cache.load_cached(home, key)
                if found is not None:
                    assert_dataset_equal(found, expected)
                    reads += 1
    finally:
        open(os.path.join(home, "stop"), "w").close()
        outputs = [writer.communicate(timeout=60) for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0], outputs
    assert all(int(out) >= 1 and err == "" for out, err in outputs), outputs  # no warning
    assert reads and not damaged
    assert os.listdir(os.path.join(home, "cifar10")) == [key]  # no temporary directory left
    assert_dataset_equal(_cache.load_cached(home, key), expected)


_BUILDER = """
import os, sys, time, warnings
import numpy as np
from skcifar.datasets import load_data
path, home, go, out = sys.argv[1:]
open(out + ".ready", "w").close()
while not os.path.exists(go):
    time.sleep(0.002)
warnings.simplefilter("error")  # a damaged entry or a failed write warns: fail
(X_train, y_train), (X_test, y_test) = load_data(path, data_home=home, progress=False)
np.savez(out, X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test)
"""


def test_two_processes_building_one_entry_at_once_both_get_the_data(
    tmp_path, monkeypatch, data_home
):
    path, expected = write_image_folder(tmp_path, n_train=20)
    go, outs = tmp_path / "go", [tmp_path / f"{me}.npz" for me in "ab"]
    argvs = [(path, data_home, str(go), str(out)) for out in outs]
    run_together(_BUILDER, argvs, outs, go, timeout=60)  # decode, then store one entry, at once
    for out in outs:
        with np.load(out) as found:
            assert_dataset_equal([found[n] for n in ("X_train", "y_train", "X_test", "y_test")],
                                 expected)  # fmt: skip
    assert _cache_entries(data_home) == [_cache.source_key(path)]  # no temporary directory
    monkeypatch.setattr(_readers, "_decode_image", _fail)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_dataset_equal(_load(path, data_home=data_home), expected)  # the stored entry


def test_unwritable_data_home_warns_once(tmp_path):
    path, expected = write_image_folder(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a directory")
    with pytest.warns(UserWarning, match="without a cache") as record:
        assert_dataset_equal(_load(path, data_home=blocker / "home"), expected)
        assert_dataset_equal(_load(path, data_home=blocker / "home"), expected)
    assert len([w for w in record if "without a cache" in str(w.message)]) == 1


# -- progress and import -----------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _shown(progress, file):
    with _home.progress_bar(progress, total=1, file=file) as bar:
        return not bar.disable


def test_progress_policy(monkeypatch):
    monkeypatch.delenv("SKCIFAR_PROGRESS", raising=False)
    assert _shown(True, io.StringIO()) and not _shown(False, _Terminal())
    assert _shown(None, _Terminal()) and not _shown(None, io.StringIO())  # on a terminal only
    monkeypatch.setenv("SKCIFAR_PROGRESS", "0")
    assert not _shown(None, _Terminal())
    assert _shown(True, io.StringIO())


def test_progress_bar_output(tmp_path, capsys):
    path, _ = write_image_folder(tmp_path, archive=".tar.gz")
    load_data(path, progress=True)
    assert "Reading cifar10.tar.gz" in capsys.readouterr().err
    load_data(path, progress=False, data_home=tmp_path / "other")
    assert capsys.readouterr().err == ""


def test_import_is_light():
    code = (
        "import sys, skcifar.datasets; "
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})


def test_tar_is_streamed_not_extracted(tmp_path, monkeypatch):
    path, expected = write_image_folder(tmp_path, archive=".tar.gz")

    def no_extract(*args, **kwargs):
        raise AssertionError("archives must not be extracted to disk")

    monkeypatch.setattr(tarfile.TarFile, "extractall", no_extract)
    monkeypatch.setattr(tarfile.TarFile, "extract", no_extract)
    assert_dataset_equal(_load(path), expected)


# -- the real archive ($SKCIFAR_DATA) ---------------------------------------------


@requires_real_data
def test_real_archive(cifar10_real, cifar10_real_data_home, monkeypatch):
    (X_train, y_train), (X_test, y_test) = cifar10_real
    for X, y, n in ((X_train, y_train, 50_000), (X_test, y_test, 10_000)):
        assert X.shape == (n, 32, 32, 3) and X.dtype == np.uint8 and X.flags.c_contiguous
        assert y.shape == (n,) and y.dtype == np.int64
        np.testing.assert_array_equal(np.bincount(y, minlength=10), np.full(10, n // 10))
        np.testing.assert_array_equal(np.bincount(y[:1000], minlength=10), np.full(10, 100))
    # A second load of the same source comes from the cache (decoding would fail).
    monkeypatch.setattr(_readers, "_decode_image", _fail)
    (X2, y2), (X3, y3) = load_data(_REAL, data_home=cifar10_real_data_home, progress=False)
    for again, first in ((X2, X_train), (y2, y_train), (X3, X_test), (y3, y_test)):
        assert again.dtype == first.dtype and np.array_equal(again, first)  # fast on 150 MB
