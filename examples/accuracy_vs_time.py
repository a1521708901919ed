"""
Accuracy against training time: the notebook's CNN and ResNetClassifier
=======================================================================

How fast does each classifier learn? The script trains the notebook's
:class:`~skcifar.CNNClassifier` and the quarter-width
:class:`~skcifar.ResNetClassifier` one epoch at a time with ``partial_fit``,
measures the test accuracy after each epoch, and draws it against the
cumulative training time. ``partial_fit`` follows the ResNet's learning-rate
schedule, which is laid out over its ``epochs`` when the network is built.

Run::

    python examples/accuracy_vs_time.py            # all 50,000 images: CNN 10 epochs, ResNet 4
    python examples/accuracy_vs_time.py --quick    # 1,000 / 500 images, 3 epochs each

The data is found by ``skcifar.load_data()``: set ``SKCIFAR_DATA`` to a local
copy of CIFAR-10 when offline, or pass ``--data PATH``.
"""

# %%
# Scale once, then train epoch by epoch
# -------------------------------------
# A :class:`~sklearn.pipeline.Pipeline` has no ``partial_fit``, so the pixels
# are scaled once and each classifier trains on the scaled images. The timer
# covers ``partial_fit`` only (the ResNet's first call also builds and
# compiles its network); the test-set evaluations are left out.

import time

import matplotlib.pyplot as plt
import numpy as np
from _common import load_slices, make_parser  # examples/_common.py: shared plumbing

from skcifar import CNNClassifier, PixelScaler, ResNetClassifier

args = make_parser(__doc__, "1,000 training / 500 test images, 3 epochs per model").parse_args()
# On a slice, smaller batches at a rate scaled down alike (the defaults suit 50,000 images).
if args.quick:
    n_train, n_test, cnn_epochs, resnet_epochs = 1000, 500, 3, 3
    resnet_batches = dict(batch_size=128, learning_rate=0.2)
else:
    n_train, n_test, cnn_epochs, resnet_epochs, resnet_batches = None, None, 10, 4, {}

(X_train, y_train), (X_test, y_test) = load_slices(args.data, n_train, n_test)
scaler = PixelScaler().fit(X_train)
X_train_scaled, X_test_scaled = scaler.transform(X_train), scaler.transform(X_test)
classes = np.unique(y_train)

models = {
    "CNNClassifier (the notebook's)": CNNClassifier(epochs=cnn_epochs, random_state=args.seed),
    "ResNetClassifier(widths=(32, 64, 128))": ResNetClassifier(
        widths=(32, 64, 128), epochs=resnet_epochs, random_state=args.seed, **resnet_batches
    ),
}
curves = {}
for name, model in models.items():
    seconds, accuracies = [0.0], []
    for epoch in range(1, model.epochs + 1):
        start = time.perf_counter()
        model.partial_fit(X_train_scaled, y_train, classes=classes)
        seconds.append(seconds[-1] + time.perf_counter() - start)
        accuracies.append(model.score(X_test_scaled, y_test))
        print(f"{name} epoch {epoch}: {seconds[-1]:.1f} s, test accuracy {accuracies[-1]:.4f}")
    curves[name] = (seconds[1:], accuracies)

# %%
# The curves
# ----------
# Each point is one epoch. On a slice of the data every number here is small;
# the shape of the comparison is what the full run measures.

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for name, (seconds, accuracies) in curves.items():
    ax.plot(seconds, accuracies, "o-", label=name)
ax.set(
    xlabel="cumulative training seconds",
    ylabel=f"test accuracy ({len(X_test):,} images)",
    ylim=(0, 1),
    title=f"Trained on {len(X_train):,} CIFAR-10 images",
)
ax.grid(alpha=0.3)
ax.legend(loc="lower right")
plt.show()

# %%
# The full-size run
# -----------------
# ``make bench`` measures on all 50,000 training images: the notebook's CNN
# exactly as the notebook trains it (its curve, whose fit time is the budget
# unit) and ``ResNetClassifier`` fits with ``time_budget`` set to multiples of
# that time (one point each: a budgeted fit runs nothing else inside its
# budget). The figure of its committed results, with the machine, the versions
# and what the numbers mean, is on the :doc:`/benchmarks` page:
#
# .. image:: /_static/accuracy_vs_time.png
#    :alt: Test accuracy against fit seconds, from make bench
