"""Sphinx configuration for the skcifar documentation.

Two builds (warnings are errors in both)::

    make docs            # the full site: the example gallery is executed (--quick)
    .venv/bin/python -m sphinx -W --keep-going -D plot_gallery=0 -b html docs docs/_build/html

The second is what ``tests/test_docs.py`` runs: the gallery pages show the
examples' code but nothing is executed, so it needs neither CIFAR-10 nor the
minutes of training.

The site follows the scikit-learn family: the PyData theme, one API page per
public class and function (autosummary, numpydoc), an example gallery built by
sphinx-gallery from ``examples/*.py``, and links into scikit-learn's, Keras' and
NumPy's documentation through intersphinx inventories written from the
installed packages (no network access; see ``_ext/skcifar_docs.py``). Pages
are reStructuredText, except design.md and benchmarks.md (MyST). Every page
exists once, in one format: tests/test_docs_sources.py checks that.
"""

from __future__ import annotations

import os
import sys

# Document the checkout being built, even when another skcifar is installed.
DOCS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DOCS)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(DOCS, "_ext"))
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
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "skcifar_docs",  # docs/_ext: offline inventories, gallery run settings, API filters
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
# Written by the build itself (see .gitignore): autosummary's API pages in
# generated/, the gallery in auto_examples/ and gen_modules/.
exclude_patterns = [
    "_build",
    "**/.ipynb_checkpoints",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.md5",
    "auto_examples/*.zip",
    "auto_examples/*.codeobj.json",
]
templates_path = ["_templates"]
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
python_maximum_signature_line_length = 72  # longer signatures: one parameter a line
autoclass_content = "class"
# api.rst's autosummary tables write one page per name into generated/, from
# the templates in _templates/autosummary/.
autosummary_generate = True
autosummary_imported_members = False

# -- numpydoc ------------------------------------------------------------------
numpydoc_show_class_members = False  # the class template lists the methods
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_validation_checks: set[str] = set()
# Parameter types link to their documentation where a name is known, e.g.
# "Pipeline" or "ndarray"; the words of prose types ("array-like of shape") stay text.
numpydoc_xref_param_type = True
numpydoc_xref_aliases = {
    # numpydoc links "bool" to a label of Python's docs; the class is in the inventory.
    "bool": ":class:`python:bool`",
    "boolean": ":class:`python:bool`",
    "Pipeline": "sklearn.pipeline.Pipeline",
    "Bunch": "sklearn.utils.Bunch",
    "ndarray": "numpy.ndarray",
    "keras.Model": "keras.Model",
    "EvaluationResult": "skcifar.evaluation.EvaluationResult",
}
numpydoc_xref_ignore = {
    "of",
    "or",
    "and",
    "shape",
    "default",
    "optional",
    "None,",
    "array-like,",
    "fitted",
    "classifier",
    "estimator",
    "object",
    "path-like",
    "sequence",
    "str,",
    "int,",
}

# -- intersphinx (offline) -------------------------------------------------------
# The inventories are written at build time from the installed scikit-learn,
# Keras, NumPy and Python (``skcifar_docs.write_inventories``), never downloaded. Keras
# publishes no inventory and keras.io has no per-name addresses, so Keras names
# link to TensorFlow's API pages of the same Keras (``tf.keras`` is Keras 3).
intersphinx_mapping = {
    "python": ("https://docs.python.org/3/", None),
    "sklearn": ("https://scikit-learn.org/stable/", None),
    "keras": ("https://www.tensorflow.org/api_docs/python/", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
}
intersphinx_disabled_reftypes = ["std:doc"]
intersphinx_timeout = 1

# -- sphinx-gallery ------------------------------------------------------------
# Every script in examples/ but the shared plumbing (_common.py) becomes a page.
# ``make docs`` runs each with --quick (skcifar_docs.quick_argv); the tests'
# build passes -D plot_gallery=0 and runs none.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/[a-z]\w*\.py$",
    "ignore_pattern": r"^_",
    "reset_argv": "skcifar_docs.quick_argv",
    "within_subsection_order": "skcifar_docs.ExampleOrder",
    "doc_module": ("skcifar",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"skcifar": None},
    "abort_on_example_error": True,
    "download_all_examples": False,
    "show_memory": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "min_reported_time": 1,
    # A block's last expression is shown when it has an HTML form (a fitted
    # Pipeline's diagram); plain reprs (a Figure's) are not.
    "capture_repr": ("_repr_html_",),
}

# -- HTML output ---------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skcifar {release}"
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 6,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": {
        "*": ["page-toc"],
        "auto_examples/*": ["page-toc"],
        "generated/*": [],
    },
    "footer_start": ["copyright"],
    "footer_end": [],
    "icon_links": [],
}
# The header links to every section. Only the class and function pages of the
# API, many of them, have the navigation sidebar on the left; they give up the
# right one ("on this page") instead. So every page has room for 100
# characters of code a line (the examples' and doctests' longest) at 1280 px.
# ("*" matches the pages at the top level, not those in folders.)
html_sidebars = {"*": [], "auto_examples/*": []}
html_static_path = ["_static"]
html_css_files = ["skcifar.css"]
html_show_sourcelink = False
html_copy_source = False
