"""Accuracies already measured for one finished search, kept on disk so evaluation resumes.

The evaluation of a ``paper``-profile run (10-epoch retraining of four architectures on the full
training set) takes hours on a CPU. Each measured accuracy is written to
``<run_dir>/evaluations.json`` as soon as it exists (atomically), keyed by what determines it:

* ``inherited`` and ``retrain``: the genotype (and the number of retraining epochs), so
  architectures A-D that share a genotype are measured once;
* ``relaxed``: the complexity vector s, since the supernet is sampled at alpha(s).

Every protocol is seeded from the run's config, so a cached value equals a recomputed one.
Each entry also names the machines that measured it: a retraining resumed elsewhere has several.

A *ledger* (``results/<profile>/measurements/<name>-<config hash>.json``) keeps the same entries
beside the results until the result is written, where they can be committed: when the run
directory is lost, the search is made again (with the same seed, the same weights) and its
evaluation continues from the ledger instead of from the start.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from hypernas.io import read_record, write_json
from hypernas.provenance import git_commit

log = logging.getLogger(__name__)

FILENAME = "evaluations.json"


class EvaluationCache:
    """Maps an evaluation key to ``{"accuracy": %, "seconds": compute time, "commit", "hardware": [machines]}``."""

    def __init__(
        self,
        run_dir: str | Path,
        fresh: bool = False,
        ledger: str | Path | None = None,
        filename: str = FILENAME,
        sources: Sequence[Path] = (),
    ) -> None:
        """``filename`` names the file this cache writes in ``run_dir`` (parts of a baseline study
        write one each); ``sources`` are other caches' files whose entries it reads (and never writes)."""
        self.path = Path(run_dir) / filename
        self.ledger = Path(ledger) if ledger is not None else None
        self.entries: dict[str, dict] = {}
        if not fresh:
            # the run directory's own entries are the latest
            for path in (*sources, self.ledger, self.path):
                if path is not None and path.is_file():
                    self.entries.update(
                        read_record(path, "evaluation cache", "delete it (it only caches evaluations)")
                    )
        self.used: set[str] = set()

    def _save(self) -> None:
        write_json(self.path, self.entries)
        if self.ledger is not None:
            write_json(self.ledger, self.entries)

    def partial_path(self, key: str) -> Path:
        """Where the retraining of ``key`` keeps its checkpoint until it has finished."""
        return self.path.parent / "retrain" / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.pt"

    @staticmethod
    def key(protocol: str, genotype_key: str, s, retrain_epochs: int) -> str:
        if protocol == "relaxed":
            return "relaxed|s=" + ",".join(f"{v:.6f}" for v in s)
        if protocol == "retrain":
            return f"retrain|epochs={retrain_epochs}|{genotype_key}"
        return f"{protocol}|{genotype_key}"

    def accuracy(
        self, key: str, compute: Callable[[], float], hardware: str, earlier: dict | None = None
    ) -> float:
        """The cached accuracy for ``key``, or ``compute()`` on ``hardware`` timed and saved at once.

        ``earlier`` (``{"seconds", "hardware"}``) is the part of the measurement made before a
        resume, by :func:`~hypernas.train.evaluate.retrain_history`; it counts in the entry."""
        self.used.add(key)
        if key in self.entries:
            log.info("reusing %s from %s", key, self.path)
            return self.entries[key]["accuracy"]
        earlier = earlier or {"seconds": 0.0, "hardware": []}
        tic = time.perf_counter()
        acc = compute()
        self.entries[key] = {
            "accuracy": acc,
            "seconds": round(earlier["seconds"] + time.perf_counter() - tic, 1),
            "commit": git_commit(),
            "hardware": list(dict.fromkeys([*earlier["hardware"], hardware])),
        }
        self._save()
        return acc

    def scores(
        self, key: str, compute: Callable[[], dict[str, float]], hardware: str, earlier: dict | None = None
    ) -> dict[str, float]:
        """As :meth:`accuracy` for one measurement on both splits: ``{"val": %, "test": %}``; the entry
        keeps the test accuracy as ``accuracy`` and the validation accuracy as ``val_accuracy``."""
        self.used.add(key)
        entry = self.entries.get(key)
        if entry is not None and "val_accuracy" in entry:
            log.info("reusing %s from %s", key, self.path)
            return {"val": entry["val_accuracy"], "test": entry["accuracy"]}
        earlier = earlier or {"seconds": 0.0, "hardware": []}
        tic = time.perf_counter()
        got = compute()
        self.entries[key] = {
            "accuracy": got["test"],
            "val_accuracy": got["val"],
            "seconds": round(earlier["seconds"] + time.perf_counter() - tic, 1),
            "commit": git_commit(),
            "hardware": list(dict.fromkeys([*earlier["hardware"], hardware])),
        }
        self._save()
        return {"val": got["val"], "test": got["test"]}

    def seconds_used(self) -> float:
        """Compute time of every distinct evaluation used so far (each counted once)."""
        return round(sum(self.entries[k]["seconds"] for k in self.used), 1)

    def hardware_used(self) -> list[str]:
        """The machines of every evaluation used so far, in the order measured (where recorded)."""
        return list(
            dict.fromkeys(h for k, e in self.entries.items() if k in self.used for h in e.get("hardware", []))
        )
