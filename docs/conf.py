"""Sphinx configuration for the skcifar documentation.

Build (warnings are errors)::

    .venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html

Plain Sphinx: the built-in alabaster theme, reStructuredText sources plus the
Markdown pages (design.md, benchmarks.md) read through MyST, API pages from the
numpydoc docstrings, and no network access (intersphinx is off). Every page
exists once, in one format: tests/test_docs_sources.py checks that.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys

# Document the checkout being built, even when another skcifar is installed.
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quiet TensorFlow import in autodoc

import skcifar  # noqa: E402

# -- Project information -------------------------------------------------------
project = "skcifar"
author = "skcifar developers"
copyright = "skcifar developers"
release = skcifar.__version__
version = ".".join(release.split(".")[:2])

# -- General configuration -----------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
]
# No sphinx.ext.intersphinx: builds must work offline.

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]
templates_path: list[str] = []
default_role = "literal"  # `x` renders as code, never as a broken cross-reference
pygments_style = "sphinx"

# -- MyST (Markdown) ------------------------------------------------------------
# Headings up to level 3 get GitHub-style anchors, so ``[x](#some-heading)`` and
# ``[x](design.md#some-heading)`` work both on GitHub and in Sphinx.
myst_heading_anchors = 3
myst_enable_extensions: list[str] = []

# -- autodoc / autosummary -----------------------------------------------------
# TensorFlow is installed, so nothing is mocked: importing skcifar is real.
autodoc_mock_imports: list[str] = []
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc "Parameters" sections hold the types
autoclass_content = "class"
# api.rst uses autosummary tables without :toctree:, so no stub files are written.
autosummary_generate = False

# -- numpydoc ------------------------------------------------------------------
numpydoc_show_class_members = False  # methods are listed explicitly in api.rst
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# -- HTML output ---------------------------------------------------------------
html_theme = "alabaster"
html_title = f"skcifar {release}"
html_theme_options = {
    "description": "scikit-learn compatible Keras image classifiers for CIFAR-10",
    "fixed_sidebar": True,
    "show_powered_by": False,
}
html_sidebars = {
    "**": ["about.html", "navigation.html", "relations.html", "searchbox.html"],
}
html_static_path: list[str] = []
html_show_sourcelink = False

# -- Optional API sections -----------------------------------------------------
# A module that is still being written may be absent from a checkout: its API
# section in api.rst sits between ``.. optional-module: NAME`` and
# ``.. end-optional-module`` comments and is replaced by a note when NAME cannot
# be found at all. A module that exists but fails to import still breaks the
# build (autodoc warns, and warnings are errors).
_OPTIONAL = re.compile(
    r"^\.\. optional-module: (?P<name>[\w.]+)\n(?P<body>.*?)^\.\. end-optional-module\n",
    re.MULTILINE | re.DOTALL,
)


def _module_exists(name):
    """Whether ``name`` is a real module (a folder without ``__init__.py`` is not)."""
    try:
        spec = importlib.util.find_spec(name)
    except ImportError:
        return False
    return spec is not None and spec.origin not in (None, "namespace")


def _drop_missing_modules(app, docname, source):
    def replace(match):
        name = match.group("name")
        if _module_exists(name):
            return match.group("body")
        return f".. note::\n\n   ``{name}`` is not part of this build.\n\n"

    source[0] = _OPTIONAL.sub(replace, source[0])


# Docstrings inherited from scikit-learn (e.g. ``ClassifierMixin.score``) use
# ``:ref:`` labels of scikit-learn's own documentation, which cannot resolve
# without intersphinx: keep their text, drop the link.
_SKLEARN_REF = re.compile(r":ref:`([^`<]+?)\s*<[^`>]+>`")


def _unlink_sklearn_refs(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if module.split(".")[0] == "sklearn":
        lines[:] = [_SKLEARN_REF.sub(r"\1", line) for line in lines]


def setup(app):
    app.connect("source-read", _drop_missing_modules)
    app.connect("autodoc-process-docstring", _unlink_sklearn_refs)
