"""The theorem chapter's pipeline: the Monte Carlo check of Theorem 1 and two searches that differ
only in the Cost relaxation, cached in ``results/<profile>/theorem.json``.

``run_theorem_study("quick")`` reuses the stored check when it was drawn with the same samples,
seed, temperatures and alphas (:func:`hypernas.method.theorem.checks_match`), and each stored search
summary when its ``config_hash`` is that of today's config; ``force=True`` recomputes both.
"""

from __future__ import annotations

from pathlib import Path

from hypernas.io import read_record, write_json
from hypernas.method import theorem
from hypernas.pipeline.experiment import ensure_search, family_grid
from hypernas.pipeline.results import RESULT_FIX
from hypernas.space.genotype import derive
from hypernas.train.build import load_splits
from hypernas.train.config import SearchConfig
from hypernas.train.presets import paper_s, resolve

# Monte Carlo samples per (alpha, t), by profile
N_SAMPLES = {"smoke": 20_000, "quick": 200_000, "paper": 400_000}
# the two searches: experiment 1 of the profile, smaller where the profile is large
SEARCH_OVERRIDES = {
    "smoke": {},
    "quick": {"train_subset": "2000"},
    "paper": {"train_subset": "20000", "epochs": "5"},
}
RELAXATIONS = ("softmax_t", "softmax")


def comparison_config(profile: str, relaxation: str, seed: int = 0) -> SearchConfig:
    """The config of the chapter's search with Cost relaxation ``relaxation``."""
    small = SEARCH_OVERRIDES.get(profile, {})
    return resolve("exp1", profile, {**small, "cost_relaxation": relaxation, "seed": str(seed)})


def run_theorem_study(
    profile: str = "quick",
    seed: int = 0,
    data_root=None,
    results_dir: str | Path | None = None,
    runs_dir: str | Path = "runs",
    force: bool = False,
) -> dict:
    """The dict of ``theorem.json``: the Monte Carlo check (``t``, ``n_samples``, ``seed``,
    ``alphas``), ``profile`` and ``relaxation_comparison`` (per relaxation: config hash, the family
    counts of A-D, distinct genotypes and parameter range on a 66-point lattice, final metrics)."""
    theorem_file = Path(results_dir or Path("results") / profile) / "theorem.json"
    stored = read_record(theorem_file, "result", RESULT_FIX) if theorem_file.is_file() and not force else {}
    n_samples = N_SAMPLES.get(profile, 100_000)
    if theorem.checks_match(stored, n_samples=n_samples, seed=seed):
        checks = {k: stored[k] for k in ("t", "n_samples", "seed", "alphas")}
    else:
        checks = theorem.run_checks(n_samples=n_samples, seed=seed)
        stored = {}
    record = {**checks, "profile": profile, "relaxation_comparison": stored.get("relaxation_comparison", {})}
    write_json(theorem_file, record)

    compare = {}
    for relaxation in RELAXATIONS:
        cfg = comparison_config(profile, relaxation, seed)
        previous = record["relaxation_comparison"].get(relaxation, {})
        if not force and previous.get("config_hash") == cfg.hash():  # the same search, already summarised
            compare[relaxation] = previous
            continue
        splits = load_splits(cfg, data_root)
        run, summary = ensure_search(
            cfg, runs_dir, data_root, progress=False, name=f"theorem-exp1-{relaxation}", splits=splits
        )
        grid = family_grid(run, divisions=10)
        archs = {name: derive(run.hypernet, s, cfg.ops).group_counts() for name, s in paper_s(3).items()}
        compare[relaxation] = {
            "config_hash": cfg.hash(),
            "architectures": archs,
            "unique_genotypes": len({r.genotype for r in grid}),
            "cell_params_range": [min(r.cell_params for r in grid), max(r.cell_params for r in grid)],
            "final": summary["final"],
            "train_images": len(splits.train_y),
        }
    record["relaxation_comparison"] = compare
    write_json(theorem_file, record)
    return record
