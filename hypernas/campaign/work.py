"""One queue item taken to its target by one worker process (``hypernas campaign work ITEM``, the
command every job of the workflow runs), and the record by which the status knows the worker.

A worker writes ``runs/<profile>/workers/<item>.json`` when it starts (its pid) and again when it
ends (done, stopped after a checkpoint, or failed with the error's line). SIGTERM makes it stop
after its next checkpoint. A run resumes with the thread count it started with, so that its numbers
do not depend on how often it was interrupted.
"""

from __future__ import annotations

import logging
import os
from enum import StrEnum
from pathlib import Path

from hypernas.campaign.queue import CampaignConfig, read_json_or_none, run_dir
from hypernas.io import write_json
from hypernas.pipeline.items import QueueItem
from hypernas.provenance import utc_now
from hypernas.train.checkpoint import CHECKPOINT, read_checkpoint
from hypernas.train.stopping import EXIT_STOPPED, Interrupted, stop_on_sigterm

log = logging.getLogger(__name__)


class WorkerState(StrEnum):
    """A queue item's worker as its record (``workers/<item>.json``) says."""

    RUNNING = "running"
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"


def worker_file(cc: CampaignConfig, name: str) -> Path:
    return cc.home / "workers" / f"{name}.json"


def read_worker(cc: CampaignConfig, name: str) -> dict:
    """The item's worker record (``{}`` if no worker ever ran it); a running worker whose process is
    gone reads as ``stopped`` (it was killed: its last checkpoint stands)."""
    record = read_json_or_none(worker_file(cc, name)) or {}
    if record.get("state") == WorkerState.RUNNING and not pid_alive(record.get("pid"), b"campaign"):
        record = {**record, "state": WorkerState.STOPPED, "killed": True}
    return record


def pid_alive(pid: int | None, needle: bytes) -> bool:
    """Whether process ``pid`` is running and its command line holds ``needle`` (not a reused pid)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
        proc = Path(f"/proc/{pid}/cmdline")
        return needle in proc.read_bytes() if proc.parent.parent.is_dir() else True
    except (OSError, PermissionError):
        return False


def _thread_count(cc: CampaignConfig, item: QueueItem) -> int:
    """The threads the item's run started with (a study: its main search's), else the campaign's."""
    ckpt_dir = run_dir(cc, item.main() if item.study == "baselines" else item)
    if not (ckpt_dir / CHECKPOINT).is_file():
        return cc.threads
    segments = read_checkpoint(ckpt_dir).get("segments") or [{}]
    threads = segments[0].get("threads", cc.threads)
    if threads != cc.threads:
        log.warning(
            "%s started with %d threads; it continues with %d so that its numbers do not change",
            ckpt_dir.name,
            threads,
            threads,
        )
    return threads


def work(cc: CampaignConfig, item: QueueItem) -> int:
    """One queue item to its target: search (resumed where it stands), evaluation, result JSON; a
    search alone: the search; a baseline study: its evaluations (:mod:`hypernas.pipeline.baselines`).
    Returns 0 when done, :data:`EXIT_STOPPED` when stopped by SIGTERM after a checkpoint."""
    import torch

    threads = _thread_count(cc, item)
    torch.set_num_threads(threads)
    name = item.name
    record = {"pid": os.getpid(), "item": item.spec(), "threads": threads, "started": utc_now()}
    write_json(worker_file(cc, name), {**record, "state": WorkerState.RUNNING})
    commit = os.environ.get("HYPERNAS_COMMIT", "unknown")
    log.info("%s: %s, %d thread(s), commit %s", name, item.spec(), threads, commit)
    try:
        with stop_on_sigterm() as stop_event:
            wall = _run_item(cc, item, stop_event)
    except Interrupted as exc:
        log.info("%s: %s", name, exc)
        write_json(worker_file(cc, name), {**record, "state": WorkerState.STOPPED, "ended": utc_now()})
        return EXIT_STOPPED
    except Exception as exc:  # recorded for the status, then raised to the CLI's one-line error
        line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        write_json(
            worker_file(cc, name), {**record, "state": WorkerState.FAILED, "error": line, "ended": utc_now()}
        )
        raise
    write_json(worker_file(cc, name), {**record, "state": WorkerState.DONE, "ended": utc_now()})
    log.info("%s: finished, %s s of compute", name, wall)
    return 0


def _run_item(cc: CampaignConfig, item: QueueItem, stop_event) -> float:
    """The item's work; returns its wall time in seconds."""
    common = {
        "progress": False,
        "stop": stop_event,
        "checkpoint_every_s": cc.checkpoint_every_s,
        "device": cc.device,
    }
    if item.study in ("search", "separate"):
        from hypernas.pipeline.experiment import ensure_search

        _, summary = ensure_search(item.config(cc.profile), cc.runs_dir, name=item.run_name, **common)
        return round(summary["wall_time_s"], 1)
    if item.study == "baselines":
        from hypernas.pipeline.baselines import run_baseline_study

        result = run_baseline_study(
            item.experiment,
            cc.profile,
            seed=item.seed,
            overrides=item.overrides,
            name=item.whole().name,
            main_name=item.base,
            results_dir=cc.results_dir,
            runs_dir=cc.runs_dir,
            part=(item.part, item.parts) if item.is_part else None,
            **common,
        )
        if item.is_part:
            return result["evaluation_time_s"]
        return result["provenance"]["wall_time_s"]
    from hypernas.pipeline.experiment import run_experiment

    result = run_experiment(
        item.experiment,
        cc.profile,
        seed=item.seed,
        results_dir=cc.results_dir,
        runs_dir=cc.runs_dir,
        overrides=item.overrides,
        name=item.name,
        **common,
    )
    return result.provenance.wall_time_s
