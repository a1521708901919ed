"""``skcifar train`` and ``skcifar evaluate``: the notebook's four stages, and stage 4 alone."""

from __future__ import annotations

import os
import time

from ._common import (
    UsageError,
    check_out,
    describe,
    how_to_load,
    image_input,
    load_cifar10,
    load_model,
    progress_verbosity,
    save_model,
)

# Training images used to measure the train/test gap in a report (speed bound).
_GAP_SAMPLES = 10_000


def _write_report(result, directory):
    from skcifar.evaluation import write_report

    try:
        paths = write_report(result, directory)
    except OSError as exc:
        raise UsageError(f"cannot write the report to {directory!r}: {describe(exc)}") from exc
    print(f"wrote the evaluation report to {os.path.abspath(paths['report'])}")


def _make_pipeline(args):
    from sklearn.pipeline import make_pipeline

    from skcifar import ANNClassifier, CNNClassifier, PixelScaler, ResNetClassifier

    params = {"random_state": args.seed, "verbose": progress_verbosity(args.quiet)}
    # Options left out keep the classifier's own defaults (e.g. batches of 32 for the
    # notebook's networks, "auto" sizes for the ResNet-style one); train() has refused
    # --filters and --widths for the other networks.
    for name in ("epochs", "batch_size", "time_budget", "filters", "widths"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    classifier = {"ann": ANNClassifier, "cnn": CNNClassifier, "resnet": ResNetClassifier}
    return make_pipeline(PixelScaler(), classifier[args.model](**params))


def train(args):
    """Load CIFAR-10, fit ``PixelScaler -> classifier``, save it, report test metrics."""
    for option, model in (("filters", "cnn"), ("widths", "resnet")):
        if getattr(args, option) is not None and args.model != model:
            raise UsageError(
                f"--{option} applies to --model {model} only, not --model {args.model}"
            )
    if args.epochs is not None and args.time_budget is not None:
        raise UsageError("--epochs and --time-budget exclude each other: give one of them")
    default = os.path.join("runs", f"{args.model}-pipeline.skcifar")
    out = check_out(args.out or default)  # before any training

    start = time.perf_counter()
    (X_train, y_train), (X_test, y_test) = load_cifar10(args.data, args.quiet)
    if args.subset:
        X_train, y_train = X_train[: args.subset], y_train[: args.subset]
    print(
        f"stage 1  data: {len(X_train)} training and {len(X_test)} test images "
        f"({time.perf_counter() - start:.1f} s)",
        flush=True,
    )

    model = _make_pipeline(args)
    classifier = model[-1]
    print(f"stage 2  model: {classifier!r}", flush=True)

    start = time.perf_counter()
    model.fit(X_train, y_train)
    chosen = ""
    if getattr(classifier, "network_choice_", None) is not None:  # a budget chose the network
        chosen = (f" of widths={classifier.widths_}, batch_size={classifier.batch_size_} "
                  "(the budget's choice)")  # fmt: skip
    print(
        f"stage 3  trained {classifier.n_iter_:.3g} epochs{chosen} in "
        f"{time.perf_counter() - start:.0f} s",
        flush=True,
    )
    path = save_model(model, out)
    print(f"saved the fitted pipeline to {path} ({how_to_load(path)})")

    from skcifar.datasets import display_names
    from skcifar.evaluation import evaluate

    gap = {}
    if args.report:
        gap = {"X_train": X_train[:_GAP_SAMPLES], "y_train": y_train[:_GAP_SAMPLES]}
    result = evaluate(model, X_test, y_test, class_names=display_names(model.classes_), **gap)
    print(f"stage 4  test accuracy {result.accuracy:.4f}, test log-loss {result.log_loss:.4f}")
    if args.report:
        _write_report(result, args.report)
    return 0


def evaluate(args):
    """Evaluate a saved pipeline on the CIFAR-10 test set."""
    from skcifar.datasets import display_names
    from skcifar.evaluation import evaluate as evaluate_model

    model = load_model(args.model, allow_pickle=args.allow_pickle)
    _, (X_test, y_test) = load_cifar10(args.data, quiet=False)
    X_test = image_input(model, X_test)
    try:
        result = evaluate_model(model, X_test, y_test, class_names=display_names(model.classes_))
    except ValueError as exc:  # e.g. a model fitted on other labels or inputs
        raise UsageError(
            f"cannot evaluate {args.model!r} on the CIFAR-10 test set: {describe(exc)}"
        ) from exc
    print(result.summary())
    if args.report:
        _write_report(result, args.report)
    return 0
