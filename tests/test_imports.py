"""The import graph of skcifar, read from the source with ``ast``: imports point down.

Every ``import`` and ``from ... import`` statement counts, at module level or
inside a function, relative imports resolved. ``from package import name``
is an edge to ``package.name`` when that is a module, otherwise to
``package``. A module cycle makes the import order of its modules matter.
skcifar's packages (``skcifar.estimators``, ``skcifar.persistence``, ...; a
top-level module such as ``skcifar.preprocessing`` counts as one, and so does
the top-level ``skcifar`` itself) form the layers of ``docs/design.md``:
each imports packages of lower layers only.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skcifar"

#: skcifar's packages bottom up; a package imports packages of lower layers only.
#: ``skcifar`` is the top-level ``__init__``: it re-exports the public names of the
#: layers below it, which the command line imports from there.
LAYERS = (
    ("utils",),
    ("datasets", "preprocessing"),
    ("architectures", "checkpoints"),
    ("estimators",),
    ("evaluation", "persistence", "distributed"),
    ("skcifar",),
    ("cli",),
    ("__main__",),
)


def _module_files(root=PACKAGE):
    files = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        files[name] = path
    return files


def import_graph(root=PACKAGE):
    """``{module: {imported skcifar module, ...}}`` of every module under ``root``."""
    files = _module_files(root)
    top = root.name
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    targets.add(submodule if submodule in files else source)
        graph[name] = {
            _existing(target, files)
            for target in targets
            if target == top or target.startswith(top + ".")
        } - {name}
    return graph


def _existing(target, files):
    """``target``, or the closest enclosing module that exists (``import a.b.c`` names a.b.c)."""
    while target not in files and "." in target:
        target = target.rpartition(".")[0]
    return target


def package_of(module):
    """The package a module belongs to (the top-level name for the top-level ``__init__``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_graph(graph):
    packages = {}
    for module, targets in graph.items():
        source = package_of(module)
        packages.setdefault(source, set()).update(set(map(package_of, targets)) - {source})
    return packages


def layer_violations(packages, layers=LAYERS):
    """``"package (layer i) -> package (layer j)"`` for each edge that does not point down."""
    level = {name: i for i, names in enumerate(layers) for name in names}
    unlisted = sorted(set(packages).union(*packages.values()) - set(level))
    assert not unlisted, f"packages missing from the layers table: {unlisted}"
    return [
        f"{source} (layer {level[source]}) -> {target} (layer {level[target]})"
        for source, targets in sorted(packages.items())
        for target in sorted(targets)
        if level[target] >= level[source]
    ]


def cycles(graph):
    """One cycle (a list of nodes, first repeated last) per strongly connected component."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):  # Tarjan's algorithm; the graphs are small enough to recurse
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(_cycle_in(graph, component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _cycle_in(graph, component):
    """A shortest cycle through the component's first node, by breadth-first search."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph.get(node, ())):
            if target == start:
                return [*paths[node], start]
            if target in component and target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    raise AssertionError("a strongly connected component always holds a cycle")


def _described(found):
    return "\n".join(" -> ".join(cycle) for cycle in found)


def test_no_module_imports_itself_back():
    found = cycles(import_graph())
    assert not found, f"import cycles between skcifar's modules:\n{_described(found)}"


def test_the_packages_import_each_other_in_one_direction():
    found = cycles(package_graph(import_graph()))
    assert not found, f"import cycles between skcifar's packages:\n{_described(found)}"


def test_the_packages_import_lower_layers_only():
    packages = package_graph(import_graph())
    assert set(packages) == {name for names in LAYERS for name in names}
    found = layer_violations(packages)
    assert not found, "package imports that do not point down:\n" + "\n".join(found)


@pytest.fixture
def tree(tmp_path):
    """A small package ``pkg`` written to ``tmp_path`` from ``{relative path: source}``."""

    def write(files):
        for relative, source in files.items():
            path = tmp_path / "pkg" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source, encoding="utf-8")
        return tmp_path / "pkg"

    return write


def test_the_graph_sees_function_level_and_relative_imports(tree):
    root = tree(
        {
            "__init__.py": "",
            "low/__init__.py": "from ._impl import thing\n",
            "low/_impl.py": "def thing():\n    from ..high import serve\n",
            "high/__init__.py": "from .user import serve\n",
            "high/user.py": "import pkg.low\nfrom pkg.low import thing as serve\n",
        }
    )
    graph = import_graph(root)
    assert graph["pkg.low._impl"] == {"pkg.high"}
    assert graph["pkg.high.user"] == {"pkg.low"}
    assert graph["pkg.low"] == {"pkg.low._impl"}
    found = cycles(graph)
    assert found == [["pkg.high", "pkg.high.user", "pkg.low", "pkg.low._impl", "pkg.high"]]
    assert cycles(package_graph(graph)) == [["high", "low", "high"]]


def test_a_layered_tree_has_no_cycle(tree):
    root = tree(
        {
            "__init__.py": "from .high import serve\n",
            "low/__init__.py": "from ._impl import thing\n",
            "low/_impl.py": "from . import _more\n",
            "low/_more.py": "",
            "high/__init__.py": "from .user import serve\n",
            "high/user.py": "from ..low import thing as serve\n",
        }
    )
    graph = import_graph(root)
    assert graph["pkg.low._impl"] == {"pkg.low._more"}  # a submodule, not the package
    assert cycles(graph) == [] and cycles(package_graph(graph)) == []


def test_the_layer_check_names_each_edge_that_does_not_point_down(tree):
    root = tree(
        {
            "__init__.py": "from .high import serve\n",
            "low/__init__.py": "from ._impl import thing\n",
            "low/_impl.py": "def thing():\n    from .. import serve\n",
            "side/__init__.py": "import pkg.low\n",
            "high/__init__.py": "from ..low import thing as serve\nfrom pkg import side\n",
        }
    )
    packages = package_graph(import_graph(root))
    assert packages == {"pkg": {"high"}, "low": {"pkg"}, "side": {"low"}, "high": {"low", "side"}}
    layers = (("low", "side"), ("high",), ("pkg",))
    assert layer_violations(packages, layers) == [
        "low (layer 0) -> pkg (layer 2)",  # the top-level package, from below
        "side (layer 0) -> low (layer 0)",  # within one layer
    ]
    with pytest.raises(AssertionError, match=r"missing from the layers table: \['side'\]"):
        layer_violations(packages, (("low",), ("high",), ("pkg",)))


# -- benchmarks/ ------------------------------------------------------------------------
BENCHMARKS = PACKAGE.parent / "benchmarks"

#: benchmarks/ bottom up; a module imports benchmark modules of lower layers only.
#: Every module not named here is a script (layer 1).
BENCHMARK_LAYERS = {
    # leaves: measurement functions, configurations, targets, the report's wording
    "_common": 0,
    "_configs": 0,
    "_targets": 0,
    "_text": 0,
    # the report's parts, reading the scripts' results; the report; the runner
    "_extras": 2,
    "_plot": 2,
    "_report": 3,
    "run_all": 4,
}
SCRIPT_LAYER = 1


def benchmarks_graph(root=BENCHMARKS):
    """``{script: {benchmark module it imports}}``: the scripts import each other by name."""
    names = {path.stem for path in root.glob("*.py")}
    graph = {}
    for path in sorted(root.glob("*.py")):
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                targets.add(node.module.split(".")[0])
        graph[path.stem] = (targets & names) - {path.stem}
    return graph


def _private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _dotted(node):
    """``["a", "b", "c"]`` of the expression ``a.b.c``, or None when it starts with no name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else None


def private_skcifar_imports(root=BENCHMARKS):
    """``file:line: name [private parts]`` of each private skcifar name the benchmarks use.

    A private module or name imported from skcifar counts, and so does an
    attribute read or written on what an import from skcifar binds
    (``backend._name`` after ``from skcifar.utils import backend``), at its
    first private part.
    """
    found = []
    for path in sorted(root.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        bound = {}  # a name an import from skcifar binds -> the skcifar name it stands for
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules, names = [alias.name for alias in node.names], []
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    bound[local] = alias.name if alias.asname else local
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                modules, names = [node.module], [alias.name for alias in node.names]
                for alias in node.names:
                    bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            else:
                continue
            for module in modules:
                if module.split(".")[0] != "skcifar":
                    continue
                private = [p for p in module.split(".") if _private(p)]
                private += [n for n in names if _private(n)]
                if private:
                    found.append(f"{path.name}:{node.lineno}: {module} {private}")
        bound = {k: v for k, v in bound.items() if v.split(".")[0] == "skcifar"}
        for node in ast.walk(tree):
            dotted = _dotted(node) if isinstance(node, ast.Attribute) else None
            if dotted and dotted[0] in bound and _private(node.attr):
                if not any(map(_private, dotted[1:-1])):  # else reported at an inner part
                    name = ".".join([bound[dotted[0]], *dotted[1:]])
                    found.append(f"{path.name}:{node.lineno}: {name} {[node.attr]}")
    return sorted(found, key=lambda line: (line.split(":")[0], int(line.split(":")[1]), line))


def benchmark_layer_violations(graph, layers=BENCHMARK_LAYERS):
    """``"module -> imported"`` for each import of a module of the same layer or above."""

    def layer(name):
        return layers.get(name, SCRIPT_LAYER)

    return [
        f"{module} (layer {layer(module)}) -> {target} (layer {layer(target)})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if layer(target) >= layer(module)
    ]


def test_the_benchmarks_import_each_other_in_one_direction():
    found = cycles(benchmarks_graph())
    assert not found, f"import cycles between the benchmark scripts:\n{_described(found)}"


def test_the_benchmarks_import_lower_layers_only():
    graph = benchmarks_graph()
    assert set(BENCHMARK_LAYERS) <= set(graph)  # every module named is there
    found = benchmark_layer_violations(graph)
    assert not found, "benchmark imports that do not point down:\n" + "\n".join(found)


def test_the_benchmarks_use_skcifars_public_names_only():
    found = private_skcifar_imports()
    assert not found, "benchmarks import private skcifar names:\n" + "\n".join(found)


def test_the_benchmark_checks_see_cycles_and_private_names(tmp_path):
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from a import x\n")
    private = (
        "from skcifar.estimators._base import X\n"
        "from skcifar import _y\n"
        "from skcifar.utils import backend\n"
        "import skcifar.utils as utils, numpy as np, skcifar\n"
        "def f():\n"
        "    backend._FLAG = backend.public + np._private + skcifar.__version__\n"
        "    return utils.backend._read()._inner, skcifar._hidden.value, local._name\n"
    )
    (tmp_path / "c.py").write_text(private)
    assert cycles(benchmarks_graph(tmp_path)) == [["a", "b", "a"]]
    (tmp_path / "_leaf.py").write_text("import c\n")
    assert benchmark_layer_violations(benchmarks_graph(tmp_path), {"_leaf": 0}) == [
        "_leaf (layer 0) -> c (layer 1)",
        "a (layer 1) -> b (layer 1)",
        "b (layer 1) -> a (layer 1)",
    ]
    assert private_skcifar_imports(tmp_path) == [
        "c.py:1: skcifar.estimators._base ['_base']",
        "c.py:2: skcifar ['_y']",
        "c.py:6: skcifar.utils.backend._FLAG ['_FLAG']",
        "c.py:7: skcifar._hidden ['_hidden']",
        "c.py:7: skcifar.utils.backend._read ['_read']",
    ]
