"""A-D and the paper's claims across the seeds of one experiment: the seed table, in how many seeds
each claim holds, and the finished seeds the campaign has written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hypernas.pipeline.items import QueueItem
from hypernas.pipeline.results import Result, read_if_present
from hypernas.report import compare
from hypernas.report.claims import c_gap_within_chance
from hypernas.report.headline import HEADLINE_CLAIMS, headline_flags, seed_count_text
from hypernas.report.provenance import best_accuracy


def seeds_text(results: list[Result]) -> str:
    """The seeds of ``results`` in words: "seed 0", "seeds 0, 1 and 2", "no seed"."""
    seeds = [str(r.config.seed) for r in results]
    if not seeds:
        return "no seed"
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    return f"seeds {', '.join(seeds[:-1])} and {seeds[-1]}"


def seed_table(results: list[Result], protocols: tuple[str, ...] = ("retrain", "inherited")) -> pd.DataFrame:
    """A-D's test accuracy under each of ``protocols`` in each seed, and mean ± sd over the seeds."""
    seeds = [r.config.seed for r in results]
    rows = []
    for protocol in protocols:
        for name, row in compare.seed_summary(results, protocol).items():
            rec = {"arch": name, "scored": SCORE_LABELS.get(protocol, protocol)}
            rec.update({f"seed {s}": round(v, 2) for s, v in zip(seeds, row["values"])})
            rec["mean ± sd"] = (
                f"{row['mean']:.2f} ± {row['sd']:.2f}" if len(seeds) > 1 else f"{row['mean']:.2f}"
            )
            rows.append(rec)
    return pd.DataFrame(rows)


SCORE_LABELS = {"retrain": "retrained", "inherited": "inherited", "relaxed": "relaxed"}


def seed_flags(seed_results: list[Result]) -> dict[str, list[bool]]:
    """For each headline claim (:data:`~hypernas.report.headline.HEADLINE_CLAIMS`), whether it holds in each seed."""
    flags = [headline_flags({"run": r}) for r in seed_results]
    return {key: [f[key]["run"] for f in flags] for key in HEADLINE_CLAIMS}


def seed_verdict_text(seed_results: list[Result]) -> str:
    """In how many seeds each of the paper's claims holds ("yes in 2 of 3 seeds"), and which of A-D
    is the most accurate in each seed under each protocol measured (where C's lead or lag with
    inherited weights is within chance, those seeds are named)."""
    n = len(seed_results)
    parts = [
        f"{HEADLINE_CLAIMS[key]}: {seed_count_text(held)}" for key, held in seed_flags(seed_results).items()
    ]
    best = []
    for protocol in ("inherited", "retrain", "relaxed"):
        if all(protocol in a.test_accuracy for r in seed_results for a in r.architectures.values()):
            letters = ", ".join(best_accuracy(r, protocol)[0] for r in seed_results)
            best.append(f"{SCORE_LABELS[protocol]} {letters}")
    chance = [str(r.config.seed) for r in seed_results if c_gap_within_chance(r)]
    text = f"**Across {n} seeds.** " + " ".join(f"{part}." for part in parts)
    if best:
        text += f" The most accurate of A-D, seed by seed: {'; '.join(best)}."
    if chance:
        seeds = f"seed{'s' if len(chance) > 1 else ''} {', '.join(chance)}"
        text += f" With inherited weights, C and its closest rival differ by less than chance in {seeds}."
    return text


def campaign_seeds(
    results_dir, profile: str, experiment: str, setting: str, max_seed: int = 9
) -> list[Result]:
    """The finished results of ``experiment`` under ``setting`` at each seed (seed 0 first), made
    with today's config, named as the campaign's queue items name them."""
    seeds = []
    for s in range(max_seed + 1):
        item = QueueItem(experiment, setting, s)
        r = read_if_present(Path(results_dir) / f"{item.name}.json")
        if r is not None and r.config_hash == item.config(profile).hash():
            seeds.append(r)
    return seeds
