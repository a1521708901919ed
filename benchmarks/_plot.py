"""The benchmark report's plot: test accuracy against fit wall time.

The notebook CNN's per-epoch curve, the recipe's budgeted fits as points, and
the baseline's fixed-epoch curves (from the committed results);
``_report.render`` draws it beside the tables.
"""

from __future__ import annotations

from pathlib import Path

import _common
from _targets import (
    ACCURACY_1X,
    ACCURACY_6X,
    ACCURACY_12X,
    DEFAULT_FIT_MAX,
)
from _text import format_seconds, run_label


def baseline_runs(report, path=_common.COMMITTED_RESULTS):
    """The baseline's fixed-epoch runs: ``{"date", "runs": {name: run}}`` or None.

    From the report itself (kept there by ``_report.render``), else from the
    results at ``path`` (the committed ones).
    """
    found = report.get("baseline")
    if found or path is None or not Path(path).is_file():
        return found
    try:
        return _common.read_json(path).get("baseline")
    except (OSError, ValueError):
        return None


_MARKERS = {"1x": "o", "6x": "s", "12x": "D", "default": "^"}


def plot(results, path, title="", baseline=None):
    """Test accuracy against fit wall time; returns the path, or None if there is no data.

    The notebook CNN's per-epoch curve, the recipe's budgeted runs as points
    (one a fit), and ``baseline`` (:func:`baseline_runs`): its curves and final
    ``predict_proba``.
    """
    acc = results.get("accuracy_budget", {})
    nb = acc.get("notebook", {})
    runs = {
        name: [f for f in run["fits"] if "test_accuracy" in f]
        for name, run in acc.get("runs", {}).items()
        if "fits" in run
    }
    runs = {name: fits for name, fits in runs.items() if fits}
    old = (baseline or {}).get("runs", {})
    if not (nb.get("curve") or runs or old):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(9, 5), dpi=120)
    ys = []
    if nb.get("curve"):
        xs, accs = zip(*((p["seconds"], p["accuracy"]) for p in nb["curve"]), strict=True)
        ax.plot(
            xs, accs, "o-", color="C0", markersize=3, label="notebook CNN (raw Keras), per epoch"
        )
        ys += accs
    for i, run in enumerate(old.values()):
        color = ("0.55", "0.35")[i % 2]
        xs, accs = zip(*((p["seconds"], p["accuracy"]) for p in run["curve"]), strict=True)
        ax.plot(
            xs,
            accs,
            ".--",
            color=color,
            linewidth=1,
            label=f"baseline ({baseline.get('date')}): {run_label(run)}; star: final predict_proba",
        )
        ax.plot(
            [run["fit_seconds"]],
            [run["test_accuracy"]],
            "*",
            color=color,
            markersize=11,
            markeredgecolor="black",
        )
        ys += list(accs) + [run["test_accuracy"]]
    for i, (name, fits) in enumerate(runs.items()):
        run = acc["runs"][name]
        xs = [f["fit_seconds"] for f in fits]
        accs = [f["test_accuracy"] for f in fits]
        seeds = f", seeds {', '.join(str(f['seed']) for f in fits)}" if len(fits) > 1 else ""
        budget = "" if run.get("budget_factor") is None else f"time_budget={name}, "
        ax.plot(
            xs,
            accs,
            _MARKERS.get(name, "P"),
            color=f"C{i + 1}",
            markersize=8,
            markeredgecolor="black",
            linestyle="none",
            label=f"{budget}{run.get('label', name)}{seeds}",
        )
        ys += accs
    unit = acc.get("budget_unit_seconds") or nb.get("fit_seconds")
    if unit:
        factors = {1} | {acc["runs"][n].get("budget_factor") or 1 for n in runs}
        if "default" in runs:
            factors.add(DEFAULT_FIT_MAX)
        for factor in sorted(factors):
            ax.axvline(factor * unit, color="gray", linestyle="--", linewidth=1)
            ax.annotate(
                f"{factor:g}x notebook CNN ({format_seconds(factor * unit)} s)",
                xy=(factor * unit, 0.02),
                xycoords=("data", "axes fraction"),
                xytext=(-2, 0),
                textcoords="offset points",
                fontsize=7,
                color="gray",
                rotation=90,
                ha="right",
                va="bottom",
            )
    targets = sorted({ACCURACY_1X, ACCURACY_6X, ACCURACY_12X})
    for target in targets:
        ax.axhline(target, color="lightgray", linestyle=":", linewidth=1)
        crowded = any(0 < other - target <= 0.02 for other in targets)  # label it below
        ax.annotate(
            f"{target:.0%}",
            xy=(1, target),
            xycoords=("axes fraction", "data"),
            xytext=(-2, -1 if crowded else 1),
            textcoords="offset points",
            fontsize=7,
            color="gray",
            ha="right",
            va="top" if crowded else "bottom",
        )
    ax.set_xscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("wall-clock fit seconds (the notebook's curve: its test evaluations excluded)")
    ax.set_ylabel(f"test accuracy ({acc.get('n_test', 10000):,} images)")
    ax.set_ylim(max(0.0, min(ys, default=0.0) - 0.05), 1)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    ax.set_title(title or "CIFAR-10 test accuracy vs training time", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path
