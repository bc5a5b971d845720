"""Budget-driven choice of an architecture from a trained family, and export of the chosen model.

``select_for_budget`` scans a lattice on the simplex, de-duplicates the genotypes, predicts each
one's latency from a measured LUT, estimates its quality by the inherited accuracy on the held-out
*validation* split (never the test split), picks the most accurate genotype predicted to fit the
budget, then builds it and measures its real latency on the device.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from tqdm import tqdm

from hypernas import data
from hypernas.data import Splits
from hypernas.device import latency
from hypernas.errors import ArtefactError, BudgetError, ConfigError, OutputError
from hypernas.io import load_torch, temporary_beside
from hypernas.method import simplex
from hypernas.space.genotype import Genotype, derive
from hypernas.space.network import describe, discrete_from_supernet, recalibrate_bn
from hypernas.train.evaluate import inherited
from hypernas.train.run import TrainedFamily

log = logging.getLogger(__name__)


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


def select_for_budget(
    run: TrainedFamily,
    lut: dict,
    budget_ms: float,
    splits: Splits,
    grid: int = 10,
    max_eval: int = 12,
    device: torch.device | str = "cpu",
    reps: int = 50,
    progress: bool = False,
    margin: float = 0.05,
) -> dict:
    """The best genotype of the family whose predicted latency is within ``budget_ms * (1 - margin)``.

    The safety ``margin`` (default 5 %) absorbs the table's prediction error; the chosen network is then
    measured in three interleaved rounds (median of the round medians).
    """
    budget_ms = float(budget_ms)
    if budget_ms <= 0:
        raise ConfigError("--budget-ms must be positive")
    family = family_latencies(run, lut, grid)
    if not 0 <= margin < 1:
        raise ConfigError("--margin must lie in [0, 1)")
    fits = [r for r in family if r["predicted_ms"] <= budget_ms * (1 - margin)]
    if not fits:
        raise BudgetError(
            f"no architecture of this family fits {budget_ms:g} ms: the fastest of {len(family)} genotypes is "
            f"predicted at {family[0]['predicted_ms']:.3f} ms (safety margin {100 * margin:g} %); raise --budget-ms"
        )
    # evaluate the slowest (largest) candidates first: within a budget they are the likely best
    candidates = fits[-max_eval:]
    for r in tqdm(candidates, desc="validation accuracy", disable=not progress):
        r["val_accuracy"] = inherited(run, r["genotype"], splits, split="val")
    best = max(candidates, key=lambda r: (r["val_accuracy"], -r["predicted_ms"]))
    from hypernas.space.network import build_discrete

    in_ch, hw = data.spec(run.config.dataset).channels, data.spec(run.config.dataset).size
    dev = torch.device(device)
    net = build_discrete(best["genotype"], run.space).to(dev).eval()
    x = torch.randn(lut["batch"], in_ch, hw, hw, device=dev)
    measured = latency.measure_interleaved([lambda: net(x)], dev, rounds=3, reps=reps)[0]
    record = describe(best["genotype"], run.space, best["s"])
    record.update(
        budget_ms=budget_ms,
        margin=margin,
        predicted_ms=round(best["predicted_ms"], 4),
        measured_ms=round(measured.median_ms, 4),
        measured_iqr_ms=round(measured.iqr_ms, 4),
        within_budget=bool(measured.median_ms <= budget_ms),
        val_accuracy=round(best["val_accuracy"], 4),
        n_genotypes=len(family),
        n_fitting=len(fits),
        n_evaluated=len(candidates),
        lut_device=lut["provenance"]["device_name"],
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
    """Export the discrete network at s (inherited weights, or a retrained state dict) to ONNX or TorchScript.

    Returns ``{"path", "format", "max_abs_diff"}`` where the difference compares the exported model's
    outputs with PyTorch's on a random batch.
    """
    if fmt not in ("onnx", "torchscript"):
        raise ConfigError(f"unknown export format {fmt!r}; choose onnx or torchscript")
    g = derive(run.hypernet, s, run.config.ops)
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
    reps: int = 30,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """Predicted against measured latency over distinct genotypes of the family.

    The lattice is refined until it yields ``min_genotypes`` distinct genotypes (up to ``max_grid``
    divisions); if the family has fewer, random genotypes make up the number and are marked so.
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
    from hypernas.space.network import build_discrete

    in_ch, hw = data.spec(run.config.dataset).channels, data.spec(run.config.dataset).size
    dev = torch.device(device)
    x = torch.randn(lut["batch"], in_ch, hw, hw, device=dev)
    nets = [build_discrete(r["genotype"], run.space).to(dev).eval() for r in rows]
    timings = latency.measure_interleaved(
        [(lambda net=net: net(x)) for net in nets], dev, rounds=3, reps=reps
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
                "measured_iqr_ms": t.iqr_ms,
            }
        )
    df = pd.DataFrame(points)
    ape = (df.predicted_ms - df.measured_ms).abs() / df.measured_ms
    return {
        "n_genotypes": len(points),
        "n_from_family": int((df.source == "family").sum()),
        "grid": grid,
        "spearman": float(df.predicted_ms.corr(df.measured_ms, method="spearman")),
        "median_ape": float(ape.median()),
        "points": points,
    }
