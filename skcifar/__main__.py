"""``python -m skcifar``: the ``skcifar`` command line (see :mod:`skcifar.cli`)."""

import sys

from skcifar.cli import main

if __name__ == "__main__":
    sys.exit(main())
