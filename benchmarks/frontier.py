"""The accuracy-per-epoch frontier that ``ResNetClassifier(time_budget=...)`` chooses from.

For each candidate network of :data:`skcifar.estimators.BUDGET_NETWORKS` and
each number of epochs of ``EPOCHS``, one fit of
``make_pipeline(PixelScaler(), ResNetClassifier(**network, epochs=e))`` on
45,000 of the CIFAR-10 training images (seed 0), scored on the other 5,000
(the validation split, stratified; the test set is never read), with
flip-only test-time augmentation and with the shifted views
(``tta_shift=1``). A point is the validation accuracy and log-loss; the fit's
seconds are written too, but the frontier is in epochs, which no CPU changes:
``fit`` turns its budget into epochs of each candidate from the speed it
measures.

``--plot PNG`` draws the frontier as accuracy against budget on this CPU: each
network's training images/s measured here (``_common.training_speed``, the
median step; kept in the JSON, where a later ``--plot`` reads them), so a
point's budget is its epochs of the 50,000 training images at that speed;
one line per network (dashed: with the shifted views), and, marked, what
``fit`` chooses at each budget (the same rule:
``skcifar.estimators.predicted_accuracy`` and ``shifted_views``, on these
speeds).

    python benchmarks/frontier.py --json benchmarks/results/frontier.json
    python benchmarks/frontier.py --plot docs/_static/frontier.png \
        --from-json benchmarks/results/frontier.json
    python benchmarks/frontier.py --quick      # smoke run (numbers mean nothing)
"""

from __future__ import annotations

import argparse
import json
import time

import _common
import numpy as np

# Epochs measured per candidate (the small networks go further: they are cheap).
EPOCHS = {"small": (1, 2, 4, 8, 16), "default": (1, 2, 4, 8)}
N_VALIDATION = 5000
SHIFTS = (0, 1)


def points(names, epochs_of, quick, out):
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline

    from skcifar import PixelScaler, ResNetClassifier, load_data
    from skcifar.estimators import BUDGET_NETWORKS

    (X, y), _ = load_data()
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=N_VALIDATION, stratify=y, random_state=0
    )
    if quick:
        X_train, y_train, X_val, y_val = X_train[:1000], y_train[:1000], X_val[:500], y_val[:500]
    results = []
    for name in names:
        network = BUDGET_NETWORKS[name]
        for epochs in epochs_of[name]:
            params = dict(network.params, epochs=epochs, random_state=0)
            if quick:
                params.update(widths=(8, 16, 16), stem_filters=8)
            clf = make_pipeline(PixelScaler(), ResNetClassifier(**params))
            start = time.perf_counter()
            clf.fit(X_train, y_train)
            seconds = time.perf_counter() - start
            point = dict(network=name, epochs=epochs, fit_seconds=seconds, n_train=len(X_train))
            for shift in SHIFTS:
                clf.set_params(resnetclassifier__tta_shift=shift)
                proba = clf.predict_proba(X_val)
                point[f"accuracy_shift{shift}"] = _common.accuracy(y_val, proba)
                point[f"log_loss_shift{shift}"] = _common.log_loss(y_val, proba)
            results.append(point)
            print(json.dumps(point), flush=True)
            if out:
                _common.write_json(out, {"machine": _common.machine(), "points": results})
    return results


def speeds(names, quick):
    """Training images/s of each candidate on this machine (utilisation's measure)."""
    from _common import training_speed

    from skcifar.estimators import BUDGET_NETWORKS

    found = {}
    for name in names:
        params = dict(BUDGET_NETWORKS[name].params)
        if quick:
            params.update(widths=(8, 16, 16), stem_filters=8)
        found[name] = training_speed(params, n_images=1024 if quick else 8192)["images_per_second"]
        print(json.dumps({"network": name, "images_per_second": found[name]}), flush=True)
    return found


def plot(path, speeds, n_train=50000):
    """Accuracy against budget, one line per network, the budget's choice marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skcifar.estimators import BUDGET_NETWORKS, predicted_accuracy, shifted_views

    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = ("C0", "C1", "C2", "C3")
    for (name, network), color in zip(BUDGET_NETWORKS.items(), colors, strict=False):
        seconds = [e * n_train / speeds[name] for e, *_ in network.frontier]
        widths = network.params["widths"]
        ax.plot(seconds, [p[1] for p in network.frontier], "o-", color=color,
                label=f"{name}: widths={widths}, batch {network.params['batch_size']}")  # fmt: skip
        ax.plot(seconds, [p[2] for p in network.frontier], "o--", color=color, alpha=0.5,
                label=f"{name}, tta_shift=1")  # fmt: skip
    low = min(network.frontier[0][0] * n_train / speeds[name]
              for name, network in BUDGET_NETWORKS.items()) / 2  # fmt: skip
    high = max(network.frontier[-1][0] * n_train / speeds[name]
               for name, network in BUDGET_NETWORKS.items())  # fmt: skip
    budgets = np.geomspace(low, high, 200)
    chosen = []
    for budget in budgets:
        epochs = {name: budget * speeds[name] / n_train for name in BUDGET_NETWORKS}
        acc = {n: predicted_accuracy(n, e, shifted_views(n, e)) for n, e in epochs.items()}
        chosen.append(max(acc.values()))
    ax.plot(budgets, chosen, color="k", lw=3, alpha=0.35, label="time_budget's choice")
    ax.set_xscale("log")
    ax.set_xlabel("budget on this CPU, s (epochs of 50,000 images at the measured speed)")
    ax.set_ylabel("validation accuracy (5,000 held out)")
    ax.set_title("The frontier a time_budget chooses from")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (numbers mean nothing)")
    parser.add_argument("--json", metavar="PATH", help="write the points to this JSON file")
    parser.add_argument("--networks", default=",".join(EPOCHS), help="comma-separated candidates")
    parser.add_argument("--plot", metavar="PNG", help="measure the speeds and draw the frontier")
    parser.add_argument("--from-json", metavar="PATH", help="with --plot: fit nothing")
    args = parser.parse_args()
    names = [n for n in args.networks.split(",") if n]
    epochs_of = {n: (1,) for n in names} if args.quick else EPOCHS
    if not args.from_json:
        points(names, epochs_of, args.quick, args.json)
    if args.plot:
        from skcifar.estimators import BUDGET_NETWORKS

        stored = _common.read_json(args.from_json) if args.from_json else {}
        measured = stored.get("images_per_second")  # a re-drawing keeps the speeds
        if not measured or set(measured) != set(BUDGET_NETWORKS):
            measured = speeds(BUDGET_NETWORKS, args.quick)
            path = args.json or args.from_json
            if path:  # the speeds go with the points
                _common.write_json(path, {**_common.read_json(path), "images_per_second": measured})
        print(f"written: {plot(args.plot, measured)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
