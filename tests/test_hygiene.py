"""What a maintained project keeps true: published files name no machine path, the conda environment
pins what pyproject pins, and every command of the CLI answers ``--help``."""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest depends on tomli before Python 3.11
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent

# ----------------------------------------------------------------------------- absolute paths
# Published files: the book's chapters and pages, the results, the docs and the configuration.
DOC_SUFFIXES = {".md", ".rst", ".txt"}
DATA_SUFFIXES = {".ipynb", ".json", ".jsonl", ".csv", ".bib"}
PUBLISHED_SUFFIXES = DOC_SUFFIXES | DATA_SUFFIXES | {".yml", ".yaml", ".toml", ".cfg", ".cff"}
# A POSIX path under a top-level folder that is machine-specific, not preceded by a character that
# makes it part of a URL, a relative path or a base64 blob (e.g. `https://host/home/`, `runs/tmp/`).
POSIX_PATH = re.compile(
    r"(?<![\w.+=/~-])/(?:work|home|root|Users|tmp|usr|var|opt|mnt|media|srv|private|scratch|Volumes)/"
    r"|file://"
)
# A Windows drive path (C:\..., C:\\... as JSON escapes it, or C:/...) followed by a folder name.
WINDOWS_PATH = re.compile(r"(?<![\w\\])[A-Za-z]:(?:\\\\|\\|/)[\w .-]+(?:\\|/)")
# Documented standard locations, allowed in docs only (the offline datasets of Debian's packages).
DOC_ALLOWED = ("/usr/share/datasets",)


def published_files() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the published files are the committed ones")
    return sorted(
        f
        for f in out.split("\0")
        if f and Path(f).suffix in PUBLISHED_SUFFIXES and not f.startswith("tests/") and (REPO / f).is_file()
    )


def absolute_paths(name: str, text: str) -> list[str]:
    """``file:line: match`` for every machine path in ``text`` (``name`` decides what is allowed)."""
    is_doc = Path(name).suffix in DOC_SUFFIXES
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if lineno == 1 and line.startswith("#!"):
            continue
        for m in [*POSIX_PATH.finditer(line), *WINDOWS_PATH.finditer(line)]:
            if is_doc and any(line.startswith(a, m.start()) for a in DOC_ALLOWED):
                continue
            snippet = line[max(0, m.start() - 30) : m.end() + 40].strip()
            found.append(f"{name}:{lineno}: {snippet}")
    return found


def test_published_files_name_no_machine_path():
    hits = []
    for name in published_files():
        hits += absolute_paths(name, (REPO / name).read_text(encoding="utf-8", errors="replace"))
    files = sorted({h.split(":", 1)[0] for h in hits})
    assert not hits, f"absolute paths in {len(files)} published files ({', '.join(files)}):\n" + "\n".join(
        hits[:60]
    )


def test_committed_links_stay_inside_the_repository():
    """A committed link to an absolute path (say, a checkout's `.venv` linked into a worktree)
    replaces the real folder of every clone that checks it out; only relative links to files of the
    repository (book/_toc.yml -> ../_toc.yml) are published."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-s", "-z"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the published files are the committed ones")
    links = [entry.split("\t", 1)[1] for entry in out.split("\0") if entry.startswith("120000 ")]
    bad = []
    for name in links:
        target = os.readlink(REPO / name)
        inside = (REPO / name).parent.joinpath(target).resolve().is_relative_to(REPO.resolve())
        if os.path.isabs(target) or not inside:
            bad.append(f"{name} -> {target}")
    assert not bad, f"links that leave the repository: {bad}"


def test_the_path_scan_catches_paths_and_spares_urls():
    bad = {
        "results/x.json": '  "data_source": "Fashion-MNIST (offline IDX copy from /work/shared/datasets)",',
        "book/a.ipynb": '    "input_path": "/tmp/tmpab12/method.ipynb",',
        "README.md": "copy it to /home/alice/data first",
        "book/b.ipynb": '"path": "C:\\\\Users\\\\alice\\\\data"',
        "book/c.md": "see C:\\Users\\alice\\hypernas",
        "book/d.md": "open file:///srv/book/index.html",
    }
    for name, line in bad.items():
        assert absolute_paths(name, line), (name, line)
    good = {
        "README.md": "Debian's `/usr/share/datasets/fashion-mnist` and https://example.org/home/usr/page",
        "book/a.ipynb": '"results_dir": "results/quick", "runs_dir": "runs/tmp/x", "s: (0.2, 0.3)\\n"',
        "results/x.json": '"image/png": "iVBORw0KGgo+/work/abc"',
        ".ci/run": "#!/usr/bin/env bash",
    }
    for name, line in good.items():
        assert not absolute_paths(name, line), (name, line)
    assert absolute_paths("results/x.json", '"root": "/usr/share/datasets"'), "only docs may name it"


def test_offline_data_folders_come_from_the_environment(monkeypatch, tmp_path):
    """No folder derived from the repository or the working directory: $HYPERNAS_OFFLINE_DIRS, then
    Debian's; and a stored data label that names a folder is read without it."""
    from hypernas.data import datasets

    monkeypatch.setenv(
        "HYPERNAS_OFFLINE_DIRS", os.pathsep.join([str(tmp_path / "a"), "", str(tmp_path / "b")])
    )
    assert datasets.offline_dirs() == [tmp_path / "a", tmp_path / "b", Path("/usr/share/datasets")]
    monkeypatch.delenv("HYPERNAS_OFFLINE_DIRS")
    assert datasets.offline_dirs() == [Path("/usr/share/datasets")]
    folder = tmp_path / "FashionMNIST"
    datasets._write_source(folder, "Fashion-MNIST (offline IDX copy from /srv/data/fashion-mnist)")
    assert datasets._read_source(folder, "unused") == "Fashion-MNIST (offline IDX copy)"
    datasets._write_source(folder, datasets.CIFAR_JPEG)
    assert datasets._read_source(folder, "unused") == "CIFAR-10 (JPEG copy)"


# ----------------------------------------------------------------------------- executed chapters
def test_executed_chapters_keep_no_volatile_metadata():
    """scripts/run_chapters.py keeps papermill's parameters and drops its paths, times and status."""
    spec = importlib.util.spec_from_file_location("run_chapters", REPO / "scripts" / "run_chapters.py")
    run_chapters = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_chapters)
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {
        "parameters": {"profile": "quick"},
        "input_path": "/tmp/x/method.ipynb",
        "output_path": "book/method.ipynb",
        "start_time": "2026-01-01T00:00:00",
        "end_time": "2026-01-01T00:00:09",
        "duration": 9.0,
        "exception": None,
        "environment_variables": {},
        "version": "2.7.0",
    }
    cell = nbformat.v4.new_code_cell("1 + 1")
    cell.metadata.update(
        execution={"iopub.status.busy": "2026-01-01T00:00:01Z"},
        papermill={"duration": 0.1, "status": "completed", "exception": False},
        tags=["parameters"],
    )
    nb.cells = [nbformat.v4.new_markdown_cell("# x"), cell]
    out = run_chapters.strip_volatile(nb, "method")
    assert out.metadata["papermill"] == {"parameters": {"profile": "quick"}}
    assert [c.id for c in out.cells] == ["method-0", "method-1"]
    assert dict(out.cells[1].metadata) == {"tags": ["parameters"]}
    nbformat.validate(out)


# ----------------------------------------------------------------------------- environment.yml
def _requirements(specs) -> dict[str, str]:
    out = {}
    for text in specs:
        req = Requirement(text)
        out[canonicalize_name(req.name)] = str(req.specifier)
    return out


def test_environment_yml_pins_what_pyproject_pins():
    """environment.yml lists the runtime dependencies and every extra (what `make setup` installs),
    each with pyproject's version specifier, and nothing else besides python, pip and the package."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = _requirements(project["dependencies"])
    for extra, reqs in project["optional-dependencies"].items():
        for name, spec in _requirements(reqs).items():
            assert wanted.setdefault(name, spec) == spec, f"{name}: two different pins (extra {extra})"
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    listed = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            listed += [d for d in dep.get("pip", []) if not d.startswith("-e")]
        elif not re.match(r"(python|pip)\b", dep):
            listed.append(dep)
    have = _requirements(listed)
    assert len(have) == len(listed), "environment.yml lists a package twice"
    missing = sorted(set(wanted) - set(have))
    extra = sorted(set(have) - set(wanted))
    assert not missing, f"in pyproject.toml but not in environment.yml: {missing}"
    assert not extra, f"in environment.yml but not in pyproject.toml: {extra}"
    differ = {n: (wanted[n], have[n]) for n in wanted if wanted[n] != have[n]}
    assert not differ, f"pins differ (pyproject, environment.yml): {differ}"


# ----------------------------------------------------------------------------- CLI --help
def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every command path of the parser: subcommands at any depth and, for a command without
    subcommands whose first positional argument takes a fixed set of words (``campaign start``), each word."""
    yield path
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in subs:
        for name, sub in action.choices.items():
            yield from _commands(sub, (*path, name))
    if not subs and path:
        positionals = [a for a in parser._actions if not a.option_strings]
        if positionals and positionals[0].choices:
            for word in positionals[0].choices:
                yield (*path, word)


def test_every_command_answers_help(capsys):
    from hypernas.cli import build_parser

    commands = list(_commands(build_parser()))
    assert len(commands) >= 5 and any(len(c) >= 2 for c in commands), commands  # the walk found nesting
    for path in commands:
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args([*path, "--help"])
        out, err = capsys.readouterr()
        shown = " ".join(("hypernas", *path))
        assert exc.value.code in (0, None), f"`{shown} --help` exited with {exc.value.code}: {err}"
        assert out.startswith("usage:"), f"`{shown} --help` printed no usage: {out[:200]!r}"
