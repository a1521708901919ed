"""Build tiny CIFAR-10 datasets on disk, in both accepted formats, for tests.

Every builder returns the path it wrote and the arrays a correct loader must
return: ``(X_train, y_train, X_test, y_test)``.
"""

import io
import os
import pickle
import tarfile

import numpy as np
from PIL import Image

CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5")


def random_images(n, seed=0, size=32):
    """``n`` random RGB images of shape (size, size, 3), uint8."""
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def make_tar(source_dir, archive_path, arcname=""):
    """Archive the content of ``source_dir`` (directory entries included).

    The compression follows the suffix (``.tar`` plain, ``.tar.gz``/``.tgz`` gzip).
    ``arcname`` is an optional leading directory inside the archive.
    """
    archive_path = str(archive_path)
    mode = "w:gz" if archive_path.endswith((".gz", ".tgz")) else "w"
    entries = sorted(os.listdir(source_dir))
    with tarfile.open(archive_path, mode) as tar:
        for entry in entries:
            tar.add(os.path.join(source_dir, entry), arcname=os.path.join(arcname, entry))
    return archive_path


def pickle_batch(data, labels, legacy_numpy=True):
    """Pickle a batch like the official files: protocol 2, bytes keys, channel-first rows.

    With ``legacy_numpy`` the array is referenced through ``numpy.core.multiarray``,
    as in the official files written by numpy 1.
    """
    flat = data.transpose(0, 3, 1, 2).reshape(len(data), -1)  # 1024 R, 1024 G, 1024 B
    batch = {
        b"batch_label": b"testing batch",
        b"labels": [int(label) for label in labels],
        b"data": np.ascontiguousarray(flat),
        b"filenames": [f"img_{i}.png".encode() for i in range(len(data))],
    }
    raw = pickle.dumps(batch, protocol=2)
    if legacy_numpy:
        raw = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    return raw


def write_official(root, *, n_train=15, n_test=6, seed=0, archive=True, legacy_numpy=True):
    """Write the official python format under ``root``.

    Returns ``(path, arrays)``: ``root/cifar-10-python.tar.gz`` when ``archive``,
    else the extracted ``root/cifar-10-batches-py`` directory. Labels are random,
    and the arrays are in file order (batches 1..5 then the test batch).
    """
    rng = np.random.default_rng(seed)
    X_train, X_test = random_images(n_train, seed), random_images(n_test, seed + 1)
    y_train = rng.integers(0, 10, n_train).astype(np.int64)
    y_test = rng.integers(0, 10, n_test).astype(np.int64)
    batch_dir = os.path.join(str(root), "cifar-10-batches-py")
    os.makedirs(batch_dir)  # and root
    parts = zip(np.array_split(X_train, 5), np.array_split(y_train, 5), strict=True)
    for name, (X, y) in zip(BATCHES, parts, strict=True):
        with open(os.path.join(batch_dir, name), "wb") as f:
            f.write(pickle_batch(X, y, legacy_numpy))
    with open(os.path.join(batch_dir, "test_batch"), "wb") as f:
        f.write(pickle_batch(X_test, y_test, legacy_numpy))
    with open(os.path.join(batch_dir, "batches.meta"), "wb") as f:
        pickle.dump({b"label_names": [c.encode() for c in CLASS_NAMES]}, f, protocol=2)
    arrays = (X_train, y_train, X_test, y_test)
    if not archive:
        return batch_dir, arrays
    path = make_tar(str(root), os.path.join(str(root), "cifar-10-python.tar.gz"))
    return path, arrays


def _encode(image, fmt):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, **({"quality": 75} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def _decode(raw):
    with Image.open(io.BytesIO(raw)) as image:
        return np.asarray(image.convert("RGB"))


def write_image_folder(
    root, *, n_train=3, n_test=2, seed=0, fmt="PNG", archive=None, leading_dir=""
):
    """Write an image folder ``[leading_dir/]{train,test}/<class>/NNNN.<ext>``.

    Returns ``(path, arrays)``. With ``archive=None`` the path is the directory
    ``root/tree`` (holding ``leading_dir/`` if given); otherwise the archive
    ``root/cifar10<archive>``, with ``archive`` one of ".tar", ".tar.gz", ".tgz".
    Each class has ``n_train`` / ``n_test`` images.
    The expected arrays are in the loader's interleaved order (image 0 of every
    class in label order, then image 1, ...); for JPEG they hold Pillow's own
    decode of the written files.
    """
    ext = "jpg" if fmt == "JPEG" else fmt.lower()
    tree = os.path.join(str(root), "tree")
    base = os.path.join(tree, leading_dir)
    arrays = []
    for offset, (split, n) in enumerate((("train", n_train), ("test", n_test))):
        images = random_images(10 * n, seed + offset).reshape(10, n, 32, 32, 3)
        decoded = np.empty_like(images)
        for label, name in enumerate(CLASS_NAMES):
            os.makedirs(os.path.join(base, split, name))
            for i in range(n):
                raw = _encode(images[label, i], fmt)
                with open(os.path.join(base, split, name, f"{i:04d}.{ext}"), "wb") as f:
                    f.write(raw)
                decoded[label, i] = _decode(raw)
        arrays.append(decoded.transpose(1, 0, 2, 3, 4).reshape(-1, 32, 32, 3))
        arrays.append(np.tile(np.arange(10, dtype=np.int64), n))
    if archive is None:
        return tree, tuple(arrays)
    path = make_tar(tree, os.path.join(str(root), f"cifar10{archive}"))
    return path, tuple(arrays)


def save_image(path, image, fmt="PNG"):
    """Write one image file (creating parent directories)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(_encode(image, fmt))
