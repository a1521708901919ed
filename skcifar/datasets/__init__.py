"""Loading CIFAR-10: :func:`load_data` (Keras style) and :func:`fetch_cifar10` (sklearn style).

The data is read from an explicit path, the ``SKCIFAR_DATA`` environment variable,
the data home, an existing Keras cache, or downloaded, in that order; decoded arrays
are cached in the data home (see :func:`get_data_home`). Importing this package
does not import TensorFlow or Keras.

``CLASS_NAMES`` is the tuple of the ten class names in label order (0..9);
``DESCR`` is the dataset description returned in ``fetch_cifar10().DESCR``.
"""

from ._cifar10 import CLASS_NAMES, DESCR, fetch_cifar10, load_data
from ._home import clear_data_home, get_data_home
from ._readers import display_names  # noqa: F401 - for the command line and skcifar.export

__all__ = [
    "CLASS_NAMES",
    "DESCR",
    "clear_data_home",
    "fetch_cifar10",
    "get_data_home",
    "load_data",
]
