"""How latency is measured on a shared, drifting machine: short bursts in interleaved rounds.

Every callable of a study (and a fixed reference network) is timed in ``rounds`` rounds; each
round visits them in a fresh random order and gives each a short burst (``warmup`` untimed calls,
then ``reps`` timed ones, the burst's median). A callable's figure is the median over its rounds,
so a slow phase of the machine (another process, a frequency change) touches every callable alike
instead of distorting the ones measured during it. With a reference, each round's medians are
divided by the reference's median of the same round and multiplied by a fixed reference latency
(the study's time base: the reference's latency when the latency table was made, or else its
median over this measurement's rounds), which removes drift slower than a round, also between
separate measurements of one study.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@dataclass
class Timing:
    """A measured latency: ``median_ms`` over rounds (in the study's time base where a reference
    normalised it), the median within-burst IQR, the rounds, and ``raw_ms``, the median over rounds
    as the clock read them (the machine's speed of the moment)."""

    median_ms: float
    iqr_ms: float
    reps: int
    rounds_ms: list[float] = field(default_factory=list)
    raw_ms: float | None = None

    def to_dict(self) -> dict:
        return {"median_ms": self.median_ms, "iqr_ms": self.iqr_ms, "reps": self.reps, "raw_ms": self.raw_ms}


@torch.inference_mode()
def burst(fn: Callable[[], object], device: torch.device, warmup: int = 10, reps: int = 50) -> Timing:
    """Median and interquartile range (ms) of ``fn()`` over ``reps`` timed calls after ``warmup``."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    return Timing(statistics.median(times), q[2] - q[0], len(times))


@dataclass(frozen=True)
class Protocol:
    """The settings of a measurement (recorded in every latency table)."""

    rounds: int = 5
    warmup: int = 5
    reps: int = 20
    normalise: bool = True  # divide by the reference network of the same round
    seed: int = 0  # of the random order within each round

    def to_dict(self) -> dict:
        return {
            "rounds": self.rounds,
            "warmup": self.warmup,
            "reps": self.reps,
            "normalise": self.normalise,
            "seed": self.seed,
        }


DEFAULT_PROTOCOL = Protocol()


def measure_rounds(
    fns: list[Callable[[], object]],
    device: torch.device,
    protocol: Protocol = DEFAULT_PROTOCOL,
    reference: Callable[[], object] | None = None,
    reference_ms: float | None = None,
) -> list[Timing]:
    """Time ``fns`` under ``protocol`` (see the module docstring); one :class:`Timing` per callable,
    and, when a reference is given, one more for the reference itself, last (not normalised).

    The reference is measured in every round at a random place among the others; ``reference_ms``
    is the time base its rounds are scaled to (default: its own median over the rounds).
    """
    rng = random.Random(protocol.seed)
    calls = list(fns) + ([reference] if reference is not None else [])
    per_round: list[list[Timing]] = [[] for _ in calls]
    for _ in range(protocol.rounds):
        order = list(range(len(calls)))
        rng.shuffle(order)
        for i in order:
            per_round[i].append(burst(calls[i], device, protocol.warmup, protocol.reps))
    scale = [1.0] * protocol.rounds
    if reference is not None and protocol.normalise:
        ref = [t.median_ms for t in per_round[-1]]
        level = reference_ms or statistics.median(ref)
        scale = [level / r for r in ref]
    out = []
    for i, timings in enumerate(per_round):
        own = i == len(fns)  # the reference itself is reported as the clock read it
        rounds_ms = [t.median_ms * (1.0 if own else f) for t, f in zip(timings, scale)]
        out.append(
            Timing(
                statistics.median(rounds_ms),
                statistics.median(t.iqr_ms for t in timings),
                sum(t.reps for t in timings),
                rounds_ms,
                statistics.median(t.median_ms for t in timings),
            )
        )
    return out
