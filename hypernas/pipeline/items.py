"""The items of a queue of long runs and the names of their results: an experiment at a seed, a
search alone, or a baseline study.

An item is written ``EXPERIMENT:SETTING[:PART]`` on the command line; PART is one of

* nothing or ``seedN``: the experiment (search, then evaluation of A-D and the family) at seed N;
* ``search``: the experiment's search alone (its run directory is the experiment's);
* ``separateA`` ... ``separateD``: the ordinary search at the s of A-D, fixed (a baseline);
* ``baselines``: the baseline study of the experiment (:mod:`hypernas.pipeline.baselines`), which uses
  the search and the four separate searches and scores every architecture of its groups;
* ``baselinesKofN``: part K of N of that study's measurements (the architectures' scores split by
  measurement, so N workers or cluster jobs retrain at once); ``baselines`` then gathers them.

``seedN`` may follow any part (``exp1:rebalanced:baselines:seed1``). A seed changes the search
(initial weights, data order, draws of s, Gumbel noise), never the held-out split. SETTING is a
named setting (``printed``, ``rebalanced``) or ``default``: the profile's own config, whose results
carry the experiment's bare name (``exp1``, ``exp1-seed1``, ``exp1-baselines``), as the chapters
name the results of the short profiles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hypernas.errors import ConfigError
from hypernas.train.config import SearchConfig, nearest
from hypernas.train.presets import PRESETS, SETTINGS, paper_s, resolve, result_name

STUDIES = ("experiment", "search", "separate", "baselines")
DEFAULT = "default"  # the setting of a profile's own config
_SEED = re.compile(r"^seed(\d+)$")
_SEPARATE = re.compile(r"^separate([A-D])$")
_PART = re.compile(r"^baselines(\d+)of(\d+)$")
FORM = (
    "EXPERIMENT:SETTING[:search|:separateA-D|:baselines|:baselinesKofN][:seedN] "
    "(e.g. exp1:printed, exp1:rebalanced:seed1, exp1:rebalanced:baselines1of2)"
)


@dataclass(frozen=True)
class QueueItem:
    """One entry of the campaign's queue."""

    experiment: str
    setting: str = "printed"
    seed: int = 0
    study: str = "experiment"
    arch: str | None = None  # the paper's architecture (A-D) of a separate search
    part: int = 0  # of a baseline study: part K (1-based) of ``parts`` of its measurements; 0: all
    parts: int = 0

    def __post_init__(self) -> None:
        if self.experiment not in PRESETS:
            raise ConfigError(
                f"unknown experiment {self.experiment!r}{nearest(self.experiment, PRESETS)} "
                f"(choose {', '.join(PRESETS)})"
            )
        if self.setting != DEFAULT:
            result_name(self.experiment, self.setting)  # a one-line error for an unknown setting
        if self.study not in STUDIES:
            raise ConfigError(f"unknown study {self.study!r}; choose one of {', '.join(STUDIES)}")
        if (self.study == "separate") != (self.arch in ("A", "B", "C", "D")):
            raise ConfigError("a separate search needs one of the architectures A-D, and only it takes one")
        if (self.part or self.parts) and not (self.study == "baselines" and 1 <= self.part <= self.parts):
            raise ConfigError(
                f"part {self.part} of {self.parts}: a baseline study's part K of N needs 1 <= K <= N "
                "(e.g. exp1:rebalanced:baselines1of2)"
            )

    @classmethod
    def parse(cls, text: str | list | tuple | QueueItem) -> QueueItem:
        """``"exp1:rebalanced:seed1"`` (or ``["exp1", "rebalanced"]``) -> a :class:`QueueItem`."""
        if isinstance(text, QueueItem):
            return text
        parts = list(text) if isinstance(text, (list, tuple)) else str(text).split(":")
        if not 2 <= len(parts) <= 4 or not all(parts):
            raise ConfigError(f"--item expects {FORM}, got {':'.join(map(str, parts))!r}")
        experiment, setting, *extra = parts
        seed, study, arch, k, n = 0, "experiment", None, 0, 0
        if extra and _SEED.match(extra[-1]):
            seed = int(_SEED.match(extra.pop())[1])
        if len(extra) > 1:
            raise ConfigError(f"--item expects {FORM}, got {':'.join(parts)!r}")
        if extra:
            word = extra[0]
            if word in ("search", "baselines"):
                study = word
            elif _SEPARATE.match(word):
                study, arch = "separate", _SEPARATE.match(word)[1]
            elif _PART.match(word):
                study, (k, n) = "baselines", map(int, _PART.match(word).groups())
            else:
                raise ConfigError(
                    f"unknown part {word!r} of --item; use search, separateA-D, baselines, "
                    "baselinesKofN or seedN"
                )
        return cls(experiment, setting, seed, study, arch, k, n)

    def spec(self) -> str:
        """The command-line form, which :meth:`parse` reads back."""
        part = {"experiment": "", "search": ":search", "baselines": ":baselines"}.get(
            self.study, f":separate{self.arch}"
        )
        if self.is_part:
            part += f"{self.part}of{self.parts}"
        return f"{self.experiment}:{self.setting}{part}" + (f":seed{self.seed}" if self.seed else "")

    @property
    def base(self) -> str:
        """The experiment's result stem at this seed: ``exp1-rebalanced``, ``exp1-rebalanced-seed1``."""
        stem = self.experiment if self.setting == DEFAULT else result_name(self.experiment, self.setting)
        return stem + (f"-seed{self.seed}" if self.seed else "")

    @property
    def name(self) -> str:
        """The item's own name: its result file, log and state entry."""
        suffix = {"experiment": "", "search": "-search", "baselines": "-baselines"}.get(
            self.study, f"-separate{self.arch}"
        )
        return self.base + suffix + (f"-part{self.part}of{self.parts}" if self.is_part else "")

    @property
    def is_part(self) -> bool:
        """True for part K of N of a baseline study's measurements."""
        return self.parts > 0

    def whole(self) -> QueueItem:
        """The item itself; for a part of a baseline study, the whole study."""
        return QueueItem(self.experiment, self.setting, self.seed, self.study, self.arch)

    @property
    def run_name(self) -> str:
        """Stem of the run directory: a search alone shares the experiment's, a part of a baseline
        study the study's."""
        if self.study == "search":
            return self.base
        return self.whole().name

    @property
    def overrides(self) -> dict:
        """The setting's config overrides (the seed is given apart, as ``run_experiment(seed=...)``)."""
        return {} if self.setting == DEFAULT else dict(SETTINGS[self.setting])

    def main(self) -> QueueItem:
        """The experiment this item belongs to."""
        return QueueItem(self.experiment, self.setting, self.seed)

    def config(self, profile: str) -> SearchConfig:
        """The resolved config of the item's search (of the main search, for a baseline study)."""
        cfg = resolve(self.experiment, profile, {**self.overrides, "seed": self.seed})
        if self.study == "separate":
            from hypernas.pipeline.baselines import separate_config

            return separate_config(cfg, paper_s(len(cfg.ops))[self.arch])
        return cfg

    def depends_on(self) -> list[QueueItem]:
        """Items that must finish first when they are queued too (a study needs its searches)."""
        if self.study != "baselines":
            return []
        main = self.main()
        return [
            main,
            QueueItem(main.experiment, main.setting, main.seed, "search"),
            *(QueueItem(main.experiment, main.setting, main.seed, "separate", a) for a in "ABCD"),
        ]
