"""One source per fact: no page kept twice, no stale or duplicated statements.

The project's rule is that a fact is written in one place and linked from the
others. These checks need no Sphinx build: they read the sources (docs pages,
README, pyproject.toml) and the docstrings.
"""

import doctest
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"


# What the docs build writes into docs/ itself: autosummary's API pages,
# sphinx-gallery's pages and its timing tables. Never sources; git ignores them.
GENERATED = ("generated", "auto_examples", "gen_modules", "sg_execution_times.rst")


def _docs_pages():
    """Every page source under docs/ (reStructuredText and Markdown), outside build output."""
    pages = []
    for suffix in ("*.rst", "*.md"):
        for path in DOCS.rglob(suffix):
            parts = path.relative_to(DOCS).parts
            if any(part.startswith(("_build", ".")) for part in parts):
                continue
            if parts[0] in GENERATED or parts[0] == "_templates":  # templates are not pages
                continue
            pages.append(path)
    return sorted(pages)


def test_what_the_build_writes_into_docs_is_ignored_by_git():
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    for name in GENERATED:
        assert f"/docs/{name}" in ignored or f"/docs/{name}/" in ignored, (
            f"docs/{name} is written by the build: list it in .gitignore"
        )


# -- pages exist once ---------------------------------------------------------


def test_no_docs_page_exists_in_two_formats():
    pages = _docs_pages()
    by_stem = {}
    for path in pages:
        stem = path.relative_to(DOCS).with_suffix("").as_posix()
        by_stem.setdefault(stem, []).append(path.name)
    twice = {stem: names for stem, names in by_stem.items() if len(names) > 1}
    assert not twice, (
        f"docs pages kept in two formats: {twice}; keep one source per page and link to it"
    )


def test_the_gallery_pages_come_from_the_examples_only():
    """The examples are the gallery's single source: docs/ holds no copy of them."""
    for path in DOCS.rglob("*.py"):
        parts = path.relative_to(DOCS).parts
        if parts[0] in GENERATED or parts[0].startswith(("_build", ".")):
            continue
        assert parts[0] in ("conf.py", "_ext"), f"docs/{path.relative_to(DOCS)}: a script in docs/"


def test_changelog_starts_at_0_1_0_and_is_in_the_toctree():
    changes = (DOCS / "changes.rst").read_text(encoding="utf-8")
    assert re.search(r"^Version 0\.1\.0\b", changes, re.MULTILINE)
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    assert re.search(r"^\s+changes\s*$", index.split(".. toctree::", 1)[1], re.MULTILINE)


def test_markdown_pages_are_the_single_sources_in_the_toctree():
    assert (DOCS / "design.md").is_file()
    assert (DOCS / "benchmarks.md").is_file()  # results are recorded there by convention
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    toctree = index.split(".. toctree::", 1)[1]
    for page in ("design", "benchmarks"):
        assert re.search(rf"^\s+{page}\s*$", toctree, re.MULTILINE), f"{page} is not in the toctree"


# -- save / load name every supported class ------------------------------------


def test_save_and_load_docstrings_name_every_supported_class():
    from skcifar.persistence import _estimators, load, save

    names = sorted(_estimators._REGISTRY)
    assert names, "the registry of supported classes is empty"
    for function in (save, load):
        doc = inspect.getdoc(function)
        missing = [name for name in names if not re.search(rf"\b{name}\b", doc)]
        assert not missing, f"{function.__name__}'s docstring does not name {missing}"


# -- pyproject's description ----------------------------------------------------


def _pyproject():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def test_pyproject_description_names_the_three_classifiers():
    description = _pyproject()["project"]["description"]
    for word in ("ANN", "CNN", "ResNet"):
        assert re.search(rf"\b{word}", description), f"the description does not name {word}"


# -- no measured figures outside the benchmarks page ----------------------------

# A measured figure: a percentage ("89%", "89.7 %"), a duration ("143 s",
# "26 minutes", "1.5 h", "35min"), or an accuracy / log-loss value quoted in
# prose ("log-loss 0.42", "accuracy of 0.89"). Sizes ("0.3 GB"), counts
# ("5 epochs") and parameter values ("temperature=0.6") are not figures.
_PERCENT = r"\d(?:[\d.,]*\d)?\s?%"
_DURATION = (
    r"\b\d+(?:[.,]\d+)?\s?"
    r"(?:ms|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?)\b"
)
_METRIC = r"\b(?:accuracy|log-loss|log loss)\s+(?:of\s+)?\d*\.\d+"
MEASURED_FIGURE = re.compile(rf"{_PERCENT}|{_DURATION}|{_METRIC}", re.IGNORECASE)


def _prose(docstring):
    """The docstring without its doctest examples (their source and expected output)."""
    parsed = doctest.DocTestParser().parse(docstring or "")
    return "".join(part for part in parsed if isinstance(part, str))


def _measured_figures(text):
    return [match.group(0) for match in MEASURED_FIGURE.finditer(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reaches 89% test accuracy", ["89%"]),
        ("epochs=16: 89.7 % (log-loss 0.31)", ["89.7 %", "log-loss 0.31"]),
        ("81.5% in 143 s, less than 171s", ["81.5%", "143 s", "171s"]),
        ("in about 26 minutes of training, or 1.5 h", ["26 minutes", "1.5 h"]),
        (
            "validation log-loss 0.42 -> 0.33 at accuracy of 0.89",
            ["log-loss 0.42", "accuracy of 0.89"],
        ),
        ("5 epochs in batches of 32; 0.3 GB; temperature=0.6; 3 stages", []),
        ("width 3072 -> (32, 32, 3); Adam 0.001, SGD 0.01; 1/16 of a level", []),
    ],
)
def test_measured_figure_pattern(text, expected):
    assert _measured_figures(text) == expected


def test_doctest_examples_are_not_prose():
    doc = """Quick.

    Examples
    --------
    >>> clf.fit(X, y).score(X_test, y_test)  # 2 s
    0.89...
    >>> print("100%")
    100%

    Takes 5 s.
    """
    assert _measured_figures(_prose(doc)) == ["5 s"]


def _public_estimators():
    import skcifar

    return [
        skcifar.ANNClassifier,
        skcifar.CNNClassifier,
        skcifar.ResNetClassifier,
        skcifar.PixelScaler,
    ]


def _own_docstrings(cls):
    """The class docstring and those of its public methods that skcifar defines."""
    yield cls.__name__, cls.__doc__
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") or not callable(member):
            continue
        if (getattr(member, "__module__", None) or "").split(".")[0] != "skcifar":
            continue
        yield f"{cls.__name__}.{name}", member.__doc__


def test_estimator_docstrings_quote_no_measured_figures():
    found = {}
    for cls in _public_estimators():
        for where, doc in _own_docstrings(cls):
            figures = _measured_figures(_prose(doc))
            if figures:
                found[where] = figures
    assert not found, (
        f"docstrings quote measured figures {found}; point to the benchmarks page "
        "(docs/benchmarks.md) instead"
    )


def _example_prose(path):
    """What the gallery shows of an example as text: its docstring and ``# %%`` comments."""
    import ast

    source = path.read_text(encoding="utf-8")
    prose = [ast.get_docstring(ast.parse(source)) or ""]
    in_text_block = False
    for line in source.splitlines():
        if line.startswith("# %%"):
            in_text_block = True
        elif in_text_block and line.startswith("#"):
            prose.append(line.lstrip("#"))
        else:
            in_text_block = False
    return "\n".join(prose)


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_")),
    ids=lambda path: path.name,
)
def test_gallery_text_quotes_no_measured_figures(path):
    """The gallery pages' prose is a docs page like the others: figures live on benchmarks."""
    figures = _measured_figures(_example_prose(path))
    assert not figures, (
        f"{path.name} quotes measured figures {figures} in its text; link to "
        "docs/benchmarks.md instead"
    )


def test_readme_quotes_no_measured_figures():
    figures = _measured_figures(README.read_text(encoding="utf-8"))
    assert not figures, (
        f"README.md quotes measured figures {figures}; link to docs/benchmarks.md instead"
    )


# -- no removed module paths ----------------------------------------------------

_MOVED = r"_(?:memory|validation|backend|testing|atomic)"
REMOVED_PATH = re.compile(
    # skcifar/_memory.py, `_memory.py` (not cross_validation.py: no word character before)
    rf"(?<![\w.]){_MOVED}\.py\b"
    # skcifar._memory, skcifar/_memory
    rf"|\bskcifar[./]{_MOVED}\b"
    # skcifar.distributed.prepare_workers, removed (an alias of limit_worker_threads)
    r"|\bprepare_workers\b"
)


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("allocated aligned (``skcifar/_memory.py``)", True),
        ("live in `skcifar/_validation.py`", True),
        ("``skcifar._memory.batches``", True),
        (":func:`~skcifar.distributed.prepare_workers`", True),
        ("`_testing.py`", True),
        ("``cross_validation.py``  cross_val_score", False),
        ("from skcifar.distributed import dask_search_backend", False),
        ("skcifar/utils/validation.py and skcifar.utils.backend", False),
    ],
)
def test_removed_path_pattern(text, hit):
    assert bool(REMOVED_PATH.search(text)) is hit


@pytest.mark.parametrize(
    "path",
    [*_docs_pages(), README],
    ids=lambda path: path.relative_to(ROOT).as_posix(),
)
def test_pages_name_no_removed_module_path(path):
    text = path.read_text(encoding="utf-8")
    stale = [
        f"line {text.count(chr(10), 0, match.start()) + 1}: {match.group(0)}"
        for match in REMOVED_PATH.finditer(text)
    ]
    assert not stale, f"{path.name} names removed or moved module paths: {stale}"
