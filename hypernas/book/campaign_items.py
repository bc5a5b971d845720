"""What the paper-scale campaign queues: one experiment at a seed, or the baseline study of one.

An item is written ``EXPERIMENT:SETTING[:seedN|:baselines]`` on the command line (``exp1:rebalanced``,
``exp1:rebalanced:seed1``, ``exp1:rebalanced:baselines``) and names its result file:
``exp1-rebalanced``, ``exp1-rebalanced-seed1``, ``exp1-rebalanced-baselines``. A seed changes the
search (initial weights, data order, draws of s, Gumbel noise), never the held-out split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hypernas.errors import ConfigError
from hypernas.train.config import PRESETS, SETTINGS, SearchConfig, nearest, resolve, result_name

STUDIES = ("experiment", "baselines")
_SEED = re.compile(r"^seed(\d+)$")


@dataclass(frozen=True)
class QueueItem:
    """One entry of the campaign's queue."""

    experiment: str
    setting: str = "printed"
    seed: int = 0
    study: str = "experiment"  # "experiment": search + evaluation; "baselines": the baseline study

    def __post_init__(self) -> None:
        if self.experiment not in PRESETS:
            raise ConfigError(
                f"unknown experiment {self.experiment!r}{nearest(self.experiment, PRESETS)} "
                f"(choose {', '.join(PRESETS)})"
            )
        result_name(self.experiment, self.setting)  # a one-line error for an unknown setting
        if self.study not in STUDIES:
            raise ConfigError(f"unknown study {self.study!r}; choose one of {', '.join(STUDIES)}")

    @classmethod
    def parse(cls, text: str | list | tuple | QueueItem) -> QueueItem:
        """``"exp1:rebalanced:seed1"`` (or ``["exp1", "rebalanced"]``) -> a :class:`QueueItem`."""
        if isinstance(text, QueueItem):
            return text
        parts = list(text) if isinstance(text, (list, tuple)) else str(text).split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise ConfigError(
                f"--item expects EXPERIMENT:SETTING[:seedN|:baselines] (e.g. exp1:printed, "
                f"exp1:rebalanced:seed1), got {':'.join(map(str, parts))!r}"
            )
        experiment, setting, *extra = parts
        if not extra:
            return cls(experiment, setting)
        if extra[0] == "baselines":
            return cls(experiment, setting, study="baselines")
        m = _SEED.match(extra[0])
        if m is None:
            raise ConfigError(f"the third part of --item must be seedN or baselines, got {extra[0]!r}")
        return cls(experiment, setting, seed=int(m.group(1)))

    def spec(self) -> str:
        """The command-line form, which :meth:`parse` reads back."""
        tail = ":baselines" if self.study == "baselines" else (f":seed{self.seed}" if self.seed else "")
        return f"{self.experiment}:{self.setting}{tail}"

    @property
    def name(self) -> str:
        """File stem of the item's result (and of its run directory)."""
        base = result_name(self.experiment, self.setting)
        if self.study == "baselines":
            return f"{base}-baselines" + (f"-seed{self.seed}" if self.seed else "")
        return base + (f"-seed{self.seed}" if self.seed else "")

    @property
    def overrides(self) -> dict:
        """The setting's config overrides (the seed is given apart, as ``run_experiment(seed=...)``)."""
        return dict(SETTINGS[self.setting])

    def config(self, profile: str) -> SearchConfig:
        """The resolved config of the item's (main) search."""
        return resolve(self.experiment, profile, {**self.overrides, "seed": self.seed})
