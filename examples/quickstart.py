"""
Quickstart: the notebook's CNN in a scikit-learn Pipeline
=========================================================

Load CIFAR-10, scale the pixels with :class:`~skcifar.PixelScaler`, train the
reference notebook's convolutional network (:class:`~skcifar.CNNClassifier`)
and print the test accuracy: the whole notebook in a few lines. A last figure
shows a few test images with the model's predictions.

Run::

    python examples/quickstart.py            # 5,000 training images, 3 epochs (a few minutes)
    python examples/quickstart.py --full     # the whole training set, 10 epochs
    python examples/quickstart.py --quick    # 1,000 training / 500 test images, 1 epoch

The data is found by ``skcifar.load_data()``: set ``SKCIFAR_DATA`` to a local
copy of CIFAR-10 when offline, or pass ``--data PATH``.
"""

# %%
# Stage 1: the data
# -----------------
# The first images of each split; the loader interleaves the classes, so any
# leading slice is class-balanced.

import matplotlib.pyplot as plt
from _common import load_slices, make_parser, to_pyplot  # examples/_common.py: shared plumbing
from sklearn.pipeline import make_pipeline

from skcifar import CLASS_NAMES, CNNClassifier, PixelScaler
from skcifar.evaluation import evaluate, plot_samples

args = make_parser(
    __doc__,
    quick_help="1,000 training / 500 test images, 1 epoch",
    full_help="all 50,000 training images, 10 epochs",
).parse_args()
if args.quick:
    n_train, n_test, epochs = 1000, 500, 1
elif args.full:
    n_train, n_test, epochs = None, None, 10
else:
    n_train, n_test, epochs = 5000, None, 3

(X_train, y_train), (X_test, y_test) = load_slices(args.data, n_train, n_test)
print(f"{len(X_train)} training and {len(X_test)} test images of shape {X_train.shape[1:]}")

# %%
# Stages 1b to 3: scale, define and train
# ---------------------------------------
# :class:`~skcifar.PixelScaler` is the notebook's ``X / 255.0``;
# :class:`~skcifar.CNNClassifier` builds and trains its network. In a
# :class:`~sklearn.pipeline.Pipeline` they fit, predict and score as one
# scikit-learn estimator.

model = make_pipeline(
    PixelScaler(),
    CNNClassifier(epochs=epochs, random_state=args.seed, verbose=0 if args.quick else 2),
)
model.fit(X_train, y_train)
print(f"trained on {len(X_train)} images for {epochs} epoch(s)")

# %%
# Stage 4: estimate the performance
# ---------------------------------

print(f"test accuracy: {model.score(X_test, y_test):.4f}")

# %%
# The first test images, each titled with the true class, the prediction and
# its probability; the misclassified ones are framed in red.

result = evaluate(model, X_test, y_test, class_names=CLASS_NAMES, n_samples=16)
to_pyplot(plot_samples(result))  # hand the figure to pyplot, which shows it
plt.show()
