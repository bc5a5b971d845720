"""Shared fixtures: the real Fashion-MNIST (prepared from offline copies if needed) and one smoke run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The data root used by the tests: $HYPERNAS_DATA, else the repository's ./data."""
    root = Path(os.environ.get("HYPERNAS_DATA", REPO / "data"))
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="session")
def fmnist(data_root):
    from hypernas import data

    return data.load("fashion_mnist", data_root)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, data_root) -> Path:
    """A smoke search of exp1 on the real Fashion-MNIST, through the CLI, shared by several tests."""
    from hypernas.cli import main

    out = tmp_path_factory.mktemp("runs") / "exp1-smoke"
    rc = main(
        [
            "search",
            "exp1",
            "--profile",
            "smoke",
            "--out",
            str(out),
            "--data-root",
            str(data_root),
            "--no-progress",
        ]
    )
    assert rc == 0
    return out


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """Restore torch's thread count and this process's CPU affinity after every test: the CLI's
    ``--threads`` sets them for the process, and a later test must not inherit one thread."""
    import torch

    threads = torch.get_num_threads()
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    yield
    torch.set_num_threads(threads)
    if cpus is not None:
        os.sched_setaffinity(0, cpus)
