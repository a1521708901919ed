"""CIFAR-10 loaders: :func:`load_data` (Keras style) and :func:`fetch_cifar10` (sklearn style)."""

import os

import numpy as np

from . import _download  # its URL and MD5 are read at each call
from ._cache import load_cached, save_cached, source_key, warn_uncached
from ._home import data_home_path, get_data_home
from ._readers import CLASS_NAMES, read_source

_ENV_DATA = "SKCIFAR_DATA"
# Keras 2 extracted dir and archive, then Keras 3's "-target" dir.
_KERAS_NAMES = ("cifar-10-batches-py", "cifar-10-batches-py.tar.gz", "cifar-10-batches-py-target")
_SUBSETS = ("train", "test", "all")

DESCR = """\
.. _cifar10_dataset:

CIFAR-10 dataset
----------------

**Data Set Characteristics:**

:Number of Instances: 60,000 (50,000 train, 10,000 test)
:Number of Classes: 10 (6,000 images each: 5,000 train, 1,000 test)
:Image size: 32x32 pixels, 3 channels (RGB), uint8 values in [0, 255]
:Classes: airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck
    (labels 0..9 in this order)

CIFAR-10 is a labelled subset of the 80 million tiny images dataset, collected
by Alex Krizhevsky, Vinod Nair and Geoffrey Hinton. The classes are mutually
exclusive: "automobile" holds sedans, SUVs and the like, "truck" only big trucks,
and neither includes pickup trucks.

``data`` has shape (n, 32, 32, 3) (height, width, channel), the layout of
``keras.datasets.cifar10.load_data``; ``target`` holds the integer labels.

.. rubric:: References

- Alex Krizhevsky (2009). Learning Multiple Layers of Features from Tiny Images.
  Technical report, University of Toronto.
  https://www.cs.toronto.edu/~kriz/cifar.html
"""


def _resolve_data_home(data_home):
    try:
        return get_data_home(data_home)
    except OSError as exc:  # unwritable: carry on without cache or download
        path = data_home_path(data_home)
        warn_uncached(path, exc)
        return path


def _locate(path, data_home, download_if_missing, progress):
    """Return the path of a CIFAR-10 source, following the documented lookup order."""
    if path is not None:
        path = os.path.expanduser(os.fspath(path))
        if not os.path.exists(path):
            raise FileNotFoundError(f"no CIFAR-10 data at path={path!r}: no such file or directory")
        return path
    env_value = os.environ.get(_ENV_DATA)
    if env_value:
        env_path = os.path.expanduser(env_value)
        if not os.path.exists(env_path):
            raise FileNotFoundError(
                f"the {_ENV_DATA} environment variable is set to {env_value!r}, which does not "
                f"exist; point it at the CIFAR-10 archive or directory, or unset it"
            )
        return env_path
    downloaded = os.path.join(data_home, _download.FILENAME)
    keras_home = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    keras_dir = os.path.join(os.path.expanduser(keras_home), "datasets")
    candidates = [downloaded, *(os.path.join(keras_dir, name) for name in _KERAS_NAMES)]
    for candidate in candidates:
        if os.path.exists(candidate):
            return candidate
    cause = None
    if download_if_missing:
        try:
            return _download.download(_download.URL, downloaded, _download.MD5, progress=progress)
        except Exception as exc:  # network error, md5 mismatch, unwritable data home...
            cause = exc
            download = f"download from {_download.URL} failed: {type(exc).__name__}: {exc}"
    else:
        download = f"download from {_download.URL} not attempted (download_if_missing=False)"
    looked = "\n".join(
        [f"  - path=None and ${_ENV_DATA} not set"]
        + [f"  - {c} (not found)" for c in candidates]
        + [f"  - {download}"]
    )
    raise OSError(
        f"CIFAR-10 data not found. Looked in, in order:\n{looked}\n"
        f"To fix this, point skcifar at a copy of the data: "
        f"`export {_ENV_DATA}=/path/to/cifar10-jpg.tar.gz` (or cifar-10-python.tar.gz), "
        "or pass path=... to load_data() / fetch_cifar10()."
    ) from cause


def load_data(path=None, *, data_home=None, download_if_missing=True, progress=None):
    """Load the CIFAR-10 dataset, like ``keras.datasets.cifar10.load_data``.

    The data is looked for in this order, and the first place found is used:

    1. ``path``, if given (if it does not exist, FileNotFoundError: no fallback);
    2. the ``SKCIFAR_DATA`` environment variable, if set (if it names a path
       that does not exist, FileNotFoundError);
    3. ``<data_home>/cifar-10-python.tar.gz``, from an earlier download;
    4. an existing Keras cache, in ``$KERAS_HOME/datasets`` (default
       ``~/.keras/datasets``): ``cifar-10-batches-py/``, then
       ``cifar-10-batches-py.tar.gz``, then ``cifar-10-batches-py-target/``;
    5. a download of the official ``cifar-10-python.tar.gz`` (163 MB) into the
       data home, if ``download_if_missing``; it is md5-checked and written
       atomically, so a failed download leaves nothing behind.

    Two formats are detected automatically: (a) the official python version
    (``cifar-10-python.tar.gz``, or its extracted ``cifar-10-batches-py/``
    directory, or a directory containing it), kept in batch order; (b) an image
    folder of JPEG/PNG files, ``train/<class>/*`` and ``test/<class>/*`` with the
    ten class names of ``CLASS_NAMES``, as a directory or a ``.tar``,
    ``.tar.gz`` or ``.tgz`` archive (optionally under one leading directory).
    Archives are streamed, never extracted. Image folders are ordered by file
    name within each class and the classes are interleaved round-robin (image
    0 of each class in label order, then image 1, ...), so any leading slice
    such as ``X_train[:1000]`` is class-balanced.

    The decoded arrays are cached as ``.npy`` files in
    ``<data_home>/cifar10/<key>/``, keyed on the source's path, size and
    modification time, so later loads take well under a second. A damaged
    cache entry (truncated, garbled, or declaring other shapes than its data
    has) is reported with a UserWarning and rebuilt from the source.

    Parameters
    ----------
    path : str or path-like, default=None
        A CIFAR-10 archive or directory in either format. If None, the places
        listed above are searched.
    data_home : str or path-like, default=None
        Where downloads and the cache of decoded arrays are stored; see
        :func:`get_data_home` (``SKCIFAR_DATA_HOME``, else ``~/skcifar_data``).
    download_if_missing : bool, default=True
        If False, raise an OSError instead of downloading when the data is not
        found locally.
    progress : bool, default=None
        Show progress bars while downloading and decoding. None shows them only
        on a terminal and never when the environment variable
        ``SKCIFAR_PROGRESS=0``; True always; False never.

    Returns
    -------
    (X_train, y_train), (X_test, y_test) : tuple of tuples of ndarrays
        ``X_train`` uint8 of shape (50000, 32, 32, 3), ``y_train`` int64 of shape
        (50000,), ``X_test`` uint8 of shape (10000, 32, 32, 3), ``y_test`` int64 of
        shape (10000,). X is C-contiguous, channels last; unlike Keras, y is 1-D.

    Raises
    ------
    FileNotFoundError
        If ``path`` or ``SKCIFAR_DATA`` is given but does not exist.
    OSError
        If the data is found nowhere and cannot be downloaded; the message lists
        every place looked.
    ValueError
        If the data is corrupt or truncated, or in neither accepted layout.

    See Also
    --------
    fetch_cifar10 : The same data as a scikit-learn Bunch.

    Examples
    --------
    >>> from skcifar.datasets import load_data
    >>> (X_train, y_train), (X_test, y_test) = load_data()  # doctest: +SKIP
    >>> X_train.shape, X_train.dtype, y_train.shape  # doctest: +SKIP
    ((50000, 32, 32, 3), dtype('uint8'), (50000,))
    >>> (X_train, y_train), _ = load_data("cifar10-jpg.tar.gz")  # doctest: +SKIP
    """
    data_home = _resolve_data_home(data_home)
    source = _locate(path, data_home, download_if_missing, progress)
    try:
        key = source_key(source)
    except OSError:
        key = None
    arrays = load_cached(data_home, key) if key else None
    if arrays is None:
        arrays = read_source(source, progress)
        if key:
            save_cached(data_home, key, arrays)
    X_train, y_train, X_test, y_test = arrays
    return (X_train, y_train), (X_test, y_test)


def fetch_cifar10(
    subset="train",
    *,
    data_home=None,
    download_if_missing=True,
    return_X_y=False,
    path=None,
    progress=None,
):
    """Load the CIFAR-10 dataset (classification), scikit-learn style.

    =================   ==============================
    Classes                                         10
    Samples total           60,000 (50,000 + 10,000)
    Samples per class          6,000 (5,000 + 1,000)
    Image                32x32x3 uint8, channels last
    =================   ==============================

    The data is found, read and cached as described in :func:`load_data`.

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        The part of the dataset to return; "all" is the training set followed
        by the test set.
    data_home : str or path-like, default=None
        Where downloads and the cache are stored; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        If False, raise an OSError instead of downloading when the data is not
        found locally.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    path : str or path-like, default=None
        A CIFAR-10 archive or directory; see :func:`load_data`.
    progress : bool, default=None
        Show progress bars; see :func:`load_data`.

    Returns
    -------
    dataset : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        data : ndarray of shape (n_samples, 32, 32, 3), dtype uint8
            The images.
        target : ndarray of shape (n_samples,), dtype int64
            The labels, 0..9.
        target_names : ndarray of shape (10,)
            The class names, ``np.array(CLASS_NAMES)``.
        DESCR : str
            The full description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ValueError
        If ``subset`` is not one of "train", "test", "all"; see also
        :func:`load_data`.

    Examples
    --------
    >>> from skcifar.datasets import fetch_cifar10
    >>> cifar = fetch_cifar10(subset="test")  # doctest: +SKIP
    >>> cifar.data.shape, cifar.target.shape  # doctest: +SKIP
    ((10000, 32, 32, 3), (10000,))
    >>> list(cifar.target_names[:3])  # doctest: +SKIP
    ['airplane', 'automobile', 'bird']
    >>> X, y = fetch_cifar10(subset="all", return_X_y=True)  # doctest: +SKIP
    """
    if not isinstance(subset, str) or subset not in _SUBSETS:
        raise ValueError(f"subset must be one of {', '.join(map(repr, _SUBSETS))}; got {subset!r}")
    (X_train, y_train), (X_test, y_test) = load_data(
        path, data_home=data_home, download_if_missing=download_if_missing, progress=progress
    )
    if subset == "train":
        data, target = X_train, y_train
    elif subset == "test":
        data, target = X_test, y_test
    else:
        data, target = np.concatenate([X_train, X_test]), np.concatenate([y_train, y_test])
    if return_X_y:
        return data, target
    from sklearn.utils import Bunch

    return Bunch(data=data, target=target, target_names=np.array(CLASS_NAMES), DESCR=DESCR)
