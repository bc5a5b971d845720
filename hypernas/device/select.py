"""Budget-driven choice of an architecture from a trained family (export: :mod:`hypernas.device.export`).

``select_for_budget`` scans a lattice on the simplex, de-duplicates the genotypes, predicts each
one's latency from a measured LUT, estimates its quality by the inherited accuracy on the held-out
*validation* split (never the test split), measures the candidates predicted to fit the budget on
the device, and returns the most accurate one whose measured latency fits.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import replace

import torch
from tqdm import tqdm

from hypernas.data import Splits
from hypernas.device import latency
from hypernas.device.timing import Protocol
from hypernas.errors import BudgetError, ConfigError
from hypernas.method import simplex
from hypernas.space.genotype import derive
from hypernas.space.network import describe
from hypernas.train.evaluate import inherited
from hypernas.train.run import TrainedFamily

log = logging.getLogger(__name__)

MAX_PASSES = 3  # measurement passes of a budget selection before it gives up


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def family_latencies(run: TrainedFamily, lut: dict, grid: int = 10) -> list[dict]:
    """Distinct genotypes on a lattice with ``grid`` divisions, each with its predicted latency."""
    cfg = run.config
    latency.check_lut(lut, run.space, cfg.dataset)
    seen: dict[str, dict] = {}
    for s in simplex.lattice(len(cfg.ops), grid).tolist():
        g = derive(run.hypernet, s, cfg.ops)
        if g.key() not in seen:
            seen[g.key()] = {
                "s": s,
                "genotype": g,
                "predicted_ms": latency.predict(lut, g, run.space, cfg.dataset),
            }
    return sorted(seen.values(), key=lambda r: r["predicted_ms"])


def lut_protocol(lut: dict, reps: int | None = None) -> Protocol:
    """The measurement protocol a latency table was made with (``reps`` overrides its burst length)."""
    stored = lut.get("provenance", {}).get("protocol") or {}
    protocol = Protocol(**{k: v for k, v in stored.items() if k in Protocol.__dataclass_fields__})
    return replace(protocol, reps=reps) if reps else protocol


def select_for_budget(
    run: TrainedFamily,
    lut: dict,
    budget_ms: float,
    splits: Splits,
    grid: int = 10,
    max_eval: int = 12,
    device: torch.device | str = "cpu",
    reps: int | None = None,
    progress: bool = False,
    margin: float = 0.05,
    passes: int = MAX_PASSES,
) -> dict:
    """The most accurate genotype of the family that runs within ``budget_ms``, measured.

    Candidates are the genotypes predicted within ``budget_ms * (1 - margin)`` (the margin absorbs
    the table's prediction error); at most ``max_eval`` of them (the slowest, likely the most
    accurate) are ranked by inherited accuracy on the validation split, and all of them are measured
    together in the table's runtime under its protocol, in the table's time base: each round is
    scaled by the reference network to the reference's latency when the table was made, so that
    the machine's drift since then cancels (``measured_raw_ms`` is the clock's reading). The winner
    is the most accurate candidate whose measured latency is within the budget: a prediction that
    was too optimistic costs a place, never the budget.

    When no candidate of a pass is measured within the budget (the table is optimistic for these
    genotypes), the predictions are rescaled by the median ratio of measured to predicted latency
    of everything measured so far, and the next faster candidates are measured (the fastest
    genotypes not yet measured, where the rescaled predictions leave none, and in the last pass),
    up to ``passes`` passes. :class:`BudgetError` when nothing is predicted or measured within the
    budget.
    """
    budget_ms = float(budget_ms)
    if budget_ms <= 0:
        raise ConfigError("--budget-ms must be positive")
    if not 0 <= margin < 1:
        raise ConfigError("--margin must lie in [0, 1)")
    family = family_latencies(run, lut, grid)
    fits = [r for r in family if r["predicted_ms"] <= budget_ms * (1 - margin)]
    if not fits:
        raise BudgetError(
            f"no architecture of this family fits {budget_ms:g} ms: the fastest of {len(family)} genotypes is "
            f"predicted at {family[0]['predicted_ms']:.3f} ms (safety margin {100 * margin:g} %); raise --budget-ms"
        )
    runtime = lut.get("runtime", "torch")
    candidates: list[dict] = []
    within: list[dict] = []
    slowdown = 1.0  # measured / predicted latency, from the candidates measured so far
    for n_passes in range(1, passes + 1):
        measured = {r["genotype"].key() for r in candidates}
        unmeasured = [r for r in family if r["genotype"].key() not in measured]
        limit = budget_ms * (1 - margin) / slowdown
        batch = [r for r in unmeasured if r["predicted_ms"] <= limit][-max_eval:]
        if not batch or 1 < n_passes == passes:  # the last pass tries the fastest genotypes left
            batch = unmeasured[:max_eval]
        if not batch:
            break
        for r in tqdm(batch, desc=f"validation accuracy (pass {n_passes})", disable=not progress):
            r["val_accuracy"] = inherited(run, r["genotype"], splits, split="val")
        timings = latency.measure_networks(
            [r["genotype"] for r in batch],
            run.space,
            run.config.dataset,
            runtime,
            device,
            lut["batch"],
            lut_protocol(lut, reps),
            lut["provenance"].get("threads"),
            lut.get("reference_ms"),
        )[: len(batch)]
        for r, timing in zip(batch, timings):
            r["measured"] = timing
            r["pass"] = n_passes
        candidates += batch
        within = [r for r in candidates if r["measured"].median_ms <= budget_ms]
        if within:
            break
        slowdown = max(
            1.0, statistics.median(r["measured"].median_ms / r["predicted_ms"] for r in candidates)
        )
        log.info("pass %d: nothing within %g ms; predictions rescaled by %.3f", n_passes, budget_ms, slowdown)
    if not within:
        fastest = min(candidates, key=lambda r: r["measured"].median_ms)
        raise BudgetError(
            f"no architecture of this family was measured within {budget_ms:g} ms: the {len(candidates)} "
            f"measured in {n_passes} passes took {fastest['measured'].median_ms:.3f} ms at best in {runtime}; "
            "raise --budget-ms"
        )
    best = max(within, key=lambda r: (r["val_accuracy"], -r["measured"].median_ms))
    record = describe(best["genotype"], run.space, best["s"])
    record.update(
        genotype=best["genotype"].key(),  # what `hypernas export --genotype` takes
        budget_ms=budget_ms,
        margin=margin,
        runtime=runtime,
        predicted_ms=round(best["predicted_ms"], 4),
        measured_ms=round(best["measured"].median_ms, 4),
        measured_raw_ms=_rounded(best["measured"].raw_ms),
        measured_iqr_ms=round(best["measured"].iqr_ms, 4),
        within_budget=bool(best["measured"].median_ms <= budget_ms),
        val_accuracy=round(best["val_accuracy"], 4),
        n_genotypes=len(family),
        n_fitting=len(fits),
        n_evaluated=len(candidates),
        n_measured_within=len(within),
        n_passes=n_passes,
        slowdown=round(slowdown, 4),
        lut_device=lut["provenance"].get("device_name"),
        candidates=[
            {
                "genotype": r["genotype"].key(),
                "predicted_ms": round(r["predicted_ms"], 4),
                "measured_ms": round(r["measured"].median_ms, 4),
                "val_accuracy": round(r["val_accuracy"], 4),
                "pass": r["pass"],
            }
            for r in candidates
        ],
    )
    return record
