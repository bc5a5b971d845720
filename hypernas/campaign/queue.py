"""The campaign's queue: its items in order, how the campaign runs them, and where each one's
checkpoints and result live (the files the workflow engine reads to know what is done)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hypernas.errors import ConfigError
from hypernas.io import finite, read_record
from hypernas.pipeline.items import QueueItem
from hypernas.pipeline.results import RESULT_FIX
from hypernas.train.checkpoint import SUMMARY
from hypernas.train.config import SearchConfig

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
    "exp1:rebalanced:baselines1of2",
    "exp1:rebalanced:baselines2of2",
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
        """``runs/<profile>``: the campaign's state, logs, code snapshots and run directories."""
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


def run_dir(cc: CampaignConfig, item: QueueItem) -> Path:
    """Where the item keeps its checkpoints: ``runs/<profile>/<run name>-<hash of its (main) search>``
    (a part of a baseline study: the study's)."""
    return Path(cc.runs_dir) / cc.profile / f"{item.run_name}-{item.config(cc.profile).hash()}"


def part_suffix(item: QueueItem) -> str:
    """``-partKofN`` for part K of N of a baseline study, else nothing."""
    return f"-part{item.part}of{item.parts}" if item.is_part else ""


def progress_file(cc: CampaignConfig, item: QueueItem) -> Path:
    """The item's progress record in its run directory (each part of a study keeps its own)."""
    return run_dir(cc, item) / f"progress{part_suffix(item)}.json"


def target(cc: CampaignConfig, item: QueueItem) -> Path:
    """The file whose presence says that ``item`` is done: its result, for a search alone the
    finished search's summary in its run directory, for a part of a study its record there."""
    if item.study in ("search", "separate"):
        return run_dir(cc, item) / SUMMARY
    if item.is_part:
        return run_dir(cc, item) / f"measured{part_suffix(item)}.json"
    return Path(cc.results_dir) / f"{item.name}.json"


def parts_of(cc: CampaignConfig, item: QueueItem) -> list[QueueItem]:
    """The queued parts of the baseline study ``item`` (none for any other item)."""
    if item.study != "baselines" or item.is_part:
        return []
    return [other for other in cc.items if other.is_part and other.whole() == item]


def waits_for(cc: CampaignConfig, item: QueueItem) -> list[QueueItem]:
    """The queued items that ``item`` starts after: its searches (a study's), its queued parts (a
    study gathers them), and every baseline study queued before it. A study is a barrier, so that
    once its searches are done its parts get the workers, not the items queued after it."""
    queue = cc.items
    deps = [dep for dep in item.depends_on() + parts_of(cc, item) if dep in queue]
    earlier = queue[: queue.index(item)] if item in queue else []
    barriers = [
        other
        for other in earlier
        if other.study == "baselines" and not other.is_part and other != item.whole()
    ]
    return deps + [b for b in barriers if b not in deps]


def is_done(cc: CampaignConfig, item: QueueItem) -> bool:
    """True when the item's target exists and, for a result, was made with the item's current config."""
    path = target(cc, item)
    if not path.is_file():
        return False
    if item.study in ("search", "separate") or item.is_part:
        return True
    try:
        return read_record(path, "result", RESULT_FIX).get("config_hash") == item_hash(item, cc.profile)
    except ValueError:
        return False


def superseded(cc: CampaignConfig, item: QueueItem) -> bool:
    """True for a search alone (or a part of a study) whose every queued study is done: nothing needs
    it any more, so a run directory that was lost (a new machine, a clean clone) is not searched again."""
    if item.is_part:
        return is_done(cc, item.whole())
    if item.study not in ("search", "separate"):
        return False
    users = [other for other in cc.items if item in other.depends_on() and not other.is_part]
    return bool(users) and all(is_done(cc, user) for user in users)


def read_json_or_none(path: Path) -> dict | None:
    """A JSON record the campaign keeps (state, progress, result), or None if absent or unreadable."""
    try:
        return read_record(path, "status file", "") if path.is_file() else None
    except ValueError:
        return None
