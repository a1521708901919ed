"""Atomic, md5-verified download of the official CIFAR-10 archive."""

import hashlib
import os

from ..utils.atomic import atomic_output
from ._home import progress_bar

# Module constants (read at call time, so tests can monkeypatch them).
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
FILENAME = "cifar-10-python.tar.gz"
TIMEOUT = 15  # seconds; an offline machine fails fast instead of hanging
_CHUNK_BYTES = 1 << 20


def download(url, destination, md5, *, progress=None):
    """Download ``url`` to ``destination`` atomically, md5 checked; return ``destination``.

    The file is renamed into place only once its md5 matches; on any failure,
    KeyboardInterrupt included, nothing is left behind.
    """
    import urllib.request  # here, not at module level: keeps importing skcifar fast

    os.makedirs(os.path.dirname(os.path.abspath(destination)), exist_ok=True)
    digest = hashlib.md5(usedforsecurity=False)
    with (
        atomic_output(destination, suffix=".part") as out,
        urllib.request.urlopen(url, timeout=TIMEOUT) as response,
    ):
        length = response.headers.get("Content-Length")
        with progress_bar(
            progress,
            total=int(length) if length and length.isdigit() else None,
            unit="B",
            unit_scale=True,
            desc=f"Downloading {os.path.basename(destination)}",
        ) as bar:
            while chunk := response.read(_CHUNK_BYTES):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
        if digest.hexdigest() != md5:  # raising here discards the partial file
            raise OSError(
                f"md5 mismatch for {url}: got {digest.hexdigest()}, expected {md5} "
                "(the download is incomplete or corrupt)"
            )
    return destination
