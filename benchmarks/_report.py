"""Rendering of the benchmark results: the headline table, the extra measurements,
markdown and the accuracy-vs-time plot (``run_all.py`` runs the scripts, this
turns their JSON results into the report; ``run_all.py --from-json`` re-renders).
"""

from __future__ import annotations

import _common
import wrapper_overhead
from _extras import extras
from _plot import baseline_runs, plot
from _targets import (
    ACCURACY_1X,
    ACCURACY_6X,
    ACCURACY_12X,
    ACCURACY_DEFAULT,
    DEFAULT_FIT_MAX,
    ECE_12X,
    FIT_RATIO_MAX,
    LOG_LOSS_12X,
    PREDICT_RATIO_MIN,
    RSS_RATIO_MAX,
    SEARCH_RATIO_MAX,
    SEEDS_1X,
    TTA_PREDICT_MAX,
    TTA_RUNS,
    UTILISATION_AVX2_MIN,
    UTILISATION_MIN,
    UTILISATION_NETWORK,
    within_budget,
)
from _text import format_seconds, format_value, lookup


# -- the table ------------------------------------------------------------------------------
def _row(metric, target, value=None, met=None, why="not run"):
    return {
        "metric": metric,
        "value": value if value is not None else why,
        "target": target,
        "met": bool(met) if value is not None else False,
    }


def _fits(acc, name):
    """``(run, fits)`` of accuracy run ``name``, or ``(None, why)`` when it has no results."""
    run = lookup(acc, "runs", name)
    if not isinstance(run, dict) or ("fits" not in run and "error" not in run):
        full_only = acc and name not in acc.get("bench_runs", (name,))
        return None, "not run (make bench-full)" if full_only else "not run"
    fits = [f for f in run.get("fits", []) if "test_accuracy" in f]
    if not fits or len(fits) < len(run.get("fits", [])):
        return None, "failed"
    return run, fits


def _within(run, fit):
    return within_budget(fit["fit_seconds"], run.get("budget_seconds"))


def _fit_text(run, fits):
    """``fit 165.2 s <= budget 165.0 s, 5.61 epochs`` (ranges over seeds).

    ``<=``: every fit within its budget, give or take ``TIME_BUDGET_TOLERANCE``.
    """
    seconds = [f["fit_seconds"] for f in fits]
    epochs = [f["n_iter"] for f in fits]
    text = f"fit {_range(seconds, lambda x: f'{x:.1f}')} s"
    if run.get("budget_seconds") is not None:
        ok = all(_within(run, f) for f in fits)
        text += f" {'<=' if ok else '>'} budget {run['budget_seconds']:.1f} s"
    return text + f", {_range(epochs, lambda e: f'{e:.3g}')} epochs"


def _range(values, fmt):
    low, high = min(values), max(values)
    return fmt(low) if fmt(low) == fmt(high) else f"{fmt(low)}-{fmt(high)}"


def accuracy_rows(acc):
    """The rows of the accuracy runs: 1x, 6x, 12x, the defaults, then 1x's spread over seeds."""
    rows = []
    run, fits = _fits(acc, "1x")
    metric = "test accuracy, `time_budget` = 1x (mean over the seeds)"
    if run is None:
        rows.append(_row(metric, f">= {ACCURACY_1X:.2f}", why=fits))
    else:
        mean = run["test_accuracy_mean"]
        value = (
            f"{mean:.4f} (seeds "
            + ", ".join(f"{f['seed']}: {f['test_accuracy']:.4f}" for f in fits)
            + f"; {_fit_text(run, fits)})"
        )
        ok = mean >= ACCURACY_1X and all(_within(run, f) for f in fits)
        rows.append(_row(metric, f">= {ACCURACY_1X:.2f}", value, ok))

    for name, target, check in (
        ("6x", f">= {ACCURACY_6X:.2f}", lambda f: f["test_accuracy"] >= ACCURACY_6X),
        (
            "12x",
            f">= {ACCURACY_12X:.2f}, log-loss <= {LOG_LOSS_12X:.2f}, ECE <= {ECE_12X:.3f}",
            lambda f: (
                f["test_accuracy"] >= ACCURACY_12X
                and f["test_log_loss"] <= LOG_LOSS_12X
                and f["test_ece"] <= ECE_12X
            ),
        ),
    ):
        run, fits = _fits(acc, name)
        metric = f"test accuracy, `time_budget` = {name}"
        if run is None:
            rows.append(_row(metric, target, why=fits))
            continue
        fit = fits[0]
        value = f"{fit['test_accuracy']:.4f}"
        if name == "12x":
            value += f", log-loss {fit['test_log_loss']:.3f}, ECE {fit['test_ece']:.4f}"
        value += f" ({_fit_text(run, fits)})"
        rows.append(_row(metric, target, value, check(fit) and _within(run, fit)))

    run, fits = _fits(acc, "default")
    metric = "`ResNetClassifier()` defaults: test accuracy; fit time / notebook CNN's"
    target = f">= {ACCURACY_DEFAULT:.2f}, fit <= {DEFAULT_FIT_MAX:g}x"
    unit = acc.get("budget_unit_seconds") or lookup(acc, "notebook", "fit_seconds")
    if run is None:
        rows.append(_row(metric, target, why=fits))
    else:
        fit = fits[0]
        value = f"{fit['test_accuracy']:.4f}; fit {format_seconds(fit['fit_seconds'])} s"
        ok = fit["test_accuracy"] >= ACCURACY_DEFAULT
        if unit:
            ratio = fit["fit_seconds"] / unit
            value += f" = {ratio:.2f}x ({fit['n_iter']:g} epochs)"
            ok = ok and ratio <= DEFAULT_FIT_MAX
        else:
            value += " (no notebook time: its run failed)"
        rows.append(_row(metric, target, value, ok and bool(unit)))

    run, fits = _fits(acc, "1x")
    metric = "test accuracy, `time_budget` = 1x over seeds: mean ± sd"
    target = f"reported, {SEEDS_1X} seeds"
    if run is None:
        rows.append(_row(metric, target, why=fits))
    else:
        sd = run.get("test_accuracy_sd")
        value = f"{run['test_accuracy_mean']:.4f} ± " + (f"{sd:.4f}" if sd is not None else "n/a")
        value += f" (sample sd, seeds {', '.join(str(f['seed']) for f in fits)})"
        rows.append(_row(metric, target, value, len(fits) >= SEEDS_1X))

    return rows


def auto_row(acc, fixed="1x", label=""):
    """``ResNetClassifier(time_budget=1x)``, the sizes "auto", against run ``fixed``'s mean.

    Met when its mean is at least the fixed configuration's, less the fixed
    run's sample sd over seeds (their seed-to-seed spread; 0 with one seed).
    """
    metric = f"{label}`ResNetClassifier(time_budget=1x)`, sizes \"auto\": test accuracy"
    target = f">= the fixed {fixed} run's (less its sd over seeds)"
    run, fits = _fits(acc, "1x-auto")
    best, best_fits = _fits(acc, fixed)
    if run is None or best is None:
        return _row(metric, target, why=fits if run is None else best_fits)
    chosen = sorted({f.get("chosen_network") or "none" for f in fits})
    sd = best.get("test_accuracy_sd") or 0.0
    diff = run["test_accuracy_mean"] - best["test_accuracy_mean"]
    value = (
        f"{run['test_accuracy_mean']:.4f} ({diff:+.4f} against {best['test_accuracy_mean']:.4f}"
        f"; seeds " + ", ".join(f"{f['seed']}: {f['test_accuracy']:.4f}" for f in fits)
        + f"; chose {', '.join(chosen)}, tta_shift "
        + ", ".join(str(f["params"].get("tta_shift")) for f in fits)
        + f"; {_fit_text(run, fits)})"
    )
    ok = diff >= -sd and all(_within(run, f) for f in fits)
    return _row(metric, target, value, ok)


def avx2_rows(avx2):
    """Under ``ONEDNN_MAX_CPU_ISA=AVX2`` (avx2_budget.py): the chosen network and the speed."""
    rows = [auto_row(avx2.get("accuracy_budget") or {}, label="AVX2 setting: ")]
    util = avx2.get("utilisation") or {}
    metric = "AVX2 setting: training GFLOP/s / float32 conv peak, defaults' network"
    target = f">= {UTILISATION_AVX2_MIN:.2f}"
    name = _utilisation_network(util)
    if name is None:
        rows.append(_row(metric, target, why="failed" if util else "not run"))
        return rows
    net = util["networks"][name]
    value = (f"{net['utilisation']:.2f} ({net['training_gflops']:.0f} GFLOP/s / "
             f"{util['peak_gflops']['float32']:.0f} GFLOP/s float32 peak)")  # fmt: skip
    rows.append(_row(metric, target, value, net["utilisation"] >= UTILISATION_AVX2_MIN))
    return rows


def _utilisation_network(util):
    """The network a utilisation row reports: the defaults', or --quick's own; None if none."""
    networks = util.get("networks") or {}
    if not networks:
        return None
    return UTILISATION_NETWORK if UTILISATION_NETWORK in networks else next(iter(networks))


def tta_row(acc):
    """``predict_proba`` time of the test set with test-time augmentation (TTA_RUNS)."""
    metric = "TTA `predict_proba`, test set"
    target = f"<= {TTA_PREDICT_MAX:g} s"
    for name in TTA_RUNS:
        run, fits = _fits(acc, name)
        if run is not None:
            fit = fits[0]
            p = fit["params"]
            value = (
                f"{fit['predict_seconds']:.1f} s ({fit['n_test']} images, {name} run, "
                f"widths={format_value(p['widths'])}, tta={p['tta']}, "
                f"tta_shift={p.get('tta_shift')})"
            )
            return _row(metric, target, value, fit["predict_seconds"] <= TTA_PREDICT_MAX)
    return _row(metric, target)


def utilisation_row(util):
    """Training GFLOP/s over the convolution peak of the precision the network computes in."""
    metric = "training GFLOP/s / measured conv peak, in the network's own precision"
    target = f">= {UTILISATION_MIN:.2f}"
    name = _utilisation_network(util)
    if name is None:
        return _row(metric, target, why="failed" if util else "not run")
    net, peaks = util["networks"][name], util["peak_gflops"]
    own = "bfloat16" if net["compute_dtype"] == "bfloat16" else "float32"
    value = (
        f"{net['utilisation']:.2f} (`{name}` network, {own}: {net['training_gflops']:.0f} "
        f"GFLOP/s training / {peaks[own]:.0f} GFLOP/s {own} peak; peaks: "
        + ", ".join(f"{k} {v:.0f}" for k, v in peaks.items())
        + ")"
    )
    return _row(metric, target, value, net["utilisation"] >= UTILISATION_MIN)


def headline(results):
    """The table: a list of {"metric", "value", "target", "met"}."""
    acc = results.get("accuracy_budget", {})
    rows = accuracy_rows(acc)
    rows.append(utilisation_row(results.get("utilisation", {})))
    rows.append(tta_row(acc))

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
    rows.append(auto_row(acc))  # the budget's own choice of network
    rows += avx2_rows(results.get("avx2_budget", {}))
    return rows


def _best_times(records):
    keys = [k for k in records[0] if k.endswith("_seconds")]
    return {k: min(r[k] for r in records) for k in keys}


def _cell(text):
    return str(text).replace("|", "\\|")


def describe_cpu_class(cpu):
    """`` (family 25 model 17; AVX2, AVX-512; 1 thread per core)``, or ``""`` if unknown."""
    if not cpu or cpu.get("family") is None:
        return ""
    threads = cpu.get("threads_per_core")
    parts = [f"family {cpu['family']} model {cpu.get('model_number')}"]
    isa = cpu.get("isa")
    if isa is not None:
        parts.append(", ".join(isa) or "no AVX2")
    if threads:
        parts.append(f"{threads} thread{'s' if threads > 1 else ''} per core")
    return f" ({'; '.join(parts)})"


def markdown(report):
    lines = [f"# Benchmarks, {report['date']}", ""]
    if report.get("quick"):
        lines += ["**Quick (smoke) run: tiny data and networks, the numbers mean nothing.**", ""]
    if report.get("level"):
        lines += [f"Level: `make {report['level']}` (docs/benchmarks.md says what each runs).", ""]
    m, v = report["machine"], report["versions"]
    lines += [
        f"Machine: `{m['cpu_model']}`{describe_cpu_class(m.get('cpu_class'))}, {m['cores']} cores"
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


def render(report, out_dir, plot_path, baseline_path=_common.COMMITTED_RESULTS):
    """Add the tables to ``report``; write latest.json/latest.md and the plot.

    The baseline's fixed-epoch runs (:func:`baseline_runs`, read from
    ``baseline_path`` when the report lacks them) are kept in the report.
    """
    baseline = baseline_runs(report, baseline_path)
    if baseline:
        report["baseline"] = baseline
    report["table"] = headline(report["results"])
    report["extras"] = extras(report["results"], report.get("scripts"), baseline)
    text = markdown(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    m = report["machine"]
    title = f"CIFAR-10 on {m['cores']} cores ({m['cpu_model']}), {report['date'][:10]}"
    if report.get("quick"):
        title += " - QUICK RUN"
    written = plot(report["results"], plot_path, title, baseline)
    report["plot"] = str(written) if written else None
    _common.write_json(out_dir / "latest.json", report)
    (out_dir / "latest.md").write_text(text)
    return text
