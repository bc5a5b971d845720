"""The latency chapter's pipeline, cached in ``results/<profile>/latency.json``.

For each target runtime (PyTorch eager, ONNX Runtime) the whole study is repeated ``repetitions``
times, each time in a fresh process: a lookup table (LUT) of this machine, its calibration on
whole networks, the validation of its predictions on at least 30 genotypes of the experiment-1
family (with a second, independent measurement of the same networks: the noise floor), and the
architectures chosen for three latency budgets, each measured. Every measurement of a repetition
is in the time base of its table (scaled by a reference network to the reference's latency when
the table was made), and each repetition sets its budgets at the same places in the family's
predicted range. The chapter reports the median of the repetitions and every repetition's figures.

Measurements are reused only on the same machine, thread count, torch, protocol and trained family
(the ``cache_key`` stored with them); ``force=True`` measures again.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from hypernas.device import latency
from hypernas.device.runtime import RUNTIMES, runtime_version
from hypernas.device.select import select_for_budget
from hypernas.device.timing import Protocol
from hypernas.errors import BudgetError
from hypernas.io import read_record, write_json
from hypernas.pipeline.experiment import ensure_search
from hypernas.pipeline.latency_validation import validate_predictions
from hypernas.pipeline.results import RESULT_FIX
from hypernas.provenance import provenance
from hypernas.train.build import load_splits
from hypernas.train.presets import resolve

MARGIN = 0.05  # the safety margin of a budget
BUDGET_FRACTIONS = (0.25, 0.5, 0.75)  # of the way from the fastest to the slowest genotype
REPETITIONS = 3
SMOKE_REPETITIONS = 2  # the smoke profile checks the code path, not the machine
PROTOCOL = Protocol(rounds=5, warmup=5, reps=20)
LIGHT_PROTOCOL = Protocol(rounds=2, warmup=2, reps=5)  # the smoke profile: checks the code, not the machine


def protocol_for(profile: str) -> Protocol:
    return LIGHT_PROTOCOL if profile == "smoke" else PROTOCOL


_BUDGET_KEYS = (
    "budget_ms",
    "s",
    "group_counts",
    "cell_params",
    "predicted_ms",
    "measured_ms",
    "measured_raw_ms",
    "measured_iqr_ms",
    "within_budget",
    "val_accuracy",
    "n_evaluated",
    "n_measured_within",
    "n_passes",
    "slowdown",
)
_FIGURES = ("spearman", "median_ape", "retest_spearman", "retest_median_rel_diff")


def budgets_for(points: list[dict], margin: float = MARGIN) -> list[float]:
    """A quarter, half and three quarters of the way between the fastest and slowest predicted
    genotype of the family, widened by ``margin`` and rounded up to the microsecond."""
    family = [p["predicted_ms"] for p in points if p["source"] == "family"]
    lo, hi = min(family), max(family)
    return [math.ceil(1000 * (lo + f * (hi - lo)) / (1 - margin)) / 1000 for f in BUDGET_FRACTIONS]


def pin_to_cpus(threads: int) -> list[int] | None:
    """Pin this process to its first ``threads`` allowed CPUs where the OS allows; the CPUs, or None."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))[:threads]
    try:
        os.sched_setaffinity(0, cpus)
    except OSError:
        return None
    return cpus


def run_repetition(
    profile: str,
    runtime: str,
    repetition: int,
    budgets: list[float] | None = None,
    seed: int = 0,
    data_root=None,
    runs_dir: str | Path = "runs",
    threads: int = 1,
    protocol: Protocol | None = None,
) -> dict:
    """One whole study in this process: LUT, calibration, validation with its retest, budgets.

    ``budgets`` None derives them from this repetition's predictions (:func:`budgets_for`).
    """
    tic = time.perf_counter()
    torch.set_num_threads(threads)
    cpus = pin_to_cpus(threads)
    cfg = resolve("exp1", profile, {"seed": str(seed)})
    space = cfg.space()
    run = ensure_search(cfg, runs_dir, data_root, progress=False, device="cpu")[0]  # CPU latency
    protocol = protocol or protocol_for(profile)
    protocol = replace(protocol, seed=protocol.seed + 100 * repetition)
    lut = latency.measure_lut(
        space, cfg.dataset, "cpu", threads=threads, batch=1, protocol=protocol, runtime=runtime
    )
    smoke = profile == "smoke"  # checks the code path in minutes, not the machine
    val = validate_predictions(run, lut, min_genotypes=8 if smoke else 30, grid=4 if smoke else 20, seed=seed)
    budgets = budgets or budgets_for(val["points"])
    splits = load_splits(cfg, data_root)
    chosen = []
    for budget in budgets:
        try:
            record = select_for_budget(
                run,
                lut,
                budget,
                splits,
                grid=val["grid"],
                max_eval=2 if smoke else 8,
                margin=MARGIN,
            )
            chosen.append({k: record[k] for k in _BUDGET_KEYS})
        except BudgetError as exc:  # nothing measured (or predicted) within it: reported, not hidden
            chosen.append(
                {"budget_ms": budget, "within_budget": False, "measured_ms": None, "error": str(exc)}
            )
    return {
        "repetition": repetition,
        "runtime": runtime,
        "cpus": cpus,
        **{k: val[k] for k in ("n_genotypes", "n_from_family", "grid", *_FIGURES, "points")},
        "calibration_median_ape": lut["calibration"]["median_ape"],
        "reference_ms": lut["reference_ms"],
        "retest_raw_median_rel_diff": val.get("retest_raw_median_rel_diff"),
        "s_device": latency.s_device(lut, space, cfg.dataset),
        "budgets": chosen,
        "lut": lut,
        "data_source": run.data_source,
        "wall_time_s": round(time.perf_counter() - tic, 1),
    }


def _in_fresh_process(args: list[str]) -> dict:
    """:func:`run_repetition` in a new Python process (``python -m hypernas.pipeline.latency_repetition``)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "repetition.json"
        subprocess.run(
            [sys.executable, "-m", "hypernas.pipeline.latency_repetition", *args, "--out", str(out)],
            check=True,
        )
        return read_record(out, "latency repetition", "run the study again")


def summarise(repetitions: list[dict]) -> dict:
    """One runtime's figures: medians over repetitions, each repetition's, and the budgets' verdicts."""
    first = repetitions[0]
    budgets = []
    for i, fraction in enumerate(BUDGET_FRACTIONS[: len(first["budgets"])]):
        per = [rep["budgets"][i] for rep in repetitions]
        budgets.append(
            {
                "fraction": fraction,
                "budget_ms": [b["budget_ms"] for b in per],
                "measured_ms": [b["measured_ms"] for b in per],
                "measured_raw_ms": [b.get("measured_raw_ms") for b in per],
                "within_budget": [b["within_budget"] for b in per],
                "group_counts": [b.get("group_counts") for b in per],
                "val_accuracy": [b.get("val_accuracy") for b in per],
                "all_within": all(b["within_budget"] for b in per),
            }
        )
    ops = first["lut"]["space"]["ops"]
    return {
        "n_genotypes": first["n_genotypes"],
        **{k: statistics.median(rep[k] for rep in repetitions) for k in _FIGURES},
        "s_device": [statistics.median(rep["s_device"][i] for rep in repetitions) for i in range(len(ops))],
        "ops": ops,
        "budgets": budgets,
        "repetitions": [
            {
                k: rep[k]
                for k in (
                    "repetition",
                    "cpus",
                    "calibration_median_ape",
                    "reference_ms",
                    "retest_raw_median_rel_diff",
                    "s_device",
                    "wall_time_s",
                    *_FIGURES,
                )
            }
            for rep in repetitions
        ],
        "points": first["points"],
        "lut": first["lut"],
        "runtime_version": runtime_version(first["runtime"]),
    }


def run_latency_study(
    profile: str = "quick",
    seed: int = 0,
    data_root=None,
    results_dir: str | Path | None = None,
    runs_dir: str | Path = "runs",
    threads: int = 1,
    runtimes: tuple[str, ...] = RUNTIMES,
    repetitions: int | None = None,
    force: bool = False,
) -> dict:
    """The dict of ``latency.json``: per runtime (``runtimes[name]``) the median figures over
    ``repetitions`` fresh-process studies (default three, two for the smoke profile; ``spearman``, ``median_ape``, the noise floor
    ``retest_spearman`` / ``retest_median_rel_diff``, ``s_device``), each repetition's figures, and
    the three budgets with the architecture each repetition chose and measured."""
    repetitions = repetitions or (SMOKE_REPETITIONS if profile == "smoke" else REPETITIONS)
    cfg = resolve("exp1", profile, {"seed": str(seed)})
    cache_file = Path(results_dir or Path("results") / profile) / "latency.json"
    cache_key = {
        "hardware": provenance("cpu")["hardware"],
        "torch": torch.__version__,
        "threads": threads,
        "protocol": protocol_for(profile).to_dict(),
        "repetitions": repetitions,
        "family_config_hash": cfg.hash(),
    }
    cached = read_record(cache_file, "result", RESULT_FIX) if cache_file.is_file() and not force else None
    if (
        cached is not None
        and cached.get("cache_key") == cache_key
        and set(runtimes) <= set(cached["runtimes"])
    ):
        return cached
    ensure_search(cfg, runs_dir, data_root, progress=False, device="cpu")  # the family, before any timing
    tic = time.perf_counter()
    common = [
        "--profile",
        profile,
        "--seed",
        str(seed),
        "--runs-dir",
        str(runs_dir),
        "--threads",
        str(threads),
    ]
    if data_root:
        common += ["--data-root", str(data_root)]
    studied = {}
    for runtime in runtimes:
        reps = [
            _in_fresh_process([*common, "--runtime", runtime, "--repetition", str(i)])
            for i in range(repetitions)
        ]
        studied[runtime] = summarise(reps)
    result = {
        "profile": profile,
        "cache_key": cache_key,
        "runtimes": studied,
        "wall_time_s": round(time.perf_counter() - tic, 1),
        "provenance": {**provenance("cpu"), "threads": threads, "protocol": protocol_for(profile).to_dict()},
    }
    write_json(cache_file, result)
    return result
