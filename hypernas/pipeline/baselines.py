"""The baseline study: is the family of one search better than the obvious alternatives of its space?

For one main search (an experiment at a profile, setting and seed) the study gathers five groups of
architectures and scores each one the same way:

* ``paper``: A-D, read off the family at the paper's four s;
* ``family``: further members of the family, spread over its range of cell parameters;
* ``random``: architectures drawn at random from the same space, op counts first
  (:mod:`hypernas.space.sample`), so that they span the family's size range;
* ``matched``: for each of A-D, its op counts in each cell placed at random within that cell
  (stride-2 edges of the reduction cell among themselves), so of exactly the same size;
* ``separate``: for each of A-D, one ordinary search at that s, fixed, with plain learned logits and
  no hypernetwork (``fixed_s``), everything else as the main search, derived by argmax.

Every architecture gets the accuracy of the discrete network with the main search's inherited
weights and of the network retrained from scratch with the profile's one retraining protocol, each
on the validation split (to pick fronts) and on the test split (to report them). The searches run in
``runs/<profile>/``, the measurements are kept in the study's own run directory as soon as they
exist, so an interrupted study resumes; the result is ``results/<profile>/<name>.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from tqdm import tqdm

from hypernas.errors import ConfigError
from hypernas.io import read_record, write_json
from hypernas.pipeline.eval_cache import FILENAME, EvaluationCache
from hypernas.pipeline.experiment import (
    _resolve,
    _spread,
    ensure_search,
    family_grid,
    ledger_path,
    run_dir_for,
)
from hypernas.pipeline.results import RESULT_FIX
from hypernas.provenance import hardware, provenance, utc_now
from hypernas.space.genotype import Genotype, derive
from hypernas.space.network import describe
from hypernas.space.sample import random_genotypes, shuffled_within_cells
from hypernas.train import evaluate as ev
from hypernas.train.build import load_splits, torch_device
from hypernas.train.checkpoint import PROGRESS, RunState
from hypernas.train.config import SearchConfig
from hypernas.train.presets import paper_s
from hypernas.train.run import TrainedFamily
from hypernas.train.stopping import Interrupted

log = logging.getLogger(__name__)

GROUPS = ("paper", "family", "random", "matched", "separate")
# How many random architectures and further family members each profile's study scores.
# smoke: the whole study in a few minutes of CI (matched and separate for A and B only).
STUDY_SIZES = {"smoke": dict(n_random=2, front_size=1, baseline_archs=("A", "B")), "quick": {}, "paper": {}}


@dataclass(frozen=True)
class StudyConfig:
    """What determines a baseline study beyond its main search (whose config hash it holds)."""

    main_hash: str
    n_random: int = 16  # random architectures (op counts uniform over splits, then placed)
    front_size: int = 6  # family members beside A-D, spread over the family's cell parameters
    sample_seed: int = 0  # the generator of the random and the matched architectures
    sampler: str = "split"
    # the paper's architectures that get a matched random twin and a separate search
    baseline_archs: tuple[str, ...] = ("A", "B", "C", "D")

    def to_dict(self) -> dict:
        return {**asdict(self), "baseline_archs": list(self.baseline_archs)}

    def hash(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def study_config(cfg: SearchConfig, sizes: dict | None = None) -> StudyConfig:
    """The study of the main search ``cfg`` at its profile's sizes (``sizes`` overrides them:
    ``{"n_random": 4, "front_size": 2}``)."""
    return StudyConfig(main_hash=cfg.hash(), **{**STUDY_SIZES.get(cfg.profile, {}), **(sizes or {})})


def separate_config(cfg: SearchConfig, s) -> SearchConfig:
    """The separate search at ``s``: the main search's config with ``fixed_s`` (plain logits, no hypernetwork)."""
    return replace(cfg, fixed_s=tuple(float(v) for v in s)).validate()


def search_compute(summary: dict) -> dict:
    """Wall time, CPU time, images and machines of a finished search, from its segments."""
    segments = summary["provenance"].get("segments", [])
    return {
        "wall_time_s": round(summary["wall_time_s"], 1),
        "cpu_seconds": round(sum(seg.get("cpu_seconds", 0.0) for seg in segments), 1),
        "images": int(sum(seg.get("images", 0) for seg in segments)),
        "hardware": list(dict.fromkeys(seg.get("hardware", "?") for seg in segments)),
        "epochs": summary["epochs_done"],
    }


def _entry(group: str, label: str, genotype: Genotype, family: TrainedFamily, s=None) -> dict:
    rec = describe(genotype, family.space, s if s is not None else [])
    rec["s"] = [round(float(v), 6) for v in s] if s is not None else None
    return {"group": group, "label": label, "genotype": genotype.key(), **rec}


def choose_architectures(
    main: TrainedFamily, separate: dict[str, Genotype], study: StudyConfig
) -> list[dict]:
    """The study's architectures, group by group (records of :func:`~hypernas.space.network.describe`)."""
    cfg = main.config
    k, n_edges = len(cfg.ops), main.space.n_edges
    entries = []
    paper = {name: derive(main.hypernet, s, cfg.ops) for name, s in paper_s(k).items()}
    for name, s in paper_s(k).items():
        entries.append(_entry("paper", name, paper[name], main, s))
    taken = {g.key() for g in paper.values()}
    unique = {}
    for row in family_grid(main):
        if row.genotype not in taken:
            unique.setdefault(row.genotype, row)
    members = _spread(sorted(unique.values(), key=lambda r: (r.cell_params, r.genotype)), study.front_size)
    for i, row in enumerate(members, 1):
        g = derive(main.hypernet, row.s, cfg.ops)
        entries.append(_entry("family", f"F{i}", g, main, list(row.s)))
    for i, g in enumerate(
        random_genotypes(cfg.ops, n_edges, study.n_random, study.sample_seed, study.sampler), 1
    ):
        entries.append(_entry("random", f"R{i}", g, main))
    gen = torch.Generator().manual_seed(study.sample_seed + 1)
    for name in study.baseline_archs:
        twin = shuffled_within_cells(paper[name], gen, main.space.nodes)
        entries.append(_entry("matched", f"{name}~", twin, main))
    for name, g in separate.items():
        entries.append(_entry("separate", f"{name}*", g, main, paper_s(k)[name]))
    return entries


def run_baseline_study(
    experiment: str,
    profile: str = "quick",
    seed: int = 0,
    overrides: dict | None = None,
    name: str | None = None,
    main_name: str | None = None,
    data_root=None,
    results_dir: str | Path | None = None,
    runs_dir: str | Path = "runs",
    force: bool = False,
    progress: bool = True,
    stop: threading.Event | None = None,
    checkpoint_every_s: float = 600.0,
    device: torch.device | str | None = None,
    sizes: dict | None = None,
    part: tuple[int, int] | None = None,
) -> dict:
    """The baseline study of ``experiment`` at ``profile`` (cached by the study's hash), as a result dict.

    ``main_name`` names the main search's run directory (default: the experiment, as
    :func:`~hypernas.pipeline.experiment.run_experiment` names it), so the study reuses that search;
    ``name`` (default ``<main_name>-baselines``) names the result file and the study's run directory.
    When ``stop`` is set the study stops after a checkpoint or a measurement (all kept) with
    :class:`~hypernas.train.stopping.Interrupted`. ``sizes`` overrides the profile's study sizes
    (:func:`study_config`). The study's run directory is named by the main search's hash, so a study
    of other sizes reuses every measurement already made.

    ``part=(k, n)`` makes only part k (1-based) of n of the measurements (:func:`in_part`), kept in
    the study's run directory beside the other parts', and returns :func:`part_record` instead of a
    result; n processes or cluster jobs run the n parts at once, and the whole study, run after
    them, finds every measurement made and writes the result.
    """
    cfg = _resolve(experiment, profile, seed, overrides)
    study = study_config(cfg, sizes)
    main_name = main_name or experiment
    name = name or f"{main_name}-baselines"
    results_dir = Path(results_dir or Path("results") / profile)
    out = results_dir / f"{name}.json"
    if part is not None and not 1 <= part[0] <= part[1]:
        raise ConfigError(f"part {part[0]} of {part[1]}: a study's part k of n needs 1 <= k <= n")
    if out.is_file() and not force:
        cached = read_record(out, "baseline study", RESULT_FIX)
        if cached.get("config_hash") == study.hash():
            log.info("reusing %s (study hash %s)", out, study.hash())
            if part is not None:  # the whole study is done: the part has nothing left to make
                return {"part": list(part), "measurements": [], "evaluation_time_s": 0.0, "ended": utc_now()}
            return cached
    device = torch_device(device)
    home = Path(runs_dir) / profile / f"{name}-{cfg.hash()}"
    home.mkdir(parents=True, exist_ok=True)
    suffix = f"-part{part[0]}of{part[1]}" if part is not None else ""
    progress_file = home / f"{Path(PROGRESS).stem}{suffix}.json"
    tic = time.perf_counter()
    splits = load_splits(cfg, data_root)

    def searched(scfg: SearchConfig, run_name: str, phase: str):
        write_json(
            progress_file,
            {
                "state": phase,
                "run": str(run_dir_for(scfg, runs_dir, run_name)),
                "pid": os.getpid(),
                "updated": utc_now(),
            },
        )
        return ensure_search(
            scfg,
            runs_dir,
            data_root,
            progress,
            name=run_name,
            splits=splits,
            stop=stop,
            checkpoint_every_s=checkpoint_every_s,
            device=device,
        )

    main, main_summary = searched(cfg, main_name, RunState.SEARCHING)
    separate, compute = {}, {"hypernetwork": search_compute(main_summary), "separate": {}}
    for label in study.baseline_archs:
        s = paper_s(len(cfg.ops))[label]
        run, summary = searched(separate_config(cfg, s), f"{main_name}-separate{label}", RunState.SEARCHING)
        separate[label] = derive(run.hypernet, s, cfg.ops)
        compute["separate"][label] = search_compute(summary)
    sep = compute["separate"].values()
    compute["separate_total"] = {
        key: round(sum(c[key] for c in sep), 1) for key in ("wall_time_s", "cpu_seconds", "images")
    }
    compute["ratio"] = {
        key: round(compute["separate_total"][key] / compute["hypernetwork"][key], 3)
        for key in ("wall_time_s", "cpu_seconds", "images")
        if compute["hypernetwork"][key] > 0
    }

    entries = choose_architectures(main, separate, study)
    own = (ledger_path(results_dir, name + suffix, cfg), home / f"{Path(FILENAME).stem}{suffix}.json")
    others = [path for path in _part_files(home, results_dir, name, cfg) if path not in own]
    cache = EvaluationCache(home, fresh=force, ledger=own[0], filename=own[1].name, sources=others)
    mine = in_part(entries, cfg.retrain_epochs, part)
    t_eval = time.perf_counter()
    n_measured = 0
    for entry in tqdm(entries, desc=f"{name}{suffix}: architectures", disable=not progress):
        g = Genotype(tuple(entry["ops"]), tuple(entry["normal"]), tuple(entry["reduce"]))
        scores = {}
        for protocol in ("inherited", "retrain"):
            if stop is not None and stop.is_set():
                raise Interrupted(
                    f"stopped during the baseline study, after {n_measured} measurements (all kept)"
                )
            key = cache.key(protocol, g.key(), [], cfg.retrain_epochs)
            if key not in mine:
                continue
            n_measured += 1
            where = {
                "state": RunState.EVALUATING,
                "measurement": key,
                "measured": n_measured,
                "pid": os.getpid(),
            }
            write_json(progress_file, {**where, "updated": utc_now()})
            partial = cache.partial_path(key)
            scores[protocol] = cache.scores(
                key,
                lambda g=g, protocol=protocol, where=where, partial=partial: ev.split_scores(
                    main,
                    g,
                    protocol,
                    splits,
                    progress=progress,
                    stop=stop,
                    checkpoint=partial,
                    checkpoint_every_s=checkpoint_every_s,
                    report=lambda info: write_json(progress_file, {**where, **info, "updated": utc_now()}),
                ),
                hardware(device),
                ev.retrain_history(partial if protocol == "retrain" else None),
            )
        entry["accuracy"] = scores
    write_json(progress_file, {"state": RunState.DONE, "updated": utc_now()})
    eval_time = max(time.perf_counter() - t_eval, cache.seconds_used())
    if part is not None:
        record = part_record(part, cache, eval_time)
        write_json(home / f"measured{suffix}.json", record)
        return record
    result = {
        "experiment": experiment,
        "name": name,
        "profile": profile,
        "config_hash": study.hash(),
        "study": study.to_dict(),
        "main_name": main_name,
        "config": cfg.to_dict(),
        "provenance": {
            **provenance(device),
            "evaluation_hardware": cache.hardware_used(),
            "data_source": splits.source,
            "evaluation_time_s": round(eval_time, 1),
            "wall_time_s": round(
                compute["hypernetwork"]["wall_time_s"] + compute["separate_total"]["wall_time_s"] + eval_time,
                1,
            ),
            "pipeline_time_s": round(time.perf_counter() - tic, 1),
            "train_images": len(splits.train_y),
            "val_images": len(splits.val_y),
            "test_images": len(splits.test_y),
        },
        "retrain_protocol": {
            "epochs": cfg.retrain_epochs,
            "images": cfg.retrain_epochs * (len(splits.train_y) // cfg.batch_size) * cfg.batch_size,
            "batch_size": cfg.batch_size,
            "optimizer": f"Adam, lr {cfg.lr_weights:g}, cosine schedule, gradient clip {cfg.grad_clip:g}",
            "augment": cfg.augment,
            "seed": cfg.seed,
        },
        "compute": compute,
        "architectures": entries,
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    write_json(out, result)
    for ledger in [cache.ledger, *_part_files(home, results_dir, name, cfg, ledgers_only=True)]:
        ledger.unlink(missing_ok=True)  # the result holds what they kept
    return result


def in_part(entries: list[dict], retrain_epochs: int, part: tuple[int, int] | None) -> set[str]:
    """The measurement keys of ``entries`` that part ``(k, n)`` makes (all of them for ``None``).

    Each protocol's distinct keys, in the order of the entries, are dealt round-robin to the n
    parts, so the parts share the retrainings (the long measurements) evenly, and a genotype met
    twice is measured once, by one part."""
    keys = {}
    for protocol in ("inherited", "retrain"):
        distinct = dict.fromkeys(
            EvaluationCache.key(protocol, e["genotype"], [], retrain_epochs) for e in entries
        )
        keys.update({key: i for i, key in enumerate(distinct)})
    if part is None:
        return set(keys)
    k, n = part
    return {key for key, i in keys.items() if i % n == k - 1}


def part_record(part: tuple[int, int], cache: EvaluationCache, eval_time: float) -> dict:
    """What part k of n of a study made: its measurements, their compute, when it ended."""
    return {
        "part": list(part),
        "measurements": sorted(cache.used),
        "evaluation_time_s": round(eval_time, 1),
        "ended": utc_now(),
    }


def _part_files(
    home: Path, results_dir: Path, name: str, cfg: SearchConfig, ledgers_only: bool = False
) -> list[Path]:
    """The evaluation files and ledgers of every part of the study (and of the whole), oldest
    first: what each part and the whole study read before measuring."""
    ledgers = sorted((Path(results_dir) / "measurements").glob(f"{name}-part*of*-{cfg.hash()}.json"))
    if ledgers_only:
        return ledgers
    whole = [ledger_path(results_dir, name, cfg), home / FILENAME]
    return [*ledgers, *sorted(home.glob(f"{Path(FILENAME).stem}-part*of*.json")), *whole]
