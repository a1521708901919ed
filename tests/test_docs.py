"""The Sphinx site in docs/ builds cleanly, with warnings as errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx", reason="sphinx is not installed (pip install -e '.[docs]')")
pytest.importorskip("numpydoc", reason="numpydoc is not installed (pip install -e '.[docs]')")
pytest.importorskip("myst_parser", reason="myst-parser is not installed (pip install -e '.[docs]')")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    """Build the HTML site once into a temporary directory; return (result, html dir)."""
    out = tmp_path_factory.mktemp("docs")
    html = out / "html"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(out / "doctrees"),
            str(DOCS),
            str(html),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result, html


def test_docs_build_without_warnings(built_site):
    result, html = built_site
    assert result.returncode == 0, (
        f"sphinx -W failed (exit {result.returncode}):\n{result.stdout[-4000:]}\n"
        f"{result.stderr[-4000:]}"
    )
    for page in ("index", "getting_started", "user_guide", "cli", "api", "design", "benchmarks"):
        assert (html / f"{page}.html").is_file(), f"{page}.html was not built"


def test_markdown_pages_render_with_their_images_and_links(built_site):
    result, html = built_site
    if result.returncode != 0:
        pytest.fail("the docs build failed; see test_docs_build_without_warnings")
    benchmarks = (html / "benchmarks.html").read_text(encoding="utf-8")
    assert "<table" in benchmarks  # Markdown tables, parsed by MyST, not shown as text
    assert 'src="_images/accuracy_vs_time.png"' in benchmarks
    assert (html / "_images" / "accuracy_vs_time.png").is_file()
    design = (html / "design.html").read_text(encoding="utf-8")
    for target in ("api.html#image-shape-rule", "benchmarks.html", "cli.html"):
        assert f'href="{target}' in design, f"design.html does not link to {target}"


def test_image_shape_rule_renders_in_the_api_and_is_linked(built_site):
    result, html = built_site
    if result.returncode != 0:
        pytest.fail("the docs build failed; see test_docs_build_without_warnings")
    api = (html / "api.html").read_text(encoding="utf-8")
    assert 'id="image-shape-rule"' in api  # from skcifar.utils.validation's docstring
    user_guide = (html / "user_guide.html").read_text(encoding="utf-8")
    assert 'href="api.html#image-shape-rule"' in user_guide


def test_api_page_documents_public_api(built_site):
    result, html = built_site
    if result.returncode != 0:
        pytest.fail("the docs build failed; see test_docs_build_without_warnings")
    api = (html / "api.html").read_text(encoding="utf-8")
    for name in (
        "CNNClassifier",
        "ANNClassifier",
        "PixelScaler",
        "load_data",
        "fetch_cifar10",
        "build_cnn",
        "build_ann",
    ):
        assert name in api, f"api.html does not mention {name}"
    # Generated from the numpydoc docstrings, not just named in a table.
    assert "predict_proba" in api
    assert "Parameters" in api
    if (ROOT / "skcifar" / "evaluation" / "__init__.py").is_file():
        for name in ("evaluate", "write_report", "EvaluationResult"):
            assert f"skcifar.evaluation.{name}" in api, f"api.html does not document {name}"


def test_docs_cover_the_quickstart_and_cli():
    getting_started = (DOCS / "getting_started.rst").read_text(encoding="utf-8")
    for text in ("make train", "make test", "SKCIFAR_DATA", "tensorflow-cpu"):
        assert text in getting_started
    cli = (DOCS / "cli.rst").read_text(encoding="utf-8")
    for command in ("skcifar train", "skcifar evaluate", "skcifar predict", "skcifar search"):
        assert command in cli
