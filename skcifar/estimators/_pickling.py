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
    """The ``.keras`` archive of ``network``, as bytes.

    Parameters
    ----------
    network : keras.Model
        A built network, compiled or not.

    Returns
    -------
    bytes
        What ``keras.saving.save_model`` writes to a ``.keras`` file.
    """
    keras = import_keras()
    with quiet(), tempfile.TemporaryDirectory(prefix="skcifar-pickle-") as tmpdir:
        filename = os.path.join(tmpdir, "network.keras")
        keras.saving.save_model(network, filename)
        with open(filename, "rb") as file:
            return file.read()


def network_from_bytes(data):
    """The network that :func:`network_to_bytes` wrote, compiled as it was.

    Parameters
    ----------
    data : bytes
        A ``.keras`` archive.

    Returns
    -------
    keras.Model
        The network, with its weights and, when it was compiled, its loss,
        metrics and optimizer state.

    Raises
    ------
    ValueError
        If Keras' safe mode refuses the network (it would run code from the
        bytes, e.g. a ``Lambda`` layer), even after
        ``keras.config.enable_unsafe_deserialization()``.
    """
    from ..architectures import register_keras_objects

    keras = import_keras()
    register_keras_objects()
    with quiet(), tempfile.TemporaryDirectory(prefix="skcifar-pickle-") as tmpdir:
        filename = os.path.join(tmpdir, "network.keras")
        with open(filename, "wb") as file:
            file.write(data)
        try:
            with safe_mode_scope():
                return keras.saving.load_model(filename, compile=True, safe_mode=True)
        except Exception as exc:
            raise ValueError(
                f"The pickled network could not be loaded in Keras' safe mode "
                f"({type(exc).__name__}: {exc}). Unpickling refuses networks that would run "
                "code from the pickle (e.g. Lambda layers)."
            ) from exc


__all__ = ["network_from_bytes", "network_to_bytes"]
