"""The benchmark report's further measurements, below the headline table.

``extras`` lists (measure, value) pairs from every script's results: the
notebook CNN's run, each accuracy run's fits, utilisation, wrapper overhead,
memory, distributed search and searching epochs with ``memory``.
"""

from __future__ import annotations

import wrapper_overhead
from _text import format_value, run_label


def extras(results, scripts=None, baseline=None):
    """Further measurements: a list of (measure, value); ``baseline``: see baseline_runs."""
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
        if "fits" not in run:  # a run that failed before its first fit
            if "error" in run:
                rows.append((f"ResNet {name}", f"failed ({run['error']})"))
            continue
        for fit in run["fits"]:
            rows += _fit_rows(name, run, fit, acc)
    for name, run in (baseline or {}).get("runs", {}).items():
        rows.append(
            (
                f"baseline ({baseline.get('date')}), {name}: `{run_label(run)}`, "
                f"{run.get('epochs') or run['params'].get('epochs')} epochs, no time_budget",
                f"fit {run['fit_seconds']:.1f} s, test accuracy {run['test_accuracy']:.4f}, "
                f"log-loss {run['test_log_loss']:.3f}",
            )
        )
    rows += _utilisation_extras(results.get("utilisation", {}))
    avx2 = results.get("avx2_budget") or {}
    if avx2:  # the same measures, with oneDNN held to AVX2
        parts = {k: avx2[k] for k in ("accuracy_budget", "utilisation") if k in avx2}
        rows += [(f"AVX2 setting: {measure}", value) for measure, value in extras(parts)]
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
    backends = results.get("backend_speed", {}).get("backends", {})
    reference = backends.get("tensorflow", {}).get("images_per_second")
    for name, row in backends.items():
        if name != "tensorflow":
            speed = row.get("images_per_second")
            if speed and reference:
                value = f"{speed / reference:.2f} ({speed:.0f} / {reference:.0f} images/s)"
            elif "failed" in row:
                value = f"FAILED: {row['failed']}"
            else:
                value = row.get("skipped", "not measured")
            rows.append((f"training speed, Keras backend {name} / tensorflow", value))
    for name, info in (scripts or {}).items():
        status = "" if info["returncode"] == 0 else f", FAILED (exit {info['returncode']})"
        rows.append((f"script wall time: {name}", f"{info['wall_seconds']:.0f} s{status}"))
    return rows


def _fit_rows(name, run, fit, acc):
    """Extra rows of one fit of an accuracy_budget run."""
    label = f"{name} seed {fit.get('seed')} `{run.get('label', name)}`"
    if "test_accuracy" not in fit:
        return [(label, f"failed ({fit.get('error')})")]
    budget = run.get("budget_seconds")
    budget_text = (
        f"budget {run['budget_factor']:g}x = {budget:.1f} s, fit / budget "
        f"{fit['fit_seconds'] / budget:.3f}"
        if budget
        else "no time_budget"
    )
    flops = 3 * fit["forward_mflop_per_image"] * fit["n_iter"] * fit["n_train"]
    p = fit["params"]
    return [
        (
            f"{label}: pipeline fit time, epochs trained",
            f"{fit['fit_seconds']:.1f} s ({budget_text}), {fit['n_iter']:.3f} epochs"
            + (f"; the budget chose `{fit['chosen_network']}`: widths={format_value(p['widths'])}"
               f", batch_size={p['batch_size']}, learning_rate={p['learning_rate']}"
               if fit.get("chosen_network") else ""),  # fmt: skip
        ),
        (
            f"{label}: test accuracy / log-loss / ECE ({acc.get('ece_bins')} bins)",
            f"{fit['test_accuracy']:.4f} / {fit['test_log_loss']:.3f} / {fit['test_ece']:.4f}",
        ),
        (
            f"{label}: predict_proba time, test set (tta={p['tta']}, "
            f"tta_shift={p.get('tta_shift')}, temperature={p.get('temperature')})",
            f"{fit['predict_seconds']:.2f} s",
        ),
        (
            f"{label}: training GFLOP/s over the whole fit (3 forward passes per image "
            "trained; timing, planning and validation included)",
            f"{flops / fit['fit_seconds'] / 1e3:.0f} ({fit['compute_dtype']}, "
            f"peak RSS {fit.get('child_peak_rss_mb') or float('nan'):.0f} MB)",
        ),
    ]


def _utilisation_extras(util):
    rows = []
    for probe in util.get("probes") or []:
        shape = probe["shape"]
        rows.append(
            (
                f"3x3 convolution, batch {shape['batch']}, {shape['size']}x{shape['size']}, "
                f"{shape['channels_in']} -> {shape['channels_out']}",
                ", ".join(
                    f"{dtype} {value:.0f} GFLOP/s" for dtype, value in probe["gflops"].items()
                ),
            )
        )
    for dtype, peak in (util.get("peak_gflops") or {}).items():
        rows.append((f"conv peak, {dtype} (its fastest shape above)", f"{peak:.0f} GFLOP/s"))
    for name, net in (util.get("networks") or {}).items():
        of_bfloat16 = net.get("utilisation_of_bfloat16_peak")
        rows.append(
            (
                f"utilisation, `{name}` network ({net['compute_dtype']}, batch "
                f"{net['batch_size']}, {net['forward_mflop_per_image']:.1f} MFLOP forward)",
                f"{net['images_per_second']:.0f} images/s, {net['training_gflops']:.0f} GFLOP/s: "
                f"{net['utilisation']:.2f} of its own precision's peak"
                + ("" if of_bfloat16 is None else f", {of_bfloat16:.2f} of bfloat16's"),
            )
        )
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


def _median_times(records):
    import numpy as np

    keys = [k for k in records[0] if k.endswith("_seconds")]
    return {k: float(np.median([r[k] for r in records])) for k in keys}
