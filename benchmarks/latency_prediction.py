"""How far the latency table's prediction lies from a measurement on this machine.

    python -m benchmarks.latency_prediction          # part of `make bench`

Measures a small latency table of the smoke search space (1 thread), then the all-conv, all-pool and
all-identity networks in the table's time base, and prints each network's predicted and measured
latency and their relative difference. The numbers are the machine's, so they are reported here,
never asserted in the tests.
"""

from __future__ import annotations

import json

import torch

from hypernas.device import latency
from hypernas.device.timing import Protocol
from hypernas.space.genotype import Genotype
from hypernas.train.presets import resolve


def main() -> None:
    torch.set_num_threads(1)
    space = resolve("exp1", "smoke").space()
    table = latency.measure_lut(
        space, "fashion_mnist", "cpu", threads=1, protocol=Protocol(rounds=3, warmup=3, reps=20)
    )
    networks = [Genotype(space.ops, (op,) * 14, (op,) * 14) for op in space.ops]
    timings = latency.measure_networks(
        networks, space, "fashion_mnist", protocol=Protocol(rounds=5, warmup=3, reps=20),
        reference_ms=table["reference_ms"],
    )  # fmt: skip
    rows = []
    for g, timing in zip(networks, timings):
        predicted = latency.predict(table, g, space, "fashion_mnist")
        rows.append(
            {
                "network": f"all {g.normal[0]}",
                "predicted_ms": round(predicted, 4),
                "measured_ms": round(timing.median_ms, 4),
                "relative_error": round((predicted - timing.median_ms) / timing.median_ms, 4),
            }
        )
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
