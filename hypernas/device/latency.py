"""Measured per-device latency: lookup tables, s_device, prediction, and budget-driven selection.

A lookup table (LUT) holds the measured latency of every primitive at every position it can
occupy in the network of a search space (cell type, stride, channels, spatial size). The
predicted latency of a genotype g is

    base + sum_m scale_m * S_m(g),   S_m(g) = sum of LUT[m at p] over the positions p where g uses m,

where base (stem, preprocessing, classifier, sums, concatenations) and one scale per op (an op
inside a network does not cost exactly what it costs alone) are fitted by least squares on whole
networks of random genotypes measured when the table is made.

Measurements use inference mode, warm-up runs, many repetitions, the median and the
interquartile range, a fixed number of threads, and ``torch.cuda.synchronize`` on a GPU.
"""

from __future__ import annotations

import datetime as _dt
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from hypernas import data
from hypernas.errors import ArtefactError, ConfigError
from hypernas.io import finite, read_json
from hypernas.provenance import cpu_model
from hypernas.space.cells import SearchSpace
from hypernas.space.genotype import Genotype

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
def measure(
    fn: Callable[[], object], device: torch.device, warmup: int = 10, reps: int = 50, min_time_s: float = 0.0
) -> Timing:
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


def measure_interleaved(
    fns: list[Callable[[], object]], device: torch.device, rounds: int = 3, warmup: int = 10, reps: int = 30
) -> list[Timing]:
    """Time several callables in ``rounds`` interleaved passes; each gets the median of its round medians.

    Interleaving spreads slow phases of a shared machine (other processes, frequency changes) over all
    callables instead of letting one burst distort a single measurement.
    """
    per: list[list[Timing]] = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            per[i].append(measure(fn, device, warmup, reps))
    return [
        Timing(
            statistics.median(t.median_ms for t in ts),
            statistics.median(t.iqr_ms for t in ts),
            sum(t.reps for t in ts),
        )
        for ts in per
    ]


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
    return {
        "ops": list(space.ops),
        "dataset": dataset,
        "init_channels": space.init_channels,
        "layers": space.layers,
        "nodes": space.nodes,
        "stem_multiplier": space.stem_multiplier,
    }


def profile(
    space: SearchSpace,
    dataset: str,
    device: torch.device | str = "cpu",
    threads: int | None = None,
    batch: int = 1,
    reps: int = 50,
    warmup: int = 10,
    n_calib: int = 12,
    rounds: int = 3,
) -> dict:
    """Measure the LUT of ``space`` on ``device``; returns a JSON-serialisable dict."""
    from hypernas.space import ops as op_registry
    from hypernas.space.network import build_discrete

    device = torch.device(device)
    if threads:
        torch.set_num_threads(threads)
    in_ch, hw = data.spec(dataset).channels, data.spec(dataset).size
    shapes = sorted({(p["C"], p["stride"], p["H"]) for p in positions(space, hw)})
    todo = [(op, C, stride, H) for op in space.ops for (C, stride, H) in shapes]
    calls = []
    for op, C, stride, H in todo:
        module = op_registry.build(op, C, stride).to(device).eval()
        inp = torch.randn(batch, C, H, H, device=device)
        calls.append(lambda module=module, inp=inp: module(inp))
    timings = measure_interleaved(calls, device, rounds, warmup, reps)
    entries = {position_key(*key): t.to_dict() for key, t in zip(todo, timings)}

    # Calibration: ops inside a network do not cost exactly what they cost alone (memory traffic,
    # caches, dispatch), and the stem, preprocessing, classifier, sums and concatenations cost a fixed
    # amount. Fit latency(g) = base + sum_m scale_m * S_m(g), where S_m(g) is the summed LUT latency of
    # the edges where g uses op m, by least squares over random genotypes measured as whole networks.
    gen = torch.Generator().manual_seed(0)
    k, n = len(space.ops), space.n_edges
    calib_genotypes = [
        Genotype(
            space.ops,
            *[
                tuple(space.ops[i] for i in torch.randint(0, k, (n,), generator=gen).tolist())
                for _ in range(2)
            ],
        )
        for _ in range(n_calib)
    ]
    calib_genotypes += [Genotype(space.ops, (op,) * n, (op,) * n) for op in space.ops]
    x = torch.randn(batch, in_ch, hw, hw, device=device)
    nets = [build_discrete(g, space).to(device).eval() for g in calib_genotypes]
    timings = measure_interleaved([(lambda net=net: net(x)) for net in nets], device, rounds, warmup, reps)
    times = [t.median_ms for t in timings]
    feats = [[1.0] + _op_sums(entries, g, space, hw) for g in calib_genotypes]
    X = torch.tensor(feats, dtype=torch.float64)
    yv = torch.tensor(times, dtype=torch.float64)
    coef = torch.linalg.lstsq(X, yv.unsqueeze(1)).solution.squeeze(1)
    fitted = X @ coef
    return {
        "version": LUT_VERSION,
        "space": _space_id(space, dataset),
        "batch": batch,
        "entries": entries,
        "base_ms": float(coef[0]),
        "scale": {op: float(c) for op, c in zip(space.ops, coef[1:])},
        "calibration": {
            "n_genotypes": len(calib_genotypes),
            "measured_ms": times,
            "fitted_ms": fitted.tolist(),
            "median_ape": float(((fitted - yv).abs() / yv).median()),
        },
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


def _op_sums(entries: dict, genotype: Genotype, space: SearchSpace, hw: int) -> list[float]:
    """S_m(g): summed LUT latency of the edges where genotype g uses op m, for each op m."""
    sums = {op: 0.0 for op in space.ops}
    for p in positions(space, hw):
        op = (genotype.reduce if p["reduction"] else genotype.normal)[p["edge"]]
        sums[op] += entries[position_key(op, p["C"], p["stride"], p["H"])]["median_ms"]
    return [sums[op] for op in space.ops]


_LUT_FIX = "measure it again with `hypernas latency profile --out FILE`"
_SPACE_KEYS = ("ops", "dataset", "init_channels", "layers", "nodes", "stem_multiplier")


def read_lut(source: dict | str | Path) -> dict:
    """A latency table from a dict or its JSON file, checked to have the shape :func:`profile` writes.

    Raises :class:`ArtefactError` naming the file, what is missing and how to make a new one.
    """
    name = "the latency table" if isinstance(source, dict) else f"latency table {source}"
    lut = source if isinstance(source, dict) else read_json(source, "latency table", _LUT_FIX)

    def refuse(what: str) -> ArtefactError:
        return ArtefactError(f"{name} {what}; {_LUT_FIX}")

    if not isinstance(lut, dict):
        raise refuse(f"holds a {type(lut).__name__}, not a table")
    space, entries, scale = lut.get("space"), lut.get("entries"), lut.get("scale")
    if not isinstance(space, dict) or any(key not in space for key in _SPACE_KEYS):
        raise refuse("does not say which search space it measured (its 'space' is missing or incomplete)")
    if not isinstance(space["ops"], list) or not all(isinstance(op, str) for op in space["ops"]):
        raise refuse("has no list of ops in 'space'")
    if space["dataset"] not in data.SPECS:
        raise refuse(f"names an unknown dataset {space['dataset']!r}")
    if not isinstance(lut.get("batch"), int) or lut["batch"] < 1:
        raise refuse("has no batch size >= 1")
    if (
        not isinstance(entries, dict)
        or not entries
        or not all(isinstance(e, dict) and finite(e.get("median_ms")) for e in entries.values())
    ):
        raise refuse("has no entries with a finite 'median_ms'")
    if not finite(lut.get("base_ms")):
        raise refuse("has no finite 'base_ms'")
    if not isinstance(scale, dict) or any(not finite(scale.get(op)) for op in space["ops"]):
        raise refuse("has no finite 'scale' for every op")
    if not isinstance(lut.get("provenance"), dict):
        raise refuse("has no 'provenance'")
    return lut


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
    hw = data.spec(dataset).size
    missing = [
        key
        for p in positions(space, hw)
        for op in space.ops
        if (key := position_key(op, p["C"], p["stride"], p["H"])) not in lut["entries"]
    ]
    if missing:
        raise ArtefactError(
            f"the latency table lacks {len(missing)} of its positions (e.g. {missing[0]}); {_LUT_FIX}"
        )


def predict(lut: dict, genotype: Genotype, space: SearchSpace, dataset: str) -> float:
    """Predicted latency (ms) of the discrete network of ``genotype``: base + sum_m scale_m * S_m(g)."""
    hw = data.spec(dataset).size
    sums = _op_sums(lut["entries"], genotype, space, hw)
    return lut["base_ms"] + sum(lut["scale"][op] * v for op, v in zip(space.ops, sums))


def s_device(lut: dict, space: SearchSpace, dataset: str) -> list[float]:
    """The device's complexity vector: per-op latency summed over every position, normalised to sum 1.

    s_device[m] is the share of op m in the total latency of the k single-op networks' cells, so an
    op that costs twice as much on this device gets twice the penalty.
    """
    hw = data.spec(dataset).size
    per_op = [
        sum(
            lut["entries"][position_key(op, p["C"], p["stride"], p["H"])]["median_ms"]
            for p in positions(space, hw)
        )
        for op in space.ops
    ]
    total = sum(per_op)
    return [v / total for v in per_op]


def measure_genotype(
    genotype: Genotype,
    space: SearchSpace,
    dataset: str,
    device: torch.device | str = "cpu",
    batch: int = 1,
    reps: int = 50,
    warmup: int = 10,
    net: nn.Module | None = None,
) -> Timing:
    """Measured latency of the discrete network of ``genotype`` (or of ``net``)."""
    from hypernas.space.network import build_discrete

    device = torch.device(device)
    in_ch, hw = data.spec(dataset).channels, data.spec(dataset).size
    net = (net or build_discrete(genotype, space)).to(device).eval()
    x = torch.randn(batch, in_ch, hw, hw, device=device)
    return measure(lambda: net(x), device, warmup, reps)
