"""The files of a run directory and how a search is saved and restored: the checkpoint (read with
a clear error), the position within the search, the RNG states that make a resume exact, the
segments (one per process that ran part of the search) and the live ``progress.json``."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from hypernas.errors import ConfigError, RunDirError
from hypernas.io import write_json
from hypernas.provenance import git_commit, hardware, utc_now
from hypernas.train.config import SearchConfig

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"
METRICS = "metrics.jsonl"
SUMMARY = "search.json"
PROGRESS = "progress.json"


def rng_state(data_gen: torch.Generator, noise_gen: torch.Generator) -> dict:
    return {"torch": torch.get_rng_state(), "data": data_gen.get_state(), "noise": noise_gen.get_state()}


def set_rng_state(state: dict, data_gen: torch.Generator, noise_gen: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    data_gen.set_state(state["data"])
    noise_gen.set_state(state["noise"])


def read_checkpoint(run_dir: str | Path, device: torch.device | str = "cpu") -> dict:
    """The checkpoint of ``run_dir`` as a dict (raises :class:`RunDirError` when it cannot be read)."""
    ckpt = Path(run_dir) / CHECKPOINT
    try:
        return torch.load(ckpt, map_location=device, weights_only=False)
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise RunDirError(
            f"cannot read {ckpt} ({exc.__class__.__name__}); delete the run directory and search again"
        ) from None


def check_run_dir(run_dir: Path, cfg: SearchConfig, resume: bool) -> SearchConfig:
    ckpt = run_dir / CHECKPOINT
    if resume:
        if not ckpt.is_file():
            raise RunDirError(
                f"nothing to resume: {ckpt} does not exist; run without --resume to start a new search"
            )
        stored = SearchConfig.from_dict(read_checkpoint(run_dir)["config"])
        if stored.hash() != cfg.hash():
            raise ConfigError(
                f"{run_dir} holds a search with another config (hash {stored.hash()} vs {cfg.hash()}); "
                "resume with the same experiment, profile, seed and --set values, or use another --out"
            )
        return stored
    if ckpt.exists():
        raise RunDirError(
            f"{run_dir} already holds a search; pass --resume to continue it or choose another --out"
        )
    return cfg


@dataclass
class Position:
    """Where the search stands: ``epoch`` epochs finished, plus ``step`` batches of the next one."""

    epoch: int = 0
    step: int = 0

    def as_list(self) -> list[int]:
        return [self.epoch, self.step]


def new_segment(start: Position, device: torch.device) -> dict:
    """One stretch of the search run by one process: its code, machine and the positions it covered."""
    return {
        "commit": git_commit(),
        "hardware": hardware(device),
        "threads": torch.get_num_threads(),
        "precision": "float32",
        "torch": torch.__version__,
        "started": utc_now(),
        "from": start.as_list(),
        "to": start.as_list(),
        "images": 0,
        "seconds": 0.0,
        "cpu_seconds": 0.0,
        "_cpu_start": time.process_time(),
    }


def public_segment(segment: dict) -> dict:
    """A segment without its private bookkeeping (keys starting with an underscore)."""
    return {k: v for k, v in segment.items() if not k.startswith("_")}


class ProgressFile:
    """``progress.json`` of a run directory, rewritten (atomically) at most every ``every_s`` seconds."""

    def __init__(
        self, path: Path, cfg: SearchConfig, steps_per_epoch: int, enabled: bool, every_s: float = 15.0
    ):
        self.path, self.cfg, self.steps_per_epoch = path, cfg, steps_per_epoch
        self.enabled, self.every_s = enabled, every_s
        self.mark: tuple[float, int] | None = None  # (time, global step) of the last rate measurement
        self.rate = 0.0  # steps per second over the last interval

    def update(self, pos: Position, total_steps: int, now: float) -> None:
        done = pos.epoch * self.steps_per_epoch + pos.step
        if self.mark is None:
            self.mark = (now, done)
            self.write(pos, total_steps, "searching")
            return
        if now - self.mark[0] >= self.every_s:
            self.rate = (done - self.mark[1]) / (now - self.mark[0])
            self.mark = (now, done)
            self.write(pos, total_steps, "searching")

    def write(self, pos: Position, total_steps: int, state: str) -> None:
        if not self.enabled:
            return
        done = pos.epoch * self.steps_per_epoch + pos.step
        eta = (total_steps - done) / self.rate if self.rate > 0 else None
        write_json(
            self.path,
            {
                "state": state,
                "epoch": pos.epoch,
                "epochs": self.cfg.epochs,
                "step": pos.step,
                "steps_per_epoch": self.steps_per_epoch,
                "images_per_s": round(self.rate * self.cfg.batch_size, 2),
                "eta_s": None if eta is None else round(eta),
                "updated": utc_now(),
                "pid": os.getpid(),
            },
        )
