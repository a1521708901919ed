"""Rendering of the benchmark results: the headline table, the extra measurements,
markdown and the accuracy-vs-time plot (``run_all.py`` runs the scripts, this
turns their JSON results into the report; ``run_all.py --from-json`` re-renders).
"""

from __future__ import annotations

from pathlib import Path

import _common
import wrapper_overhead

# The targets of the table.
ACCURACY_1X = 0.80
ACCURACY_12X, LOG_LOSS_12X = 0.90, 0.35
FIT_RATIO_MAX = 1.03
PREDICT_RATIO_MIN = 0.97
RSS_RATIO_MAX = 0.35
SEARCH_RATIO_MAX = 1.0


# -- the table ------------------------------------------------------------------------------
def _get(results, *keys):
    value = results
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _row(metric, target, value=None, met=None, why="not run"):
    return {
        "metric": metric,
        "value": value if value is not None else why,
        "target": target,
        "met": bool(met) if value is not None else False,
    }


def headline(results):
    """The six metrics: a list of {"metric", "value", "target", "met"}."""
    rows = []
    acc = results.get("accuracy_budget", {})
    budget = _get(acc, "notebook", "fit_seconds")
    for name, metric, target, check in (
        (
            "fast",
            "test accuracy within the notebook CNN's training time (1x)",
            f">= {ACCURACY_1X:.2f}",
            lambda r: r["test_accuracy"] >= ACCURACY_1X,
        ),
        (
            "full",
            "test accuracy within 12x that time",
            f">= {ACCURACY_12X:.2f}, log-loss <= {LOG_LOSS_12X:.2f}",
            lambda r: r["test_accuracy"] >= ACCURACY_12X and r["test_log_loss"] <= LOG_LOSS_12X,
        ),
    ):
        run = _get(acc, "runs", name)
        if run is None or "test_accuracy" not in run:
            rows.append(_row(metric, target, why="failed" if run else "not run"))
            continue
        factor = run.get("budget_factor")
        if factor is not None:
            metric = metric.replace("(1x)", f"({factor:g}x)").replace("12x", f"{factor:g}x")
        value = f"{run['test_accuracy']:.4f}"
        if name == "full":
            value += f", log-loss {run['test_log_loss']:.3f}"
        if budget is None:
            value += f" (fit {_s(run['fit_seconds'])} s; no budget: the notebook run failed)"
        else:
            value += (
                f" (fit {_s(run['fit_seconds'])} s {'<=' if run['within_budget'] else '>'} "
                f"budget {_s(run['budget_seconds'])} s)"
            )
        rows.append(_row(metric, target, value, check(run) and run["within_budget"]))

    over = results.get("wrapper_overhead", {})
    if over.get("rounds"):
        ratios = wrapper_overhead.summarize(over["rounds"])
        best = _best_times(over["rounds"])
        rows.append(
            _row(
                "skcifar fit time / raw Keras `model.fit`",
                f"<= {FIT_RATIO_MAX:.2f}",
                f"{ratios['fit_ratio']:.3f} (best of {len(over['rounds'])} rounds: "
                f"{best['fit_skcifar_seconds']:.2f} s / {best['fit_raw_seconds']:.2f} s; "
                f"median of the rounds' ratios {ratios['fit_ratio_median']:.3f}: "
                + ", ".join(f"{r:.3f}" for r in ratios["fit_ratios"])
                + ")",
                ratios["fit_ratio"] <= FIT_RATIO_MAX,
            )
        )
        rows.append(
            _row(
                "skcifar predict throughput / raw Keras `predict`",
                f">= {PREDICT_RATIO_MIN:.2f}",
                f"{ratios['predict_ratio']:.3f} (best of {len(over['rounds'])} rounds: "
                f"{best['predict_raw_seconds']:.3f} s / {best['predict_skcifar_seconds']:.3f} s; "
                f"median of the rounds' ratios {ratios['predict_ratio_median']:.3f}: "
                + ", ".join(f"{r:.3f}" for r in ratios["predict_ratios"])
                + ")",
                ratios["predict_ratio"] >= PREDICT_RATIO_MIN,
            )
        )
    else:
        rows.append(_row("skcifar fit time / raw Keras `model.fit`", f"<= {FIT_RATIO_MAX:.2f}"))
        rows.append(
            _row("skcifar predict throughput / raw Keras `predict`", f">= {PREDICT_RATIO_MIN:.2f}")
        )

    rss = over.get("rss")
    metric = "peak RSS, Pipeline(PixelScaler, CNNClassifier) / notebook script"
    if rss:
        rows.append(
            _row(
                metric,
                f"<= {RSS_RATIO_MAX:.2f}",
                f"{rss['ratio']:.3f} ({rss['pipeline_mb']:.0f} / {rss['notebook_mb']:.0f} MB)",
                rss["ratio"] <= RSS_RATIO_MAX,
            )
        )
    else:
        rows.append(_row(metric, f"<= {RSS_RATIO_MAX:.2f}"))

    search = results.get("distributed_search", {})
    metric = f"GridSearchCV n_jobs=2 / n_jobs=1 wall time ({search.get('cpus', '?')} cores)"
    if "n_jobs2_over_n_jobs1" in search:
        modes = search["modes"]
        rows.append(
            _row(
                metric,
                f"<= {SEARCH_RATIO_MAX:.1f}",
                f"{search['n_jobs2_over_n_jobs1']:.3f} ({modes['loky n_jobs=2']['seconds']:.1f} s"
                f" / {modes['local n_jobs=1']['seconds']:.1f} s)",
                search["n_jobs2_over_n_jobs1"] <= SEARCH_RATIO_MAX,
            )
        )
    else:
        rows.append(_row(metric, f"<= {SEARCH_RATIO_MAX:.1f}"))
    return rows


def extras(results, scripts=None):
    """Further measurements: a list of (measure, value)."""
    rows = []
    acc = results.get("accuracy_budget", {})
    nb = acc.get("notebook", {})
    if "fit_seconds" in nb:
        rows += [
            (
                f"notebook CNN: `cnn.fit` time, epochs={nb.get('epochs')}, "
                f"{acc.get('n_train')} images (the budget)",
                f"{nb['fit_seconds']:.1f} s (+ {nb['curve_eval_seconds']:.1f} s of curve "
                "evaluations, excluded)",
            ),
            (
                "notebook CNN: test accuracy / log-loss",
                f"{nb['test_accuracy']:.4f} / {nb['test_log_loss']:.3f}",
            ),
            ("notebook CNN: predict time, test set", f"{nb['predict_seconds']:.2f} s"),
        ]
    for name, run in acc.get("runs", {}).items():
        if "fit_seconds" not in run:
            rows.append((f"ResNet {name}", "failed"))
            continue
        label = f"ResNet {name} `{_label(run)}`"
        last = run["curve"][-1] if run.get("curve") else None
        rows += [
            (
                f"{label}: pipeline fit time",
                f"{run['fit_seconds']:.1f} s (budget {run['budget_factor']:g}x = "
                + (
                    f"{run['budget_seconds']:.1f} s"
                    if run.get("budget_seconds") is not None
                    else "n/a"
                )
                + f"; + {run['curve_eval_seconds']:.1f} s of curve evaluations, excluded)",
            ),
            (
                f"{label}: predict_proba time, test set"
                + (" (with flip TTA)" if run["params"].get("tta") else ""),
                f"{run['predict_seconds']:.2f} s",
            ),
            (
                f"{label}: test accuracy / log-loss",
                f"{run['test_accuracy']:.4f} / {run['test_log_loss']:.3f}"
                + (
                    f" (without TTA: {last['accuracy']:.4f} / {last['log_loss']:.3f})"
                    if last
                    else ""
                ),
            ),
            (f"{label}: compute precision", str(run.get("compute_dtype"))),
        ]
    over = results.get("wrapper_overhead", {})
    if over.get("rounds"):
        med = _median_times(over["rounds"])
        rows += [
            (
                f"fit time, {over['n_images']} images, epochs={over['epochs']} "
                f"({len(over['rounds'])} alternating rounds, medians)",
                f"skcifar {med['fit_skcifar_seconds']:.2f} s, raw Keras "
                f"{med['fit_raw_seconds']:.2f} s (+ {med['build_raw_seconds']:.2f} s to build "
                f"and compile the network, which skcifar's fit includes)",
            ),
            (
                "skcifar fit / raw Keras build + compile + fit (best of the rounds)",
                f"{wrapper_overhead.summarize(over['rounds'])['fit_ratio_with_build']:.3f}",
            ),
            (
                f"predict time, {over['n_test']} images (medians)",
                f"skcifar {med['predict_skcifar_seconds']:.3f} s, raw Keras "
                f"{med['predict_raw_seconds']:.3f} s",
            ),
        ]
    rss = over.get("rss")
    if rss:
        rows += [
            (
                "peak RSS, Pipeline(PixelScaler(dtype='float32'), CNNClassifier) / notebook",
                f"{rss['ratio_float32']:.3f} ({rss['pipeline_float32_mb']:.0f} / "
                f"{rss['notebook_mb']:.0f} MB)",
            ),
            (
                f"peak RSS processes: {rss['n_train']} images, epochs={rss['epochs']}",
                f"notebook {rss['notebook_wall_seconds']:.0f} s, pipeline "
                f"{rss['pipeline_wall_seconds']:.0f} s, float32 pipeline "
                f"{rss['pipeline_float32_wall_seconds']:.0f} s (process wall times)",
            ),
        ]
    search = results.get("distributed_search", {})
    for mode, info in search.get("modes", {}).items():
        rows.append(
            (
                f"GridSearchCV {mode}: {search['n_fits']} fits, {search['n_images']} images",
                f"{info['seconds']:.1f} s, best accuracy {info['best_accuracy']:.3f}"
                + (f" ({info['notes']})" if "dask" in mode else ""),
            )
        )
    rep = results.get("repeated_fits", {})
    if "rss_growth_mb" in rep:
        rows += [
            (
                f"repeated fits ({rep['fits']} x {rep['images']} images): RSS growth",
                f"{rep['rss_growth_mb']:.1f} MB (target <= 100)",
            ),
            (
                f"repeated fits: per-fit time drift, first {rep['window']} vs last {rep['window']}",
                f"{100 * rep['time_drift']:+.1f}% (target <= 10%)",
            ),
        ]
    memory = results.get("search_memory", {})
    for kind, name in (("grid", "GridSearchCV"), ("halving", "HalvingGridSearchCV")):
        if kind in memory:
            measure = f"{name} over epochs: wall time with memory / without"
            rows.append((measure, _ratio(memory, kind)))
    for model in results.get("export_speed", {}).get("models", []):
        for batch, speeds in model["images_per_second"].items():
            rows.append(
                (
                    f"{model['model']} inference, batch {batch}: images/s",
                    ", ".join(f"{runtime} {value:.0f}" for runtime, value in speeds.items()),
                )
            )
    for name, info in (scripts or {}).items():
        status = "" if info["returncode"] == 0 else f", FAILED (exit {info['returncode']})"
        rows.append((f"script wall time: {name}", f"{info['wall_seconds']:.0f} s{status}"))
    return rows


def _ratio(memory, kind):
    """A search_memory result: the ratio, its parts, the scores check and the cache's size."""
    r = memory[kind]
    with_, without, cache = r["with"], r["without"], r["with"]["cache"]
    target = f", target <= {memory['target']:.2f}" if kind == "grid" else ""
    return (
        f"{r['ratio']:.3f} ({with_['seconds']:.1f} s / {without['seconds']:.1f} s, "
        f"{r['n_images']} images, cv={memory['cv']}; epoch arithmetic "
        f"{with_['epochs_per_fold']}/{without['epochs_per_fold']} = {r['epoch_ratio']:.2f}"
        f"{target}); identical test scores: {'yes' if r['identical_scores'] else 'NO'}; "
        f"cache {cache['bytes'] / 1e6:.1f} MB, {cache['checkpoints']} checkpoints"
    )


def _s(seconds):
    return f"{seconds:.1f}" if seconds < 100 else f"{seconds:.0f}"


def _median_times(records):
    import numpy as np

    keys = [k for k in records[0] if k.endswith("_seconds")]
    return {k: float(np.median([r[k] for r in records])) for k in keys}


def _best_times(records):
    keys = [k for k in records[0] if k.endswith("_seconds")]
    return {k: min(r[k] for r in records) for k in keys}


def _config(config):
    return "ResNetClassifier(" + ", ".join(f"{k}={_tuple(v)}" for k, v in config.items()) + ")"


def _label(run):
    """``ResNetClassifier(...)`` as configured, with the defaults' values when none are set."""
    label = _config(run.get("config", {}))
    params = run.get("params", {})
    if not run.get("config") and params:
        label += f" (widths={_tuple(params['widths'])}, epochs={params['epochs']})"
    return label


def _tuple(value):
    return repr(tuple(value)) if isinstance(value, list) else repr(value)


def _cell(text):
    return str(text).replace("|", "\\|")


def markdown(report):
    lines = [f"# Benchmarks, {report['date']}", ""]
    if report.get("quick"):
        lines += ["**Quick (smoke) run: tiny data and networks, the numbers mean nothing.**", ""]
    m, v = report["machine"], report["versions"]
    lines += [
        f"Machine: `{m['cpu_model']}`, {m['cores']} cores"
        + (f", {m['memory_gb']} GB RAM" if m.get("memory_gb") else "")
        + ". "
        + ", ".join(f"{k} {val}" for k, val in v.items())
        + ".",
        "",
        "| metric | value | target | met |",
        "|---|---|---|---|",
    ]
    for row in report["table"]:
        lines.append(
            f"| {_cell(row['metric'])} | {_cell(row['value'])} | {_cell(row['target'])} | "
            f"{'yes' if row['met'] else 'no'} |"
        )
    lines += ["", "| measure | value |", "|---|---|"]
    lines += [f"| {_cell(k)} | {_cell(val)} |" for k, val in report["extras"]]
    if report.get("total_wall_seconds"):
        lines += ["", f"Total wall time: {report['total_wall_seconds'] / 60:.1f} min."]
    lines += ["", "Commands:", ""]
    lines += [f"    {c}" for c in report["commands"]]
    return "\n".join(lines) + "\n"


# -- the plot ------------------------------------------------------------------------------
def plot(results, path, title=""):
    """Test accuracy vs cumulative training seconds; returns the path, or None if no data."""
    acc = results.get("accuracy_budget", {})
    nb = acc.get("notebook", {})
    series = [("notebook CNN (raw Keras)", nb)] + [
        (f"ResNet {name}: {_label(run)}", run) for name, run in acc.get("runs", {}).items()
    ]
    series = [(label, r) for label, r in series if r.get("curve")]
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for i, (label, run) in enumerate(series):
        color = f"C{i}"
        xs = [p["seconds"] for p in run["curve"]]
        ys = [p["accuracy"] for p in run["curve"]]
        ax.plot(xs, ys, "o-", color=color, markersize=3, label=label)
        if run is not nb:  # the final predict_proba, with test-time augmentation
            ax.plot(
                [run["fit_seconds"]],
                [run["test_accuracy"]],
                "*",
                color=color,
                markersize=13,
                markeredgecolor="black",
                label=f"  final predict_proba{' (flip TTA)' if run['params'].get('tta') else ''}"
                f": {run['test_accuracy']:.3f}",
            )
    budget = nb.get("fit_seconds")
    if budget:
        factors = sorted({1} | {r.get("budget_factor", 1) for _, r in series if r is not nb})
        for factor in factors:
            ax.axvline(factor * budget, color="gray", linestyle="--", linewidth=1)
            ax.annotate(
                f"{factor:g}x notebook\n({factor * budget:.0f} s)",
                xy=(factor * budget, 0.98),
                xycoords=("data", "axes fraction"),
                xytext=(3, 0),
                textcoords="offset points",
                fontsize=8,
                color="gray",
                va="top",
            )
    for target in (ACCURACY_1X, ACCURACY_12X):
        ax.axhline(target, color="lightgray", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("cumulative training seconds (test-set evaluations excluded)")
    ax.set_ylabel(f"test accuracy ({acc.get('n_test', 10000):,} images)")
    ax.set_ylim(0, 1)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "CIFAR-10 test accuracy vs training time", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def render(report, out_dir, plot_path):
    """Add the tables to ``report``; write latest.json/latest.md and the plot."""
    report["table"] = headline(report["results"])
    report["extras"] = extras(report["results"], report.get("scripts"))
    text = markdown(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    m = report["machine"]
    title = f"CIFAR-10 on {m['cores']} cores ({m['cpu_model']}), {report['date'][:10]}"
    if report.get("quick"):
        title += " - QUICK RUN"
    written = plot(report["results"], plot_path, title)
    report["plot"] = str(written) if written else None
    _common.write_json(out_dir / "latest.json", report)
    (out_dir / "latest.md").write_text(text)
    return text
