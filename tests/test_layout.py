"""The package's shape: imports point down the layers, never in a cycle, and every folder says what it is."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

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
    "hypernas.pipeline": 6,  # configs -> result files
    "hypernas.report": 7,  # result files -> tables, figures, verdicts, prose
    "hypernas.campaign": 7,  # the background queue of pipeline runs
    "hypernas.book": 8,  # what the chapters call: pipeline and report, by one name each
    "hypernas.api": 8,
    "hypernas": 8,
    "hypernas.cli": 9,
    "hypernas.examples": 9,  # worked examples on the public API, which the book executes
    "hypernas.__main__": 10,
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


MAX_MODULE_LINES = 400  # a module longer than this holds more than one job; split it


def test_no_module_is_longer_than_a_reader_follows():
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"modules over {MAX_MODULE_LINES} lines: {long}"


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


PLOTTING = ("matplotlib", "seaborn", "pandas")


def _loaded_after(code: str) -> list[str]:
    """The plotting and table libraries a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport sys\nprint('loaded:', *(m for m in {PLOTTING!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1].split()[1:]


def test_nothing_that_trains_loads_plotting_code():
    """The CLI, the pipelines and the campaign's worker never load the report's plotting libraries."""
    code = "\n".join(
        f"import {m}"
        for m in (
            "hypernas.cli",
            "hypernas.api",
            "hypernas.pipeline.experiment",
            "hypernas.pipeline.baselines",
            "hypernas.pipeline.latency_study",
            "hypernas.pipeline.theorem_study",
            "hypernas.campaign.engine",
            "hypernas.campaign.work",
            "hypernas.campaign.status",
        )
    )
    assert _loaded_after(code) == []


@pytest.mark.slow
def test_a_search_from_the_cli_loads_no_plotting_code(tmp_path, data_root):
    code = (
        "from hypernas.cli import main\n"
        f"assert main(['search', 'exp1', '--profile', 'smoke', '--out', {str(tmp_path / 'run')!r}, "
        f"'--data-root', {str(data_root)!r}, '--set', 'epochs=1', '--set', 'train_subset=128']) == 0"
    )
    assert _loaded_after(code) == []
    # and the check sees them when they are loaded
    assert _loaded_after("import hypernas.report.figures") == list(PLOTTING)
