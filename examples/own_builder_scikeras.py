"""
Your own Keras builder with scikeras: build_cnn in a grid search
================================================================

For a network that ``ANNClassifier``, ``CNNClassifier`` and
``ResNetClassifier`` do not build, scikeras' ``KerasClassifier`` turns a
function returning a compiled Keras model into a scikit-learn classifier.
skcifar's builders are such functions: this script wraps
``skcifar.architectures.build_cnn`` (its keyword arguments set as
``model__<argument>``) after ``PixelScaler`` in a pipeline, searches its
``dense_units`` with ``GridSearchCV``, saves the best pipeline with joblib,
loads it back, checks that it predicts identically and draws its confusion
matrix on the test images. It needs the extra: ``pip install
"skcifar[scikeras]"``.

Run::

    python examples/own_builder_scikeras.py            # 5,000 images, 3 epochs, 3 folds
    python examples/own_builder_scikeras.py --quick    # 1,000 / 500 images, 1 epoch, 2 folds

The data is found by ``skcifar.load_data()``: set ``SKCIFAR_DATA`` to a local
copy of CIFAR-10 when offline, or pass ``--data PATH``.
"""

# %%
# The pipeline and the search
# ---------------------------
# ``KerasClassifier`` calls ``build_cnn(**model_parameters)``: the data's
# shape and the number of classes are two of them.

import os
import tempfile

import joblib
import matplotlib.pyplot as plt
import numpy as np
from _common import load_slices, make_parser, to_pyplot  # examples/_common.py: shared plumbing
from scikeras.wrappers import KerasClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skcifar import CLASS_NAMES, PixelScaler
from skcifar.architectures import build_cnn
from skcifar.evaluation import evaluate, plot_confusion_matrix

parser = make_parser(__doc__, "1,000 training / 500 test images, 1 epoch, 2 folds")
args = parser.parse_args()
n_train, n_test, epochs, cv = (1000, 500, 1, 2) if args.quick else (5000, None, 3, 3)

(X_train, y_train), (X_test, y_test) = load_slices(args.data, n_train, n_test)
model = make_pipeline(
    PixelScaler(),
    KerasClassifier(
        model=build_cnn,
        model__input_shape=X_train.shape[1:],
        model__n_classes=len(CLASS_NAMES),
        model__filters=(16, 32),
        model__seed=args.seed,
        epochs=epochs,
        random_state=args.seed,
        verbose=0,
    ),
)
search = GridSearchCV(model, {"kerasclassifier__model__dense_units": [32, 64]}, cv=cv)
search.fit(X_train, y_train)
for params, score in zip(
    search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True
):
    print(f"dense_units={params['kerasclassifier__model__dense_units']}: {cv}-fold {score:.4f}")
best = search.best_estimator_
print(f"Best dense_units: {search.best_params_['kerasclassifier__model__dense_units']}")
print(f"Test accuracy of the best pipeline: {best.score(X_test, y_test):.4f}")

# %%
# Save and load with joblib
# -------------------------
# Only load joblib files you trust: unpickling can run arbitrary code.

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "own-cnn.joblib")
    joblib.dump(best, path)
    loaded = joblib.load(path)
same = np.array_equal(loaded.predict_proba(X_test), best.predict_proba(X_test))
print(f"joblib.load: identical predict_proba on {len(X_test)} test images: {same}")

# %%
# The loaded pipeline's confusion matrix on the test images.

result = evaluate(loaded, X_test, y_test, class_names=CLASS_NAMES)
to_pyplot(plot_confusion_matrix(result))  # hand the figure to pyplot, which shows it
plt.show()

if not same:
    raise RuntimeError("the loaded pipeline predicts differently from the one saved")
