"""skcifar's version and the versions of the libraries it runs on, read in one place."""

from __future__ import annotations

import sys
from importlib import metadata

#: skcifar's version (``skcifar.__version__``; pyproject.toml reads it from here).
__version__ = "0.1.0"


def library_versions(*distributions):
    """``{"skcifar": version, distribution: version or None, ...}``.

    ``"python"`` names the interpreter; any other name is an installed
    distribution (None when it is not installed).
    """
    versions = {"skcifar": __version__}
    for name in distributions:
        if name == "python":
            versions[name] = sys.version.split()[0]
            continue
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
