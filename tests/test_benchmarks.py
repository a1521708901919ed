"""The benchmark scripts in benchmarks/: helpers and reporting (fast), --quick runs (slow).

The fast tests check the shared notebook script, the per-process peak-RSS
measurement and the table/plot rendering of ``run_all.py`` on made-up results.
The slow one runs ``run_all.py --quick`` end to end (every script, tiny data:
about 2-3 minutes on 2 cores) on the real data.
"""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    """Import benchmarks/_common.py and run_all.py (the scripts' own directory on sys.path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    common = importlib.import_module("_common")
    run_all = importlib.import_module("run_all")
    return common, run_all


def test_notebook_script_is_the_notebook(bench):
    common, _ = bench
    code = common.notebook_script()
    lines = [line for line in code.splitlines() if "# benchmark" not in line]
    assert lines[3:6] == [
        "(X_train, y_train), (X_test, y_test) = load_data()",
        "X_train = X_train / 255.0",
        "X_test = X_test / 255.0",
    ]
    assert "cnn.fit(X_train, y_train, epochs=10, verbose=0)" in lines
    assert "optimizer='adam', loss='sparse_categorical_crossentropy'" in code
    assert "batch_size" not in code  # the default, 32
    compile(code, "<notebook>", "exec")

    variant = common.notebook_script(2, n_train=100, n_test=50, curve=True, out="/tmp/x.json")
    assert "epochs=2, verbose=0, callbacks=[_curve])" in variant
    assert "X_train[:100]" in variant and "write_notebook_result" in variant
    compile(variant, "<notebook variant>", "exec")


def test_child_peak_rss_is_its_own(bench):
    """A child's peak is its own, not inherited from a large parent (ru_maxrss would be)."""
    common, _ = bench
    import numpy as np

    ballast = np.ones(400_000_000 // 8)  # the parent holds 400 MB
    result = common.python_child("import numpy as np; a = np.ones(150_000_000 // 8); a[:] = 2")
    del ballast
    assert result["returncode"] == 0
    assert 150 < result["peak_rss_mb"] < 390


def _fake_results(budget=100.0):
    def curve(n, start, stop, step):
        return [
            {
                "epoch": i + 1,
                "seconds": step * (i + 1),
                "accuracy": start + (stop - start) * i / n,
                "log_loss": 1.0,
            }
            for i in range(n)
        ]

    def resnet(config, factor, seconds, acc, loss):
        return {
            "config": config,
            "params": {"widths": [64, 256, 256], "epochs": 12, "tta": True},
            "compute_dtype": "mixed_bfloat16",
            "fit_seconds": seconds,
            "fit_wall_seconds": seconds + 5,
            "curve_eval_seconds": 5.0,
            "predict_seconds": 3.0,
            "test_accuracy": acc,
            "test_log_loss": loss,
            "curve": curve(5, 0.4, acc - 0.01, seconds / 5),
            "budget_factor": factor,
            "budget_seconds": factor * budget,
            "within_budget": seconds <= factor * budget,
        }

    # Two rounds, one disturbed: the table takes the best time of each side
    # (fit 10.1 / 10.0 = 1.01, met; predict 1.0 / 1.05 = 0.952, not met).
    rounds = [
        {
            "build_raw_seconds": 0.2,
            "fit_raw_seconds": 10.0,
            "fit_skcifar_seconds": 15.0,
            "predict_raw_seconds": 1.0,
            "predict_skcifar_seconds": 1.05,
            "fit_ratio": 1.5,
            "predict_ratio": 1.0 / 1.05,
        },
        {
            "build_raw_seconds": 0.2,
            "fit_raw_seconds": 16.0,
            "fit_skcifar_seconds": 10.1,
            "predict_raw_seconds": 1.6,
            "predict_skcifar_seconds": 1.6,
            "fit_ratio": 10.1 / 16.0,
            "predict_ratio": 1.0,
        },
    ]
    return {
        "accuracy_budget": {
            "n_train": 50000,
            "n_test": 10000,
            "notebook": {
                "epochs": 10,
                "fit_seconds": budget,
                "curve_eval_seconds": 10.0,
                "predict_seconds": 1.0,
                "test_accuracy": 0.68,
                "test_log_loss": 1.0,
                "curve": curve(10, 0.45, 0.68, budget / 10),
            },
            "runs": {
                "fast": resnet({"widths": [32, 64, 128], "epochs": 5}, 1, 95.0, 0.85, 0.5),
                # over its budget: not met despite the accuracy
                "full": resnet({}, 12, 1300.0, 0.93, 0.3),
            },
        },
        "wrapper_overhead": {
            "n_images": 20000,
            "n_test": 10000,
            "epochs": 2,
            "rounds": rounds,
            "rss": {
                "epochs": 1,
                "n_train": 50000,
                "notebook_mb": 3000.0,
                "pipeline_mb": 1000.0,
                "pipeline_float32_mb": 1300.0,
                "ratio": 1 / 3,
                "ratio_float32": 1.3 / 3,
                "notebook_wall_seconds": 20.0,
                "pipeline_wall_seconds": 20.0,
                "pipeline_float32_wall_seconds": 20.0,
            },
        },
        # distributed_search and repeated_fits "not run"
    }


def test_report_rendering(bench, tmp_path):
    _, run_all = bench
    report = {
        "date": "2026-01-01T00:00:00+00:00",
        "quick": False,
        "machine": {"cpu_model": "CPU", "cores": 2},
        "versions": {"Python": "3"},
        "commands": ["python benchmarks/run_all.py"],
        "scripts": {"accuracy_budget": {"returncode": 0, "wall_seconds": 1500.0}},
        "results": _fake_results(),
    }
    text = run_all.render(report, tmp_path, tmp_path / "plot.png")
    met = {row["metric"].split(" (")[0]: row["met"] for row in report["table"]}
    assert len(report["table"]) == 6
    assert [row["met"] for row in report["table"]] == [True, False, True, False, True, False]
    assert report["table"][5]["value"] == "not run", met
    assert "| test accuracy within 12x that time | 0.9300, log-loss 0.300" in text
    assert "| 1.010 (best of 2 rounds: 10.10 s / 10.00 s; median" in text
    assert "| 0.952 (best of 2 rounds: 1.000 s / 1.050 s; median" in text
    assert (tmp_path / "plot.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "latest.json").read_text())
    assert saved["table"] == report["table"]
    assert (tmp_path / "latest.md").read_text() == text


@pytest.mark.slow
def test_run_all_quick(tmp_path):
    data = os.environ.get("SKCIFAR_DATA")
    if not data or not os.path.isfile(data):
        pytest.skip("set SKCIFAR_DATA to the CIFAR-10 archive to run the benchmarks")
    subprocess.run(
        [
            sys.executable,
            str(BENCH / "run_all.py"),
            "--quick",
            "--no-dask",
            "--out-dir",
            str(tmp_path),
        ],
        check=True,
        timeout=900,
        cwd=ROOT,
    )
    report = json.loads((tmp_path / "latest.json").read_text())
    assert set(report["results"]) == {
        "accuracy_budget",
        "wrapper_overhead",
        "distributed_search",
        "repeated_fits",
        "search_memory",
    }
    assert all(info["returncode"] == 0 for info in report["scripts"].values())
    assert len(report["table"]) == 6
    assert not any(row["value"] in ("not run", "failed") for row in report["table"])
    assert (tmp_path / "accuracy_vs_time.png").exists()
    assert (tmp_path / "latest.md").read_text().count("\n| ") >= 6


def _run_quick(script, *args, timeout=600, **kwargs):
    """``benchmarks/<script> --quick *args`` on the real data (skipped without it)."""
    data = os.environ.get("SKCIFAR_DATA")
    if not data or not os.path.isfile(data):
        pytest.skip("set SKCIFAR_DATA to the CIFAR-10 archive to run the benchmarks")
    return subprocess.run(
        [sys.executable, str(BENCH / script), "--quick", *args],
        check=True,
        timeout=timeout,
        cwd=ROOT,
        **kwargs,
    )


@pytest.mark.slow
def test_choose_temperature_quick(tmp_path):
    out = tmp_path / "t.json"
    _run_quick("choose_temperature.py", "--json", str(out))
    result = json.loads(out.read_text())
    assert result["n_validation"] == 500 and result["n_fit"] == 1500
    losses = {row["temperature"]: row["log_loss"] for row in result["grid"]}
    assert result["best_log_loss"] == min(losses.values()) <= losses[1.0]
    assert losses[result["best_temperature"]] == result["best_log_loss"]


@pytest.mark.slow
def test_recipe_ablation_quick():
    done = _run_quick("recipe_ablation.py", "baseline", "recipe", capture_output=True, text=True)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert "machine" in rows[0]
    assert [row["name"] for row in rows[1:]] == ["baseline", "recipe"]
    for row in rows[1:]:
        assert row["epochs"] > 0 and 0 <= row["val_accuracy"] <= 1


def test_forward_flops_counts_convolutions_and_dense_layers(bench):
    from skcifar.utils.backend import import_keras

    keras = import_keras()
    utilisation = importlib.import_module("utilisation")
    inputs = keras.Input((5, 5, 2))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)  # 25 positions x 3x3x2x4 MACs
    x = keras.layers.MaxPooling2D()(x)  # no kernel: not counted
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3)(x)  # 16 inputs x 3 MACs
    model = keras.Model(inputs, outputs)
    assert utilisation.forward_flops(model) == 2 * (25 * 3 * 3 * 2 * 4 + 16 * 3)


@pytest.mark.slow
def test_utilisation_quick(tmp_path):
    out = tmp_path / "u.json"
    script = str(BENCH / "utilisation.py")
    subprocess.run([sys.executable, script, "--quick", "--json", str(out)], check=True,
                   timeout=600, cwd=ROOT)  # fmt: skip
    result = json.loads(out.read_text())
    assert set(result["peak_gflops"]) == {"bfloat16", "float32"}
    assert all(peak > 0 for peak in result["peak_gflops"].values())
    net = result["networks"]["quick"]
    assert net["training_gflops"] == pytest.approx(
        3 * net["forward_mflop_per_image"] * net["images_per_second"] / 1e3
    )
    own = result["peak_gflops"]["bfloat16" if net["compute_dtype"] == "bfloat16" else "float32"]
    assert net["utilisation"] == pytest.approx(net["training_gflops"] / own)
    argv = [sys.executable, script, "--quick", "--threads", "1,1", "0,0"]
    done = subprocess.run(argv, check=True, timeout=600, cwd=ROOT, capture_output=True, text=True)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [(row["intra_op"], row["inter_op"]) for row in rows] == [(1, 1), (0, 0)]
    assert all(row["quick"]["images_per_second"] > 0 for row in rows)


def _search_memory_result():
    def run(seconds, epochs, cache=None):
        return {"seconds": seconds, "n_fits": 18, "epochs_per_fold": epochs, "scores": {},
                "cache": cache}  # fmt: skip

    cache = {"path": "x", "runs": 6, "checkpoints": 18, "bytes": 31_400_000}
    return {
        "quick": False,
        "cv": 3,
        "target": 0.65,
        **{
            kind: {
                "n_images": 10_000,
                "without": run(200.0, 28),
                "with": run(120.0, 16, cache),
                "ratio": 0.6,
                "epoch_ratio": 16 / 28,
                "identical_scores": True,
            }
            for kind in ("grid", "halving")
        },
    }


def test_report_shows_the_search_memory_ratios(bench):
    report = importlib.import_module("_report")
    rows = dict(report.extras({"search_memory": _search_memory_result()}))
    grid = rows["GridSearchCV over epochs: wall time with memory / without"]
    assert grid.startswith("0.600 (120.0 s / 200.0 s, 10000 images, cv=3; epoch arithmetic 16/28")
    assert "target <= 0.65); identical test scores: yes; cache 31.4 MB, 18 checkpoints" in grid
    halving = rows["HalvingGridSearchCV over epochs: wall time with memory / without"]
    assert "target" not in halving


@pytest.mark.slow
def test_search_memory_quick(tmp_path):
    out = tmp_path / "m.json"
    _run_quick("search_memory.py", "--json", str(out), timeout=900)
    result = json.loads(out.read_text())
    for kind in ("grid", "halving"):
        run = result[kind]
        assert run["identical_scores"] and run["with"]["scores"]
        assert run["with"]["cache"]["checkpoints"] > 0 and run["without"]["cache"] is None
    # 2 x (1 + 2 + 4) epochs per fold from scratch, 2 x 4 with the cache
    assert (
        result["grid"]["without"]["epochs_per_fold"],
        result["grid"]["with"]["epochs_per_fold"],
    ) == (14, 8)
    # rounds of 4 candidates at 1 epoch, 2 at 2, 1 at 4: 12 epochs; cached, 4 + 2 + 1 + 1
    assert (
        result["halving"]["without"]["epochs_per_fold"],
        result["halving"]["with"]["epochs_per_fold"],
    ) == (12, 8)


@pytest.mark.slow
def test_export_speed_quick(tmp_path):
    out = tmp_path / "export.json"
    _run_quick("export_speed.py", "--json", str(out))
    result = json.loads(out.read_text())
    for model in result["models"]:
        assert max(model["max_abs_diff"].values()) < 1e-4
        assert set(model["images_per_second"]) == {"1", "256"}
