"""Latency lookup tables from the API: measure one for a search space (:func:`measure_lut`) and
read a device's complexity vector off it (:func:`s_device`)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from hypernas import data
from hypernas.device import latency
from hypernas.device.runtime import check_runtime
from hypernas.device.timing import Protocol
from hypernas.errors import ConfigError
from hypernas.io import check_writable, write_json
from hypernas.space.cells import SearchSpace
from hypernas.train.build import torch_device
from hypernas.train.presets import resolve


def check_threads(threads: int, name: str = "threads") -> int:
    """``threads`` checked to lie between 1 and the number of CPUs this process may use."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if not 1 <= threads <= available:
        raise ConfigError(f"{name} must be from 1 to {available} (the CPUs of this machine), not {threads}")
    return threads


def measure_lut(
    experiment: str = "exp1",
    *,
    overrides: dict | None = None,
    dataset: str | None = None,
    device: torch.device | str = "cpu",
    threads: int | None = None,
    batch: int = 1,
    reps: int = 20,
    rounds: int = 5,
    runtime: str = "torch",
    out: str | Path | None = None,
) -> dict:
    """Measure a latency lookup table (LUT) of ``experiment``'s search space on ``device``.

    Every op at every position of the network is timed in ``runtime`` (``torch`` eager or
    ``onnxruntime``) with ``threads`` CPU threads, in ``rounds`` interleaved rounds of ``reps`` timed
    calls (:mod:`hypernas.device.timing`). The table, also written to ``out`` when given, is what
    :meth:`Run.select` and :func:`s_device` read. ``dataset`` replaces the preset's (as in
    :func:`hypernas.search`).
    """
    if batch < 1 or batch > 4096 or reps < 3 or rounds < 1:
        raise ConfigError("--batch must be from 1 to 4096, --reps >= 3 and --rounds >= 1")
    check_runtime(runtime)
    if threads is not None:
        check_threads(threads, "--threads")
    overrides = dict(overrides or {})
    if dataset is not None:  # a user's images: only their channels and side matter here
        overrides["dataset"] = data.custom.prepare(dataset, data.resolve_root(None))
    cfg = resolve(experiment, "paper", overrides)
    if out is not None:
        check_writable(out)
    protocol = Protocol(rounds=rounds, reps=reps)
    lut = latency.measure_lut(
        cfg.space(),
        cfg.dataset,
        torch_device(device),
        threads=threads,
        batch=batch,
        protocol=protocol,
        runtime=runtime,
    )
    lut["experiment"] = experiment
    if out is not None:
        write_json(Path(out), lut)
    return lut


def s_device(lut: dict | str | Path) -> dict[str, float]:
    """The device's complexity vector ``{op: share}``: each op's share of the measured cell latency."""
    table = latency.read_lut(lut)
    sp = table["space"]
    space = SearchSpace(
        ops=tuple(sp["ops"]),
        in_channels=data.spec(sp["dataset"]).channels,
        init_channels=sp["init_channels"],
        layers=sp["layers"],
        nodes=sp["nodes"],
        stem_multiplier=sp["stem_multiplier"],
    )
    return dict(zip(space.ops, latency.s_device(table, space, sp["dataset"])))
