"""Shared test fixtures."""

import os
import socket

import pytest

# Captured at start-up: tests may monkeypatch the environment variable away.
_SKCIFAR_DATA = os.environ.get("SKCIFAR_DATA")
_real_connect = socket.socket.connect
_real_create_connection = socket.create_connection


def _refuse_network(*args, **kwargs):
    raise RuntimeError("network access in tests")


def _is_loopback(address):
    host = address[0] if isinstance(address, tuple) else address
    return isinstance(host, str) and (
        host.startswith("127.") or host in ("localhost", "::1", "0:0:0:0:0:0:0:1")
    )


def _connect_local_only(self, address, *args, **kwargs):
    # Local IPC (AF_UNIX, used by multiprocessing) and loopback (a local Dask
    # cluster) never leave the machine: they are not network access.
    if self.family == getattr(socket, "AF_UNIX", None) or _is_loopback(address):
        return _real_connect(self, address, *args, **kwargs)
    _refuse_network()


def _create_connection_local_only(address, *args, **kwargs):
    if _is_loopback(address):
        return _real_create_connection(address, *args, **kwargs)
    _refuse_network()


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Block network access in every test: connecting anywhere but loopback raises."""
    monkeypatch.setattr(socket.socket, "connect", _connect_local_only)
    monkeypatch.setattr(socket, "create_connection", _create_connection_local_only)


@pytest.fixture(scope="session")
def cifar10_real_data_home(tmp_path_factory):
    """A session-wide data home holding the decoded-array cache of the real data."""
    return str(tmp_path_factory.mktemp("skcifar_data_home"))


@pytest.fixture(scope="session")
def cifar10_real(cifar10_real_data_home):
    """The real CIFAR-10 from ``$SKCIFAR_DATA``: ``((X_train, y_train), (X_test, y_test))``.

    Decoded once per test session (and cached in ``cifar10_real_data_home``); the
    arrays are read-only because every test shares them. Skips the test when
    ``SKCIFAR_DATA`` does not point at an existing file.
    """
    if not _SKCIFAR_DATA or not os.path.isfile(_SKCIFAR_DATA):
        pytest.skip("set SKCIFAR_DATA to the CIFAR-10 archive to run tests on the real data")
    from skcifar.datasets import load_data

    data = load_data(_SKCIFAR_DATA, data_home=cifar10_real_data_home, progress=False)
    for split in data:
        for array in split:
            array.setflags(write=False)
    return data


@pytest.fixture
def needs_bfloat16():
    """Skip a test that computes in bfloat16 where TensorFlow cannot do so.

    That is TensorFlow's oneDNN build on a CPU with bfloat16 instructions when
    oneDNN is held to an older instruction set (``ONEDNN_MAX_CPU_ISA=AVX2``,
    as ``make test-isa`` runs the suite); ``precision="auto"`` then computes
    in float32, and an explicit ``"bfloat16"`` is refused with a ValueError.
    """
    from skcifar.architectures import bfloat16_runs

    if not bfloat16_runs():
        pytest.skip("TensorFlow cannot compute in bfloat16 here (see bfloat16_runs)")


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory this process cannot write into; skips where it can (root, by default)."""
    directory = tmp_path / "read-only"
    directory.mkdir(mode=0o500)
    try:
        (directory / "probe").touch()
    except PermissionError:
        yield directory
    else:
        pytest.skip("this process writes into read-only directories (root)")
    finally:
        directory.chmod(0o700)


def pytest_collection_modifyitems(config, items):
    """Skip the ``tensorflow``-marked tests where Keras runs on another backend."""
    from skcifar.utils.backend import backend_name

    backend = backend_name()
    if backend == "tensorflow":
        return
    skip = pytest.mark.skip(reason=f"needs Keras' TensorFlow backend; Keras runs on {backend}")
    for item in items:
        if "tensorflow" in item.keywords:
            item.add_marker(skip)
