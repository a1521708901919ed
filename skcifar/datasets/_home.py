"""Location of the skcifar data home, and the progress-bar policy."""

import os
import shutil

_ENV_DATA_HOME = "SKCIFAR_DATA_HOME"
_ENV_PROGRESS = "SKCIFAR_PROGRESS"
_DEFAULT_DATA_HOME = os.path.join("~", "skcifar_data")
_FALSY = {"0", "false", "no", "off"}


def data_home_path(data_home=None):
    """Return the data home path (expanded) without creating it."""
    if data_home is None:
        data_home = os.environ.get(_ENV_DATA_HOME) or _DEFAULT_DATA_HOME
    return os.path.expanduser(os.fspath(data_home))


def get_data_home(data_home=None):
    """Return the path of the skcifar data directory, creating it if needed.

    The data home holds the downloaded ``cifar-10-python.tar.gz`` and the
    cache of decoded arrays (``<data_home>/cifar10/``), so that later loads
    are fast.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The path to the data directory. If None, the ``SKCIFAR_DATA_HOME``
        environment variable is used; if that is unset too, ``~/skcifar_data``.
        A leading ``~`` is expanded to the user's home directory.

    Returns
    -------
    data_home : str
        The path to the data directory.

    See Also
    --------
    clear_data_home : Delete the data home and everything in it.

    Examples
    --------
    >>> import tempfile
    >>> from skcifar.datasets import get_data_home
    >>> home = get_data_home(tempfile.mkdtemp())
    """
    path = data_home_path(data_home)
    os.makedirs(path, exist_ok=True)
    return path


def clear_data_home(data_home=None):
    """Delete all the content of the data home.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The path to the data directory; resolved as in :func:`get_data_home`.

    See Also
    --------
    get_data_home : Return the path of the data home.

    Examples
    --------
    >>> import tempfile
    >>> from skcifar.datasets import clear_data_home
    >>> clear_data_home(tempfile.mkdtemp())
    """
    shutil.rmtree(data_home_path(data_home), ignore_errors=True)


def progress_bar(progress, **kwargs):
    """A tqdm bar, shown if ``progress``; None: on a terminal, unless ``SKCIFAR_PROGRESS=0``."""
    from tqdm import tqdm

    if progress is None:
        falsy = os.environ.get(_ENV_PROGRESS, "").strip().lower() in _FALSY
        disable = True if falsy else None  # None: tqdm shows it on a terminal only
    else:
        disable = not progress
    return tqdm(disable=disable, leave=False, **kwargs)
