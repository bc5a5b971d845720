"""Experiment pipeline with a results cache: search -> architectures A-D -> family -> JSON.

``run_experiment("exp1", "quick")`` returns the :class:`~hypernas.pipeline.results.Result` of
``results/quick/exp1.json`` when its
``config_hash`` matches the resolved config, and recomputes it otherwise (or with ``force=True``).
The search itself is cached too: its run directory ``runs/<profile>/<experiment>-<hash>`` is
reused when finished and resumed when interrupted. Checkpoints stay out of git; results are
small JSON files with provenance. Sweep runs (:func:`run_sweep`) are records of
``results/<profile>/sweeps/<experiment>.jsonl``, selected by their config.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from pathlib import Path

import torch
from tqdm import tqdm

from hypernas.errors import ConfigError
from hypernas.io import read_jsonl, read_record, write_json, write_text
from hypernas.method import simplex
from hypernas.pipeline.eval_cache import EvaluationCache
from hypernas.pipeline.results import (
    RESULT_FIX,
    Architecture,
    FamilyPoint,
    Provenance,
    Result,
    read_result,
    write_result,
)
from hypernas.provenance import hardware, provenance, utc_now
from hypernas.space.genotype import derive
from hypernas.space.network import describe
from hypernas.train import evaluate as ev
from hypernas.train.build import load_splits, torch_device
from hypernas.train.checkpoint import CHECKPOINT, PROGRESS, SUMMARY, RunState, Segment
from hypernas.train.config import SearchConfig
from hypernas.train.presets import paper_s, resolve
from hypernas.train.run import TrainedFamily, load_family
from hypernas.train.search import run_search
from hypernas.train.stopping import Interrupted

log = logging.getLogger(__name__)

GRID_DIVISIONS = {3: 20, 5: 6}  # 231 and 210 points on the simplex


def run_dir_for(cfg: SearchConfig, runs_dir: str | Path, name: str | None = None) -> Path:
    return Path(runs_dir) / cfg.profile / f"{name or cfg.experiment}-{cfg.hash()}"


def ensure_search(
    cfg: SearchConfig,
    runs_dir: str | Path = "runs",
    data_root=None,
    progress: bool = True,
    name: str | None = None,
    splits=None,
    stop: threading.Event | None = None,
    checkpoint_every_s: float = 600.0,
    device: torch.device | str | None = None,
) -> tuple[TrainedFamily, dict]:
    """The finished search of ``cfg``: reused, resumed, or run from scratch (see :func:`~hypernas.train.search.run_search` for
    ``stop``), loaded on ``device`` (None: cuda when available), where the search also runs."""
    device = torch_device(device)
    run_dir = run_dir_for(cfg, runs_dir, name)
    if (run_dir / SUMMARY).is_file():
        log.info("reusing the finished search in %s", run_dir)
        summary = read_record(run_dir / SUMMARY, "search summary", f"delete {run_dir} and search again")
    else:
        resume = (run_dir / CHECKPOINT).is_file()
        summary = run_search(
            cfg,
            run_dir,
            data_root,
            resume=resume,
            device=device,
            progress=progress,
            splits=splits,
            stop=stop,
            checkpoint_every_s=checkpoint_every_s,
        )
    return load_family(run_dir, device), summary


def family_grid(run: TrainedFamily, divisions: int | None = None) -> list[FamilyPoint]:
    """Genotype statistics at every point of a lattice on the simplex (no data needed)."""
    k = len(run.config.ops)
    pts = simplex.lattice(k, divisions or GRID_DIVISIONS.get(k, 4))
    rows, cache = [], {}
    for s in pts.tolist():
        g = derive(run.hypernet, s, run.config.ops)
        key = g.key()
        if key not in cache:
            cache[key] = describe(g, run.space, s)
        d = cache[key]
        rows.append(
            FamilyPoint(
                s=tuple(round(v, 6) for v in s),
                genotype=key,
                op_counts=d["op_counts"],
                group_counts=d["group_counts"],
                cell_params=d["cell_params"],
                total_params=d["total_params"],
            )
        )
    return rows


def _spread(items: list, n: int) -> list:
    """Up to n items evenly spaced through the (sorted) list."""
    if len(items) <= n:
        return items
    idx = torch.linspace(0, len(items) - 1, n).round().long().unique().tolist()
    return [items[i] for i in idx]


def run_experiment(
    experiment: str,
    profile: str = "quick",
    seed: int = 0,
    data_root=None,
    results_dir: str | Path | None = None,
    runs_dir: str | Path = "runs",
    overrides: dict | None = None,
    force: bool = False,
    progress: bool = True,
    family_eval_max: int | None = None,
    name: str | None = None,
    stop: threading.Event | None = None,
    checkpoint_every_s: float = 600.0,
    device: torch.device | str | None = None,
) -> Result:
    """Search + evaluation of ``experiment`` under ``profile``, cached by config hash.

    The search and every evaluation run on ``device`` (None: cuda when available, else cpu).

    ``name`` (default: the experiment) names the result file and run directory, for variants such as
    ``exp1-sampled`` with ``overrides={"path_sampling": "one"}``. When ``stop`` is set, the search
    stops after a checkpoint and the evaluation after its current measurement (each measurement is
    kept in the run's ``evaluations.json``), raising :class:`~hypernas.train.stopping.Interrupted`.
    """
    cfg = _resolve(experiment, profile, seed, overrides)
    results_dir = Path(results_dir or Path("results") / profile)
    name = name or experiment
    out = results_dir / f"{name}.json"
    if out.is_file() and not force:
        cached = read_result(out)
        if cached.config_hash == cfg.hash():
            log.info("reusing %s (config hash %s)", out, cfg.hash())
            return cached
    ledger = ledger_path(results_dir, name, cfg)
    result = _pipeline(
        cfg,
        name,
        data_root,
        runs_dir,
        force=force,
        progress=progress,
        family_eval_max=family_eval_max,
        stop=stop,
        checkpoint_every_s=checkpoint_every_s,
        device=device,
        ledger=ledger,
    )
    write_result(out, result)
    ledger.unlink(missing_ok=True)  # the result holds what it kept
    return result


def ledger_path(results_dir: str | Path, name: str, cfg: SearchConfig) -> Path:
    """Where the measurements of ``name`` under ``cfg`` are kept beside the results until its result
    is written (:class:`~hypernas.pipeline.eval_cache.EvaluationCache`)."""
    return Path(results_dir) / "measurements" / f"{name}-{cfg.hash()}.json"


def _resolve(experiment: str, profile: str, seed: int, overrides: dict | None) -> SearchConfig:
    overrides = dict(overrides or {})
    if "seed" in overrides and int(overrides.pop("seed")) != seed:
        raise ConfigError("give the seed once: as run_experiment(seed=...), not also in overrides")
    return resolve(experiment, profile, {**overrides, "seed": seed})


def _pipeline(
    cfg: SearchConfig,
    name: str,
    data_root,
    runs_dir: str | Path,
    force: bool,
    progress: bool,
    family_eval_max: int | None,
    stop: threading.Event | None,
    checkpoint_every_s: float,
    device: torch.device | str | None = None,
    ledger: Path | None = None,
) -> Result:
    """The search of ``cfg`` (cached in its run directory), A-D, the family and their accuracies
    (each measurement kept in the run directory and in ``ledger``)."""
    experiment, profile = cfg.experiment, cfg.profile
    tic = time.perf_counter()
    splits = load_splits(cfg, data_root)
    run, summary = ensure_search(
        cfg,
        runs_dir,
        data_root,
        progress,
        name=name,
        splits=splits,
        stop=stop,
        checkpoint_every_s=checkpoint_every_s,
        device=device,
    )
    search_time = summary["wall_time_s"]

    t_eval = time.perf_counter()
    run_dir = run_dir_for(cfg, runs_dir, name)
    cache = EvaluationCache(run_dir, fresh=force, ledger=ledger)
    device_used = next(run.supernet.parameters()).device
    n_measured = 0

    def measure(g, s, protocol: str) -> float:
        nonlocal n_measured
        if stop is not None and stop.is_set():
            raise Interrupted(f"stopped during the evaluation, after {n_measured} measurements (all kept)")
        key = cache.key(protocol, g.key(), s, cfg.retrain_epochs)
        n_measured += 1
        where = {
            "state": RunState.EVALUATING,
            "measurement": key,
            "cached": key in cache.entries,
            "measured": n_measured,
            "pid": os.getpid(),
        }
        write_json(run_dir / PROGRESS, {**where, "updated": utc_now()})
        partial = cache.partial_path(key) if protocol == "retrain" else None
        return cache.accuracy(
            key,
            lambda: ev.evaluate(
                run,
                g,
                s,
                protocol,
                splits,
                progress=progress,
                stop=stop,
                checkpoint=partial,
                checkpoint_every_s=checkpoint_every_s,
                report=lambda info: write_json(run_dir / PROGRESS, {**where, **info, "updated": utc_now()}),
            ),
            hardware(device_used),
            ev.retrain_history(partial),
        )

    archs = {}
    for arch, s in tqdm(
        list(paper_s(len(cfg.ops)).items()), desc=f"{experiment}: architectures A-D", disable=not progress
    ):
        g = derive(run.hypernet, s, cfg.ops)
        rec = describe(g, run.space, s)
        accuracy = {protocol: measure(g, s, protocol) for protocol in ev.PROTOCOLS}
        archs[arch] = Architecture.from_dict({**rec, "test_accuracy": accuracy})

    grid = family_grid(run)
    unique = {}
    for row in grid:
        unique.setdefault(row.genotype, row)
    n_eval = family_eval_max if family_eval_max is not None else (6 if profile == "smoke" else 24)
    chosen = _spread(sorted(unique.values(), key=lambda r: (r.cell_params, r.genotype)), n_eval)
    family = []
    for row in tqdm(chosen, desc=f"{experiment}: family accuracy", disable=not progress):
        g = derive(run.hypernet, row.s, cfg.ops)
        family.append(dataclasses.replace(row, test_accuracy_inherited=measure(g, row.s, "inherited")))
    eval_time = time.perf_counter() - t_eval
    eval_compute_time = cache.seconds_used()

    info = provenance(device_used)
    segments = summary["provenance"].get("segments", [])
    return Result(
        experiment=experiment,
        name=name,
        profile=profile,
        config_hash=cfg.hash(),
        config=cfg,
        provenance=Provenance(
            commit=info["commit"],
            hardware=info["hardware"],
            torch=info["torch"],
            python=info["python"],
            date=info["date"],
            data_source=splits.source,
            train_images=len(splits.train_y),
            test_images=len(splits.test_y),
            # an evaluation resumed from its cache took longer than this call: count each measurement once
            wall_time_s=round(search_time + max(eval_time, eval_compute_time), 1),
            search_time_s=round(search_time, 1),
            evaluation_time_s=round(eval_time, 1),
            pipeline_time_s=round(time.perf_counter() - tic, 1),
            evaluation_compute_time_s=eval_compute_time,
            search_segments=tuple(Segment.from_dict(seg) for seg in segments),
            evaluation_hardware=tuple(cache.hardware_used()),
        ),
        architectures=archs,
        curves=run.history,
        family_grid=grid,
        family_eval=family,
        n_unique_genotypes=len(unique),
    )


# ----------------------------------------------------------------------------- sweeps
# A sweep run (scripts/kappa_sweep.py: other kappa, Cost relaxations, seeds, settings) is kept as one
# line of results/<profile>/sweeps/<experiment>.jsonl: its result without the family
# (:meth:`Result.sweep_record`), which no sweep table reads.


def sweep_file(results_dir: str | Path, experiment: str) -> Path:
    return Path(results_dir) / "sweeps" / f"{experiment}.jsonl"


def read_sweep(path: str | Path) -> list[Result]:
    """The records of one sweep file (none when it does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    lines = read_jsonl(path, "sweep file", RESULT_FIX)
    return [Result.from_dict(d, f"{path}, line {i + 1},") for i, d in enumerate(lines)]


def write_sweep(path: str | Path, records: list[Result]) -> None:
    """Write sweep records, one line each, ordered by name (atomically)."""
    lines = [json.dumps(r.to_dict()) + "\n" for r in sorted(records, key=lambda r: r.name)]
    write_text(path, "".join(lines))


def run_sweep(
    experiment: str,
    name: str,
    profile: str = "quick",
    seed: int = 0,
    data_root=None,
    results_dir: str | Path | None = None,
    runs_dir: str | Path = "runs",
    overrides: dict | None = None,
    force: bool = False,
    progress: bool = True,
) -> Result:
    """One run of a sweep, cached as a record of ``<results_dir>/sweeps/<experiment>.jsonl``.

    The record of the resolved config's hash is returned when the file holds one; otherwise the same
    pipeline as :func:`run_experiment` runs (search in ``runs/<profile>/<name>-<hash>``) and its
    record replaces any earlier one of that config. ``name`` labels the run (``exp1-kappa0.3-seed1``).
    """
    cfg = _resolve(experiment, profile, seed, overrides)
    path = sweep_file(results_dir or Path("results") / profile, experiment)
    records = read_sweep(path)
    if not force:
        for record in records:
            if record.config_hash == cfg.hash():
                log.info("reusing %s of %s (config hash %s)", record.name, path, cfg.hash())
                return record
    record = _pipeline(cfg, name, data_root, runs_dir, force, progress, None, None, 600.0).sweep_record()
    write_sweep(path, [r for r in read_sweep(path) if r.config_hash != cfg.hash()] + [record])
    return record


def sweep_results(results_dir: str | Path, experiment: str, where: dict | None = None) -> list[Result]:
    """The sweep records of ``experiment`` in ``results_dir`` (ordered by name), those whose config
    holds every ``key: value`` of ``where`` when given (``where={"kappa": 0.3, "seed": 0}``)."""
    records = read_sweep(sweep_file(results_dir, experiment))
    return [r for r in records if all(getattr(r.config, k) == v for k, v in (where or {}).items())]
