"""Names and homes: each module's private names stay in it; shared helpers have a public home."""

import ast
import importlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "skcifar"


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        yield name, package, path


def _absolute(node, package):
    """The absolute module name of an ImportFrom node (None outside skcifar)."""
    if node.level:
        base = package.split(".")
        base = base[: len(base) - node.level + 1]
        name = ".".join(base + ([node.module] if node.module else []))
    else:
        name = node.module or ""
    return name if name == "skcifar" or name.startswith("skcifar.") else None


def _private(name):
    return name.startswith("_") and not name.startswith("__")


def _is_module(name):
    try:
        importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    return importlib.util.find_spec(name) is not None


def _violations():
    found = []
    for name, package, path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module_aliases = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = _absolute(node, package)
                if source is None:
                    continue
                for alias in node.names:
                    target = f"{source}.{alias.name}"
                    if _is_module(target):
                        module_aliases.add(alias.asname or alias.name)
                        owner = source
                        if _private(alias.name) and owner != package:
                            found.append(f"{name} imports private module {target}")
                    elif _private(alias.name):
                        found.append(f"{name} imports private name {alias.name} from {source}")
                private_parts = [p for p in source.split(".") if _private(p)]
                if private_parts and source.rpartition(".")[0] != package:
                    found.append(f"{name} imports from {source}, private to another package")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("skcifar") and any(
                        _private(p) for p in alias.name.split(".")
                    ):
                        found.append(f"{name} imports private module {alias.name}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in module_aliases
                and _private(node.attr)
            ):
                found.append(f"{name} uses private name {node.value.id}.{node.attr}")
    return sorted(set(found))


def test_no_module_reaches_into_another_modules_private_names():
    assert _violations() == []


def test_modules_are_named_for_what_they_hold():
    from skcifar.architectures import _shared
    from skcifar.utils import input_pipeline

    assert hasattr(input_pipeline, "batches") and hasattr(_shared, "Seeds")


def test_the_builders_need_neither_scikit_learn_nor_tensorflow_to_import():
    import subprocess
    import sys

    code = (
        "import sys, skcifar.architectures; "
        "print('sklearn' in sys.modules, 'tensorflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["False", "False"], done.stderr
