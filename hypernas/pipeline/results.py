"""The stored results as types, read and written here only: an experiment's :class:`Result` (its
config, :class:`Provenance` with the search's :class:`~hypernas.train.checkpoint.Segment` list, the
architectures A-D as :class:`Architecture`, the family as :class:`FamilyPoint` rows and the training
curves), and where a profile's or the paper scale's results are found.

A result file carries ``"schema": SCHEMA_VERSION``; a file of another schema is refused with a
one-line error that says to make it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hypernas.errors import ArtefactError, ConfigError
from hypernas.io import read_record, write_json
from hypernas.train.checkpoint import Segment
from hypernas.train.config import SearchConfig
from hypernas.train.presets import SETTINGS, resolve, result_name

SCHEMA_VERSION = 2
RESULT_FIX = "delete it and make it again (its chapter, or `make paper`, re-runs the experiment)"


@dataclass(frozen=True)
class Provenance:
    """Where and how a result was made: code, machine, data, times (seconds) and the search's segments.

    ``evaluation_compute_time_s`` sums the time of every measurement (some may have been made before
    a resume; None where not recorded); ``evaluation_hardware`` names the machines of the measurements."""

    commit: str
    hardware: str
    torch: str
    python: str
    date: str
    data_source: str
    train_images: int
    test_images: int
    wall_time_s: float
    search_time_s: float
    evaluation_time_s: float
    pipeline_time_s: float
    evaluation_compute_time_s: float | None = None
    search_segments: tuple[Segment, ...] = ()
    evaluation_hardware: tuple[str, ...] = ()

    @property
    def evaluation_seconds(self) -> float:
        """The evaluation's time: its last pass's wall time, or the summed time of every measurement
        when that pass reused accuracies measured earlier."""
        return max(self.evaluation_time_s, self.evaluation_compute_time_s or 0.0)

    def to_dict(self) -> dict:
        out = {
            "commit": self.commit,
            "hardware": self.hardware,
            "torch": self.torch,
            "python": self.python,
            "date": self.date,
            "data_source": self.data_source,
            "train_images": self.train_images,
            "test_images": self.test_images,
            "wall_time_s": self.wall_time_s,
            "search_time_s": self.search_time_s,
            "evaluation_time_s": self.evaluation_time_s,
            "pipeline_time_s": self.pipeline_time_s,
            "search_segments": [seg.to_dict() for seg in self.search_segments],
            "evaluation_hardware": list(self.evaluation_hardware),
        }
        if self.evaluation_compute_time_s is not None:
            out["evaluation_compute_time_s"] = self.evaluation_compute_time_s
        return out

    @classmethod
    def from_dict(cls, d: dict) -> Provenance:
        return cls(
            commit=d["commit"],
            hardware=d["hardware"],
            torch=d["torch"],
            python=d["python"],
            date=d["date"],
            data_source=d["data_source"],
            train_images=int(d["train_images"]),
            test_images=int(d["test_images"]),
            wall_time_s=float(d["wall_time_s"]),
            search_time_s=float(d["search_time_s"]),
            evaluation_time_s=float(d["evaluation_time_s"]),
            pipeline_time_s=float(d["pipeline_time_s"]),
            evaluation_compute_time_s=d.get("evaluation_compute_time_s"),
            search_segments=tuple(Segment.from_dict(seg) for seg in d.get("search_segments", [])),
            evaluation_hardware=tuple(d.get("evaluation_hardware") or ()),
        )


@dataclass(frozen=True)
class Architecture:
    """One derived architecture: its complexity vector ``s`` (in the order of ``ops``), the op of each
    of the 14 edges of the normal and the reduction cell, its op and op-group counts over both
    cells, its parameters (cell ops only, and the whole network) and its test accuracy (%) under each
    protocol it was measured with (:data:`hypernas.train.evaluate.PROTOCOLS`)."""

    s: tuple[float, ...]
    ops: tuple[str, ...]
    normal: tuple[str, ...]
    reduce: tuple[str, ...]
    op_counts: dict[str, int]
    group_counts: dict[str, int]
    cell_params: int
    total_params: int
    test_accuracy: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "s": list(self.s),
            "ops": list(self.ops),
            "normal": list(self.normal),
            "reduce": list(self.reduce),
            "op_counts": dict(self.op_counts),
            "group_counts": dict(self.group_counts),
            "cell_params": self.cell_params,
            "total_params": self.total_params,
            "test_accuracy": dict(self.test_accuracy),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Architecture:
        return cls(
            s=tuple(float(v) for v in d["s"]),
            ops=tuple(d["ops"]),
            normal=tuple(d["normal"]),
            reduce=tuple(d["reduce"]),
            op_counts=dict(d["op_counts"]),
            group_counts=dict(d["group_counts"]),
            cell_params=int(d["cell_params"]),
            total_params=int(d["total_params"]),
            test_accuracy={k: float(v) for k, v in d.get("test_accuracy", {}).items()},
        )


@dataclass(frozen=True)
class FamilyPoint:
    """The architecture the hypernetwork gives at one ``s`` of the family's grid: its genotype key,
    counts and parameters, and its inherited test accuracy (%) where it was measured."""

    s: tuple[float, ...]
    genotype: str
    op_counts: dict[str, int]
    group_counts: dict[str, int]
    cell_params: int
    total_params: int
    test_accuracy_inherited: float | None = None

    def to_dict(self) -> dict:
        out = {
            "s": list(self.s),
            "genotype": self.genotype,
            "op_counts": dict(self.op_counts),
            "group_counts": dict(self.group_counts),
            "cell_params": self.cell_params,
            "total_params": self.total_params,
        }
        if self.test_accuracy_inherited is not None:
            out["test_accuracy_inherited"] = self.test_accuracy_inherited
        return out

    @classmethod
    def from_dict(cls, d: dict) -> FamilyPoint:
        acc = d.get("test_accuracy_inherited")
        return cls(
            s=tuple(float(v) for v in d["s"]),
            genotype=d["genotype"],
            op_counts=dict(d["op_counts"]),
            group_counts=dict(d["group_counts"]),
            cell_params=int(d["cell_params"]),
            total_params=int(d["total_params"]),
            test_accuracy_inherited=None if acc is None else float(acc),
        )


@dataclass(frozen=True)
class Result:
    """What one experiment run gives: its name, profile and config (with the config's hash), its
    provenance, A-D by letter, the family's grid and the part of it whose accuracy was measured
    (both empty in a sweep record), the number of distinct genotypes of the grid and the per-epoch
    training curves (the search's metrics, one dict per epoch)."""

    experiment: str
    name: str
    profile: str
    config_hash: str
    config: SearchConfig
    provenance: Provenance
    architectures: dict[str, Architecture]
    curves: list[dict]
    family_grid: list[FamilyPoint] = field(default_factory=list)
    family_eval: list[FamilyPoint] = field(default_factory=list)
    n_unique_genotypes: int | None = None

    def accuracies(self, protocol: str = "inherited") -> dict[str, float]:
        """Test accuracy (%) of each architecture under ``protocol``, by letter."""
        return {name: a.test_accuracy[protocol] for name, a in self.architectures.items()}

    def sweep_record(self) -> Result:
        """The part of this result that a sweep keeps: everything but the family."""
        return Result(
            self.experiment,
            self.name,
            self.profile,
            self.config_hash,
            self.config,
            self.provenance,
            self.architectures,
            self.curves,
        )

    def to_dict(self) -> dict:
        out = {
            "schema": SCHEMA_VERSION,
            "experiment": self.experiment,
            "name": self.name,
            "profile": self.profile,
            "config_hash": self.config_hash,
            "config": self.config.to_dict(),
            "provenance": self.provenance.to_dict(),
            "architectures": {name: a.to_dict() for name, a in self.architectures.items()},
            "curves": self.curves,
        }
        if self.family_grid or self.family_eval:
            out["family_grid"] = [p.to_dict() for p in self.family_grid]
            out["family_eval"] = [p.to_dict() for p in self.family_eval]
            out["n_unique_genotypes"] = self.n_unique_genotypes
        return out

    @classmethod
    def from_dict(cls, d: dict, where: str = "a result") -> Result:
        """The result stored as ``d``; :class:`ArtefactError` for another schema or a missing field."""
        if d.get("schema") != SCHEMA_VERSION:
            raise ArtefactError(
                f"{where} has schema {d.get('schema', 1)}, not {SCHEMA_VERSION} (written by another "
                f"version of hypernas); {RESULT_FIX}"
            )
        try:
            return cls(
                experiment=d["experiment"],
                name=d["name"],
                profile=d["profile"],
                config_hash=d["config_hash"],
                config=SearchConfig.from_dict(d["config"]),
                provenance=Provenance.from_dict(d["provenance"]),
                architectures={n: Architecture.from_dict(a) for n, a in d["architectures"].items()},
                curves=list(d["curves"]),
                family_grid=[FamilyPoint.from_dict(p) for p in d.get("family_grid", [])],
                family_eval=[FamilyPoint.from_dict(p) for p in d.get("family_eval", [])],
                n_unique_genotypes=d.get("n_unique_genotypes"),
            )
        except ConfigError as exc:
            raise ArtefactError(f"{where}: {exc}; {RESULT_FIX}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtefactError(
                f"{where} is not a complete result (bad or missing {exc}); {RESULT_FIX}"
            ) from None


def read_result(path: str | Path) -> Result:
    """A stored result (:class:`~hypernas.errors.ArtefactError` if the file is not one)."""
    return Result.from_dict(read_record(path, "result", RESULT_FIX), str(path))


def write_result(path: str | Path, result: Result) -> None:
    """Write ``result`` to ``path`` whole (write, then rename)."""
    write_json(path, result.to_dict())


def read_if_present(path: str | Path) -> Result | None:
    """A stored result, or None when the file does not exist."""
    path = Path(path)
    return read_result(path) if path.is_file() else None


def read_record_if_present(path: str | Path, what: str = "result") -> dict | None:
    """A stored record that is not an experiment's result (the theorem check, the latency study, a
    baseline study) as a dict, or None when the file does not exist."""
    path = Path(path)
    return read_record(path, what, RESULT_FIX) if path.is_file() else None


def paper_result(results_dir: str | Path, experiment: str, setting: str) -> Result | None:
    """The finished paper-scale result of ``experiment`` under ``setting``, or None.

    A file made with another config than today's paper profile (an earlier run) is not returned.
    """
    result = read_if_present(Path(results_dir) / f"{result_name(experiment, setting)}.json")
    wanted = resolve(experiment, "paper", SETTINGS[setting]).hash()
    return result if result is not None and result.config_hash == wanted else None


def profile_results(results_dir: str | Path, experiments=("exp1", "exp2", "exp3")) -> dict[str, Result]:
    """The main results ``<experiment>.json`` present in ``results_dir``, by experiment."""
    found = {e: read_if_present(Path(results_dir) / f"{e}.json") for e in experiments}
    return {e: r for e, r in found.items() if r is not None}


def paper_results(
    results_dir: str | Path, experiments=("exp1", "exp2", "exp3")
) -> dict[str, dict[str, Result]]:
    """The finished paper-scale results (:func:`paper_result`), by setting, then by experiment."""
    return {
        setting: {e: r for e in experiments if (r := paper_result(results_dir, e, setting)) is not None}
        for setting in SETTINGS
    }
