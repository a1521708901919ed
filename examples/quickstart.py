"""Quickstart: the notebook's CNN on CIFAR-10 in a scikit-learn Pipeline.

Loads CIFAR-10, scales the pixels with ``PixelScaler`` and trains the reference
notebook's convolutional network (``CNNClassifier``), then prints the test
accuracy: the whole notebook in a few lines.

Run::

    python examples/quickstart.py            # 5,000 training images, 3 epochs (a few minutes)
    python examples/quickstart.py --full     # the whole training set, 10 epochs (about 68%)
    python examples/quickstart.py --quick    # 1,000 training / 500 test images, 1 epoch

The data is found by ``skcifar.load_data()``: set ``SKCIFAR_DATA`` to a local
copy of CIFAR-10 when offline, or pass ``--data PATH``.
"""

from __future__ import annotations

import argparse
import sys

from _common import load_slices  # examples/_common.py: shared plumbing
from sklearn.pipeline import make_pipeline

from skcifar import CNNClassifier, PixelScaler


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_true", help="1,000 training / 500 test images, 1 epoch"
    )
    size.add_argument("--full", action="store_true", help="all 50,000 training images, 10 epochs")
    parser.add_argument("--data", default=None, help="CIFAR-10 archive or directory")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        n_train, n_test, epochs = 1000, 500, 1
    elif args.full:
        n_train, n_test, epochs = None, None, 10
    else:
        n_train, n_test, epochs = 5000, None, 3

    (X_train, y_train), (X_test, y_test) = load_slices(args.data, n_train, n_test)  # stage 1

    model = make_pipeline(  # stage 1b + 2: preprocess and define the model
        PixelScaler(),
        CNNClassifier(epochs=epochs, random_state=0, verbose=0 if args.quick else 2),
    )
    model.fit(X_train, y_train)  # stage 3: train
    print(f"trained on {len(X_train)} images for {epochs} epoch(s)")
    print(f"test accuracy: {model.score(X_test, y_test):.4f}")  # stage 4: estimate
    return 0


if __name__ == "__main__":
    sys.exit(main())
