"""A classifier's network as bytes: Keras' own ``.keras`` format, for pickling.

:class:`~skcifar.estimators._base.KerasImageClassifier` pickles (``pickle``,
joblib, ``copy.deepcopy``, the workers of a parallel search) with its
``model_`` replaced by :func:`network_to_bytes`, and :func:`network_from_bytes`
builds the network back: architecture, weights, compile settings and
optimizer state, so a restored classifier predicts as the original did and a
``warm_start`` fit continues its training (the format does not keep how far a
dropout or augmentation layer's seed generator has run: those layers draw
afresh after a round trip).

Both go through a private temporary directory, removed when the call ends,
and change none of Keras' settings or random streams (reading registers
skcifar's own layers by name, as fitting does). The network is read in
Keras' safe mode (skcifar's networks hold no ``Lambda`` layers); a pickle can
run code all the same, so load pickles only from sources you trust:
:func:`skcifar.save` writes files that are safe to load.
"""

from __future__ import annotations

import os
import tempfile

from ..utils.backend import import_keras, quiet


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
    """
    from ..architectures import register_keras_objects

    keras = import_keras()
    register_keras_objects()
    with quiet(), tempfile.TemporaryDirectory(prefix="skcifar-pickle-") as tmpdir:
        filename = os.path.join(tmpdir, "network.keras")
        with open(filename, "wb") as file:
            file.write(data)
        return keras.saving.load_model(filename, compile=True, safe_mode=True)


__all__ = ["network_from_bytes", "network_to_bytes"]
