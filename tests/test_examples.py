"""Every script in examples/ runs with --quick on the real data and prints its results.

The scripts run in subprocesses, as a user would run them, with ``SKCIFAR_DATA``
inherited and the session's data home (holding the decoded-array cache) shared,
so the archive is decoded at most once per test session. The tests are skipped
when ``SKCIFAR_DATA`` does not point at an existing file.
"""

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _scikeras_route import missing as scikeras_route_missing

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(path.name for path in EXAMPLES.glob("*.py") if not path.name.startswith("_"))
TIMEOUT = 300  # seconds per script; each takes 5-30 s in quick mode

ACCURACY = r"[01]\.\d{4}"

# Lines (regular expressions) each script must print in quick mode.
EXPECTED_OUTPUT = {
    "quickstart.py": [rf"test accuracy: {ACCURACY}"],
    "four_stages.py": [
        r"Stage 1: loading and preprocessing",
        r"Stage 2: defining the models' architecture",
        r"Stage 3: training the models",
        r"Stage 4: estimating the models' performance",
        rf"ANN test accuracy: {ACCURACY}",
        rf"CNN test accuracy: {ACCURACY}",
    ],
    "grid_search_filters_epochs.py": [
        r"Ranked cross-validation results",
        r"Best parameters: epochs=\d+, filters=\(\d+, \d+\)",
        rf"Best cross-validation accuracy: {ACCURACY}",
        rf"Test accuracy of the best model .*: {ACCURACY}",
    ],
    "cross_validation.py": [
        rf"fold 3: accuracy {ACCURACY}",
        rf"Cross-validated accuracy: {ACCURACY} ± {ACCURACY}",
    ],
    "pickle_pipeline.py": [
        r"Saved with joblib\.dump",
        r"joblib.load: identical predict_proba on 500 test images: True",
        r"skcifar.load: identical predict_proba on 500 test images: True",
        r"only load model files you trust",
    ],
    "evaluation_report.py": [r"accuracy", r"Report: .*report\.html"],
    "own_builder_scikeras.py": [
        rf"dense_units=32: 2-fold {ACCURACY}",
        r"Best dense_units: (32|64)",
        rf"Test accuracy of the best pipeline: {ACCURACY}",
        r"joblib.load: identical predict_proba on 500 test images: True",
    ],
    "accuracy_vs_time.py": [
        rf"CNNClassifier \(the notebook's\) epoch 3: [\d.]+ s, test accuracy {ACCURACY}",
        rf"ResNetClassifier\(widths=\(32, 64, 128\)\) epoch 3: [\d.]+ s, test accuracy {ACCURACY}",
    ],
}


def test_every_example_is_covered():
    assert set(SCRIPTS) == set(EXPECTED_OUTPUT), (
        "examples/ and EXPECTED_OUTPUT disagree; add the new script's key output lines"
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_is_documented_and_uses_public_api(script):
    source = (EXAMPLES / script).read_text(encoding="utf-8")
    tree = ast.parse(source)
    docstring = ast.get_docstring(tree)
    assert docstring, f"{script} has no module docstring"
    assert "--quick" in docstring and f"python examples/{script}" in docstring
    # sphinx-gallery's page title: the docstring opens with a reStructuredText title.
    title, underline = docstring.splitlines()[:2]
    assert set(underline) == {"="} and len(underline) == len(title), (
        f"{script}'s docstring must open with a title underlined with '=' (the gallery page's)"
    )
    # Each page shows at least one figure, and a run from the command line shows it too.
    assert "plt.show()" in source, f"{script} draws no figure (or never shows it)"
    # Options come from argparse, directly or through examples/_common.make_parser (--quick).
    assert "make_parser(" in source or ("argparse" in source and '"--quick"' in source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "skcifar":
                assert not any(part.startswith("_") for part in name.split(".")), (
                    f"{script} imports private {name}"
                )


def test_to_pyplot_hands_pyplot_a_figure_it_did_not_create():
    """examples/_common.to_pyplot, on every supported matplotlib (3.11 adopts by itself)."""
    plt = pytest.importorskip("matplotlib.pyplot")
    from matplotlib.figure import Figure

    spec = importlib.util.spec_from_file_location("examples_common", EXAMPLES / "_common.py")
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    fig = Figure()
    fig.add_subplot().plot([0, 1])
    before = set(plt.get_fignums())
    try:
        assert common.to_pyplot(fig) is fig
        assert plt.gcf() is fig
        assert len(set(plt.get_fignums()) - before) == 1
        assert common.to_pyplot(fig) is fig  # a second time: already pyplot's
    finally:
        plt.close(fig)
    assert set(plt.get_fignums()) == before


@pytest.fixture(scope="module")
def example_env(cifar10_real, cifar10_real_data_home):
    """Environment for the scripts: the real data (skips without it), a warm cache."""
    env = dict(os.environ)
    env.update(
        SKCIFAR_DATA_HOME=cifar10_real_data_home,
        SKCIFAR_PROGRESS="0",
        TF_CPP_MIN_LOG_LEVEL="2",
        MPLBACKEND="Agg",
        PYTHONIOENCODING="utf-8",
    )
    return env


def run_example(script, *args, env):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--quick", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, (
        f"{script} --quick exited with {result.returncode}\n--- stdout ---\n"
        f"{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}"
    )
    for pattern in EXPECTED_OUTPUT[script]:
        assert re.search(pattern, result.stdout), (
            f"{script}: no line matching {pattern!r} in its output:\n{result.stdout}"
        )
    return result.stdout


@pytest.mark.parametrize(
    "script", [s for s in SCRIPTS if s not in ("evaluation_report.py", "pickle_pipeline.py")]
)
def test_example_runs_quick(script, example_env):
    if script == "own_builder_scikeras.py" and scikeras_route_missing() is not None:
        pytest.skip(scikeras_route_missing())
    run_example(script, env=example_env)


def test_pickle_pipeline_keeps_the_file_with_out(example_env, tmp_path):
    out = tmp_path / "models" / "cnn.joblib"
    run_example("pickle_pipeline.py", "--out", str(out), env=example_env)
    assert out.is_file() and out.stat().st_size > 0


def test_evaluation_report_writes_report(example_env, tmp_path):
    out = tmp_path / "report"
    stdout = run_example("evaluation_report.py", "--out", str(out), env=example_env)
    report = out / "report.html"
    assert report.is_file(), f"no report.html in {out}: {sorted(os.listdir(out))}"
    assert str(report) in stdout
    assert (out / "metrics.json").is_file()
    assert list(out.glob("*.png")), "the report has no figures"
    assert "<html" in report.read_text(encoding="utf-8").lower()
