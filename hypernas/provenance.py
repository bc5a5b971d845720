"""Where a result came from: commit, hardware, library versions, date."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path

import torch

COMMIT_ENV = "HYPERNAS_COMMIT"  # set by the campaign, which runs a snapshot of a commit outside git


# Tracked paths the pipeline writes (results and executed chapters), as git pathspecs.
OUTPUTS = (":(exclude)results", ":(exclude)book/*.ipynb")


def git_commit(repo: Path | None = None) -> str:
    """The repository's HEAD commit (with ``-dirty`` when tracked files other than outputs changed), or
    ``unknown``.

    Stored results and executed chapters (:data:`OUTPUTS`) do not make a commit dirty: the book's
    pipeline writes them while it runs, and they are what is computed, not what computes it.

    Code run from an exported snapshot of a commit (the campaign's) reads that commit from
    ``$HYPERNAS_COMMIT``. ``repo`` defaults to the repository this package lies in.
    """
    if os.environ.get(COMMIT_ENV):
        return os.environ[COMMIT_ENV]
    repo = repo or Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *OUTPUTS],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return head.stdout.strip()[:12] + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware(device: torch.device | str = "cpu") -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    threads = torch.get_num_threads()
    return f"{cpu_model()}, {threads} thread{'s' if threads != 1 else ''}"


def provenance(device: torch.device | str = "cpu") -> dict:
    return {
        "commit": git_commit(),
        "hardware": hardware(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
