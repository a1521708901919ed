"""Command-line plumbing shared by the example scripts (not part of skcifar)."""

from __future__ import annotations

import argparse
import re

from skcifar import load_data

# The underline of a reStructuredText title: the gallery's page title, not --help's.
_UNDERLINE = re.compile(r"^\s*=+\s*$", re.MULTILINE)


def make_parser(doc, quick_help="1,000 training / 500 test images, 1 epoch", full_help=None):
    """An argument parser with the options every example has: --quick, --data, --seed.

    With ``full_help``, ``--full`` is added too, and it excludes ``--quick``.
    """
    parser = argparse.ArgumentParser(
        description=_UNDERLINE.sub("", doc or "").strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help=quick_help)
    if full_help:
        size.add_argument("--full", action="store_true", help=full_help)
    parser.add_argument("--data", default=None, help="CIFAR-10 archive or directory")
    parser.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
    return parser


def load_slices(path=None, n_train=None, n_test=None):
    """CIFAR-10's first ``n_train`` training and ``n_test`` test images.

    The loader interleaves the classes of the image-folder copy, so leading
    slices are class-balanced.
    """
    (X_train, y_train), (X_test, y_test) = load_data(path)
    return (X_train[:n_train], y_train[:n_train]), (X_test[:n_test], y_test[:n_test])
