"""Typed results built by hand for the report's tests: the fields a test sets, the rest filled in."""

from __future__ import annotations

import dataclasses

from hypernas.pipeline.results import Architecture, Provenance, Result
from hypernas.train.checkpoint import Segment
from hypernas.train.presets import resolve

GROUP_OPS = {"pool": "max_pool_3x3", "identity": "skip_connect", "conv": "sep_conv_3x3"}


def provenance(**fields) -> Provenance:
    """A provenance of one machine, times in seconds; ``fields`` replace the defaults."""
    base = dict(
        commit="abc",
        hardware="cpu",
        torch="2.14.1",
        python="3.11.7",
        date="2026-12-01T00:00:00+00:00",
        data_source="Fashion-MNIST (offline IDX copy)",
        train_images=30_000,
        test_images=10_000,
        wall_time_s=130.0,
        search_time_s=100.0,
        evaluation_time_s=30.0,
        pipeline_time_s=130.0,
    )
    return Provenance(**{**base, **fields})


def segment(**fields) -> Segment:
    base = dict(
        commit="abc",
        hardware="cpu",
        threads=1,
        precision="float32",
        torch="2.14.1",
        started="2026-12-01T00:00:00+00:00",
        start=(0, 0),
        end=(1, 0),
        images=1000,
        seconds=10.0,
    )
    return Segment(**{**base, **fields})


def architecture(counts: dict[str, int] | tuple[int, int, int], accuracy: dict | float = 80.0, **fields):
    """An architecture with op-group ``counts`` ((pool, conv, identity) or a dict) over its 28 edges and
    test ``accuracy`` (one inherited figure, or a dict by protocol)."""
    if not isinstance(counts, dict):
        counts = dict(zip(("pool", "conv", "identity"), counts))
    edges = [GROUP_OPS[g] for g, n in counts.items() for _ in range(n)]
    edges += [GROUP_OPS["pool"]] * (28 - len(edges))
    if not isinstance(accuracy, dict):
        accuracy = {"inherited": float(accuracy)}
    base = dict(
        s=(1 / 3, 1 / 3, 1 / 3),
        ops=tuple(GROUP_OPS[g] for g in ("pool", "identity", "conv")),
        normal=tuple(edges[:14]),
        reduce=tuple(edges[14:]),
        op_counts={op: edges.count(op) for op in GROUP_OPS.values()},
        group_counts=dict(counts),
        cell_params=1000 * counts.get("conv", 0),
        total_params=20_000 + 1000 * counts.get("conv", 0),
        test_accuracy=accuracy,
    )
    return Architecture(**{**base, **fields})


def result(
    architectures: dict[str, Architecture] | None = None,
    config: dict | None = None,
    curves: list[dict] | None = None,
    **fields,
) -> Result:
    """A result of the smoke profile's exp1 with ``config`` overrides (strings or values, as
    ``--set`` takes them), A-D of ``architectures`` (default: four of equal counts) and ``fields``."""
    cfg = resolve("exp1", "smoke", config or {})
    archs = architectures or {n: architecture((10, 10, 8)) for n in "ABCD"}
    base = dict(
        experiment="exp1",
        name="exp1",
        profile="smoke",
        config_hash=cfg.hash(),
        config=cfg,
        provenance=provenance(),
        architectures=archs,
        curves=curves or [],
    )
    return Result(**{**base, **fields})


def with_accuracy(r: Result, name: str, protocol: str, value: float) -> Result:
    """``r`` with one accuracy of one architecture replaced."""
    arch = r.architectures[name]
    arch = dataclasses.replace(arch, test_accuracy={**arch.test_accuracy, protocol: value})
    return dataclasses.replace(r, architectures={**r.architectures, name: arch})
