"""Command-line plumbing shared by the example scripts (not part of skcifar)."""

from __future__ import annotations

import argparse

from skcifar import load_data


def make_parser(doc, quick_help="1,000 training / 500 test images, 1 epoch"):
    """An argument parser with the options every example has: --quick, --data, --seed."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help=quick_help)
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
