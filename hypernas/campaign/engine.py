"""The campaign on a workflow engine: ``hypernas campaign start | stop`` (``make paper``,
``make paper-stop``) run the queue as the Snakemake workflow ``workflow/Snakefile`` in the background.

``start`` exports the committed package and workflow (``git archive HEAD hypernas workflow``) into
``runs/<profile>/code/<commit>``, finds and unpacks the queue's datasets, and starts Snakemake on that
snapshot, detached, with one job per queue item (``hypernas campaign work ITEM``). Editing the
working tree therefore never changes a running campaign, and every result names a clean commit; a
campaign resumed under a later commit records it beside the epochs it ran (the segments of each
search). Snakemake decides what is done from the target files alone, so a stopped or killed campaign
resumes where its files stand. ``stop`` asks Snakemake to start no new job, then SIGTERMs every
worker, each of which stops after its next checkpoint.

The engine's state (its pid, commit, queue, and last state) is ``runs/<profile>/campaign.json``;
the workflow's ``onstart``/``onsuccess``/``onerror`` handlers keep it (:func:`record_end`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path

from hypernas.campaign.queue import CampaignConfig, read_json_or_none
from hypernas.campaign.work import WorkerState, pid_alive, read_worker
from hypernas.errors import ConfigError, HyperNASError
from hypernas.io import write_json
from hypernas.provenance import utc_now
from hypernas.train.presets import PRESETS

log = logging.getLogger(__name__)

_REPO_PARTS = ("hypernas", "workflow")  # what a snapshot of the code holds
STATE_FILE = "campaign.json"


class CampaignState(StrEnum):
    """The engine's state as ``campaign.json`` records it."""

    PREPARING = "preparing data"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


ENDED = (CampaignState.FINISHED, CampaignState.STOPPED, CampaignState.FAILED)


# ----------------------------------------------------------------------------- state
def read_state(cc: CampaignConfig) -> dict | None:
    return read_json_or_none(cc.home / STATE_FILE)


def engine_alive(state: dict | None) -> bool:
    """Whether the engine recorded in ``state`` is still running."""
    return bool(state) and pid_alive(state.get("pid"), b"snakemake")


def record_state(state_file: str | Path, state: CampaignState) -> None:
    """Set the engine's recorded state (called by the workflow's handlers and by ``stop``)."""
    path = Path(state_file)
    record = read_json_or_none(path) or {}
    record.update(state=state, **({"ended": utc_now()} if state in ENDED else {}))
    write_json(path, record)


def record_end(state_file: str | Path, success: bool) -> None:
    """The workflow has ended: ``finished``, or ``stopped`` when asked to stop, else ``failed``
    (an item failed; with ``--keep-going`` every other item was still taken to its end)."""
    asked_to_stop = (read_json_or_none(Path(state_file)) or {}).get("state") == CampaignState.STOPPING
    record_state(
        state_file,
        CampaignState.FINISHED
        if success
        else CampaignState.STOPPED
        if asked_to_stop
        else CampaignState.FAILED,
    )


# ----------------------------------------------------------------------------- the code snapshot
def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if out.returncode != 0:
        raise ConfigError(
            f"the campaign runs a snapshot of the committed code, but `git {' '.join(args)}` "
            f"failed in {repo}; start it from a git checkout"
        )
    return out.stdout.strip()


def export_snapshot(repo: Path, dest_root: Path) -> tuple[str, Path]:
    """``git archive HEAD hypernas workflow`` unpacked into ``dest_root/<commit>``; returns
    (commit, folder)."""
    commit = _git(repo, "rev-parse", "HEAD")[:12]
    dest = dest_root / commit
    if not (dest / "workflow" / "Snakefile").is_file():
        archive = subprocess.run(
            ["git", "archive", "--format=tar", "HEAD", *_REPO_PARTS], cwd=repo, capture_output=True
        )
        if archive.returncode != 0:
            raise ConfigError(f"`git archive HEAD {' '.join(_REPO_PARTS)}` failed in {repo}")
        tmp = dest_root / f".{commit}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    if _git(repo, "status", "--porcelain", "--untracked-files=no", "--", *_REPO_PARTS):
        log.warning(
            "uncommitted changes in hypernas/ or workflow/ are not part of the campaign (it runs %s)", commit
        )
    return commit, dest


def copy_code(dest_root: Path) -> tuple[str, Path]:
    """The fallback without git: a copy of the package and workflow as they are, labelled with
    whatever commit is known."""
    from hypernas.provenance import git_commit

    source = Path(__file__).resolve().parents[2]
    dest = dest_root / "working-tree"
    shutil.rmtree(dest, ignore_errors=True)
    for part in _REPO_PARTS:
        shutil.copytree(source / part, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
    return git_commit(), dest


# ----------------------------------------------------------------------------- start / stop
def engine_command(cc: CampaignConfig, snakefile: Path, state_file: Path | None = None) -> list[str]:
    """The Snakemake command line that runs the queue of ``cc`` (``--cores``: workers x threads)."""
    config = [
        f"profile={cc.profile}",
        f"items={','.join(cc.queue)}",
        f"runs_dir={cc.runs_dir}",
        f"results_dir={cc.results_dir}",
        f"threads={cc.threads}",
        f"checkpoint_every={cc.checkpoint_every_s:g}",
        *([f"device={cc.device}"] if cc.device else []),
        *([f"state_file={state_file}"] if state_file else []),
    ]
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile),
        "--directory",
        str(Path.cwd()),
        "--cores",
        str(cc.workers * cc.threads),
        "--keep-going",  # a failed item does not stop the others
        "--rerun-triggers",
        "mtime",  # a target that exists is done, whichever commit's workflow made it
        "--ignore-incomplete",  # targets are written whole (write, then rename) or not at all
        "--config",
        *config,
    ]


def _unlock(cc: CampaignConfig, snakefile: Path) -> None:
    """Remove the lock a killed engine left behind (only called when no engine of this campaign runs)."""
    locks = Path.cwd() / ".snakemake" / "locks"
    if locks.is_dir() and any(locks.iterdir()):
        subprocess.run([*engine_command(cc, snakefile), "--unlock"], capture_output=True, check=False)


def prepare_data(cc: CampaignConfig) -> None:
    """Find and unpack each dataset of the queue once, before the workers race for it."""
    from hypernas import data as data_mod

    for name in sorted({PRESETS[item.experiment]["dataset"] for item in cc.items}):
        data_mod.load(name)


def start(cc: CampaignConfig, repo: Path | None = None, wait_s: float = 120.0) -> dict:
    """Start the engine in the background (or report the one already running)."""
    state = read_state(cc)
    if engine_alive(state):
        return {**state, "already_running": True}
    home = cc.home
    (home / "logs").mkdir(parents=True, exist_ok=True)
    try:
        top = Path(_git(Path(repo or "."), "rev-parse", "--show-toplevel"))
        commit, code_dir = export_snapshot(top, (home / "code").resolve())
    except ConfigError as exc:  # no usable git checkout: run the code as it is, and say so
        log.warning("%s; running the code as it is instead", exc)
        commit, code_dir = copy_code((home / "code").resolve())
    state = {"pid": None, "engine": "snakemake", "commit": commit, "config": asdict(cc), "started": utc_now()}
    write_json(home / STATE_FILE, {**state, "state": CampaignState.PREPARING})
    try:
        prepare_data(cc)
    except HyperNASError as exc:
        write_json(
            home / STATE_FILE, {**state, "state": CampaignState.FAILED, "error": str(exc), "ended": utc_now()}
        )
        raise HyperNASError(f"the campaign could not start: {exc}") from None
    snakefile = code_dir / "workflow" / "Snakefile"
    _unlock(cc, snakefile)
    env = {**os.environ, "HYPERNAS_COMMIT": commit, "HYPERNAS_CODE": str(code_dir)}
    with open(home / "logs" / "engine.log", "ab") as logf:
        proc = subprocess.Popen(
            engine_command(cc, snakefile, (home / STATE_FILE).resolve()),
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    state["pid"] = proc.pid
    write_json(home / STATE_FILE, {**state, "state": CampaignState.STARTING})
    deadline = time.monotonic() + wait_s
    while (read_state(cc) or {}).get(
        "state"
    ) == CampaignState.STARTING:  # the workflow's onstart says "running"
        if proc.poll() is not None:
            if proc.returncode == 0:  # nothing was left to do: the workflow ended at once
                record_state(home / STATE_FILE, CampaignState.FINISHED)
                break
            write_json(home / STATE_FILE, {**state, "state": CampaignState.FAILED, "ended": utc_now()})
            raise HyperNASError(
                f"the workflow engine exited at once (status {proc.returncode}); "
                f"see {home / 'logs' / 'engine.log'}"
            )
        if time.monotonic() > deadline:
            log.warning("the workflow is still being planned; `hypernas campaign status` follows it")
            break
        time.sleep(0.2)
    return {**(read_state(cc) or state), "already_running": False}


def live_workers(cc: CampaignConfig) -> dict[str, int]:
    """Queue items whose worker is running now, with its pid."""
    records = {name: read_worker(cc, name) for name in cc.names()}
    return {name: r["pid"] for name, r in records.items() if r.get("state") == WorkerState.RUNNING}


def stop(cc: CampaignConfig, wait_s: float = 900.0) -> bool:
    """Ask the engine to start no new job, SIGTERM every worker (each stops after its next
    checkpoint), and wait until the engine has exited. False if no engine ran."""
    state = read_state(cc)
    if not engine_alive(state):
        return False
    record_state(cc.home / STATE_FILE, CampaignState.STOPPING)
    os.kill(state["pid"], signal.SIGTERM)  # Snakemake: finish the running jobs, start no other
    for pid in live_workers(cc).values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while engine_alive(read_state(cc)) and time.monotonic() < deadline:
        time.sleep(1.0)
    if engine_alive(read_state(cc)):
        raise HyperNASError(
            f"the campaign (pid {state['pid']}) is still stopping after {wait_s:.0f} s; "
            "run `hypernas campaign status` to see where its workers are"
        )
    if (read_state(cc) or {}).get("state") == CampaignState.STOPPING:  # the engine ended without its handler
        record_state(cc.home / STATE_FILE, CampaignState.STOPPED)
    return True
