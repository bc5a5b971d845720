"""Where the paper-scale campaign stands (``hypernas campaign status``, ``make paper-status``):
the supervisor, and per queue item its state, position, speed, ETA or result."""

from __future__ import annotations

from pathlib import Path

from hypernas.campaign.supervisor import (
    CampaignConfig,
    is_done,
    item_config,
    read_json_or_none,
    read_state,
    run_dir,
    supervisor_alive,
)
from hypernas.io import read_record
from hypernas.pipeline.results import RESULT_FIX
from hypernas.train.checkpoint import SUMMARY, earlier_run_dir


def status(cc: CampaignConfig) -> dict:
    """Where the campaign stands: supervisor, and per queue item its state, position, speed and ETA."""
    state = read_state(cc) or {}
    alive = supervisor_alive(state)
    rows = []
    for queued in cc.items:
        name = queued.name
        row = {
            "name": name,
            "experiment": queued.experiment,
            "setting": queued.setting,
            "item": queued.spec(),
            "study": queued.study,
        }
        item = state.get("items", {}).get(name, {})
        rd = run_dir(cc, queued)
        if (
            not rd.exists() and queued.study == "experiment"
        ):  # named by earlier code's hash, until start renames it
            rd = earlier_run_dir(rd, item_config(queued, cc.profile)) or rd
        progress = read_json_or_none(rd / "progress.json")
        if progress is not None and progress.get("run"):  # a study: where its current search stands
            inner = read_json_or_none(Path(progress["run"]) / "progress.json") or {}
            progress = {
                **inner,
                **{k: v for k, v in progress.items() if k != "state"},
                "state": progress["state"],
            }
        if is_done(cc, queued):
            if queued.study in ("search", "separate"):  # a search alone: its summary, not a result file
                wall = read_record(rd / SUMMARY, "search summary", RESULT_FIX).get("wall_time_s")
            else:
                res = read_record(Path(cc.results_dir) / f"{name}.json", "result", RESULT_FIX)
                wall = res["provenance"].get("wall_time_s")
            row.update(state="done", wall_time_s=wall)
        elif progress is None:
            row.update(state=item.get("state", "waiting") if alive else "not started")
        else:
            worker_alive = alive and item.get("state") == "running"
            row.update(
                {
                    k: progress.get(k)
                    for k in (
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
                }
            )
            phase = progress.get("state", "?")
            row["state"] = (
                phase if worker_alive else {"searching": "paused", "evaluating": "paused"}.get(phase, phase)
            )
            if item.get("state") == "failed":
                row.update(
                    state="failed",
                    exit_code=item.get("exit_code"),
                    error=last_line(Path(cc.home) / "logs" / f"{name}.log"),
                )
        rows.append(row)
    return {
        "supervisor": {
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
    sup = st["supervisor"]
    head = (
        f"campaign: {'running' if sup['alive'] else 'not running'} (pid {sup['pid']}, commit {sup['commit']}, "
        f"started {sup['started']}, last state {sup['state']})"
        + (f"\n  error: {sup['error']}" if sup.get("error") else "")
        if sup["pid"]
        else "campaign: never started"
    )
    lines = [head, f"{'run':30}{'state':12}{'epoch':>9}{'step':>11}{'images/s':>10}{'ETA':>9}  note"]
    for r in st["runs"]:
        epoch = f"{r['epoch']}/{r['epochs']}" if r.get("epochs") else ""
        step = f"{r['step']}/{r['steps_per_epoch']}" if r.get("steps_per_epoch") else ""
        ips = f"{r['images_per_s']:.1f}" if r.get("images_per_s") else ""
        eta = _hms(r["eta_s"]) if r.get("eta_s") and r["state"] in ("searching", "evaluating") else ""
        note = ""
        if r["state"] == "done" and r.get("wall_time_s"):
            what = "search finished" if r.get("study") in ("search", "separate") else "result written"
            note = f"{what} ({_hms(r['wall_time_s'])} of compute)"
        elif r.get("measurement"):
            note = f"measurement {r['measured']}: {r['measurement']}"
        elif r["state"] == "failed":
            note = f"worker exited with status {r.get('exit_code')}: {r.get('error') or 'see its log'}"
        lines.append(f"{r['name']:30}{r['state']:12}{epoch:>9}{step:>11}{ips:>10}{eta:>9}  {note}".rstrip())
    if any(r["state"] in ("searching", "evaluating") for r in st["runs"]):
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
