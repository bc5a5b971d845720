"""How well a latency table predicts whole networks: predicted against measured latency over the
distinct genotypes of a family (made up with random genotypes where the family has too few), each
measured twice so that the noise floor of this machine bounds what any predictor can reach."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import torch

from hypernas.device import latency
from hypernas.device.select import family_latencies, lut_protocol
from hypernas.space.genotype import Genotype
from hypernas.space.network import describe
from hypernas.train.run import TrainedFamily


def validate_predictions(
    run: TrainedFamily,
    lut: dict,
    min_genotypes: int = 30,
    grid: int = 20,
    max_grid: int = 60,
    device: torch.device | str = "cpu",
    reps: int | None = None,
    seed: int = 0,
    progress: bool = False,
    noise_floor: bool = True,
) -> dict:
    """Predicted against measured latency over distinct genotypes of the family.

    The lattice is refined until it yields ``min_genotypes`` distinct genotypes (up to ``max_grid``
    divisions); if the family has fewer, random genotypes make up the number and are marked so.
    Networks are measured in the table's runtime under its protocol, in the table's time base (see
    :func:`select_for_budget`; the clock's readings are kept as ``measured_raw_ms``). With
    ``noise_floor`` they are
    measured a second time, independently: ``retest_spearman`` and ``retest_median_rel_diff``
    between the two passes bound what any predictor can reach on this machine.
    """
    import random

    import pandas as pd

    family = family_latencies(run, lut, grid)
    while len(family) < min_genotypes and grid < max_grid:
        grid = min(max_grid, grid * 2)
        family = family_latencies(run, lut, grid)
    rows = [{"genotype": r["genotype"], "s": r["s"], "source": "family"} for r in family]
    rng = random.Random(seed)
    ops = run.config.ops
    keys = {r["genotype"].key() for r in rows}
    while len(rows) < min_genotypes:
        n = run.space.n_edges
        g = Genotype(
            tuple(ops), tuple(rng.choice(ops) for _ in range(n)), tuple(rng.choice(ops) for _ in range(n))
        )
        if g.key() not in keys:
            keys.add(g.key())
            rows.append({"genotype": g, "s": None, "source": "random"})
    genotypes = [r["genotype"] for r in rows]
    where = (run.space, run.config.dataset, lut.get("runtime", "torch"), device, lut["batch"])
    threads = lut["provenance"].get("threads")
    measure = partial(
        latency.measure_networks,
        genotypes,
        *where,
        threads=threads,
        reference_ms=lut.get("reference_ms"),
        calls=latency.network_calls(genotypes, *where, threads),  # built once for both passes
    )
    timings = measure(lut_protocol(lut, reps))[: len(genotypes)]
    # the noise floor: the same networks measured again in an independent pass (another order)
    retest = (
        measure(replace(lut_protocol(lut, reps), seed=lut_protocol(lut).seed + 1))[: len(genotypes)]
        if noise_floor
        else None
    )
    points = []
    for r, t in zip(rows, timings):
        g = r["genotype"]
        d = describe(g, run.space, r["s"] or [0.0] * len(ops))
        points.append(
            {
                "genotype": g.key(),
                "s": r["s"],
                "source": r["source"],
                "group_counts": d["group_counts"],
                "cell_params": d["cell_params"],
                "predicted_ms": latency.predict(lut, g, run.space, run.config.dataset),
                "measured_ms": t.median_ms,
                "measured_raw_ms": t.raw_ms,
                "measured_iqr_ms": t.iqr_ms,
            }
        )
    df = pd.DataFrame(points)
    ape = (df.predicted_ms - df.measured_ms).abs() / df.measured_ms
    out = {
        "n_genotypes": len(points),
        "n_from_family": int((df.source == "family").sum()),
        "grid": grid,
        "spearman": float(df.predicted_ms.corr(df.measured_ms, method="spearman")),
        "median_ape": float(ape.median()),
        "points": points,
    }
    if retest is not None:
        again = pd.Series([t.median_ms for t in retest])
        for point, t in zip(points, retest):
            point["retest_ms"] = t.median_ms
            point["retest_raw_ms"] = t.raw_ms
        out["retest_spearman"] = float(df.measured_ms.corr(again, method="spearman"))
        out["retest_median_rel_diff"] = float(((again - df.measured_ms).abs() / df.measured_ms).median())
        if all(t.raw_ms for t in [*timings, *retest]):  # the same, as the clock read it (no time base)
            raw, raw_again = (pd.Series([t.raw_ms for t in ts]) for ts in (timings, retest))
            out["retest_raw_median_rel_diff"] = float(((raw_again - raw).abs() / raw).median())
    return out
