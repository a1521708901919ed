"""Command-line plumbing shared by the example scripts (not part of skcifar)."""

from __future__ import annotations

import argparse
import re

import matplotlib.pyplot as plt

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


def to_pyplot(fig):
    """Hand ``fig``, a figure made without pyplot (as skcifar's plots are), to pyplot.

    pyplot then shows it: ``plt.show()`` on the command line, the gallery's page.
    matplotlib 3.11 and later take such a figure in ``plt.figure(fig)``; older
    releases refuse it, and for them this does what 3.11 does there (through
    pyplot's private helpers, which are fixed in those releases).
    """
    try:
        return plt.figure(fig)
    except ValueError:  # matplotlib < 3.11: "The passed figure is not managed by pyplot"
        if fig.canvas.manager is not None:
            raise
    from matplotlib import _pylab_helpers

    num = max(plt.get_fignums(), default=0) + 1
    manager = plt._get_backend_mod().new_figure_manager_given_figure(num, fig)
    _pylab_helpers.Gcf._set_new_active_manager(manager)
    return fig
