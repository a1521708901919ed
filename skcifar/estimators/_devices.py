"""Which devices a fit runs on, as a Keras distribution or none.

A classifier's ``devices`` parameter is resolved here when a fit starts:
:func:`fit_distribution` turns it into a ``keras.distribution.DataParallel``
over several devices (Keras' JAX backend only), or None for one device, the
plain fit with no distribution scope at all.
"""

from __future__ import annotations

import contextlib

from ..utils.backend import backend_name, import_keras


def accelerators(devices):
    """The entries of ``devices`` (Keras' ``"platform:id"`` names) that are no CPU."""
    return [device for device in devices if not device.lower().startswith("cpu")]


def fit_distribution(devices, batch_size):
    """The Keras distribution of a fit on ``devices``, or None for one device.

    Parameters
    ----------
    devices : "auto" or int
        The classifier's ``devices`` parameter: ``"auto"`` trains over all
        accelerators (GPUs, TPUs) when Keras' backend is JAX and more than
        one is visible, else on one device; an int ``n`` trains over the
        first ``n`` devices of ``keras.distribution.list_devices()``.
    batch_size : int
        The classifier's ``batch_size``: a multiple of the device count.

    Returns
    -------
    keras.distribution.DataParallel or None
        Data parallelism over the devices, or None for one device.

    Raises
    ------
    ValueError
        If more than one device is asked for on another backend than JAX,
        more devices than are visible, or a ``batch_size`` that the device
        count does not divide.
    """
    if devices == "auto":
        if backend_name() != "jax":
            return None
        chosen = accelerators(import_keras().distribution.list_devices())
        if len(chosen) < 2:
            return None
    else:
        n = int(devices)
        if n == 1:
            return None
        if backend_name() != "jax":
            raise ValueError(
                f"devices={n} trains over several devices with Keras' distribution API, "
                f"which skcifar uses on the JAX backend only, not on {backend_name()!r}: "
                "set KERAS_BACKEND=jax before Python starts, or use devices=1."
            )
        visible = import_keras().distribution.list_devices()
        if n > len(visible):
            raise ValueError(
                f"devices={n} asks for more devices than the {len(visible)} visible to "
                f'JAX ({", ".join(visible)}): use devices={len(visible)} or fewer, or "auto".'
            )
        chosen = visible[:n]
    if batch_size % len(chosen):
        raise ValueError(
            f"batch_size={batch_size} is no multiple of the {len(chosen)} devices "
            f"({', '.join(chosen)}) that each batch is split over: use a batch_size "
            f"that {len(chosen)} divides, or set devices to a count that divides {batch_size}."
        )
    return import_keras().distribution.DataParallel(devices=chosen)


@contextlib.contextmanager
def distributed(devices, batch_size):
    """Run the block under :func:`fit_distribution`'s distribution, or as it is without one."""
    distribution = fit_distribution(devices, batch_size)
    if distribution is None:
        yield
        return
    with distribution.scope():
        yield


def place(network):
    """Put ``network``'s variables where the Keras distribution in effect keeps them.

    A network built outside the distribution (unpickled, loaded, or trained
    on another device count) keeps its values on its own devices; training
    it further within the distribution needs them laid out as the
    distribution lays out new variables (replicated, for data parallelism).
    Without a distribution nothing changes.
    """
    keras = import_keras()
    distribution = keras.distribution.distribution()
    if distribution is None:
        return
    optimizer = getattr(network, "optimizer", None)
    variables = [
        *network.variables,
        *getattr(network, "metrics_variables", []),
        *(optimizer.variables if optimizer is not None else []),
    ]
    for variable in {id(v): v for v in variables}.values():
        layout = distribution.get_variable_layout(variable)
        variable.assign(keras.distribution.distribute_tensor(variable.value, layout))
