"""Measured per-device latency: lookup tables, s_device, prediction, and budget-driven selection.

A lookup table (LUT) holds the measured latency of every primitive at every position it can
occupy in the network of a search space (cell type, stride, channels, spatial size), plus the
fixed parts (stem, cell preprocessing, classifier) and a calibrated "glue" term (node sums and
concatenations). The predicted latency of a genotype is

    fixed + glue + sum over its 28 edges (x cell instances) of LUT[op at that position].

Measurements use inference mode, warm-up runs, many repetitions, the median and the
interquartile range, a fixed number of threads, and ``torch.cuda.synchronize`` on a GPU.
"""
from __future__ import annotations

import datetime as _dt
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .errors import ConfigError
from .genotype import Genotype
from .provenance import cpu_model
from .space import SearchSpace

INPUT_SIZE = {"fashion_mnist": (1, 28), "cifar10": (3, 32)}
LUT_VERSION = 1


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@dataclass
class Timing:
    median_ms: float
    iqr_ms: float
    reps: int

    def to_dict(self) -> dict:
        return {"median_ms": self.median_ms, "iqr_ms": self.iqr_ms, "reps": self.reps}


@torch.inference_mode()
def measure(fn: Callable[[], object], device: torch.device, warmup: int = 10, reps: int = 50, min_time_s: float = 0.0) -> Timing:
    """Median and interquartile range (ms) of ``fn()`` over ``reps`` timed calls after ``warmup``."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    start = time.perf_counter()
    while len(times) < reps or time.perf_counter() - start < min_time_s:
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    q = statistics.quantiles(times, n=4)
    return Timing(statistics.median(times), q[2] - q[0], len(times))


def positions(space: SearchSpace, hw: int) -> list[dict]:
    """Every (cell, edge) slot with the shape it computes on: cell index, reduction, C, stride, H."""
    out = []
    H = hw
    for c, (reduction, C) in enumerate(space.cell_layout()):
        for e, edge in enumerate(space.edges):
            stride = edge.stride(reduction)
            h_in = H if (not reduction or edge.src < 2) else H // 2
            out.append({"cell": c, "edge": e, "reduction": reduction, "C": C, "stride": stride, "H": h_in})
        if reduction:
            H = H // 2
    return out


def position_key(op: str, C: int, stride: int, H: int) -> str:
    return f"{op}|C{C}|s{stride}|H{H}"


def _space_id(space: SearchSpace, dataset: str) -> dict:
    return {"ops": list(space.ops), "dataset": dataset, "init_channels": space.init_channels,
            "layers": space.layers, "nodes": space.nodes, "stem_multiplier": space.stem_multiplier}


def profile(space: SearchSpace, dataset: str, device: torch.device | str = "cpu", threads: int | None = None,
            batch: int = 1, reps: int = 50, warmup: int = 10, progress: bool = False) -> dict:
    """Measure the LUT of ``space`` on ``device``; returns a JSON-serialisable dict."""
    from tqdm import tqdm

    from . import ops as op_registry
    from .discrete import build_discrete

    device = torch.device(device)
    if threads:
        torch.set_num_threads(threads)
    in_ch, hw = INPUT_SIZE[dataset]
    entries: dict[str, dict] = {}
    shapes = sorted({(p["C"], p["stride"], p["H"]) for p in positions(space, hw)})
    todo = [(op, C, stride, H) for op in space.ops for (C, stride, H) in shapes]
    for op, C, stride, H in tqdm(todo, desc="ops", disable=not progress):
        module = op_registry.build(op, C, stride).to(device).eval()
        x = torch.randn(batch, C, H, H, device=device)
        entries[position_key(op, C, stride, H)] = measure(lambda: module(x), device, warmup, reps).to_dict()

    # fixed parts and glue: the network of a reference genotype (all max pool, or the first op),
    # minus its edges' LUT entries
    ref_op = space.ops[0]
    ref = Genotype(space.ops, (ref_op,) * space.n_edges, (ref_op,) * space.n_edges)
    net = build_discrete(ref, space).to(device).eval()
    x = torch.randn(batch, in_ch, hw, hw, device=device)
    whole = measure(lambda: net(x), device, warmup, reps)
    edges_sum = sum(entries[position_key(ref_op, p["C"], p["stride"], p["H"])]["median_ms"] for p in positions(space, hw))
    return {
        "version": LUT_VERSION,
        "space": _space_id(space, dataset),
        "batch": batch,
        "entries": entries,
        "reference_genotype": ref_op,
        "reference_network_ms": whole.to_dict(),
        "base_ms": whole.median_ms - edges_sum,
        "provenance": {
            "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "batch": batch,
            "reps": reps,
            "warmup": warmup,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        },
    }


def check_lut(lut: dict, space: SearchSpace, dataset: str) -> None:
    """Refuse a LUT measured for another preset or op list."""
    want = _space_id(space, dataset)
    have = lut.get("space")
    if have != want:
        diff = [k for k in want if have is None or have.get(k) != want[k]]
        raise ConfigError(
            f"the latency table was measured for another search space (differs in {', '.join(diff)}); "
            f"profile this run's preset with `hypernas latency profile --experiment ...`"
        )


def predict(lut: dict, genotype: Genotype, space: SearchSpace, dataset: str) -> float:
    """Predicted latency (ms) of the discrete network of ``genotype``."""
    _, hw = INPUT_SIZE[dataset]
    total = lut["base_ms"]
    for p in positions(space, hw):
        op = (genotype.reduce if p["reduction"] else genotype.normal)[p["edge"]]
        total += lut["entries"][position_key(op, p["C"], p["stride"], p["H"])]["median_ms"]
    return total


def s_device(lut: dict, space: SearchSpace, dataset: str) -> list[float]:
    """The device's complexity vector: per-op latency summed over every position, normalised to sum 1.

    s_device[m] is the share of op m in the total latency of the k single-op networks' cells, so an
    op that costs twice as much on this device gets twice the penalty.
    """
    _, hw = INPUT_SIZE[dataset]
    per_op = [sum(lut["entries"][position_key(op, p["C"], p["stride"], p["H"])]["median_ms"] for p in positions(space, hw))
              for op in space.ops]
    total = sum(per_op)
    return [v / total for v in per_op]


def measure_genotype(genotype: Genotype, space: SearchSpace, dataset: str, device: torch.device | str = "cpu",
                     batch: int = 1, reps: int = 50, warmup: int = 10, net: nn.Module | None = None) -> Timing:
    """Measured latency of the discrete network of ``genotype`` (or of ``net``)."""
    from .discrete import build_discrete

    device = torch.device(device)
    in_ch, hw = INPUT_SIZE[dataset]
    net = (net or build_discrete(genotype, space)).to(device).eval()
    x = torch.randn(batch, in_ch, hw, hw, device=device)
    return measure(lambda: net(x), device, warmup, reps)
