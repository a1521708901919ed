"""``skcifar search``: grid search over the CNN's filters and epochs with cross-validation."""

from __future__ import annotations

import os
import time

from ._common import UsageError, check_out, describe, how_to_load, load_cifar10, save_model

DEFAULT_FILTERS = [(16, 32), (32, 64)]
DEFAULT_EPOCHS = [5, 10]
DEFAULT_SUBSET = 5000
DEFAULT_OUT = "runs/cnn-search-best.skcifar"
_PREFIX = "cnnclassifier__"


def _format_params(params):
    parts = []
    for name, value in params.items():
        if isinstance(value, tuple):
            value = ",".join(str(v) for v in value)
        parts.append(f"{name.removeprefix(_PREFIX)}={value}")
    return " ".join(parts)


def format_results(cv_results):
    """``GridSearchCV.cv_results_`` as a table, best mean test accuracy first."""
    ranks = cv_results["rank_test_score"]
    order = sorted(range(len(ranks)), key=lambda i: (ranks[i], i))
    lines = [f"{'rank':>4}  {'cv accuracy':<16}  {'fit time':>8}  params"]
    for i in order:
        score = f"{cv_results['mean_test_score'][i]:.4f} ± {cv_results['std_test_score'][i]:.4f}"
        lines.append(
            f"{ranks[i]:>4}  {score:<16}  {cv_results['mean_fit_time'][i]:>6.1f} s  "
            f"{_format_params(cv_results['params'][i])}"
        )
    return "\n".join(lines)


def search(args):
    """Run the grid search, print the ranked results, save the best pipeline."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from skcifar import CNNClassifier, PixelScaler

    out = check_out(args.out)  # before any search
    memory = args.memory
    if memory is not None and os.path.exists(memory) and not os.path.isdir(memory):
        raise UsageError(f"--memory {memory}: a file, not a directory; name a directory")
    (X, y), _ = load_cifar10(args.data, args.quiet)
    X, y = X[: args.subset], y[: args.subset]
    if len(y) < 2 * args.cv:
        raise UsageError(
            f"--cv {args.cv} needs at least {2 * args.cv} training images; --subset gives {len(y)}"
        )
    grid = {
        _PREFIX + "filters": list(dict.fromkeys(args.filters)),
        _PREFIX + "epochs": list(dict.fromkeys(args.epochs)),
    }
    n_candidates = len(grid[_PREFIX + "filters"]) * len(grid[_PREFIX + "epochs"])
    search_cv = GridSearchCV(
        make_pipeline(PixelScaler(), CNNClassifier(random_state=args.seed, memory=memory)),
        grid,
        cv=args.cv,
        n_jobs=args.n_jobs,
        error_score="raise",
        verbose=0 if args.quiet else 1,
    )
    print(
        f"searching {n_candidates} candidates x {args.cv} folds on {len(y)} training images",
        flush=True,
    )
    start = time.perf_counter()
    try:
        search_cv.fit(X, y)
    except ValueError as exc:  # e.g. too few images of a class for the folds
        raise UsageError(f"the search failed: {describe(exc)}") from exc
    print(f"done in {time.perf_counter() - start:.0f} s\n")
    print(format_results(search_cv.cv_results_))
    print(
        f"\nbest: {_format_params(search_cv.best_params_)} "
        f"(cv accuracy {search_cv.best_score_:.4f}), refitted on all {len(y)} images"
    )
    if memory is not None:
        print(describe_cache(memory))
    path = save_model(search_cv.best_estimator_, out)
    print(f"saved the best pipeline to {path} ({how_to_load(path)})")
    return 0


def describe_cache(memory):
    """One line on the epoch-checkpoint cache in ``memory``: its size and how to clear it."""
    from skcifar.persistence import CheckpointCache

    info = CheckpointCache(memory).info()
    return (
        f"memory: {info['checkpoints']} checkpoints of {info['runs']} runs, "
        f"{info['bytes'] / 1e6:.1f} MB in {info['path']} (delete the directory to clear it)"
    )
