"""
Tune the CNN's filters and epochs with GridSearchCV
===================================================

The notebook picks its hyperparameters by hand ("keep experimenting with the
values until you find the best match"). Because ``CNNClassifier`` exposes its
architecture as constructor parameters, scikit-learn can do the experimenting:
this script runs ``GridSearchCV`` over ``cnnclassifier__filters`` and
``cnnclassifier__epochs`` on ``Pipeline(PixelScaler, CNNClassifier)``, prints the
cross-validation results ranked best first and draws them, then prints the test
accuracy of the best model (refitted on all the search data).

Every candidate is trained once per fold, so the search runs on a subset of the
training set (``--subset``, default 10,000 images: tens of minutes on a CPU).
``--n-jobs 2`` fits two candidates at a time in separate processes; each
worker limits TensorFlow to its share of the cores.

Run::

    python examples/grid_search_filters_epochs.py                 # 2x2 grid, 3 folds, 10,000 images
    python examples/grid_search_filters_epochs.py --n-jobs 2
    python examples/grid_search_filters_epochs.py --quick         # tiny grid on 1,000 images

The data is found by ``skcifar.load_data()``: set ``SKCIFAR_DATA`` to a local
copy of CIFAR-10 when offline, or pass ``--data PATH``.
"""

# %%
# The search
# ----------
# Parameters of a pipeline's step are named ``<step>__<parameter>``;
# ``make_pipeline`` names the steps after their classes, in lower case.

import time

import matplotlib.pyplot as plt
import numpy as np
from _common import load_slices, make_parser  # examples/_common.py: shared plumbing
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline

from skcifar import CNNClassifier, PixelScaler

parser = make_parser(
    __doc__,
    "tiny grid (filters 8,16 / 16,32; epochs 1 / 2), 2 folds, 1,000 training and 500 test images",
)
parser.add_argument(
    "--subset", type=int, default=10_000, help="training images to search on (default 10000)"
)
parser.add_argument("--cv", type=int, default=3, help="cross-validation folds (default 3)")
parser.add_argument("--n-jobs", type=int, default=1, help="parallel fits (default 1)")
args = parser.parse_args()
if args.quick:
    n_train, n_test, cv = 1000, 500, 2
    grid = {"cnnclassifier__filters": [(8, 16), (16, 32)], "cnnclassifier__epochs": [1, 2]}
else:
    n_train, n_test, cv = args.subset, None, args.cv
    grid = {"cnnclassifier__filters": [(16, 32), (32, 64)], "cnnclassifier__epochs": [5, 10]}

(X_train, y_train), (X_test, y_test) = load_slices(args.data, n_train, n_test)
n_candidates = len(grid["cnnclassifier__filters"]) * len(grid["cnnclassifier__epochs"])
print(
    f"Grid search: {n_candidates} candidates x {cv} folds on {len(X_train)} training "
    f"images (n_jobs={args.n_jobs})"
)
for key, values in grid.items():
    print(f"  {key}: {values}")

search = GridSearchCV(
    make_pipeline(PixelScaler(), CNNClassifier(random_state=args.seed)),
    grid,
    cv=StratifiedKFold(n_splits=cv, shuffle=True, random_state=args.seed),
    n_jobs=args.n_jobs,
)
start = time.perf_counter()
search.fit(X_train, y_train)
print(f"Searched in {time.perf_counter() - start:.1f} s")

# %%
# The results, ranked
# -------------------
# ``cv_results_`` holds every candidate's fold scores and fit times.


def format_params(params):
    return ", ".join(f"{key.split('__')[-1]}={value}" for key, value in sorted(params.items()))


results = search.cv_results_
order = np.argsort(results["rank_test_score"], kind="stable")
print("Ranked cross-validation results (accuracy):")
print(f"{'rank':>4}  {'mean':>6}  {'std':>6}  {'fit s':>6}  params")
for i in order:
    print(
        f"{results['rank_test_score'][i]:>4}  {results['mean_test_score'][i]:>6.4f}  "
        f"{results['std_test_score'][i]:>6.4f}  {results['mean_fit_time'][i]:>6.1f}  "
        f"{format_params(results['params'][i])}"
    )

# %%
# Mean cross-validation accuracy of each candidate, with its standard
# deviation over the folds, on the grid of filters and epochs.

filters, epochs = grid["cnnclassifier__filters"], grid["cnnclassifier__epochs"]
means = np.empty((len(filters), len(epochs)))
stds = np.empty_like(means)
for params, mean, std in zip(
    results["params"], results["mean_test_score"], results["std_test_score"], strict=True
):
    row = filters.index(params["cnnclassifier__filters"])
    column = epochs.index(params["cnnclassifier__epochs"])
    means[row, column], stds[row, column] = mean, std

fig, ax = plt.subplots(figsize=(5, 3.6), layout="constrained")
image = ax.imshow(means, cmap="viridis")
for (row, column), mean in np.ndenumerate(means):
    ax.text(
        column,
        row,
        f"{mean:.3f}\n± {stds[row, column]:.3f}",
        ha="center",
        va="center",
        color="white" if mean < means.mean() else "black",
    )
ax.set(
    xticks=range(len(epochs)),
    xticklabels=epochs,
    yticks=range(len(filters)),
    yticklabels=[str(f) for f in filters],
    xlabel="epochs",
    ylabel="filters",
    title=f"Mean {cv}-fold accuracy",
)
fig.colorbar(image, ax=ax)

# %%
# The best candidate
# ------------------
# ``GridSearchCV`` refits it on all the search data; its test accuracy is the
# one number here measured on held-out images.

print(f"Best parameters: {format_params(search.best_params_)}")
print(f"Best cross-validation accuracy: {search.best_score_:.4f}")
print(
    f"Test accuracy of the best model (refitted on all {len(X_train)} images, "
    f"{len(X_test)} test images): {search.score(X_test, y_test):.4f}"
)
plt.show()
