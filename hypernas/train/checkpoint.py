"""The files of a run directory and how a search is saved and restored: the checkpoint (read with
a clear error), the position within the search, the RNG states that make a resume exact, the
segments (one per process that ran part of the search) and the live ``progress.json``."""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hypernas.errors import ArtefactError, ConfigError, RunDirError
from hypernas.io import load_torch, read_json, write_json
from hypernas.provenance import git_commit, hardware, utc_now
from hypernas.train.config import SearchConfig

log = logging.getLogger(__name__)

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
    try:
        if not isinstance(stored, dict):
            raise TypeError
        return SearchConfig.from_dict(stored).validate()
    except (TypeError, ValueError) as exc:
        detail = f": {exc}" if isinstance(exc, ConfigError) else ""
        raise ArtefactError(f"{path} holds no valid config{detail}; {_RESEARCH}") from None


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


# ----------------------------------------------------------------------------- run directories under another hash
_HASH_SUFFIX = re.compile(r"^[0-9a-f]{12}$")
_ACTIVE = ("searching", "evaluating")  # the progress states a live process writes


def stored_config(run_dir: Path) -> SearchConfig | None:
    """The config a run directory was searched with (``config.json``, else the checkpoint's), or None."""
    try:
        if (run_dir / CONFIG).is_file():
            return config_from_file(read_json(run_dir / CONFIG), run_dir / CONFIG)
        if (run_dir / CHECKPOINT).is_file():
            return SearchConfig.from_dict(read_checkpoint(run_dir)["config"])
    except ArtefactError:
        pass
    return None


def writer_alive(run_dir: Path) -> int | None:
    """The pid of another live process that is searching or evaluating in ``run_dir``, else None."""
    try:
        progress = read_json(run_dir / PROGRESS) if (run_dir / PROGRESS).is_file() else {}
    except ArtefactError:
        return None
    if not isinstance(progress, dict):
        return None
    pid = progress.get("pid")
    if progress.get("state") not in _ACTIVE or not isinstance(pid, int) or pid <= 0 or pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def earlier_run_dir(run_dir: str | Path, cfg: SearchConfig) -> Path | None:
    """The sibling ``<name>-<other 12 hex digits>`` of a missing ``run_dir`` (``<name>-<hash>``) that
    holds a search of ``cfg`` under another hash of the same config, or None (see :func:`adopt_run_dir`)."""
    run_dir = Path(run_dir)
    if run_dir.exists() or not run_dir.parent.is_dir():
        return None
    name, _, _ = run_dir.name.rpartition("-")
    found = []
    for other in sorted(run_dir.parent.iterdir()):
        stem, _, tail = other.name.rpartition("-")
        if stem != name or not _HASH_SUFFIX.match(tail) or not other.is_dir():
            continue
        stored = stored_config(other)
        if stored is not None and stored.hash() == cfg.hash():
            found.append(other)
    if len(found) > 1:
        raise RunDirError(
            f"{' and '.join(map(str, found))} all hold a search of the config of {run_dir}; "
            "keep the one to continue and move the others away"
        )
    return found[0] if found else None


def adopt_run_dir(run_dir: str | Path, cfg: SearchConfig) -> Path | None:
    """Give ``run_dir`` (``<name>-<cfg.hash()>``) the run directory of ``cfg`` named
    ``<name>-<other hash>``, so that its search continues instead of starting over.

    Run directories are named after the config hash, so a change of how the hash is computed renames
    every config (see CHANGELOG.md). A sibling ``<name>-<12 hex digits>`` whose stored config has
    today's hash of ``cfg`` is renamed to ``run_dir`` and its ``config.json`` and ``search.json`` get
    the new hash (the checkpoint stores the config itself, which is unchanged).
    Returns the old path, or None when there was nothing to adopt. Refuses (``RunDirError``) while
    another process still writes to that directory, or when two directories hold the same config.
    """
    run_dir = Path(run_dir)
    old = earlier_run_dir(run_dir, cfg)
    if old is None:
        return None
    pid = writer_alive(old)
    if pid is not None:
        raise RunDirError(
            f"{old} holds the search of {run_dir.name}, but process {pid} still writes to it; stop it "
            "(`hypernas campaign stop` for the campaign) and start again"
        )
    os.replace(old, run_dir)
    write_json(run_dir / CONFIG, {**cfg.to_dict(), "config_hash": cfg.hash()})
    if (run_dir / SUMMARY).is_file():
        summary = read_json(run_dir / SUMMARY)
        write_json(run_dir / SUMMARY, {**summary, "config_hash": cfg.hash(), "config": cfg.to_dict()})
    log.warning("renamed %s to %s: the same config under the hash of earlier code", old, run_dir.name)
    return old


def progress_file(path: Path):
    """A :class:`~hypernas.train.loop.Progress` sink that rewrites ``progress.json`` (atomically):
    the state (searching unless told), the position, speed and ETA, when, and which process."""

    def write(info: dict) -> None:
        write_json(path, {"state": "searching", **info, "updated": utc_now(), "pid": os.getpid()})

    return write
