"""The latency chapter's pipeline: this machine's lookup table, its prediction of whole networks of
the experiment-1 family, and architectures chosen for three latency budgets, cached in
``results/<profile>/latency.json``.

Measurements are reused only on the same machine, thread count, torch, repetitions and trained
family (the ``cache_key`` stored with them); ``force=True`` measures again.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from hypernas.book.experiment import ensure_search
from hypernas.book.runs import RESULT_FIX
from hypernas.device import latency
from hypernas.device.select import select_for_budget, validate_predictions
from hypernas.io import read_record, write_json
from hypernas.provenance import provenance
from hypernas.train.build import load_splits
from hypernas.train.config import resolve

MARGIN = 0.05  # the safety margin of a budget
BUDGET_FRACTIONS = (0.25, 0.5, 0.75)  # of the way from the fastest to the slowest genotype
_BUDGET_KEYS = (
    "budget_ms",
    "s",
    "family_counts",
    "cell_params",
    "predicted_ms",
    "measured_ms",
    "measured_iqr_ms",
    "within_budget",
    "val_accuracy",
)


def budgets_for(points: list[dict], margin: float = MARGIN) -> list[float]:
    """A quarter, half and three quarters of the way between the fastest and slowest predicted
    genotype of the family, widened by ``margin`` and rounded up to the microsecond."""
    family = [p["predicted_ms"] for p in points if p["source"] == "family"]
    lo, hi = min(family), max(family)
    return [math.ceil(1000 * (lo + f * (hi - lo)) / (1 - margin)) / 1000 for f in BUDGET_FRACTIONS]


def run_latency_study(
    profile: str = "quick",
    seed: int = 0,
    data_root=None,
    results_dir: str | Path | None = None,
    runs_dir: str | Path = "runs",
    threads: int = 1,
    reps: int = 30,
    force: bool = False,
) -> dict:
    """The dict of ``latency.json``: ``lut`` (the calibrated table), ``s_device``, the validation of
    its predictions (``n_genotypes``, ``spearman``, ``median_ape``, ``points``, ``grid``) and
    ``budgets`` (the architecture chosen and measured for each). Sets torch to ``threads`` threads,
    the count the table is measured with."""
    torch.set_num_threads(threads)
    cfg = resolve("exp1", profile, {"seed": str(seed)})
    space = cfg.space()
    n_min = {"smoke": 8}.get(profile, 30)
    cache_file = Path(results_dir or Path("results") / profile) / "latency.json"
    cache_key = {
        "hardware": provenance("cpu")["hardware"],
        "torch": torch.__version__,
        "threads": threads,
        "reps": reps,
        "family_config_hash": cfg.hash(),
    }
    cached = read_record(cache_file, "result", RESULT_FIX) if cache_file.is_file() and not force else None
    if cached is not None and cached.get("cache_key") != cache_key:
        cached = None
    lut = (
        cached["lut"]
        if cached
        else latency.profile(space, cfg.dataset, "cpu", threads=threads, batch=1, reps=reps)
    )
    s_dev = latency.s_device(lut, space, cfg.dataset)

    run = None if cached else ensure_search(cfg, runs_dir, data_root, progress=False)[0]  # the trained family
    if cached:
        val = {
            k: cached[k] for k in ("n_genotypes", "n_from_family", "spearman", "median_ape", "points", "grid")
        }
    else:
        val = validate_predictions(run, lut, min_genotypes=n_min, reps=reps, seed=seed)
    result = {
        "profile": profile,
        "cache_key": cache_key,
        "n_genotypes": val["n_genotypes"],
        "n_from_family": val["n_from_family"],
        "spearman": val["spearman"],
        "median_ape": val["median_ape"],
        "grid": val["grid"],
        "points": val["points"],
        "s_device": s_dev,
        "lut": lut,
        "provenance": cached["provenance"]
        if cached
        else {**provenance("cpu"), **lut["provenance"], "data_source": run.data_source},
    }

    budgets = budgets_for(val["points"])
    if cached and [w["budget_ms"] for w in cached["budgets"]] == budgets:
        walk = cached["budgets"]
    else:
        run = run or ensure_search(cfg, runs_dir, data_root, progress=False)[0]
        splits = load_splits(cfg, data_root)
        walk = [
            select_for_budget(
                run,
                lut,
                b,
                splits,
                grid=val["grid"],
                max_eval={"smoke": 2}.get(profile, 8),
                reps=reps,
                margin=MARGIN,
            )
            for b in budgets
        ]
    result["budgets"] = [{k: w[k] for k in _BUDGET_KEYS} for w in walk]
    write_json(cache_file, result)
    return result
