"""The paper-scale campaign: a queue of (experiment, setting) runs taken to the end in the background.

    hypernas campaign start     # make paper: start, or resume where the queue stands
    hypernas campaign status    # make paper-status: run, epoch, step, images/s, ETA
    hypernas campaign stop      # make paper-stop: every worker stops after a checkpoint

``start`` exports the committed package (``git archive HEAD``) into ``runs/<profile>/code/<commit>``
and starts a detached supervisor that runs that snapshot. Editing the working tree therefore never
changes a running campaign, and every result names a clean commit; a campaign resumed under a later
commit records it beside the epochs it ran (the segments of each search). The supervisor keeps up to
``workers`` queue items running, each in a worker process with ``threads`` threads: search (with a
checkpoint every ``checkpoint_every_s`` seconds of compute), then evaluation (each accuracy kept as
soon as it is measured), then ``results/<profile>/<name>.json``. SIGTERM to the supervisor reaches
every worker, which stops after its next checkpoint. A run resumes with the thread count it started
with, so that its numbers do not depend on how often it was interrupted.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from hypernas.errors import ConfigError, HyperNASError
from hypernas.io import finite, read_record, write_json
from hypernas.pipeline.items import QueueItem
from hypernas.pipeline.results import RESULT_FIX
from hypernas.provenance import utc_now
from hypernas.train.checkpoint import SUMMARY, adopt_run_dir
from hypernas.train.config import PRESETS, SearchConfig
from hypernas.train.stopping import EXIT_STOPPED, stop_on_sigterm

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the hypernas package this module belongs to
log = logging.getLogger(__name__)

# The queue in the order of the issues: the paper as printed and the rebalanced objective (seed 0),
# then the seeds and the baseline study of exp1 (b), the seeds of exp1 (a), then exp3 and exp2 (a).
QUEUE: tuple[str, ...] = (
    "exp1:printed",
    "exp1:rebalanced",
    "exp3:rebalanced",
    "exp2:rebalanced",
    "exp1:rebalanced:seed1",
    "exp1:rebalanced:seed2",
    "exp1:rebalanced:search",
    "exp1:rebalanced:separateA",
    "exp1:rebalanced:separateB",
    "exp1:rebalanced:separateC",
    "exp1:rebalanced:separateD",
    "exp1:rebalanced:baselines",
    "exp1:printed:seed1",
    "exp1:printed:seed2",
    "exp3:printed",
    "exp2:printed",
)
# The short profiles' queue (``hypernas campaign start --profile quick``, ``make baselines``): the seeds
# and the baseline study of each experiment at the profile's own config.
STUDY_QUEUE: tuple[str, ...] = tuple(
    f"{e}:default{part}"
    for e in ("exp1", "exp2", "exp3")
    for part in (
        ":seed1",
        ":seed2",
        ":search",
        ":separateA",
        ":separateB",
        ":separateC",
        ":separateD",
        ":baselines",
    )
)
STATE_FILE = "campaign.json"
PREPARING = "preparing data"  # the supervisor's first state: finding and unpacking the datasets


@dataclass
class CampaignConfig:
    """How the campaign runs: where, on which device, how many workers of how many threads, which queue."""

    profile: str = "paper"
    runs_dir: str = "runs"
    results_dir: str | None = None  # default results/<profile>
    workers: int = 2
    threads: int = 1
    checkpoint_every_s: float = 300.0
    device: str | None = None  # cpu, cuda, cuda:N; None: cuda when available, else cpu
    queue: list[str] | None = None  # QueueItem specs; None: QUEUE for the paper profile, else STUDY_QUEUE

    def __post_init__(self) -> None:
        if self.queue is None:
            self.queue = list(QUEUE if self.profile == "paper" else STUDY_QUEUE)
        self.queue = [QueueItem.parse(item).spec() for item in self.queue]  # one-line errors; lists too
        if self.results_dir is None:
            self.results_dir = str(Path("results") / self.profile)
        if self.workers < 1 or self.threads < 1:
            raise ConfigError("--workers and --threads must be >= 1")
        if self.workers * self.threads > (os.cpu_count() or 1):
            raise ConfigError(
                f"--workers {self.workers} x --threads {self.threads} exceeds the "
                f"{os.cpu_count()} CPU cores of this machine; lower one of them"
            )
        if not finite(self.checkpoint_every_s) or self.checkpoint_every_s <= 0:
            raise ConfigError("--checkpoint-every must be a finite number of seconds > 0")
        if self.device is not None:  # a one-line error now, not in every worker
            from hypernas.train.build import torch_device

            torch_device(self.device)
        names = self.names()
        if len(set(names)) < len(names):
            raise ConfigError("the queue names one item twice; remove the repeat")

    @property
    def home(self) -> Path:
        return Path(self.runs_dir) / self.profile

    @property
    def items(self) -> list[QueueItem]:
        return [QueueItem.parse(spec) for spec in self.queue]

    def names(self) -> list[str]:
        return [item.name for item in self.items]


def item_config(item: QueueItem, profile: str) -> SearchConfig:
    """The config of the item's (main) search."""
    return item.config(profile)


def item_hash(item: QueueItem, profile: str) -> str:
    """The hash a finished result of ``item`` records: its search config's, or its baseline study's."""
    if item.study == "baselines":
        from hypernas.pipeline.baselines import study_config

        return study_config(item.config(profile)).hash()
    return item.config(profile).hash()


def is_done(cc: CampaignConfig, item: QueueItem) -> bool:
    """True when the item's result exists and was made with its current config (a search alone: when
    its run directory holds the finished search's summary)."""
    if item.study in ("search", "separate"):
        return (run_dir(cc, item) / SUMMARY).is_file()
    path = Path(cc.results_dir) / f"{item.name}.json"
    if not path.is_file():
        return False
    try:
        return read_record(path, "result", RESULT_FIX).get("config_hash") == item_hash(item, cc.profile)
    except ValueError:
        return False


def run_dir(cc: CampaignConfig, item: QueueItem) -> Path:
    """Where the item keeps its checkpoints: ``runs/<profile>/<run name>-<hash of its (main) search>``."""
    return Path(cc.runs_dir) / cc.profile / f"{item.run_name}-{item.config(cc.profile).hash()}"


def next_startable(
    cc: CampaignConfig, pending: list[QueueItem], running: list[QueueItem]
) -> QueueItem | None:
    """The first pending item that may start now: none of its queued dependencies is unfinished, and
    no running item writes to its run directory."""
    busy = {run_dir(cc, item) for item in running}
    unfinished = {item.name for item in [*pending, *running]}
    for item in pending:
        if run_dir(cc, item) in busy or any(dep.name in unfinished for dep in item.depends_on()):
            continue
        return item
    return None


def adopt_earlier(cc: CampaignConfig) -> list[str]:
    """Bring the queue's run directories and results made by earlier code under today's config hash.

    A run directory is named ``<result name>-<config hash>``; when the hash of an unchanged config
    changes, the directory of a queue item is found by
    its stored config and renamed (``adopt_run_dir``), so the search continues where it stands, and
    a finished result of the same config gets its new hash (``upgrade_result``). Nothing measured
    changes. Run by :func:`start` before the supervisor, when no worker of the campaign is alive.
    Returns one line per change; each is logged once (a rename by ``adopt_run_dir``).
    """
    from hypernas.pipeline.upgrade import upgrade_result

    notes = []
    for item in cc.items:
        if item.study not in ("experiment", "search"):
            continue
        cfg = item_config(item, cc.profile)
        new_dir = run_dir(cc, item)
        old_dir = adopt_run_dir(new_dir, cfg)
        if old_dir is not None:
            notes.append(f"renamed {old_dir} to {new_dir.name} (same config, hash of earlier code)")
        path = Path(cc.results_dir) / f"{item.name}.json"
        result = read_json_or_none(path)
        if result is None or result.get("config_hash") == cfg.hash() or "config" not in result:
            continue
        if SearchConfig.from_dict(result["config"]).hash() == cfg.hash():
            write_json(path, upgrade_result(result))
            notes.append(f"rewrote {path} with its config's new hash {cfg.hash()}")
            log.warning("%s", notes[-1])
    return notes


# ----------------------------------------------------------------------------- start / stop
def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if out.returncode != 0:
        raise ConfigError(
            f"the campaign runs a snapshot of the committed code, but `git {' '.join(args)}` "
            f"failed in {repo}; start it from a git checkout"
        )
    return out.stdout.strip()


def export_snapshot(repo: Path, dest_root: Path) -> tuple[str, Path]:
    """``git archive HEAD hypernas`` unpacked into ``dest_root/<commit>``; returns (commit, folder)."""
    commit = _git(repo, "rev-parse", "HEAD")[:12]
    dest = dest_root / commit
    if not (dest / "hypernas" / "__init__.py").is_file():
        archive = subprocess.run(
            ["git", "archive", "--format=tar", "HEAD", "hypernas"], cwd=repo, capture_output=True
        )
        if archive.returncode != 0:
            raise ConfigError(f"`git archive HEAD hypernas` failed in {repo}")
        blob = archive.stdout
        tmp = dest_root / f".{commit}.tmp"
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(tmp, filter="data")
        os.replace(tmp, dest)
    if _git(repo, "status", "--porcelain", "--untracked-files=no", "--", "hypernas"):
        log.warning(
            "uncommitted changes in hypernas/ are not part of the campaign (it runs commit %s)", commit
        )
    return commit, dest


def copy_package(dest_root: Path) -> tuple[str, Path]:
    """The fallback without git: a copy of the package as it is, labelled with whatever commit is known."""
    from hypernas.provenance import git_commit

    dest = dest_root / "working-tree"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(_PACKAGE_DIR, dest / "hypernas", ignore=shutil.ignore_patterns("__pycache__"))
    return git_commit(), dest


def supervisor_alive(state: dict | None) -> bool:
    """Whether the supervisor recorded in ``state`` is still running."""
    if not state or not state.get("pid"):
        return False
    try:
        os.kill(state["pid"], 0)
        cmdline = (
            Path(f"/proc/{state['pid']}/cmdline").read_bytes() if Path("/proc").is_dir() else b"campaign"
        )
    except (OSError, PermissionError):
        return False
    return b"campaign" in cmdline


def read_state(cc: CampaignConfig) -> dict | None:
    return read_json_or_none(cc.home / STATE_FILE)


def _python_with(code_dir: Path) -> list[str]:
    """A Python command line that imports ``hypernas`` from ``code_dir`` first, then runs its CLI."""
    boot = (
        f"import sys; sys.path.insert(0, {str(code_dir)!r}); from hypernas.cli import main; sys.exit(main())"
    )
    return [sys.executable, "-c", boot]


def _cli_args(cc: CampaignConfig) -> list[str]:
    args = [
        "--profile",
        cc.profile,
        "--runs-dir",
        cc.runs_dir,
        "--results-dir",
        str(cc.results_dir),
        "--workers",
        str(cc.workers),
        "--threads",
        str(cc.threads),
        "--checkpoint-every",
        str(cc.checkpoint_every_s),
        *(["--device", cc.device] if cc.device else []),
    ]
    for spec in cc.queue:
        args += ["--item", spec]
    return args


def start(cc: CampaignConfig, repo: Path | None = None, data_wait_s: float = 120.0) -> dict:
    """Start the supervisor in the background (or report the one already running).

    Waits up to ``data_wait_s`` for the supervisor to find and unpack the datasets of the queue, so
    that a missing dataset is an error here rather than a line in a log nobody reads."""
    state = read_state(cc)
    if supervisor_alive(state):
        return {**state, "already_running": True}
    cc.home.mkdir(parents=True, exist_ok=True)
    adopted = adopt_earlier(cc)  # no supervisor is alive: no worker writes to a run directory
    try:
        top = Path(_git(Path(repo or "."), "rev-parse", "--show-toplevel"))
        commit, code_dir = export_snapshot(top, (cc.home / "code").resolve())
    except ConfigError as exc:  # no usable git checkout: run the package as it is, and say so
        log.warning("%s; running the package as it is instead", exc)
        commit, code_dir = copy_package((cc.home / "code").resolve())
    (cc.home / "logs").mkdir(exist_ok=True)
    env = {**os.environ, "HYPERNAS_COMMIT": commit, "OMP_NUM_THREADS": str(cc.threads)}
    with open(cc.home / "logs" / "supervisor.log", "ab") as logf:
        proc = subprocess.Popen(
            [*_python_with(code_dir), "campaign", "run", *_cli_args(cc)],
            cwd=Path.cwd(),
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + data_wait_s
    while True:  # the supervisor writes its state file first thing, then prepares the datasets
        exited = proc.poll() is not None
        state = read_state(cc) or {}
        mine = state.get("pid") == proc.pid
        if mine and state.get("state") == "failed":
            raise HyperNASError(f"the campaign could not start: {state.get('error')}")
        if mine and state.get("state") != PREPARING:
            break
        if exited:
            raise HyperNASError(
                f"the campaign supervisor exited at once (status {proc.returncode}); "
                f"see {cc.home / 'logs' / 'supervisor.log'}"
            )
        if mine and time.monotonic() > deadline:  # a slow first unpacking goes on in the background
            log.warning("the campaign is still preparing its data; `hypernas campaign status` follows it")
            break
        time.sleep(0.1)
    return {**state, "already_running": False, "adopted": adopted}


def stop(cc: CampaignConfig, wait_s: float = 900.0) -> bool:
    """SIGTERM to the supervisor; wait until every worker has checkpointed and exited. False if none ran."""
    state = read_state(cc)
    if not supervisor_alive(state):
        return False
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while supervisor_alive(read_state(cc)) and time.monotonic() < deadline:
        time.sleep(1.0)
    if supervisor_alive(read_state(cc)):
        raise HyperNASError(
            f"the campaign (pid {state['pid']}) is still stopping after {wait_s:.0f} s; "
            "run `hypernas campaign status` to see where its workers are"
        )
    return True


# ----------------------------------------------------------------------------- supervisor and worker
def supervise(cc: CampaignConfig) -> int:
    """The supervisor's loop: keep ``workers`` queue items running until the queue is done or stopped."""
    from hypernas import data as data_mod

    state = {
        "pid": os.getpid(),
        "commit": os.environ.get("HYPERNAS_COMMIT", "unknown"),
        "config": asdict(cc),
        "started": utc_now(),
        "state": PREPARING,
        "items": {},
    }
    home = cc.home
    (home / "logs").mkdir(parents=True, exist_ok=True)
    write_json(home / STATE_FILE, state)
    items = state["items"]
    with stop_on_sigterm((signal.SIGTERM, signal.SIGINT)) as stop_event:
        try:  # unpack each dataset once, before the workers race for it
            for name in sorted({PRESETS[item.experiment]["dataset"] for item in cc.items}):
                data_mod.load(name)
        except HyperNASError as exc:
            state.update(state="failed", error=str(exc), ended=utc_now())
            write_json(home / STATE_FILE, state)
            raise
        state["state"] = "running"
        write_json(home / STATE_FILE, state)
        pending = [item for item in cc.items if not is_done(cc, item)]
        for item in cc.items:
            items[item.name] = {"state": "done" if item not in pending else "waiting"}
        running: dict[str, subprocess.Popen] = {}
        running_items: dict[str, QueueItem] = {}
        forwarded = False
        while pending or running:
            while pending and len(running) < cc.workers and not stop_event.is_set():
                item = next_startable(cc, pending, list(running_items.values()))
                if item is None:  # the rest waits for what is running
                    break
                pending.remove(item)
                running_items[item.name] = item
                name = item.name
                cmd = [*_python_with(_PACKAGE_DIR.parent), "campaign", "work", item.spec(), *_cli_args(cc)]
                with open(home / "logs" / f"{name}.log", "ab") as logf:
                    running[name] = subprocess.Popen(
                        cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT
                    )
                items[name] = {"state": "running", "pid": running[name].pid, "started": utc_now()}
                write_json(home / STATE_FILE, state)
            if stop_event.is_set() and not forwarded:
                for proc in running.values():
                    proc.send_signal(signal.SIGTERM)
                forwarded = True
                state["state"] = "stopping"
                write_json(home / STATE_FILE, state)
            for name, proc in list(running.items()):
                if proc.poll() is None:
                    continue
                del running[name]
                del running_items[name]
                code = proc.returncode
                outcome = {0: "done", EXIT_STOPPED: "stopped"}.get(code, "failed")
                items[name] = {**items[name], "state": outcome, "exit_code": code, "ended": utc_now()}
                write_json(home / STATE_FILE, state)
            if stop_event.is_set() and not running:
                break
            stop_event.wait(2.0)
    state["state"] = "stopped" if stop_event.is_set() else "finished"
    state["ended"] = utc_now()
    write_json(home / STATE_FILE, state)
    return 0


def work(cc: CampaignConfig, item: QueueItem) -> int:
    """One queue item to its result: search (resumed where it stands), evaluation, result JSON; or,
    for a baseline study, its searches and evaluations (:mod:`hypernas.pipeline.baselines`)."""
    import torch

    from hypernas.pipeline.experiment import run_experiment
    from hypernas.train.checkpoint import CHECKPOINT, read_checkpoint
    from hypernas.train.stopping import Interrupted

    threads = cc.threads
    ckpt_dir = run_dir(cc, item)
    if item.study in ("experiment", "search"):
        adopt_run_dir(ckpt_dir, item_config(item, cc.profile))  # before reading its threads
    elif item.study == "baselines":  # a study keeps the thread count of its main search
        ckpt_dir = run_dir(cc, item.main())
    if (ckpt_dir / CHECKPOINT).is_file():
        segments = read_checkpoint(ckpt_dir).get("segments") or [{}]
        threads = segments[0].get("threads", threads)
        if threads != cc.threads:
            log.warning(
                "%s started with %d threads; it continues with %d so that its numbers do not change",
                ckpt_dir.name,
                threads,
                threads,
            )
    torch.set_num_threads(threads)
    name = item.name
    log.info(
        "%s: %s, %d thread(s), commit %s",
        name,
        item.spec(),
        threads,
        os.environ.get("HYPERNAS_COMMIT", "unknown"),
    )
    with stop_on_sigterm() as stop_event:
        try:
            if item.study in ("search", "separate"):
                from hypernas.pipeline.experiment import ensure_search

                _, summary = ensure_search(
                    item.config(cc.profile),
                    cc.runs_dir,
                    name=item.run_name,
                    progress=False,
                    stop=stop_event,
                    checkpoint_every_s=cc.checkpoint_every_s,
                    device=cc.device,
                )
                result = {"provenance": {"wall_time_s": round(summary["wall_time_s"], 1)}}
            elif item.study == "baselines":
                from hypernas.pipeline.baselines import run_baseline_study

                result = run_baseline_study(
                    item.experiment,
                    cc.profile,
                    seed=item.seed,
                    overrides=item.overrides,
                    name=name,
                    main_name=item.base,
                    results_dir=cc.results_dir,
                    runs_dir=cc.runs_dir,
                    progress=False,
                    stop=stop_event,
                    checkpoint_every_s=cc.checkpoint_every_s,
                    device=cc.device,
                )
            else:
                result = run_experiment(
                    item.experiment,
                    cc.profile,
                    seed=item.seed,
                    results_dir=cc.results_dir,
                    runs_dir=cc.runs_dir,
                    overrides=item.overrides,
                    name=name,
                    progress=False,
                    stop=stop_event,
                    checkpoint_every_s=cc.checkpoint_every_s,
                    device=cc.device,
                )
        except Interrupted as exc:
            log.info("%s: %s", name, exc)
            return EXIT_STOPPED
    log.info("%s: finished, %s", name, result["provenance"]["wall_time_s"])
    return 0


def read_json_or_none(path: Path) -> dict | None:
    """A JSON record the campaign keeps (state, progress, result), or None if absent or unreadable."""
    try:
        return read_record(path, "status file", "") if path.is_file() else None
    except ValueError:
        return None
