"""Execute the book's chapters: jupytext source -> papermill (with parameters) -> executed .ipynb.

    python scripts/run_chapters.py --profile quick --out book --results results/quick
    python scripts/run_chapters.py --profile smoke --out build/smoke --results build/smoke/results

Each chapter is written to OUT/<chapter>.ipynb (OUT/ipynb/<chapter>.ipynb when OUT is not `book`).
An executed chapter keeps only what its sources, parameters and results determine: papermill's
parameters, not its paths, times, durations or status, no execution timestamps, and cell ids numbered
in order, so running a chapter again on the same results writes the same bytes.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat
import papermill

REPO = Path(__file__).resolve().parent.parent

TITLES = {
    "exp1": "Experiment 1: Fashion-MNIST, 3 operations",
    "exp2": "Experiment 2: Fashion-MNIST, 5 operations",
    "exp3": "Experiment 3: CIFAR-10, 3 operations",
}

# chapter name -> (notebook source, extra parameters)
CHAPTERS = {
    "method": ("method", {}),
    "theorem": ("theorem", {}),
    "exp1": ("experiment", {"experiment": "exp1"}),
    "exp2": ("experiment", {"experiment": "exp2"}),
    "exp3": ("experiment", {"experiment": "exp3"}),
    "latency": ("latency", {}),
    "speed": ("speed", {}),
    "baselines": ("baselines", {}),
    "own_data": ("own_data", {}),
    "summary": ("summary", {}),
}
# chapter -> profile -> parameters that scale a chapter down for that profile
# (the smoke profile runs the whole baseline study of exp1 in CI; the others show stored results)
# exp1 runs its seed 1 itself, so that the seeds it shows do not depend on which chapter ran first.
PROFILE_PARAMETERS = {
    "exp1": {"smoke": {"extra_seeds": [1]}},
    "baselines": {"smoke": {"experiments": ["exp1"], "seeds": [0, 1], "compute": True}},
}


_ADDRESS = re.compile(r" at 0x[0-9a-f]+>")


def strip_volatile(nb: nbformat.NotebookNode, chapter: str) -> nbformat.NotebookNode:
    """Drop what differs between two executions of the same chapter: papermill's input/output paths,
    start/end times, durations, status and exception flags, its version and environment, the kernel's
    execution timestamps and the memory addresses in object reprs; cell ids (random when the notebook is built) become ``<chapter>-<index>``."""
    params = nb.metadata.get("papermill", {}).get("parameters")
    nb.metadata.pop("papermill", None)
    if params is not None:
        nb.metadata["papermill"] = {"parameters": params}
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        cell["id"] = f"{chapter}-{i}"
        for output in cell.get("outputs", []):
            plain = output.get("data", {}).get("text/plain")
            if isinstance(plain, str):  # an object's repr names its memory address
                output["data"]["text/plain"] = _ADDRESS.sub(">", plain)
    return nb


def _slowest_cells(nb: nbformat.NotebookNode, n: int = 3) -> str:
    """The ``n`` slowest code cells of an executed notebook, as ``#index seconds`` (from papermill's
    per-cell durations, read before they are stripped)."""
    times = [
        (cell.metadata.get("papermill", {}).get("duration") or 0.0, i)
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
    ]
    return ", ".join(f"#{i} {t:.0f} s" for t, i in sorted(times, reverse=True)[:n])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--out", default="book")
    ap.add_argument("--results", default=None, help="results folder (default results/<profile>)")
    ap.add_argument("--runs", default="runs", help="folder for search checkpoints")
    ap.add_argument(
        "--paper-results",
        default="results/paper",
        help="where experiment and summary chapters look for paper-profile results to show beside their own",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--force", action="store_true", help="recompute results even when the cache matches")
    ap.add_argument("--only", nargs="*", default=None, help="chapters to run (default all)")
    args = ap.parse_args(argv)

    out = Path(args.out)
    target = out if out.resolve() == (REPO / "book").resolve() else out / "ipynb"
    target.mkdir(parents=True, exist_ok=True)
    in_book = target == out

    def where(path: str) -> str:
        """Relative to the repository for the published book; absolute elsewhere (nbval re-runs a
        notebook from its own folder)."""
        full = Path(path).resolve()
        return str(full.relative_to(REPO)) if in_book and full.is_relative_to(REPO) else str(full)

    results = where(args.results or f"results/{args.profile}")
    for chapter, (source, extra) in CHAPTERS.items():
        if args.only and chapter not in args.only:
            continue
        params = {"profile": args.profile, "seed": args.seed, "data_root": args.data_root, **extra}
        params.update(PROFILE_PARAMETERS.get(chapter, {}).get(args.profile, {}))
        if source != "method":
            params["results_dir"] = results
        if source in ("experiment", "summary", "baselines"):
            params["paper_results_dir"] = where(args.paper_results)
        if source in ("experiment", "theorem", "latency", "speed", "baselines", "own_data"):
            params["runs_dir"] = where(args.runs)
        if source in ("experiment", "theorem", "speed", "latency", "baselines", "own_data"):
            params["force"] = args.force
        nb = jupytext.read(REPO / "notebooks" / f"{source}.py")
        if chapter in TITLES:  # the experiment template's first cell is a placeholder title
            first = next(c for c in nb.cells if c.cell_type == "markdown")
            first.source = f"# {TITLES[chapter]}"
        tic = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / f"{chapter}.ipynb"
            jupytext.write(nb, src)
            out_nb = target / f"{chapter}.ipynb"
            papermill.execute_notebook(
                str(src),
                str(out_nb),
                parameters=params,
                kernel_name="python3",
                cwd=str(REPO),
                progress_bar=False,
            )
        executed = nbformat.read(out_nb, as_version=4)
        slowest = _slowest_cells(executed)
        executed = strip_volatile(executed, chapter)
        # fold the cell papermill injects (the run's parameters) behind a toggle in the book
        for cell in executed.cells:
            tags = cell.metadata.setdefault("tags", [])
            if "injected-parameters" in tags and "hide-cell" not in tags:
                tags.append("hide-cell")
        nbformat.write(executed, out_nb)
        print(
            f"{chapter}: executed in {time.perf_counter() - tic:.0f} s -> {target / (chapter + '.ipynb')}"
            f"  (slowest cells: {slowest})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
