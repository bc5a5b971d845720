"""The package's shape: imports point down the layers, never in a cycle, and every folder says what it is."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import hypernas

PACKAGE = Path(hypernas.__file__).parent
# Lower layers never import higher ones; within a layer only a folder's own modules import each other.
LAYERS = {
    "hypernas.errors": 0,
    "hypernas.io": 1,
    "hypernas.provenance": 1,
    "hypernas.data": 2,
    "hypernas.method": 2,
    "hypernas.space": 3,
    "hypernas.train": 4,
    "hypernas.device": 5,
    "hypernas.book": 6,
    "hypernas.api": 7,
    "hypernas": 7,
    "hypernas.cli": 8,
    "hypernas.__main__": 9,
}


def _modules() -> dict[str, Path]:
    out = {"hypernas": PACKAGE / "__init__.py"}
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="hypernas."):
        spec = importlib.util.find_spec(info.name)
        out[info.name] = Path(spec.origin)
    return out


def _group(module: str) -> str:
    """The layer key of a module: its first-level folder or module under ``hypernas``."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _imports(path: Path, module: str, modules: dict[str, Path]) -> set[str]:
    """The ``hypernas`` modules that ``path`` imports, anywhere in its body (lazy imports too)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("hypernas")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if not base.startswith("hypernas"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    return found - {module}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: _imports(p, m, modules) for m, p in modules.items()}


def test_every_module_has_a_layer_and_a_docstring():
    for module, path in _modules().items():
        assert _group(module) in LAYERS, f"{module} belongs to no layer; add its folder to LAYERS"
        assert ast.get_docstring(ast.parse(path.read_text())), f"{module} has no docstring"


def test_imports_only_point_down():
    wrong = []
    for module, targets in _graph().items():
        for target in targets:
            if target == "hypernas" and module != "hypernas":
                wrong.append(f"{module} -> hypernas (import the submodule that defines the name)")
                continue
            mine, theirs = _group(module), _group(target)
            if (module, target) == ("hypernas", "hypernas.api"):
                continue  # the package re-exports the public API of its own layer
            if LAYERS[theirs] > LAYERS[mine] or (LAYERS[theirs] == LAYERS[mine] and theirs != mine):
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports that point up or sideways: " + "; ".join(sorted(wrong))


def test_no_import_cycle():
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, node])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [])):
            raise AssertionError("import cycle: " + " -> ".join(cycle))


def test_the_layer_check_catches_an_upward_import(tmp_path):
    """The checker itself: an import from space up into train is reported."""
    fake = tmp_path / "bad.py"
    fake.write_text('"""x"""\nfrom hypernas.train.config import SearchConfig\n')
    targets = _imports(fake, "hypernas.space.bad", _modules())
    assert targets == {"hypernas.train.config"}
    assert LAYERS[_group("hypernas.train.config")] > LAYERS[_group("hypernas.space.bad")]
