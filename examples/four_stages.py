"""
The reference notebook, stage by stage: ANN against CNN
=======================================================

The notebook builds an image classifier in four stages. This script follows them
with skcifar's building blocks and names each stage in its output:

1. loading and preprocessing the data: ``load_data`` and ``PixelScaler``
   (the notebook's ``X / 255.0``);
2. defining the architectures: the notebook's dense network (``ANNClassifier``:
   Flatten -> 3000 -> 1000 -> 10, SGD) and convolutional network
   (``CNNClassifier``: Conv32 -> Conv64 -> Dense64 -> 10, Adam), each in a Pipeline;
3. training: the ANN for 5 epochs and the CNN for 10, as in the notebook;
4. estimating performance: test accuracy and log-loss of both, and the CNN's
   first predictions next to the true labels.

Measured accuracies and training times of the full run are on the benchmarks
page.

Run::

    python examples/four_stages.py            # the whole dataset, 5 and 10 epochs
    python examples/four_stages.py --quick    # 1,000 training / 500 test images, 1 epoch each

The data is found by ``skcifar.load_data()``: set ``SKCIFAR_DATA`` to a local
copy of CIFAR-10 when offline, or pass ``--data PATH``.
"""

# %%
# Stage 1: loading and preprocessing the data
# -------------------------------------------
# Images are ``uint8`` arrays of shape ``(n, 32, 32, 3)`` and labels integers
# 0-9, named by ``CLASS_NAMES``. ``PixelScaler`` maps the pixels to [0, 1].

import textwrap
import time

import matplotlib.pyplot as plt
import numpy as np
from _common import load_slices, make_parser  # examples/_common.py: shared plumbing
from sklearn.metrics import accuracy_score, log_loss
from sklearn.pipeline import make_pipeline

from skcifar import CLASS_NAMES, ANNClassifier, CNNClassifier, PixelScaler
from skcifar.architectures import build_ann, build_cnn

args = make_parser(
    __doc__, "1,000 training / 500 test images and 1 epoch per model (a smoke run)"
).parse_args()
ann_epochs, cnn_epochs = (1, 1) if args.quick else (5, 10)
verbose = 0 if args.quick else 2

print("Stage 1: loading and preprocessing the data")
limits = (1000, 500) if args.quick else (None, None)
(X_train, y_train), (X_test, y_test) = load_slices(args.data, *limits)
print(f"  training images {X_train.shape} {X_train.dtype}, test images {X_test.shape}")
print(f"  first labels: {[CLASS_NAMES[label] for label in y_train[:5]]}")
scaled = PixelScaler().fit_transform(X_train[:10])
print(
    f"  PixelScaler maps pixels [0, 255] to {scaled.dtype} "
    f"[{scaled.min():.1f}, {scaled.max():.1f}] (the notebook's X / 255.0)"
)

fig, axes = plt.subplots(2, 8, figsize=(8, 2.6), layout="constrained")
for ax, image, label in zip(axes.flat, X_train, y_train, strict=False):
    ax.imshow(image)
    ax.set_title(CLASS_NAMES[label], fontsize=8)
    ax.axis("off")
fig.suptitle("The first training images")

# %%
# Stage 2: defining the models' architecture
# ------------------------------------------
# Each network is a classifier whose architecture is set by its parameters;
# the builders the classifiers use return the same networks as plain Keras
# models.


def describe(network):
    """One line per Keras model: its layers, with their sizes."""
    parts = []
    for layer in network.layers:
        kind = type(layer).__name__
        if hasattr(layer, "filters"):
            size = "x".join(map(str, layer.kernel_size))
            parts.append(f"{kind} {layer.filters} {size} {layer.activation.__name__}")
        elif hasattr(layer, "units"):
            parts.append(f"{kind} {layer.units} {layer.activation.__name__}")
        else:
            parts.append(kind)
    return " -> ".join(parts)


print("Stage 2: defining the models' architecture")
models = {
    "ANN": make_pipeline(
        PixelScaler(),
        ANNClassifier(epochs=ann_epochs, random_state=args.seed, verbose=verbose),
    ),
    "CNN": make_pipeline(
        PixelScaler(),
        CNNClassifier(epochs=cnn_epochs, random_state=args.seed, verbose=verbose),
    ),
}
for name, model in models.items():
    print(f"  {name}: {model[-1]!r}")
for name, network in (("ANN", build_ann(compile=False)), ("CNN", build_cnn(compile=False))):
    print(textwrap.fill(f"  {name} layers: {describe(network)}", 88, subsequent_indent="    "))

# %%
# Stage 3: training the models
# ----------------------------

print("Stage 3: training the models")
for name, model in models.items():
    start = time.perf_counter()
    model.fit(X_train, y_train)
    history = model[-1].history_
    print(
        f"  {name}: {len(history['loss'])} epoch(s) in {time.perf_counter() - start:.1f} s, "
        f"{model[-1].model_.count_params():,} weights, final training loss "
        f"{history['loss'][-1]:.4f}, accuracy {history['accuracy'][-1]:.4f}"
    )

# %%
# Stage 4: estimating the models' performance
# -------------------------------------------
# Test accuracy and log-loss of both networks, then the CNN's most probable
# class for the first test images.

print("Stage 4: estimating the models' performance on the test set")
scores = {}
for name, model in models.items():
    proba = model.predict_proba(X_test)
    predicted = model.classes_[proba.argmax(axis=1)]
    scores[name] = (
        accuracy_score(y_test, predicted),
        log_loss(y_test, proba, labels=model.classes_),
    )
    print(f"  {name} test accuracy: {scores[name][0]:.4f} (log-loss {scores[name][1]:.4f})")

cnn = models["CNN"]
print("  CNN predictions for the first 5 test images:")
proba = cnn.predict_proba(X_test[:5])
for truth, row in zip(y_test[:5], proba, strict=True):
    best = int(np.argmax(row))
    print(
        f"    true {CLASS_NAMES[truth]:<10} predicted {CLASS_NAMES[cnn.classes_[best]]:<10} "
        f"(p={row[best]:.2f})"
    )

fig, (left, right) = plt.subplots(1, 2, figsize=(7, 2.8), layout="constrained")
names = list(scores)
left.bar(names, [scores[name][0] for name in names], color=["C0", "C1"])
left.set(title="test accuracy", ylim=(0, 1))
right.bar(names, [scores[name][1] for name in names], color=["C0", "C1"])
right.set(title="test log-loss (lower is better)")
plt.show()
