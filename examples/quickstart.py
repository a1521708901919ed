"""Quickstart: the notebook's CNN on a slice of CIFAR-10, the scikit-learn way.

    python examples/quickstart.py            # 5,000 training images, 3 epochs
    python examples/quickstart.py --full     # the whole training set, 10 epochs
"""

import sys

from sklearn.pipeline import make_pipeline

from skcifar import CNNClassifier, PixelScaler, load_data

full = "--full" in sys.argv
(X_train, y_train), (X_test, y_test) = load_data()  # stage 1: load
if not full:
    X_train, y_train = X_train[:5000], y_train[:5000]

model = make_pipeline(  # stage 1b + 2: preprocess and define the model
    PixelScaler(), CNNClassifier(epochs=10 if full else 3, random_state=0, verbose=2)
)
model.fit(X_train, y_train)  # stage 3: train
print(f"test accuracy: {model.score(X_test, y_test):.3f}")  # stage 4: estimate
