"""Where the campaign stands (``hypernas campaign status``, ``make paper-status``): the workflow
engine, and per queue item its state, position, speed, ETA or result."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from hypernas.campaign.engine import engine_alive, read_state
from hypernas.campaign.queue import (
    CampaignConfig,
    is_done,
    progress_file,
    read_json_or_none,
    run_dir,
    superseded,
    target,
)
from hypernas.campaign.work import WorkerState, read_worker
from hypernas.io import read_record
from hypernas.pipeline.results import RESULT_FIX
from hypernas.train.checkpoint import SUMMARY, RunState


class ItemState(StrEnum):
    """A queue item's state in the status table; a run directory's own phase
    (:class:`~hypernas.train.checkpoint.RunState`: searching, evaluating) is shown as it is."""

    NOT_STARTED = "not started"
    WAITING = "waiting"  # the engine runs, its worker has not started the item
    RUNNING = "running"  # the worker runs, its run directory has not reported yet
    PAUSED = "paused"  # searching or evaluating when its worker stopped
    DONE = "done"
    FAILED = "failed"


_POSITION = (
    "epoch",
    "epochs",
    "step",
    "steps_per_epoch",
    "images_per_s",
    "eta_s",
    "updated",
    "measurement",
    "measured",
)


def _progress(path: Path) -> dict | None:
    """The run's progress record at ``path``; for a study, merged with that of the search it is on."""
    progress = read_json_or_none(path)
    if progress is not None and progress.get("run"):
        inner = read_json_or_none(Path(progress["run"]) / "progress.json") or {}
        progress = {
            **inner,
            **{k: v for k, v in progress.items() if k != "state"},
            "state": progress["state"],
        }
    return progress


def _kept(cc: CampaignConfig, name: str, run: Path) -> int:
    """How many measurements of an unfinished item its ledger keeps beside the results."""
    ledger = read_json_or_none(Path(cc.results_dir) / "measurements" / f"{name}-{run.name[-12:]}.json")
    return len(ledger) if isinstance(ledger, dict) else 0


def status(cc: CampaignConfig) -> dict:
    """Where the campaign stands: the engine, and per queue item its state, position, speed and ETA."""
    state = read_state(cc) or {}
    alive = engine_alive(state)
    rows = []
    for queued in cc.items:
        name = queued.name
        row = {
            "name": name,
            "experiment": queued.experiment,
            "setting": queued.setting,
            "item": queued.spec(),
            "study": queued.study,
            "part": queued.is_part,
        }
        worker = read_worker(cc, name)
        rd = run_dir(cc, queued)
        progress = _progress(progress_file(cc, queued))
        if is_done(cc, queued):
            if queued.study in ("search", "separate"):  # a search alone: its summary, not a result file
                wall = read_record(rd / SUMMARY, "search summary", RESULT_FIX).get("wall_time_s")
            elif queued.is_part:
                wall = read_record(target(cc, queued), "part record", "").get("evaluation_time_s")
            else:
                res = read_record(Path(cc.results_dir) / f"{name}.json", "result", RESULT_FIX)
                wall = res["provenance"].get("wall_time_s")
            row.update(state=ItemState.DONE, wall_time_s=wall)
        elif superseded(cc, queued):
            row.update(state=ItemState.DONE, superseded=True)
        elif worker.get("state") == WorkerState.FAILED:
            log_file = cc.home / "logs" / f"{name}.log"
            row.update(state=ItemState.FAILED, error=worker.get("error") or last_line(log_file))
        elif progress is None:
            waiting = ItemState.RUNNING if worker.get("state") == WorkerState.RUNNING else ItemState.WAITING
            row.update(state=waiting if alive else ItemState.NOT_STARTED)
        else:
            row.update({k: progress.get(k) for k in _POSITION})
            phase = progress.get("state", "?")
            running = worker.get("state") == WorkerState.RUNNING
            working = phase in (RunState.SEARCHING, RunState.EVALUATING)
            row["state"] = ItemState.PAUSED if working and not running else phase
        if row["state"] != ItemState.DONE and _kept(cc, name, rd):
            row["kept"] = _kept(cc, name, rd)
        rows.append(row)
    return {
        "engine": {
            "alive": alive,
            "pid": state.get("pid"),
            "commit": state.get("commit"),
            "started": state.get("started"),
            "state": state.get("state", "never started"),
            "error": state.get("error"),
        },
        "runs": rows,
    }


def format_status(st: dict) -> str:
    sup = st["engine"]
    head = (
        f"campaign: {'running' if sup['alive'] else 'not running'} (pid {sup['pid']}, commit {sup['commit']}, "
        f"started {sup['started']}, last state {sup['state']})"
        + (f"\n  error: {sup['error']}" if sup.get("error") else "")
        if sup["state"] != "never started"
        else "campaign: never started"
    )
    width = max([len(r["name"]) for r in st["runs"]] + [28]) + 2
    lines = [head, f"{'run':{width}}{'state':12}{'epoch':>9}{'step':>11}{'images/s':>10}{'ETA':>9}  note"]
    for r in st["runs"]:
        epoch = f"{r['epoch']}/{r['epochs']}" if r.get("epochs") else ""
        step = f"{r['step']}/{r['steps_per_epoch']}" if r.get("steps_per_epoch") else ""
        ips = f"{r['images_per_s']:.1f}" if r.get("images_per_s") else ""
        eta = (
            _hms(r["eta_s"])
            if r.get("eta_s") and r["state"] in (RunState.SEARCHING, RunState.EVALUATING)
            else ""
        )
        note = ""
        if r["state"] == ItemState.DONE and r.get("wall_time_s"):
            what = (
                "search finished"
                if r.get("study") in ("search", "separate")
                else "measurements made"
                if r.get("part")
                else "result written"
            )
            note = f"{what} ({_hms(r['wall_time_s'])} of compute)"
        elif r.get("superseded"):
            note = "not needed: the studies that use it are done"
        elif r.get("measurement"):
            note = f"measurement {r['measured']}: {r['measurement']}"
        elif r["state"] == ItemState.FAILED:
            note = f"worker failed: {r.get('error') or 'see its log'}"
        elif r.get("kept"):
            note = f"{r['kept']} measurements kept in its ledger"
        lines.append(
            f"{r['name']:{width}}{r['state']:12}{epoch:>9}{step:>11}{ips:>10}{eta:>9}  {note}".rstrip()
        )
    if any(r["state"] in (RunState.SEARCHING, RunState.EVALUATING) for r in st["runs"]):
        lines.append(
            "(epoch, step, images/s and ETA: of the search, or of the retraining under way in an evaluation)"
        )
    return "\n".join(lines)


def last_line(log_file: Path, tail_bytes: int = 4096) -> str | None:
    """The last non-empty line of a worker's log (its error, when it failed), or None."""
    try:
        with open(log_file, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - tail_bytes))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    return next((line.strip() for line in reversed(lines) if line.strip()), None)


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
