"""Measured per-device latency: lookup tables, s_device, prediction, and budget-driven selection.

A lookup table (LUT) holds the measured latency of every primitive at every position it can
occupy in the network of a search space (cell type, stride, channels, spatial size). The
predicted latency of a genotype g is

    base + sum_m scale_m * S_m(g),   S_m(g) = sum of LUT[m at p] over the positions p where g uses m,

where base (stem, preprocessing, classifier, sums, concatenations) and one scale per op (an op
inside a network does not cost exactly what it costs alone) are fitted by least squares on whole
networks of random genotypes measured when the table is made.

Every figure is measured in a target runtime (:mod:`hypernas.device.runtime`: PyTorch eager or
ONNX Runtime) under the interleaved-rounds protocol of :mod:`hypernas.device.timing`, with a fixed
thread count and batch; the table records the runtime and the protocol, and predictions are only
compared with measurements in the same runtime.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from hypernas import data
from hypernas.device.runtime import check_runtime, prepare, runtime_version
from hypernas.device.timing import DEFAULT_PROTOCOL, Protocol, Timing, measure_rounds
from hypernas.errors import ArtefactError, ConfigError
from hypernas.io import finite, read_json
from hypernas.provenance import cpu_model
from hypernas.space.cells import SearchSpace
from hypernas.space.genotype import Genotype

LUT_VERSION = 2


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


def reference_genotype(space: SearchSpace) -> Genotype:
    """A fixed network of the space (op ``i mod k`` on edge ``i``): the drift reference of a study."""
    k, n = len(space.ops), space.n_edges
    return Genotype(
        space.ops, tuple(space.ops[i % k] for i in range(n)), tuple(space.ops[(i + 1) % k] for i in range(n))
    )


def network_call(
    genotype: Genotype,
    space: SearchSpace,
    dataset: str,
    runtime: str = "torch",
    device: torch.device | str = "cpu",
    batch: int = 1,
    threads: int | None = None,
    net: nn.Module | None = None,
) -> Callable[[], object]:
    """One inference of the discrete network of ``genotype`` (or of ``net``) in ``runtime``."""
    from hypernas.space.network import build_discrete

    in_ch, hw = data.spec(dataset).channels, data.spec(dataset).size
    x = torch.randn(batch, in_ch, hw, hw, generator=torch.Generator().manual_seed(0))
    net = net if net is not None else build_discrete(genotype, space)
    return prepare(runtime, net, x, torch.device(device), threads or torch.get_num_threads())


def network_calls(
    genotypes: list[Genotype],
    space: SearchSpace,
    dataset: str,
    runtime: str = "torch",
    device: torch.device | str = "cpu",
    batch: int = 1,
    threads: int | None = None,
) -> list[Callable[[], object]]:
    """One inference each of the networks of ``genotypes``, then of the reference network (last),
    built (and exported, for ONNX Runtime) once, to be measured as often as needed."""
    return [
        network_call(g, space, dataset, runtime, device, batch, threads)
        for g in [*genotypes, reference_genotype(space)]
    ]


def measure_networks(
    genotypes: list[Genotype],
    space: SearchSpace,
    dataset: str,
    runtime: str = "torch",
    device: torch.device | str = "cpu",
    batch: int = 1,
    protocol: Protocol = DEFAULT_PROTOCOL,
    threads: int | None = None,
    reference_ms: float | None = None,
    calls: list[Callable[[], object]] | None = None,
) -> list[Timing]:
    """Measured latency of the networks of ``genotypes``, interleaved with the reference network, then
    the reference's own timing (last); ``reference_ms`` is the time base (a table's ``reference_ms``),
    ``calls`` the networks already prepared by :func:`network_calls`."""
    calls = calls or network_calls(genotypes, space, dataset, runtime, device, batch, threads)
    return measure_rounds(calls[:-1], torch.device(device), protocol, calls[-1], reference_ms)


def measure_lut(
    space: SearchSpace,
    dataset: str,
    device: torch.device | str = "cpu",
    threads: int | None = None,
    batch: int = 1,
    protocol: Protocol = DEFAULT_PROTOCOL,
    n_calib: int = 12,
    runtime: str = "torch",
) -> dict:
    """Measure the LUT of ``space`` on ``device`` in ``runtime``; returns a JSON-serialisable dict."""
    from hypernas.space import ops as op_registry

    check_runtime(runtime)
    device = torch.device(device)
    if threads:
        torch.set_num_threads(threads)
    threads = torch.get_num_threads()
    hw = data.spec(dataset).size
    shapes = sorted({(p["C"], p["stride"], p["H"]) for p in positions(space, hw)})
    todo = [(op, C, stride, H) for op in space.ops for (C, stride, H) in shapes]
    gen = torch.Generator().manual_seed(0)
    inputs = {(C, H): torch.randn(batch, C, H, H, generator=gen) for _, C, _, H in todo}
    calls = [
        prepare(runtime, op_registry.build(op, C, stride), inputs[C, H], device, threads)
        for op, C, stride, H in todo
    ]
    # the fixed cost of one call of the runtime on an input of each shape (an empty graph): a
    # network pays it once, not once per op, so it is taken off every entry
    empty = {shape: prepare(runtime, nn.Identity(), x, device, threads) for shape, x in inputs.items()}
    reference = network_calls([], space, dataset, runtime, device, batch, threads)[0]
    timings = measure_rounds(calls + list(empty.values()), device, protocol, reference)
    # the study's time base: the reference network's latency now; every later measurement made with
    # this table is scaled to it, so that the machine's drift between measurements cancels
    reference_ms = timings[-1].median_ms
    overhead = dict(zip(empty, (t.median_ms for t in timings[len(calls) :])))
    entries = {}
    for key, timing in zip(todo, timings):
        _, C, _, H = key
        entries[position_key(*key)] = {
            **timing.to_dict(),
            "median_ms": max(0.0, timing.median_ms - overhead[C, H]),
            "raw_median_ms": timing.median_ms,
        }

    # Calibration: ops inside a network do not cost exactly what they cost alone (memory traffic,
    # caches, dispatch), and the stem, preprocessing, classifier, sums and concatenations cost a fixed
    # amount. Fit latency(g) = base + sum_m scale_m * S_m(g), where S_m(g) is the summed LUT latency of
    # the edges where g uses op m, by least squares over random genotypes measured as whole networks.
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
    timings = measure_networks(
        calib_genotypes, space, dataset, runtime, device, batch, protocol, threads, reference_ms
    )[:-1]
    times = [t.median_ms for t in timings]
    feats = [[1.0] + _op_sums(entries, g, space, hw) for g in calib_genotypes]
    X = torch.tensor(feats, dtype=torch.float64)
    yv = torch.tensor(times, dtype=torch.float64)
    coef = torch.linalg.lstsq(X, yv.unsqueeze(1)).solution.squeeze(1)
    fitted = X @ coef
    ape = (fitted - yv).abs() / yv
    return {
        "version": LUT_VERSION,
        "runtime": runtime,
        "space": _space_id(space, dataset),
        "batch": batch,
        "entries": entries,
        "reference_ms": reference_ms,
        "base_ms": float(coef[0]),
        "scale": {op: float(c) for op, c in zip(space.ops, coef[1:])},
        "calibration": {
            "n_genotypes": len(calib_genotypes),
            "measured_ms": times,
            "fitted_ms": fitted.tolist(),
            "median_ape": float(ape.median()),
            "max_ape": float(ape.max()),
        },
        "provenance": {
            "runtime": runtime,
            "runtime_version": runtime_version(runtime),
            "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model(),
            "torch": torch.__version__,
            "threads": threads,
            "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "batch": batch,
            "protocol": protocol.to_dict(),
            "reference": reference_genotype(space).key(),
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


_LUT_FIX = "measure it again with `hypernas latency measure --out FILE`"
_SPACE_KEYS = ("ops", "dataset", "init_channels", "layers", "nodes", "stem_multiplier")


def read_lut(source: dict | str | Path) -> dict:
    """A latency table from a dict or its JSON file, checked to have the shape :func:`measure_lut` writes.

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
    if space["dataset"] not in data.SPECS and not data.custom.is_custom(space["dataset"]):
        raise refuse(f"names an unknown dataset {space['dataset']!r}")
    if not isinstance(lut.get("batch"), int) or lut["batch"] < 1:
        raise refuse("has no batch size >= 1")
    if (
        not isinstance(entries, dict)
        or not entries
        or not all(isinstance(e, dict) and finite(e.get("median_ms")) for e in entries.values())
    ):
        raise refuse("has no entries with a finite 'median_ms'")
    if "reference_ms" in lut and not (finite(lut["reference_ms"]) and lut["reference_ms"] > 0):
        raise refuse("has a 'reference_ms' that is not a positive number")
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
            f"measure a table for this run's preset with `hypernas latency measure --experiment ...`"
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
    protocol: Protocol = DEFAULT_PROTOCOL,
    runtime: str = "torch",
    reference_ms: float | None = None,
) -> Timing:
    """Measured latency of the discrete network of ``genotype`` (interleaved with the reference);
    pass a table's ``reference_ms`` to compare it with that table's predictions in one time base."""
    timings = measure_networks(
        [genotype], space, dataset, runtime, device, batch, protocol, reference_ms=reference_ms
    )
    return timings[0]
