"""The benchmark scripts in benchmarks/: shared functions and reporting (fast), --quick runs (slow).

The fast tests check the shared notebook script, the per-process peak-RSS
measurement, the runs of ``accuracy_budget.py``, the levels of ``run_all.py``
and its table/plot rendering on made-up results. The slow ones run the scripts
with ``--quick`` on the real data: ``run_all.py --quick`` end to end (make
bench's scripts, tiny data), and ``accuracy_budget.py --quick`` with the runs
only ``make bench-full`` does.
"""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skcifar import ResNetClassifier

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
    ballast = np.ones(400_000_000 // 8)  # the parent holds 400 MB
    result = common.python_child("import numpy as np; a = np.ones(150_000_000 // 8); a[:] = 2")
    del ballast
    assert result["returncode"] == 0
    assert 150 < result["peak_rss_mb"] < 390


def _curve(n, start, stop, step):
    return [
        {
            "epoch": i + 1,
            "seconds": step * (i + 1),
            "accuracy": start + (stop - start) * i / n,
            "log_loss": 1.0,
        }
        for i in range(n)
    ]


def _fit(seed, seconds, acc, loss=0.3, ece=0.01, epochs=5.5, widths=(32, 64, 128)):
    """One fit of an accuracy_budget run, as its child writes it."""
    return {
        "seed": seed,
        "params": {"widths": list(widths), "tta": True, "tta_shift": 1, "temperature": 0.6},
        "compute_dtype": "float32",
        "n_train": 50000,
        "n_test": 10000,
        "fit_seconds": seconds,
        "n_iter": epochs,
        "forward_mflop_per_image": 40.0,
        "predict_seconds": 20.0,
        "test_accuracy": acc,
        "test_log_loss": loss,
        "test_ece": ece,
        "child_peak_rss_mb": 2000.0,
        "child_wall_seconds": seconds + 30,
    }


def _run(label, factor, fits, budget=100.0):
    accs = [f["test_accuracy"] for f in fits]
    mean = sum(accs) / len(accs)
    sd = (sum((a - mean) ** 2 for a in accs) / (len(accs) - 1)) ** 0.5 if len(accs) > 1 else None
    return {
        "label": label,
        "config": {},
        "budget_factor": factor,
        "budget_seconds": None if factor is None else factor * budget,
        "fits": fits,
        "test_accuracy_mean": mean,
        "test_accuracy_sd": sd,
        "n_fits": len(fits),
    }


def _fake_results(budget=100.0, full=False):
    """make bench's results (make bench-full's with ``full``); budget unit ``budget`` s."""
    runs = {
        # seed 1 is 1.5% over its budget: within the table's tolerance (2%)
        "1x": _run(
            "ResNetClassifier(recipe, widths=(32, 64, 128))",
            1,
            [_fit(0, 99.0, 0.86), _fit(1, 101.5, 0.87), _fit(2, 100.0, 0.865)],
        ),
        "6x": _run("ResNetClassifier(recipe)", 6, [_fit(0, 601.0, 0.925, widths=(64, 256, 256))]),
    }
    if full:
        runs["12x"] = _run(  # ECE 0.02 > 0.015: not met
            "ResNetClassifier(recipe)",
            12,
            [_fit(0, 1190.0, 0.935, loss=0.24, ece=0.02, widths=(64, 256, 256))],
        )
        runs["default"] = _run(  # 7.5x the notebook's time: met
            "ResNetClassifier()", None, [_fit(0, 750.0, 0.921, epochs=12, widths=(64, 256, 256))]
        )

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
            "bench_runs": ["1x", "6x"],
            "ece_bins": 15,
            "budget_unit_seconds": budget,
            "notebook": {
                "epochs": 10,
                "fit_seconds": budget,
                "curve_eval_seconds": 10.0,
                "predict_seconds": 1.0,
                "test_accuracy": 0.68,
                "test_log_loss": 1.0,
                "curve": _curve(10, 0.45, 0.68, budget / 10),
            },
            "runs": runs,
        },
        "utilisation": {
            "peak_gflops": {"bfloat16": 170.0, "float32": 250.0},
            "probes": [
                {
                    "shape": {"batch": 256, "size": 15, "channels_in": 64, "channels_out": 256},
                    "gflops": {"bfloat16": 170.0, "float32": 250.0},
                }
            ],
            "networks": {
                "recipe": {
                    "params": {},
                    "batch_size": 1024,
                    "images_per_second": 300.0,
                    "images_per_cpu_second": 160.0,
                    "forward_mflop_per_image": 236.0,
                    "compute_dtype": "float32",
                    "training_gflops": 212.4,
                    "utilisation": 212.4 / 250.0,
                    "utilisation_of_bfloat16_peak": 212.4 / 170.0,
                }
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


def _committed_results():
    """Committed results holding the baseline: fixed-epoch runs, each a curve."""

    def resnet(config, seconds, acc):
        return {
            "config": config,
            "params": {"widths": [32, 64, 128], "epochs": 4, "tta": True},
            "fit_seconds": seconds,
            "test_accuracy": acc,
            "test_log_loss": 0.6,
            "curve": _curve(4, 0.5, acc - 0.01, seconds / 4),
        }

    return {
        "date": "2026-01-01T00:00:00+00:00",
        "baseline": {
            "date": "2025-11-25",
            "runs": {
                "fast": resnet({"widths": [32, 64, 128], "epochs": 4}, 143.0, 0.8153),
                "full": resnet({"epochs": 16}, 2073.0, 0.8967),
            },
        },
    }


def _report(results):
    return {
        "date": "2026-01-01T00:00:00+00:00",
        "quick": False,
        "level": "bench",
        "machine": {"cpu_model": "CPU", "cores": 2},
        "versions": {"Python": "3"},
        "commands": ["python benchmarks/run_all.py"],
        "scripts": {"accuracy_budget": {"returncode": 0, "wall_seconds": 1500.0}},
        "results": results,
    }


def test_the_machine_names_its_cpu_class(bench):
    common, _ = bench
    report = importlib.import_module("_report")
    zen3 = "Model name:   AMD EPYC\nCPU family:   25\nModel:   1\nThread(s) per core:   2\n"
    zen3 += "Flags:   fpu sse4_2 avx fma avx2 bmi2\n"
    cpu = common.parse_lscpu(zen3)
    assert cpu == {"family": 25, "model_number": 1, "threads_per_core": 2, "isa": ["AVX2"]}
    assert report.describe_cpu_class(cpu) == " (family 25 model 1; AVX2; 2 threads per core)"
    xeon = "CPU family: 6\nModel: 143\nThread(s) per core: 1\n"
    xeon += "Flags: avx2 avx512f avx512_bf16 amx_tile"
    assert report.describe_cpu_class(common.parse_lscpu(xeon)) == (
        " (family 6 model 143; AVX2, AVX-512, AVX512_BF16, AMX; 1 thread per core)"
    )
    # Flags without AVX2 say so; no Flags line (some virtual machines) says nothing of them.
    old = common.parse_lscpu("CPU family: 6\nModel: 85\nFlags: sse2")
    assert report.describe_cpu_class(old) == " (family 6 model 85; no AVX2)"
    assert common.parse_lscpu("CPU family: 6\nModel: 85")["isa"] is None
    assert report.describe_cpu_class(common.parse_lscpu("CPU family: 6\nModel: 85")) == (
        " (family 6 model 85)"
    )
    assert report.describe_cpu_class(common.parse_lscpu("")) == ""  # no lscpu: the model alone
    assert report.describe_cpu_class({}) == ""
    # This machine: whatever it is, a CPU class or nothing, never an error.
    assert isinstance(common.machine()["cpu_class"], dict)
    # The report's machine line names the class beside the model.
    fake = _report({})
    fake["machine"]["cpu_class"] = cpu
    fake["table"], fake["extras"] = [], []
    line = next(line for line in report.markdown(fake).splitlines() if line.startswith("Machine"))
    assert line.startswith("Machine: `CPU` (family 25 model 1; AVX2; 2 threads per core), 2 cores.")


def test_report_rendering(bench, tmp_path):
    _, run_all = bench
    committed = tmp_path / "committed.json"
    committed.write_text(json.dumps(_committed_results()))
    report = _report(_fake_results())
    text = run_all.render(report, tmp_path, tmp_path / "plot.png", committed)
    table = report["table"]
    assert len(table) == 14
    assert [row["met"] for row in table] == [
        True,  # 1x: mean 0.865, every fit within its budget (+2%)
        True,  # 6x
        False,  # 12x: not run
        False,  # default: not run
        True,  # 3 seeds
        True,  # utilisation 0.85
        True,  # TTA predict 20 s
        True,  # fit ratio 1.01
        False,  # predict ratio 0.952
        True,  # RSS
        False,  # search: not run
        False,  # 1x with the sizes "auto": not run
        False,  # AVX2 setting, the same: not run
        False,  # AVX2 setting, utilisation: not run
    ]
    assert table[0]["value"].startswith("0.8650 (seeds 0: 0.8600, 1: 0.8700, 2: 0.8650; fit ")
    assert "fit 99.0-101.5 s <= budget 100.0 s, 5.5 epochs" in table[0]["value"]
    assert table[2]["value"] == table[3]["value"] == "not run (make bench-full)"
    assert table[4]["value"].startswith("0.8650 ± 0.0050 (sample sd, seeds 0, 1, 2)")
    assert table[5]["value"].startswith("0.85 (`recipe` network, float32: 212 GFLOP/s training")
    assert "250 GFLOP/s float32 peak; peaks: bfloat16 170, float32 250" in table[5]["value"]
    assert table[6]["value"].startswith("20.0 s (10000 images, 6x run, widths=(64, 256, 256)")
    assert table[10]["value"] == "not run"
    assert all(row["value"].startswith("not run") for row in table[11:])
    assert "| test accuracy, `time_budget` = 6x | 0.9250 (fit 601.0 s <= budget 600.0 s" in text
    assert "Level: `make bench`" in text
    assert "| 1.010 (best of 2 rounds: 10.10 s / 10.00 s; median" in text
    assert "| 0.952 (best of 2 rounds: 1.000 s / 1.050 s; median" in text
    extras = dict(report["extras"])
    key = "1x seed 1 `ResNetClassifier(recipe, widths=(32, 64, 128))`: pipeline fit time"
    key += ", epochs trained"
    assert extras[key] == "101.5 s (budget 1x = 100.0 s, fit / budget 1.015), 5.500 epochs"
    # 3 x 40 MFLOP x 5.5 epochs x 50,000 images in 99 s
    assert any(v.startswith("333 (float32") for v in extras.values())
    # the baseline, from the committed results, is kept in the report
    assert report["baseline"]["date"] == "2025-11-25"
    assert set(report["baseline"]["runs"]) == {"fast", "full"}
    assert any(k.startswith("baseline (2025-11-25), fast:") for k in extras)
    assert (tmp_path / "plot.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "latest.json").read_text())
    assert saved["table"] == report["table"]
    assert saved["baseline"] == report["baseline"]
    assert (tmp_path / "latest.md").read_text() == text
    # re-rendered without the committed file: the baseline comes from the report
    again = run_all.render(saved, tmp_path / "again", tmp_path / "again.png", None)
    assert again == text


def test_report_rendering_full_level(bench, tmp_path):
    report = importlib.import_module("_report")
    results = _fake_results(full=True)
    rows = report.headline(results)
    assert rows[2]["value"].startswith("0.9350, log-loss 0.240, ECE 0.0200 (fit 1190.0 s <= budget")
    assert not rows[2]["met"]  # ECE over 0.015
    assert rows[3]["value"] == "0.9210; fit 750 s = 7.50x (12 epochs)" and rows[3]["met"]
    results["accuracy_budget"]["runs"]["default"]["fits"][0]["fit_seconds"] = 850.0
    assert not report.headline(results)[3]["met"]  # 8.5x
    # a fit over its budget by more than the tolerance fails its row
    results["accuracy_budget"]["runs"]["6x"]["fits"][0]["fit_seconds"] = 613.0
    row = report.headline(results)[1]
    assert "fit 613.0 s > budget 600.0 s" in row["value"] and not row["met"]
    # a failed seed: the 1x rows say so
    results["accuracy_budget"]["runs"]["1x"]["fits"][2] = {"error": "exit status 1"}
    assert [row["value"] for row in report.headline(results)[:5:4]] == ["failed", "failed"]
    # without results: nothing but "not run", and a plot of the baseline's curves
    committed = _committed_results()
    assert {row["value"] for row in report.headline({})[:7]} == {"not run"}
    plot = importlib.import_module("_plot")
    baseline = plot.baseline_runs(committed, None)
    assert baseline["date"] == "2025-11-25" and set(baseline["runs"]) == {"fast", "full"}
    assert plot.plot({}, tmp_path / "baseline.png", baseline=baseline).exists()


def test_accuracy_budget_runs(bench):
    configs = importlib.import_module("_configs")
    accuracy_budget = importlib.import_module("accuracy_budget")

    runs = configs.RUNS
    assert {name: (run["factor"], run["seeds"]) for name, run in runs.items()} == {
        "1x": (1, (0, 1, 2)),
        "1x-auto": (1, (0, 1, 2)),
        "6x": (6, (0,)),
        "12x": (12, (0,)),
        "default": (None, (0,)),
    }
    one_x = {"widths": (32, 64, 128), "batch_size": 512, "learning_rate": 0.75}
    assert configs.run_params("1x", False) == one_x
    assert configs.run_params("6x", False) == {}  # the recipe: ResNetClassifier's defaults
    assert configs.run_params("default", False) == {}
    assert accuracy_budget.describe("1x") == (
        "ResNetClassifier(widths=(32, 64, 128), batch_size=512, learning_rate=0.75)"
    )
    assert accuracy_budget.describe("6x") == "ResNetClassifier()"
    assert accuracy_budget.describe("default") == "ResNetClassifier()"
    assert configs.run_params("default", True)["epochs"] == 1
    assert configs.run_params("6x", True)["widths"] == (8, 16, 16)  # --quick: a tiny network
    assert configs.BENCH_RUNS == ("1x", "1x-auto", "6x")
    assert accuracy_budget.budget_unit(165.0, False) == 165.0
    assert accuracy_budget.budget_unit(3.0, True) == accuracy_budget.QUICK_UNIT_SECONDS
    summary = accuracy_budget.summarize(
        [{"test_accuracy": 0.84}, {"test_accuracy": 0.86}, {"error": "exit status 1"}]
    )
    assert summary == {
        "test_accuracy_mean": pytest.approx(0.85),
        "test_accuracy_sd": pytest.approx(0.02**0.5 / 10),
        "n_fits": 2,
    }
    assert accuracy_budget.summarize([{"test_accuracy": 0.8}])["test_accuracy_sd"] is None
    # Runs compared take turns, seed by seed, so a slow spell of the machine
    # falls on both rather than on one run's block of seeds.
    assert accuracy_budget.interleaved({"1x": (0, 1, 2), "1x-auto": (0, 1, 2), "6x": (0,)}) == [
        ("1x", 0), ("1x-auto", 0), ("6x", 0), ("1x", 1), ("1x-auto", 1), ("1x", 2), ("1x-auto", 2),
    ]  # fmt: skip
    assert accuracy_budget.interleaved({}) == []


def test_accuracy_budget_fits_take_turns(bench, monkeypatch):
    common, _ = bench
    accuracy_budget = importlib.import_module("accuracy_budget")
    children = []
    fit = {"fit_seconds": 99.0, "n_iter": 5.0, "test_accuracy": 0.85, "test_log_loss": 0.4,
           "predict_seconds": 3.0, "child_peak_rss_mb": 1.0}  # fmt: skip
    notebook = {**fit, "fit_seconds": 100.0}

    def run_child(argv, check=False):
        children.append((argv[argv.index("--child") + 1], int(argv[argv.index("--seed") + 1])))
        return {"returncode": 0, "peak_rss_mb": 1.0, "wall_seconds": 1.0}

    def collect(proc, out):  # each child's result, as _collect reads it from its file
        if "notebook" in str(out):
            return dict(notebook)
        return dict(fit)

    monkeypatch.setattr(common, "python_child", lambda code, check=False: {})
    monkeypatch.setattr(common, "run_child", run_child)
    monkeypatch.setattr(accuracy_budget, "_collect", collect)
    results = accuracy_budget.run(False, ("1x", "1x-auto", "6x"), None)
    assert children == [("1x", 0), ("1x-auto", 0), ("6x", 0), ("1x", 1), ("1x-auto", 1),
                        ("1x", 2), ("1x-auto", 2)]  # fmt: skip
    assert list(results["runs"]) == ["1x", "1x-auto", "6x"]
    assert results["runs"]["1x-auto"]["n_fits"] == 3
    assert results["runs"]["6x"]["budget_seconds"] == 600.0
    assert all(fit["within_budget"] for fit in results["runs"]["1x"]["fits"])
    # Without the notebook's time no budget exists: the budgeted runs say so, in
    # their place, and the unbudgeted one still runs.
    children.clear()
    notebook.update(error="exit status 1", fit_seconds=None)
    results = accuracy_budget.run(False, ("1x", "default", "6x"), (3,))
    assert children == [("default", 3)]
    assert list(results["runs"]) == ["1x", "default", "6x"]
    assert results["runs"]["1x"] == results["runs"]["6x"] == {
        "error": "no budget: the notebook run failed"
    }
    assert results["runs"]["default"]["n_fits"] == 1


def test_views_accuracy_scores_one_model_with_each_set_of_views(bench):
    accuracy_budget = importlib.import_module("accuracy_budget")
    y = np.array([0, 1, 1, 0])
    # A stand-in pipeline whose probabilities depend on the classifier's views:
    # flip-only right on 2 rows of 4, shifted right on all 4.
    clf = ResNetClassifier(tta_shift="auto")
    right = np.eye(2)[y].astype(np.float32)
    half = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], np.float32)

    class Model:
        calls = []

        def predict_proba(self, X):
            self.calls.append(clf.tta_shift)
            return (right if clf.tta_shift == 1 else half) * 0.9 + 0.05

    model = Model()
    own = model.predict_proba(None)  # the fit's own views: flip-only
    Model.calls.clear()
    views = accuracy_budget.views_accuracy(model, clf, None, y, own, shift=0)
    assert Model.calls == [1]  # only the other set is predicted
    assert clf.tta_shift == "auto"  # the parameter is given back
    assert views["flip"]["accuracy"] == 0.5 and views["shifted"]["accuracy"] == 1.0
    assert views["shifted"]["log_loss"] < views["flip"]["log_loss"]
    clf.set_params(tta=False)
    assert accuracy_budget.views_accuracy(model, clf, None, y, own, shift=0) is None


def test_expected_calibration_error(bench):
    accuracy_budget = importlib.import_module("accuracy_budget")
    # top probabilities 0.9 (right), 0.9 (wrong), 0.5 (right): bins of width 1/15;
    # |1/2 - 0.9| * 2/3 + |1 - 0.5| * 1/3
    proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.5, 0.5]])
    ece = accuracy_budget.expected_calibration_error(np.array([0, 1, 0]), proba)
    assert ece == pytest.approx(0.4 * 2 / 3 + 0.5 / 3)


def test_run_all_levels(bench):
    _, run_all = bench
    bench_names = [n for n in run_all.SCRIPTS if run_all.script_args(n, False) is not None]
    assert "search_memory" not in bench_names and "utilisation" in bench_names
    assert all(run_all.script_args(n, True) is not None for n in run_all.SCRIPTS)
    assert run_all.script_args("accuracy_budget", True) == ["--full"]
    assert run_all.script_args("accuracy_budget", False) == []


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
    assert report["level"] == "bench"
    assert set(report["results"]) == {
        "accuracy_budget",
        "utilisation",
        "avx2_budget",
        "wrapper_overhead",
        "distributed_search",
        "repeated_fits",
    }
    assert all(info["returncode"] == 0 for info in report["scripts"].values())
    values = [row["value"] for row in report["table"]]
    assert len(values) == 14
    assert values[2] == values[3] == "not run (make bench-full)"  # 12x, defaults
    assert not any(
        v.startswith(("not run", "failed")) for i, v in enumerate(values) if i not in (2, 3)
    )
    acc = report["results"]["accuracy_budget"]
    assert [f["seed"] for f in acc["runs"]["1x"]["fits"]] == [0, 1, 2]
    assert acc["runs"]["1x"]["test_accuracy_sd"] is not None
    assert (tmp_path / "accuracy_vs_time.png").exists()
    assert (tmp_path / "latest.md").read_text().count("\n| ") >= 14


@pytest.mark.slow
def test_accuracy_budget_quick_full_runs(tmp_path):
    out = tmp_path / "a.json"
    _run_quick("accuracy_budget.py", "--runs", "12x,default", "--json", str(out))
    result = json.loads(out.read_text())
    assert list(result["runs"]) == ["12x", "default"]
    unit = result["budget_unit_seconds"]
    budgeted, default = result["runs"]["12x"], result["runs"]["default"]
    assert budgeted["budget_seconds"] == pytest.approx(12 * unit)
    assert default["budget_seconds"] is None and default["label"].startswith("ResNetClassifier(")
    for run in (budgeted, default):
        (fit,) = run["fits"]
        assert fit["n_iter"] > 0 and 0 <= fit["test_ece"] <= 1 and fit["predict_seconds"] > 0
        own = "shifted" if fit["params"]["tta_shift"] else "flip"
        assert fit["test_views"][own]["accuracy"] == fit["test_accuracy"]
        assert set(fit["test_views"]) == {"flip", "shifted"}
    assert budgeted["fits"][0]["params"]["time_budget"] == pytest.approx(12 * unit)
    assert budgeted["fits"][0]["params"]["conv_optimizer"] == "muon"
    assert default["fits"][0]["params"]["time_budget"] is None


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
    assert len(set(losses.values())) > 1  # each temperature reaches predict_proba
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
    common = importlib.import_module("_common")
    inputs = keras.Input((5, 5, 2))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)  # 25 positions x 3x3x2x4 MACs
    x = keras.layers.MaxPooling2D()(x)  # no kernel: not counted
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3)(x)  # 16 inputs x 3 MACs
    model = keras.Model(inputs, outputs)
    assert common.forward_flops(model) == 2 * (25 * 3 * 3 * 2 * 4 + 16 * 3)
    # the resnet builder's own count agrees with the count from the built network
    from skcifar.architectures import build_resnet, resnet_flops

    net = build_resnet((8, 8, 3), 3, widths=(4, 8), stem_filters=4, compile=False)
    assert common.forward_flops(net) == resnet_flops((8, 8, 3), 3, widths=(4, 8), stem_filters=4,
                                                     whiten=False)  # fmt: skip


def test_layer_profile_matmuls_compute_the_filter_gradient(bench):
    """The profile's alternative filter gradient is the gradient TensorFlow computes."""
    from skcifar.utils.backend import import_tensorflow

    tf = import_tensorflow()
    layer_profile = importlib.import_module("layer_profile")
    rng = np.random.RandomState(0)
    x = tf.constant(rng.standard_normal((3, 6, 5, 4)).astype("f4"))
    kernel = tf.zeros((3, 3, 4, 7))
    dy = tf.constant(rng.standard_normal((3, 6, 5, 7)).astype("f4"))
    expected = tf.raw_ops.Conv2DBackpropFilter(
        input=x, filter_sizes=tf.shape(kernel), out_backprop=dy, strides=[1, 1, 1, 1],
        padding="SAME",
    )  # fmt: skip
    got = layer_profile.shifted_matmuls(x, kernel, dy)
    # float32 sums of 90 products in another order: equal to round-off, not bit for bit
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_utilisation_quick(tmp_path):
    out = tmp_path / "u.json"
    script = str(BENCH / "utilisation.py")
    subprocess.run([sys.executable, script, "--quick", "--json", str(out)], check=True,
                   timeout=600, cwd=ROOT)  # fmt: skip
    result = json.loads(out.read_text())
    assert set(result["peak_gflops"]) == {"bfloat16", "float32"}
    assert all(peak > 0 for peak in result["peak_gflops"].values())
    # the peak is the fastest probe: PEAK_SHAPE (at batch 32) and the network's own shapes
    probes = result["probes"]
    assert probes[0]["shape"] == {"batch": 32, "size": 15, "channels_in": 64, "channels_out": 256}
    assert len(probes) == 1 + len(result["networks"]["quick"]["conv_shapes"])
    for dtype, peak in result["peak_gflops"].items():
        assert peak == max(probe["gflops"][dtype] for probe in probes)
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
    extras = importlib.import_module("_extras")
    rows = dict(extras.extras({"search_memory": _search_memory_result()}))
    grid = rows["GridSearchCV over epochs: wall time with memory / without"]
    assert grid.startswith("0.600 (120.0 s / 200.0 s, 10000 images, cv=3; epoch arithmetic 16/28")
    assert "target <= 0.65); identical test scores: yes; cache 31.4 MB, 18 checkpoints" in grid
    halving = rows["HalvingGridSearchCV over epochs: wall time with memory / without"]
    assert "target" not in halving


def test_report_shows_the_backend_ratios(bench):
    extras = importlib.import_module("_extras")
    backends = {
        "tensorflow": {"images_per_second": 400.0},
        "torch": {"images_per_second": 200.0},
        "torch-channels-first": {"skipped": "torch is not installed"},
        "jax": {"failed": "RuntimeError: no backend"},
    }
    rows = dict(extras.extras({"backend_speed": {"backends": backends}}))
    assert rows["training speed, Keras backend torch / tensorflow"] == "0.50 (200 / 400 images/s)"
    skipped = rows["training speed, Keras backend torch-channels-first / tensorflow"]
    assert skipped == "torch is not installed"
    failed = rows["training speed, Keras backend jax / tensorflow"]
    assert failed == "FAILED: RuntimeError: no backend"


def test_backend_speed_rejects_an_unknown_backend(bench, capsys):
    backend_speed = importlib.import_module("backend_speed")
    with pytest.raises(SystemExit):
        backend_speed.main(["--backends", "tensorflow,theano"])
    assert "unknown backends ['theano']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        backend_speed.main(["--widths", "64,256"])
    assert "expected three positive integers like 64,256,256; got '64,256'" in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        backend_speed.main(["--batch", "0"])
    assert "expected a positive integer; got '0'" in capsys.readouterr().err


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


@pytest.mark.slow
def test_backend_speed_quick(tmp_path):
    out = tmp_path / "backends.json"
    _run_quick("backend_speed.py", "--json", str(out))
    backends = json.loads(out.read_text())["backends"]
    assert backends["tensorflow"]["images_per_second"] > 0
    assert backends["tensorflow"]["device"] == "cpu"  # CI has no GPU
    for name in ("torch", "torch-channels-first"):  # measured, or said to be missing
        row = backends[name]
        assert row.get("images_per_second", 0) > 0 or row["skipped"] == "torch is not installed"
