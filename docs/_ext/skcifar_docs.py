"""The skcifar documentation's own Sphinx extension (loaded by docs/conf.py).

* **Offline intersphinx.** :func:`write_inventories` writes Sphinx inventories
  (``objects.inv``) for scikit-learn, Keras, NumPy and Python's built-ins from
  the public names of the installed packages, into the build's doctree folder, and points
  ``intersphinx_mapping`` at them: cross-links resolve without any download,
  and only to names that exist in the versions installed.
* **The gallery runs the examples in quick mode.** :func:`quick_argv` is
  sphinx-gallery's ``reset_argv``: every script runs as ``python
  examples/X.py --quick``. Each gallery page gets a note saying so (or that the
  build did not run it) and where its script is, in place of sphinx-gallery's
  download links; a build that runs the examples stops at once with a clear
  message when CIFAR-10 is not found locally, instead of each example failing
  on a download.
* **API pages.** scikit-learn's inherited docstrings keep the text of their
  ``:ref:`` links into scikit-learn's user guide (labels an inventory of names
  cannot hold).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import platform
import re
import zlib
from importlib import metadata
from types import ModuleType

from sphinx.errors import ConfigError

# -- offline intersphinx ----------------------------------------------------------------


def _public(names):
    return sorted(name for name in names if not name.startswith("_"))


def _get(owner, name):
    """``getattr``, or None where the attribute raises (experimental, lazy or removed names)."""
    try:
        return getattr(owner, name)
    except Exception:
        return None


def _defined_as(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _methods(cls):
    """Public methods and properties of ``cls``, inherited ones included."""
    found = []
    for name in _public(dir(cls)):
        try:
            member = inspect.getattr_static(cls, name)
        except AttributeError:
            continue
        if isinstance(member, (staticmethod, classmethod, property)) or inspect.isfunction(member):
            found.append(name)
    return found


def _sklearn_entries():
    import sklearn

    page = "modules/generated/{}.html#{}"
    entries = [("sklearn", "py:module", "api/index.html#module-sklearn")]
    objects = []
    for name in _public(getattr(sklearn, "__all__", [])):
        qualified = f"sklearn.{name}"
        try:
            module = importlib.import_module(qualified)
        except ImportError:  # a top-level function (sklearn.clone, ...)
            objects.append((qualified, _get(sklearn, name)))
            continue
        entries.append((qualified, "py:module", f"api/{qualified}.html#module-{qualified}"))
        for member in _public(getattr(module, "__all__", [])):
            objects.append((f"{qualified}.{member}", _get(module, member)))
    for qualified, obj in objects:
        if inspect.isclass(obj):
            entries.append((qualified, "py:class", page.format(qualified, qualified)))
            entries.append((_defined_as(obj), "py:class", page.format(qualified, qualified)))
            for method in _methods(obj):
                target = f"{qualified}.{method}"
                entries.append((target, "py:method", page.format(qualified, target)))
        elif callable(obj):
            entries.append((qualified, "py:function", page.format(qualified, qualified)))
    return entries


def _numpy_entries():
    import numpy

    entries = [
        ("numpy", "py:module", "reference/index.html#module-numpy"),
        # numpydoc links the parameter type "array-like" to this glossary term.
        ("array_like", "std:term", "glossary.html#term-array_like"),
    ]
    for name in _public(getattr(numpy, "__all__", dir(numpy))):
        obj = _get(numpy, name)
        qualified = f"numpy.{name}"
        if inspect.isclass(obj) and issubclass(obj, numpy.generic):
            entries.append((qualified, "py:class", f"reference/arrays.scalars.html#{qualified}"))
        elif inspect.isclass(obj):
            entries.append(
                (qualified, "py:class", f"reference/generated/{qualified}.html#{qualified}")
            )
        elif callable(obj):
            entries.append(
                (qualified, "py:function", f"reference/generated/{qualified}.html#{qualified}")
            )
    for method in _methods(numpy.ndarray):
        target = f"numpy.ndarray.{method}"
        entries.append((target, "py:method", f"reference/generated/{target}.html#{target}"))
    return entries


def _keras_entries():
    import keras

    def page(qualified):  # keras.layers.Dense -> tf/keras/layers/Dense
        return "tf/" + qualified.replace(".", "/")

    entries = []

    def walk(module, prefix, depth):
        entries.append((prefix, "py:module", page(prefix)))
        for name in _public(dir(module)):
            if name in ("src", "api"):  # the implementation, not the public API
                continue
            obj = _get(module, name)
            qualified = f"{prefix}.{name}"
            if isinstance(obj, ModuleType):
                if depth < 3 and obj.__name__.startswith("keras"):
                    walk(obj, qualified, depth + 1)
            elif inspect.isclass(obj):
                entries.append((qualified, "py:class", page(qualified)))
                # Where it is defined (keras.src...), as autodoc names a base class.
                entries.append((_defined_as(obj), "py:class", page(qualified)))
                for method in _methods(obj):
                    target = f"{qualified}.{method}"
                    entries.append((target, "py:method", f"{page(qualified)}#{method}"))
            elif callable(obj):
                entries.append((qualified, "py:function", page(qualified)))

    walk(keras, "keras", 0)
    return entries


# The built-in types Python's documentation describes in stdtypes.html; the
# other built-in classes and functions are in functions.html.
_STDTYPES = {"bytes", "dict", "frozenset", "list", "memoryview", "range", "set", "str", "tuple"}
_CONSTANTS = {"None", "True", "False", "Ellipsis", "NotImplemented"}


def _python_entries():
    import builtins

    entries = []
    for name in _public(dir(builtins)):
        obj = getattr(builtins, name)
        if name in _CONSTANTS:
            entries.append((name, "py:data", f"library/constants.html#{name}"))
        elif inspect.isclass(obj) and issubclass(obj, BaseException):
            entries.append((name, "py:exception", f"library/exceptions.html#{name}"))
        elif inspect.isclass(obj):
            page = "stdtypes" if name in _STDTYPES else "functions"
            entries.append((name, "py:class", f"library/{page}.html#{name}"))
        elif callable(obj):
            entries.append((name, "py:function", f"library/functions.html#{name}"))
    # The glossary terms numpydoc links parameter types to.
    for term in ("iterable", "sequence", "generator", "path-like object", "file object"):
        anchor = term.replace(" ", "-")
        entries.append((term, "std:term", f"glossary.html#term-{anchor}"))
    return entries


# key: (project, distribution whose version names the inventory, entries)
_INVENTORIES = {
    "python": ("Python", None, _python_entries),
    "sklearn": ("scikit-learn", "scikit-learn", _sklearn_entries),
    "keras": ("Keras", "keras", _keras_entries),
    "numpy": ("NumPy", "numpy", _numpy_entries),
}


def _write_inventory(path, project, version, entries):
    # Sphinx's format: "name domain:role priority uri display-name" ("-": the name).
    lines = sorted({f"{name} {role} 1 {uri} -" for name, role, uri in entries})
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = zlib.compress(("\n".join(lines) + "\n").encode("utf-8"))
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(header.encode("utf-8") + body)
    os.replace(tmp, path)


def write_inventories(app, config):
    """Point each ``intersphinx_mapping`` entry at an inventory of the installed package.

    Inventories are kept in ``<doctreedir>/intersphinx/``, named after the
    package's version and this file's contents, and written again only when
    either changes.
    """
    folder = os.path.join(app.doctreedir, "intersphinx")
    os.makedirs(folder, exist_ok=True)
    with open(__file__, "rb") as f:  # a changed generator writes them again too
        generator = hashlib.sha256(f.read()).hexdigest()[:8]
    for key, (url, _) in list(config.intersphinx_mapping.items()):
        if key not in _INVENTORIES:
            raise ConfigError(f"no offline inventory is written for intersphinx entry {key!r}")
        project, distribution, entries = _INVENTORIES[key]
        version = metadata.version(distribution) if distribution else platform.python_version()
        path = os.path.join(folder, f"{key}-{version}-{generator}.inv")
        if not os.path.exists(path):
            _write_inventory(path, project, version, entries())
            for old in os.listdir(folder):  # those of other versions
                if old.startswith(f"{key}-") and old != os.path.basename(path):
                    os.remove(os.path.join(folder, old))
        config.intersphinx_mapping[key] = (url, path)


# -- the gallery ------------------------------------------------------------------------

# The order of the gallery: from the first fit to the details.
EXAMPLE_ORDER = (
    "quickstart.py",
    "four_stages.py",
    "evaluation_report.py",
    "accuracy_vs_time.py",
    "grid_search_filters_epochs.py",
    "cross_validation.py",
    "pickle_pipeline.py",
)


class ExampleOrder:
    """sphinx-gallery's ``within_subsection_order``: :data:`EXAMPLE_ORDER`, then by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = os.path.basename(filename)
        position = EXAMPLE_ORDER.index(name) if name in EXAMPLE_ORDER else len(EXAMPLE_ORDER)
        return (position, name)

    def __repr__(self):
        return "ExampleOrder"


def quick_argv(gallery_conf, script_vars):
    """sphinx-gallery's ``reset_argv``: run every example as ``X.py --quick``."""
    return ["--quick"]


def _runs_gallery(config):
    return str(config.plot_gallery).strip().lower() not in ("0", "false", "no", "off", "")


def check_gallery_data(app):
    """Stop a build that runs the examples when CIFAR-10 is not found locally."""
    if not _runs_gallery(app.config):
        return
    os.environ.setdefault("SKCIFAR_PROGRESS", "0")  # no progress bars in the pages
    from skcifar.datasets import load_data

    try:
        load_data(download_if_missing=False)  # decodes and caches it for the examples
    except OSError as exc:
        raise ConfigError(
            "the example gallery runs the examples on CIFAR-10, which was not found:\n"
            f"{exc}\n"
            "Set SKCIFAR_DATA to a local copy (the Makefile does so for "
            "../shared/data/cifar10-jpg.tar.gz), or build without running the examples: "
            "make docs-noplot (sphinx -D plot_gallery=0)."
        ) from exc


_GALLERY_PAGE = re.compile(r"^auto_examples/(?P<name>[a-z]\w*)$")
_TITLE = re.compile(r"^\.\. _sphx_glr_auto_examples_\w+\.py:\n\n+[^\n]+\n=+\n", re.MULTILINE)
_RAN = ("sphx-glr-script-out", "sphx-glr-single-img", "sphx-glr-multi-img")

_NOTE_RAN = """
.. admonition:: Run in quick mode
   :class: note

   This page was made by running ``python examples/{name}.py --quick`` when
   the documentation was built: a small slice of CIFAR-10 and one or two
   epochs, so that the whole gallery runs in minutes on two CPU cores.
   Its numbers and figures show what the code does, not how well the models
   do; the full-size results are on the :doc:`/benchmarks` page. Without
   ``--quick`` the script runs at full size.

"""

_NOTE_NOT_RUN = """
.. admonition:: Not run in this build
   :class: note

   This build of the documentation did not run the examples, so the page
   shows the code without its output. ``make docs`` runs them (``python
   examples/{name}.py --quick``); the full-size results are on the
   :doc:`/benchmarks` page.

"""


# sphinx-gallery's download links: a note above the title and buttons at the end.
_DOWNLOAD_NOTE = re.compile(
    r"^\.\. only:: html\n\n    \.\. note::\n        :class: sphx-glr-download-link-note\n\n"
    r"(?:        [^\n]*\n)+\n",
    re.MULTILINE,
)
_DOWNLOAD_BUTTONS = re.compile(
    r"^\.\. only:: html\n\n  \.\. container:: sphx-glr-footer sphx-glr-footer-example\n"
    r"(?:(?:    [^\n]*)?\n)+",
    re.MULTILINE,
)
_SOURCE = """The script is ``examples/{name}.py`` in the repository. It imports
``examples/_common.py`` (the options every example shares), so run it from
there: ``python examples/{name}.py`` (``--quick``, ``--help``).

"""


def rewrite_gallery_page(app, docname, source):
    """Say how each gallery page's output was made, and where its script is.

    Below the title goes a note: run with ``--quick`` when the documentation
    was built, or not run by this build. sphinx-gallery's download links (the
    script alone, a notebook, a zip) give way to the script's place in the
    repository: alone, a script lacks the ``_common.py`` it imports, and a
    notebook has no command line to parse.
    """
    match = _GALLERY_PAGE.match(docname)
    if not match or match.group("name") == "index":
        return
    name, text = match.group("name"), source[0]
    title = _TITLE.search(text)
    if title is None:
        return
    template = _NOTE_RAN if any(marker in text for marker in _RAN) else _NOTE_NOT_RUN
    text = text[: title.end()] + template.format(name=name) + text[title.end() :]
    text = _DOWNLOAD_NOTE.sub("", text, count=1)
    source[0] = _DOWNLOAD_BUTTONS.sub(_SOURCE.format(name=name), text, count=1)


# -- API pages ----------------------------------------------------------------------------


def _defining_module(obj):
    target = obj.fget if isinstance(obj, property) else obj
    return getattr(target, "__module__", None) or ""


# scikit-learn's docstrings link into its user guide, glossary and gallery by
# label (":ref:`user guide <label>`", ":term:`meta-estimator`"): an inventory of
# names cannot hold those, so the text stays and the link goes.
_SKLEARN_LINK = re.compile(r":(?:ref|term):`(?:([^`<]+?)\s*<[^`>]+>|([^`<>]+))`")


def _link_text(match):
    text = match.group(1) or match.group(2)
    if text.startswith("sphx_glr_"):  # a gallery page of scikit-learn's, named by its label
        return "scikit-learn's example gallery"
    return text


def unlink_sklearn_refs(app, what, name, obj, options, lines):
    """Docstrings inherited from scikit-learn keep their links' text, not the links."""
    if _defining_module(obj).split(".")[0] == "sklearn":
        lines[:] = [_SKLEARN_LINK.sub(_link_text, line) for line in lines]


def setup(app):
    app.connect("config-inited", write_inventories, priority=400)  # before intersphinx's
    app.connect("builder-inited", check_gallery_data, priority=400)  # before the gallery's
    app.connect("source-read", rewrite_gallery_page)
    app.connect("autodoc-process-docstring", unlink_sklearn_refs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
