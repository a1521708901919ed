"""
Cross-validate the CNN pipeline with cross_val_score
====================================================

The notebook estimates performance from one train/test split. Cross-validation
gives an estimate with an error bar, without touching the test set:
``Pipeline(PixelScaler, CNNClassifier)`` is an ordinary scikit-learn estimator,
so ``cross_val_score`` clones, fits and scores it on each fold (stratified and
shuffled here). The script prints every fold's accuracy and their mean ± standard
deviation, and draws them.

Run::

    python examples/cross_validation.py                     # 10,000 images, 5 folds, 5 epochs
    python examples/cross_validation.py --cv 3 --n-jobs 2
    python examples/cross_validation.py --quick             # 1,000 images, 3 folds, 1 epoch

The data is found by ``skcifar.load_data()``: set ``SKCIFAR_DATA`` to a local
copy of CIFAR-10 when offline, or pass ``--data PATH``.
"""

# %%
# Score each fold
# ---------------

import time

import matplotlib.pyplot as plt
from _common import load_slices, make_parser  # examples/_common.py: shared plumbing
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from skcifar import CNNClassifier, PixelScaler

parser = make_parser(__doc__, "1,000 training images, 3 folds, 1 epoch")
parser.add_argument(
    "--subset", type=int, default=10_000, help="training images to use (default 10000)"
)
parser.add_argument("--cv", type=int, default=5, help="folds (default 5)")
parser.add_argument("--epochs", type=int, default=5, help="epochs per fit (default 5)")
parser.add_argument("--n-jobs", type=int, default=1, help="parallel fits (default 1)")
args = parser.parse_args()
n_train, cv, epochs = (1000, 3, 1) if args.quick else (args.subset, args.cv, args.epochs)

(X, y), _ = load_slices(args.data, n_train, 0)
model = make_pipeline(PixelScaler(), CNNClassifier(epochs=epochs, random_state=args.seed))
print(f"cross_val_score of {model[-1]!r}")
print(f"  {epochs} epoch(s) a fit, {len(X)} images, {cv} stratified folds")

start = time.perf_counter()
scores = cross_val_score(
    model,
    X,
    y,
    cv=StratifiedKFold(n_splits=cv, shuffle=True, random_state=args.seed),
    scoring="accuracy",
    n_jobs=args.n_jobs,
)
elapsed = time.perf_counter() - start
for fold, score in enumerate(scores, start=1):
    print(f"  fold {fold}: accuracy {score:.4f}")
print(f"Cross-validated accuracy: {scores.mean():.4f} ± {scores.std():.4f} ({elapsed:.1f} s)")

# %%
# The folds and their mean
# ------------------------
# The band is the mean ± one standard deviation; chance is one in ten.

folds = range(1, len(scores) + 1)
fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
ax.bar(folds, scores, color="C0", label="fold accuracy")
ax.axhline(scores.mean(), color="C1", label=f"mean {scores.mean():.3f}")
ax.axhspan(scores.mean() - scores.std(), scores.mean() + scores.std(), color="C1", alpha=0.2)
ax.axhline(0.1, color="gray", linestyle=":", label="chance")
ax.set(xticks=list(folds), xlabel="fold", ylabel="accuracy", ylim=(0, 1))
ax.legend(loc="upper right")
plt.show()
