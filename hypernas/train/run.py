"""A finished (or checkpointed) search loaded back from its run directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from hypernas.errors import RunDirError
from hypernas.method.hypernet import RBFHypernet
from hypernas.space.supernet import Supernet
from hypernas.train.build import build_models
from hypernas.train.checkpoint import CHECKPOINT, read_checkpoint, restore
from hypernas.train.config import SearchConfig


@dataclass
class TrainedFamily:
    """A trained family loaded from a run directory: the supernet and the hypernetwork (the paper's family).

    The public facade over it is :class:`hypernas.api.Run`.
    """

    run_dir: Path
    config: SearchConfig
    supernet: Supernet
    hypernet: RBFHypernet
    history: list[dict]
    data_source: str
    wall_time_s: float

    @property
    def space(self):
        return self.supernet.space


def load_family(run_dir: str | Path, device: torch.device | str = "cpu") -> TrainedFamily:
    """Load the latest checkpoint of ``run_dir`` (raises :class:`RunDirError` when there is none)."""
    run_dir = Path(run_dir)
    ckpt = run_dir / CHECKPOINT
    if not run_dir.is_dir():
        raise RunDirError(
            f"run directory {run_dir} does not exist; run `hypernas search` with --out {run_dir} first"
        )
    if not ckpt.is_file():
        raise RunDirError(
            f"{run_dir} has no {CHECKPOINT}; it is not a search run (or no epoch has finished yet)"
        )
    ck = read_checkpoint(run_dir, device)
    cfg = SearchConfig.from_dict(ck["config"])
    supernet, hypernet = build_models(cfg, device)
    restore(supernet, ck["supernet"], "supernet", ckpt)
    restore(hypernet, ck["hypernet"], "hypernetwork", ckpt)
    supernet.eval()
    return TrainedFamily(
        run_dir, cfg, supernet, hypernet, ck["history"], ck.get("data_source", "unknown"), ck["wall_time_s"]
    )
