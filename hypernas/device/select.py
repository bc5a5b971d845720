"""Budget-driven choice of an architecture from a trained family, and export of the chosen model.

``select_for_budget`` scans a lattice on the simplex, de-duplicates the genotypes, predicts each
one's latency from a measured LUT, estimates its quality by the inherited accuracy on the held-out
*validation* split (never the test split), measures the candidates predicted to fit the budget on
the device, and returns the most accurate one whose measured latency fits.
"""

from __future__ import annotations

import logging
import statistics
import warnings
from dataclasses import replace
from functools import partial
from pathlib import Path

import torch
from tqdm import tqdm

from hypernas import data
from hypernas.data import Splits
from hypernas.device import latency
from hypernas.device.timing import Protocol
from hypernas.errors import ArtefactError, BudgetError, ConfigError, OutputError
from hypernas.io import load_torch, temporary_beside
from hypernas.method import simplex
from hypernas.space.genotype import Genotype, derive
from hypernas.space.network import describe, discrete_from_supernet, recalibrate_bn
from hypernas.train.evaluate import inherited
from hypernas.train.run import TrainedFamily

log = logging.getLogger(__name__)

MAX_PASSES = 3  # measurement passes of a budget selection before it gives up
EXPORT_FORMATS = ("onnx", "pt2", "torchscript")  # pt2: a torch.export program (torch.export.load)


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


def export_model(
    run: TrainedFamily,
    s,
    fmt: str,
    out: str | Path,
    splits: Splits | None = None,
    retrained: str | Path | None = None,
    batch: int = 2,
) -> dict:
    """Export the discrete network at s, or of a given :class:`Genotype` (inherited weights, or a retrained state dict) to ONNX,
    a ``torch.export`` program (``pt2``, batch size free) or TorchScript.

    Returns ``{"path", "format", "max_abs_diff"}`` where the difference compares the exported model's
    outputs with PyTorch's on a random batch.
    """
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose onnx, pt2 or torchscript")
    g = s if isinstance(s, Genotype) else derive(run.hypernet, s, run.config.ops)
    net = discrete_from_supernet(g, run.supernet).cpu()
    if retrained:
        load_retrained(net, retrained)
    elif splits is not None:
        from hypernas.data import Batches

        calib = Batches(
            splits.train_x,
            splits.train_y,
            run.config.batch_size,
            splits.mean,
            splits.std,
            shuffle=True,
            generator=torch.Generator().manual_seed(0),
        )
        recalibrate_bn(net, calib, run.config.bn_recalibration_batches)
    net.eval()
    in_ch, hw = data.spec(run.config.dataset).channels, data.spec(run.config.dataset).size
    x = torch.randn(batch, in_ch, hw, hw, generator=torch.Generator().manual_seed(0))
    out = Path(out)
    if out.is_dir():
        raise OutputError(
            f"cannot write {out}: it is a directory; give a file name such as {out / 'model'}.{fmt}"
        )
    with torch.no_grad():
        ref = net(x).numpy()
    with temporary_beside(out) as tmp, warnings.catch_warnings():
        # the exporters' tracer and constant-folding notes concern this fixed graph, not the user
        warnings.simplefilter("ignore")
        if fmt == "torchscript":
            traced = torch.jit.trace(net, x)
            traced.save(str(tmp))
            got = torch.jit.load(str(tmp))(x).detach().numpy()
        elif fmt == "pt2":
            got = _export_pt2(net, x, tmp)
        else:
            got = _export_onnx(net, x, tmp)
        tmp.replace(out)
    import numpy as np

    return {
        "path": str(out),
        "format": fmt,
        "genotype": g.to_dict(),
        "max_abs_diff": float(np.abs(ref - got).max()),
    }


def _export_pt2(net: torch.nn.Module, x: torch.Tensor, path: Path):
    """Write ``net`` as a ``torch.export`` program (any batch size) to ``path``; return the loaded
    program's outputs on ``x``."""
    program = torch.export.export(net, (x,), dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
    torch.export.save(program, str(path))
    with torch.no_grad():
        return torch.export.load(str(path)).module()(x).numpy()


def _export_onnx(net: torch.nn.Module, x: torch.Tensor, path: Path):
    """Write ``net`` to ONNX at ``path`` and return ONNX Runtime's outputs on ``x``."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError(
            "ONNX export needs onnx, onnxscript and onnxruntime: pip install 'hypernas[export]'"
        ) from None
    torch.onnx.export(
        net,
        (x,),
        str(path),
        input_names=["images"],
        output_names=["logits"],
        dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
        dynamo=False,
    )
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return sess.run(None, {"images": x.numpy()})[0]


def load_retrained(net: torch.nn.Module, path: str | Path) -> None:
    """Load the weights saved by ``evaluate --protocol retrain --save-model`` into ``net``."""
    fix = "give the file written by `hypernas evaluate --protocol retrain --save-model` for this s"
    state = load_torch(path, "retrained model", fix, weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise ArtefactError(f"retrained model {path} holds no state dict; {fix}")
    try:
        net.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError):
        raise ArtefactError(f"retrained model {path} does not fit the network at this s; {fix}") from None


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
                "family_counts": d["family_counts"],
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
