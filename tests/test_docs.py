"""The Sphinx site in docs/ builds cleanly, with warnings as errors.

The module's build passes ``-D plot_gallery=0``: the gallery pages are made
from the examples' code but nothing is run, so it needs neither CIFAR-10 nor
the minutes of training (``make docs`` runs them; the slow test at the end
does too).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

for module, package in (
    ("sphinx", "sphinx"),
    ("numpydoc", "numpydoc"),
    ("myst_parser", "myst-parser"),
    ("sphinx_gallery", "sphinx-gallery"),
    ("pydata_sphinx_theme", "pydata-sphinx-theme"),
):
    pytest.importorskip(module, reason=f"{package} is not installed (pip install -e '.[docs]')")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = sorted(
    path.stem for path in (ROOT / "examples").glob("*.py") if not path.name.startswith("_")
)


def build(out, *options, env=None, timeout=300):
    """``sphinx -W`` into ``out``; returns (the finished process, the html folder)."""
    html = out / "html"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            *options,
            "-b",
            "html",
            "-d",
            str(out / "doctrees"),
            str(DOCS),
            str(html),
        ],
        cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result, html


def check_built(result):
    assert result.returncode == 0, (
        f"sphinx -W failed (exit {result.returncode}):\n{result.stdout[-4000:]}\n"
        f"{result.stderr[-4000:]}"
    )


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    """Build the HTML site once, examples not run; return (result, html dir)."""
    return build(tmp_path_factory.mktemp("docs"), "-D", "plot_gallery=0")


@pytest.fixture(scope="module")
def html(built_site):
    result, html = built_site
    if result.returncode != 0:
        pytest.fail("the docs build failed; see test_docs_build_without_warnings")
    return html


def test_docs_build_without_warnings(built_site):
    result, html = built_site
    check_built(result)
    for page in (
        "index",
        "getting_started",
        "user_guide",
        "cli",
        "api",
        "design",
        "benchmarks",
        "changes",
        "auto_examples/index",
    ):
        assert (html / f"{page}.html").is_file(), f"{page}.html was not built"


def test_site_uses_the_pydata_theme(html):
    index = (html / "index.html").read_text(encoding="utf-8")
    assert "pydata-sphinx-theme" in index or "pydata_sphinx_theme" in index
    assert (html / "_static" / "skcifar.css").is_file()


def test_markdown_pages_render_with_their_images_and_links(html):
    benchmarks = (html / "benchmarks.html").read_text(encoding="utf-8")
    assert "<table" in benchmarks  # Markdown tables, parsed by MyST, not shown as text
    assert 'src="_images/accuracy_vs_time.png"' in benchmarks
    assert (html / "_images" / "accuracy_vs_time.png").is_file()
    design = (html / "design.html").read_text(encoding="utf-8")
    for target in ("api.html#image-shape-rule", "benchmarks.html", "cli.html"):
        assert f'href="{target}' in design, f"design.html does not link to {target}"


def test_image_shape_rule_renders_in_the_api_and_is_linked(html):
    api = (html / "api.html").read_text(encoding="utf-8")
    assert 'id="image-shape-rule"' in api  # from skcifar.utils.validation's docstring
    user_guide = (html / "user_guide.html").read_text(encoding="utf-8")
    assert 'href="api.html#image-shape-rule"' in user_guide


def _public_names():
    """Every public class and function, by the name its API page documents it under.

    The estimators, PixelScaler, save and load are documented where users
    import them from, the top-level package; the rest in their modules.
    """
    import importlib
    import inspect

    import skcifar

    top_level = ("skcifar.estimators", "skcifar.persistence", "skcifar.preprocessing")

    names = []
    for module_name in (
        "skcifar.datasets",
        "skcifar.preprocessing",
        "skcifar.architectures",
        "skcifar.estimators",
        "skcifar.evaluation",
        "skcifar.persistence",
        "skcifar.distributed",
    ):
        module = importlib.import_module(module_name)
        public = getattr(module, "__all__", None) or ["PixelScaler"]  # preprocessing
        for name in public:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                top = module_name in top_level and name in skcifar.__all__
                names.append(f"{'skcifar' if top else module_name}.{name}")
    return names


PUBLIC = _public_names()


def _takes_parameters(name):
    import importlib
    import inspect

    module, _, attribute = name.rpartition(".")
    obj = getattr(importlib.import_module(module), attribute)
    if isinstance(obj, type) and issubclass(obj, Exception):
        return True  # its message, documented (the built-in __init__ has no signature)
    return bool(inspect.signature(obj).parameters)


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_has_its_api_page(html, name):
    page = html / "generated" / f"{name}.html"
    assert page.is_file(), f"no API page for {name}"
    text = page.read_text(encoding="utf-8")
    assert f'id="{name}"' in text, f"{page.name} does not document {name}"
    if _takes_parameters(name):  # numpydoc sections, rendered
        sections = ("Parameters", "Attributes", "Returns", "Examples")
        assert any(f">{section}<" in text for section in sections), (
            f"{page.name} shows none of the numpydoc sections {sections}"
        )
    api = (html / "api.html").read_text(encoding="utf-8")
    assert f'href="generated/{name}.html' in api, f"api.html does not link to {name}'s page"


def test_classifier_pages_list_their_methods(html):
    text = (html / "generated" / "skcifar.CNNClassifier.html").read_text(encoding="utf-8")
    for method in ("fit", "partial_fit", "predict", "predict_proba", "score", "set_params"):
        assert f'id="skcifar.CNNClassifier.{method}"' in text, f"CNNClassifier.{method} missing"


def test_api_pages_link_to_scikit_learn_keras_and_numpy_without_a_download(html, built_site):
    """The intersphinx inventories are written from the installed packages (no network)."""
    pages = {
        "scikit-learn": "index.html",
        "NumPy": "generated/skcifar.PixelScaler.html",
        "Keras": "generated/skcifar.architectures._training.ScaledSGD.html",
    }
    targets = {
        "scikit-learn": "https://scikit-learn.org/stable/modules/generated/sklearn.pipeline.Pipeline.html",
        "NumPy": "https://numpy.org/doc/stable/",
        "Keras": "https://www.tensorflow.org/api_docs/python/tf/keras/optimizers/SGD",
    }
    for project, page in pages.items():
        text = (html / page).read_text(encoding="utf-8")
        assert targets[project] in text, f"{page} has no link into {project}'s documentation"


def test_api_pages_show_the_examples_that_use_them(html):
    text = (html / "generated" / "skcifar.CNNClassifier.html").read_text(encoding="utf-8")
    assert "Examples using" in text
    assert "auto_examples/quickstart.html" in text


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_has_a_gallery_page(html, name):
    page = html / "auto_examples" / f"{name}.html"
    assert page.is_file(), f"examples/{name}.py has no gallery page"
    text = page.read_text(encoding="utf-8")
    # The page says how its output was made: this build ran nothing, though an
    # earlier ``make docs`` may have left the pages of its run in docs/auto_examples.
    assert "Not run in this build" in text or "Run in quick mode" in text
    assert f"examples/{name}.py --quick" in " ".join(re.sub(r"<[^>]+>", " ", text).split())
    # No download links: a script alone lacks the _common.py it imports.
    assert ".ipynb" not in text and "_downloads" not in text
    index = (html / "auto_examples" / "index.html").read_text(encoding="utf-8")
    assert f'href="{name}.html' in index, f"the gallery's index does not list {name}"


def test_changelog_starts_at_0_1_0(html):
    text = (html / "changes.html").read_text(encoding="utf-8")
    assert re.search(r"Version 0\.1\.0", text)
    index = (html / "index.html").read_text(encoding="utf-8")
    assert 'href="changes.html"' in index


def test_docs_cover_the_quickstart_and_cli():
    getting_started = (DOCS / "getting_started.rst").read_text(encoding="utf-8")
    for text in ("make train", "make test", "SKCIFAR_DATA", "tensorflow-cpu"):
        assert text in getting_started
    cli = (DOCS / "cli.rst").read_text(encoding="utf-8")
    for command in ("skcifar train", "skcifar evaluate", "skcifar predict", "skcifar search"):
        assert command in cli


def test_a_gallery_build_without_the_data_fails_with_a_clear_message(tmp_path):
    """``make docs`` without CIFAR-10 stops before running anything, and says what to do."""
    result, _ = build(
        tmp_path,
        env={
            "SKCIFAR_DATA": "",
            "SKCIFAR_DATA_HOME": str(tmp_path / "empty-home"),
            "KERAS_HOME": str(tmp_path / "no-keras"),
        },
        timeout=120,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "CIFAR-10" in output and "SKCIFAR_DATA" in output
    assert "plot_gallery=0" in output


@pytest.mark.slow
def test_executed_gallery_shows_every_example_with_a_figure(tmp_path, cifar10_real):
    """The full build, as ``make docs`` runs it: every example run with --quick."""
    result, html = build(tmp_path, timeout=600)
    check_built(result)
    for name in EXAMPLES:
        text = (html / "auto_examples" / f"{name}.html").read_text(encoding="utf-8")
        assert "Run in quick mode" in text, f"{name}'s page does not say it ran in quick mode"
        assert "sphx-glr-script-out" in text, f"{name}'s page shows no printed output"
        figures = re.findall(r'src="\.\./_images/sphx_glr_' + name + r'_\d+\.png"', text)
        assert figures or "<table" in text, f"{name}'s page has no figure and no table"
