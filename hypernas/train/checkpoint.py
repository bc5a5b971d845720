"""The files of a run directory and how a search is saved and restored: the checkpoint (read with
a clear error), the position within the search, the RNG states that make a resume exact, the
segments (one per process that ran part of the search) and the live ``progress.json``."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import torch

from hypernas.errors import ArtefactError, ConfigError, RunDirError
from hypernas.io import load_torch, read_json, write_json
from hypernas.provenance import git_commit, hardware, utc_now
from hypernas.train.config import SearchConfig

log = logging.getLogger(__name__)


class RunState(StrEnum):
    """The phase a run directory's ``progress.json`` reports (written by the process working in it)."""

    SEARCHING = "searching"
    EVALUATING = "evaluating"
    STOPPED = "stopped"  # stopped on request after a checkpoint
    DONE = "done"


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


CHECKPOINT_KEYS = ("epoch", "config", "supernet", "hypernet", "history", "wall_time_s")
_RESEARCH = "delete the run directory and search again"


def read_checkpoint(run_dir: str | Path, device: torch.device | str = "cpu") -> dict:
    """The checkpoint of ``run_dir`` as a dict, checked to hold a search of a valid config.

    Raises :class:`ArtefactError` (naming the file and the fix) when it is missing, damaged or of
    another shape."""
    ckpt = Path(run_dir) / CHECKPOINT
    ck = load_torch(ckpt, "checkpoint", _RESEARCH, map_location=device)
    if not isinstance(ck, dict):
        raise ArtefactError(f"checkpoint {ckpt} holds a {type(ck).__name__}, not a search; {_RESEARCH}")
    missing = [key for key in CHECKPOINT_KEYS if key not in ck]
    if missing:
        raise ArtefactError(
            f"checkpoint {ckpt} lacks {', '.join(missing)}: it is not a hypernas search; {_RESEARCH}"
        )
    config_from_file(ck["config"], ckpt)
    return ck


def config_from_file(stored: object, path: Path) -> SearchConfig:
    """A stored config (from a checkpoint or ``config.json``) as a validated :class:`SearchConfig`."""
    unregistered = _unregistered_ops(stored)
    if unregistered:
        raise ConfigError(
            f"{path} uses the operation {unregistered[0]!r}, which this process does not know; register "
            "it first (hypernas.register_op, or hypernas --import MODULE on the command line)"
        )
    try:
        if not isinstance(stored, dict):
            raise TypeError
        return SearchConfig.from_dict(stored).validate()
    except (TypeError, ValueError) as exc:
        detail = f": {exc}" if isinstance(exc, ConfigError) else ""
        raise ArtefactError(f"{path} holds no valid config{detail}; {_RESEARCH}") from None


def run_config(run_dir: str | Path) -> SearchConfig:
    """The validated config of a run directory, read from its ``config.json``."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise RunDirError(f"{run_dir} holds no {CONFIG}; give a run directory written by `hypernas search`")
    return config_from_file(read_json(path, "run config", _RESEARCH), path)


def _unregistered_ops(stored: object) -> list[str]:
    """The op names of a stored config that are valid names but not registered here (a user's op)."""
    from hypernas.space.ops import PRIMITIVES

    ops = stored.get("ops") if isinstance(stored, dict) else None
    if not isinstance(ops, list | tuple):
        return []
    return [op for op in ops if isinstance(op, str) and op not in PRIMITIVES]


def restore(module: Any, state: object, what: str, path: Path) -> None:
    """Load ``state`` into ``module``; :class:`ArtefactError` when it does not fit (another config)."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError, TypeError, AttributeError, IndexError):
        raise ArtefactError(
            f"the {what} in {path} does not fit the network of its config (damaged or edited); {_RESEARCH}"
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


@dataclass
class Segment:
    """One stretch of a training run by one process: its code, machine and the positions it covered
    (``start`` and ``end``, stored as ``from`` and ``to``), the images it processed and its seconds of
    wall-clock (``seconds``) and CPU time (``cpu_seconds``; None in segments that did not record it)."""

    commit: str
    hardware: str
    threads: int
    precision: str
    torch: str
    started: str
    start: tuple[int, int]
    end: tuple[int, int]
    images: int = 0
    seconds: float = 0.0
    cpu_seconds: float | None = None
    _cpu_start: float = field(default=0.0, repr=False, compare=False)

    @classmethod
    def begin(cls, at: Position, device: torch.device) -> Segment:
        """A segment starting now at ``at``, in this process on ``device``."""
        return cls(
            commit=git_commit(),
            hardware=hardware(device),
            threads=torch.get_num_threads(),
            precision="float32",
            torch=torch.__version__,
            started=utc_now(),
            start=(at.epoch, at.step),
            end=(at.epoch, at.step),
            cpu_seconds=0.0,
            _cpu_start=time.process_time(),
        )

    def reach(self, at: Position, seconds: float) -> None:
        """Record that the segment got to ``at`` after ``seconds`` more of wall-clock time; its CPU time
        is this process's so far (all threads; unlike wall-clock seconds, it excludes pauses)."""
        self.end = (at.epoch, at.step)
        self.seconds += seconds
        self.cpu_seconds = round(time.process_time() - self._cpu_start, 1)

    def to_dict(self) -> dict:
        out = {
            "commit": self.commit,
            "hardware": self.hardware,
            "threads": self.threads,
            "precision": self.precision,
            "torch": self.torch,
            "started": self.started,
            "from": list(self.start),
            "to": list(self.end),
            "images": self.images,
            "seconds": self.seconds,
        }
        if self.cpu_seconds is not None:
            out["cpu_seconds"] = self.cpu_seconds
        return out

    @classmethod
    def from_dict(cls, d: dict) -> Segment:
        return cls(
            commit=d["commit"],
            hardware=d["hardware"],
            threads=int(d["threads"]),
            precision=d["precision"],
            torch=d["torch"],
            started=d["started"],
            start=tuple(d["from"]),
            end=tuple(d["to"]),
            images=int(d["images"]),
            seconds=float(d["seconds"]),
            cpu_seconds=d.get("cpu_seconds"),
        )


def progress_file(path: Path):
    """A :class:`~hypernas.train.loop.Progress` sink that rewrites ``progress.json`` (atomically):
    the state (searching unless told), the position, speed and ETA, when, and which process."""

    def write(info: dict) -> None:
        write_json(path, {"state": RunState.SEARCHING, **info, "updated": utc_now(), "pid": os.getpid()})

    return write
