"""A classifier's network as bytes: Keras' own ``.keras`` format, for pickling.

:class:`~skcifar.estimators._base.KerasImageClassifier` pickles (``pickle``,
joblib, ``copy.deepcopy``, a parallel search's workers) with its ``model_``
as :func:`network_to_bytes`; :func:`network_from_bytes` builds it back with
its weights, compile settings and optimizer state (a dropout or augmentation
layer's seed generator starts afresh). Both use a private temporary
directory and change none of Keras' settings or random streams. The network
is read in Keras' safe mode, as :func:`skcifar.load` reads it; a pickle can
run code all the same, so load pickles only from sources you trust.
"""

from __future__ import annotations

import os
import tempfile

from ..utils.backend import import_keras, quiet
from ..utils.keras_internals import safe_mode_scope


def network_to_bytes(network):
    """The ``.keras`` archive of ``network`` (built, compiled or not), as bytes."""
    keras = import_keras()
    with quiet(), tempfile.TemporaryDirectory(prefix="skcifar-pickle-") as tmpdir:
        filename = os.path.join(tmpdir, "network.keras")
        keras.saving.save_model(network, filename)
        with open(filename, "rb") as file:
            return file.read()


def network_from_bytes(data):
    """The network of the ``.keras`` archive ``data``, compiled as it was, read in safe mode.

    What the archive declares is checked first, as :func:`skcifar.load` checks
    a ``.keras`` member (``utils.file_limits.check_keras_file``). A network that
    safe mode refuses (it would run code from the bytes, e.g. a ``Lambda``
    layer) raises ValueError, even after
    ``keras.config.enable_unsafe_deserialization()``. Unpickling and skops
    loading both come here.
    """
    from ..architectures import register_keras_objects
    from ..utils.file_limits import check_keras_file

    keras = import_keras()
    register_keras_objects()
    with quiet(), tempfile.TemporaryDirectory(prefix="skcifar-pickle-") as tmpdir:
        filename = os.path.join(tmpdir, "network.keras")
        with open(filename, "wb") as file:
            file.write(data)
        with safe_mode_scope():
            check_keras_file(filename, "the network in the classifier's state")
            try:
                return keras.saving.load_model(filename, compile=True, safe_mode=True)
            except Exception as exc:
                raise ValueError(
                    "The network in the classifier's state could not be loaded in Keras' safe "
                    f"mode ({type(exc).__name__}: {exc}). Unpickling and skops loading refuse "
                    "networks that would run code from the file (e.g. Lambda layers)."
                ) from exc
