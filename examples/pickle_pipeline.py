"""
Save a fitted pipeline, load it back, and check it predicts identically
=======================================================================

A fitted ``Pipeline(PixelScaler, CNNClassifier)`` pickles like any scikit-learn
estimator, Keras network included: ``joblib.dump`` writes one file and
``joblib.load`` restores a pipeline whose ``predict_proba`` is bit-for-bit the
same as the original's. The script fits, saves, loads, compares the
probabilities on the test images, and prints the file's size. It then does the
same with ``skcifar.save`` / ``skcifar.load``, which store the pipeline without
pickle.

Security: loading a pickle (``joblib.load``, ``pickle.load``) can execute
arbitrary code. Only load joblib files you created yourself or got from a
source you trust, and load them with the same versions of skcifar,
scikit-learn, Keras and TensorFlow that saved them. For model files that are
shared, prefer ``skcifar.save`` / ``skcifar.load`` (data only, no code).

Run::

    python examples/pickle_pipeline.py                       # 10,000 images, 3 epochs
    python examples/pickle_pipeline.py --out cnn.joblib      # keep the file
    python examples/pickle_pipeline.py --quick               # 1,000 / 500 images, 1 epoch

The data is found by ``skcifar.load_data()``: set ``SKCIFAR_DATA`` to a local
copy of CIFAR-10 when offline, or pass ``--data PATH``.
"""

# %%
# Fit
# ---

import os
import tempfile

import joblib
import matplotlib.pyplot as plt
import numpy as np
from _common import load_slices, make_parser, to_pyplot  # examples/_common.py: shared plumbing
from sklearn.pipeline import make_pipeline

import skcifar
from skcifar import CLASS_NAMES, CNNClassifier, PixelScaler
from skcifar.evaluation import evaluate, plot_samples

parser = make_parser(__doc__)
parser.add_argument(
    "--out", default=None, help="where to save the pipeline (default: a temporary file)"
)
args = parser.parse_args()
n_train, n_test, epochs = (1000, 500, 1) if args.quick else (10_000, None, 3)

(X_train, y_train), (X_test, y_test) = load_slices(args.data, n_train, n_test)
model = make_pipeline(PixelScaler(), CNNClassifier(epochs=epochs, random_state=args.seed))
model.fit(X_train, y_train)
before = model.predict_proba(X_test)
print(f"Fitted {model[-1]!r} on {len(X_train)} images")

# %%
# Save and load, with joblib and with skcifar.save
# ------------------------------------------------
# ``skcifar.save`` writes a zip of JSON parameters, ``.npy`` arrays and the
# ``.keras`` network: loading it runs no code from the file.

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.abspath(args.out) if args.out else os.path.join(tmp, "cnn.joblib")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    joblib.dump(model, path)
    print(f"Saved with joblib.dump to {path} ({os.path.getsize(path) / 1e6:.1f} MB)")

    # Only ever load joblib files you trust: unpickling can run arbitrary code.
    loaded = joblib.load(path)
    print(f"Loaded with joblib.load: {type(loaded).__name__} of {list(loaded.named_steps)}")

    safe_path = os.path.join(tmp, "cnn.skcifar")
    skcifar.save(model, safe_path)
    print(f"Saved with skcifar.save ({os.path.getsize(safe_path) / 1e6:.1f} MB, no pickle)")
    safe_loaded = skcifar.load(safe_path)

# %%
# Compare the predictions
# -----------------------

identical = True
for how, restored in (("joblib.load", loaded), ("skcifar.load", safe_loaded)):
    after = restored.predict_proba(X_test)
    same = np.array_equal(before, after)
    identical = identical and same
    print(f"{how}: identical predict_proba on {len(X_test)} test images: {same}")
    if not same:
        print(f"  largest difference: {np.max(np.abs(before - after)):.3g}")
print(f"Test accuracy of the loaded pipeline: {loaded.score(X_test, y_test):.4f}")
print("Security note: joblib/pickle files can execute code when loaded;")
print("only load model files you trust, and prefer skcifar.save/skcifar.load for files you share.")

# %%
# The pipeline loaded by ``skcifar.load`` at work on the first test images
# (the misclassified ones framed in red).

result = evaluate(safe_loaded, X_test, y_test, class_names=CLASS_NAMES, n_samples=16)
to_pyplot(plot_samples(result))  # hand the figure to pyplot, which shows it
plt.show()

if not identical:
    raise RuntimeError("a loaded pipeline predicts differently from the one saved")
