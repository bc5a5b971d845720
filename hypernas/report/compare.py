"""What the baseline study shows: fronts, hypervolumes, improvement over random, rank agreement, compute.

Pure functions of a study's result (:mod:`hypernas.pipeline.baselines`); nothing here trains or reads
files. The conventions, stated where the numbers stand in the book:

* a **front** is the set of architectures not dominated in (cell parameters, accuracy): none other
  is at most as large and more accurate. It is *picked* on validation accuracy and *reported* on
  test accuracy, so that no set is flattered by picking on the split it is scored on;
* the **hypervolume** of a front is the area it dominates in (test error, cell parameters), both
  normalised to [0, 1] by the largest value of the study (:data:`HV_REFERENCE` is the reference
  point), computed by pymoo; its interval is a bootstrap over the set's architectures;
* the **relative improvement** over random sampling at matched size is
  RI = 100 (acc_method - acc_random) / acc_random (Yang et al., ICLR 2020), for each of A-D against
  the architecture with the same op counts in each cell placed at random;
* **rank agreement** is Kendall's tau (and Spearman's rho) between inherited and retrained test
  accuracy over every architecture of the study, with a bootstrap interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hypernas.pipeline.results import Result

GROUP_TITLES = {
    "paper": "A-D (the family)",
    "family": "family, further members",
    "random": "random",
    "matched": "random, same op counts",
    "separate": "separate searches",
}
# The sets compared: the family (A-D and the further members), random architectures (both kinds),
# and the separate searches.
SETS = {"family": ("paper", "family"), "random": ("random", "matched"), "separate": ("separate",)}
HV_REFERENCE = (1.1, 1.1)  # (normalised test error, normalised cell parameters)
BOOTSTRAP = 2000
CONFIDENCE = 0.95


def members(study: dict, groups: Sequence[str]) -> list[dict]:
    """The architectures of the study in ``groups``."""
    return [a for a in study["architectures"] if a["group"] in groups]


def score(arch: dict, protocol: str, split: str) -> float:
    return float(arch["accuracy"][protocol][split])


def pareto_front(archs: list[dict], protocol: str = "retrain", split: str = "val") -> list[dict]:
    """The architectures not dominated in (cell parameters, accuracy on ``split``), smallest first.

    An architecture is dropped when another is at most as large and at least as accurate, and
    strictly better in one of the two (exact duplicates keep the first)."""
    ordered = sorted(archs, key=lambda a: (a["cell_params"], -score(a, protocol, split)))
    front, best = [], -math.inf
    for a in ordered:
        acc = score(a, protocol, split)
        if acc > best:
            front.append(a)
            best = acc
    return front


def normaliser(study: dict, protocol: str = "retrain") -> tuple[float, float]:
    """(largest test error, largest cell parameters) over every architecture of the study."""
    archs = study["architectures"]
    err = max(100.0 - score(a, protocol, "test") for a in archs)
    params = max(a["cell_params"] for a in archs)
    return max(err, 1e-9), float(max(params, 1))


def hypervolume(archs: list[dict], scale: tuple[float, float], protocol: str = "retrain") -> float:
    """Hypervolume of the front of ``archs`` picked on validation accuracy, measured on test error.

    Points are (test error / scale[0], cell parameters / scale[1]); the reference point is
    :data:`HV_REFERENCE`. pymoo's implementation computes the dominated area."""
    from pymoo.indicators.hv import HV

    front = pareto_front(archs, protocol, "val")
    if not front:
        return 0.0
    points = np.array(
        [[(100.0 - score(a, protocol, "test")) / scale[0], a["cell_params"] / scale[1]] for a in front]
    )
    return float(HV(ref_point=np.array(HV_REFERENCE))(points))


def _interval(values: np.ndarray) -> tuple[float, float]:
    tail = (1.0 - CONFIDENCE) / 2
    return float(np.quantile(values, tail)), float(np.quantile(values, 1.0 - tail))


def bootstrap_hypervolume(
    archs: list[dict],
    scale: tuple[float, float],
    protocol: str = "retrain",
    n: int = BOOTSTRAP,
    seed: int = 0,
) -> dict:
    """``{"hv", "low", "high", "n"}``: the set's hypervolume and a percentile bootstrap interval over
    its architectures (each resample draws as many architectures as the set has, with replacement)."""
    hv = hypervolume(archs, scale, protocol)
    rng = np.random.default_rng(seed)
    draws = np.array(
        [
            hypervolume([archs[i] for i in rng.integers(len(archs), size=len(archs))], scale, protocol)
            for _ in range(n)
        ]
    )
    low, high = _interval(draws)
    return {"hv": hv, "low": low, "high": high, "n": len(archs)}


def hypervolumes(study: dict, protocol: str = "retrain", n: int = BOOTSTRAP) -> dict[str, dict]:
    """:func:`bootstrap_hypervolume` of each of :data:`SETS` on one shared normalisation."""
    scale = normaliser(study, protocol)
    return {
        name: bootstrap_hypervolume(members(study, groups), scale, protocol, n)
        for name, groups in SETS.items()
    }


def hypervolume_difference(
    study: dict, first: str, second: str, protocol: str = "retrain", n: int = BOOTSTRAP, seed: int = 0
) -> dict:
    """HV(first) - HV(second) of two of :data:`SETS` at equal numbers of architectures.

    A bootstrap resample of a set can only lose points of its front, so a set's own interval ends at
    its full value; and a larger set covers more on its own. Each draw therefore takes the same
    number m (the smaller set's size) of architectures, with replacement, from each set and records
    the difference of their hypervolumes. Returns ``{"m", "mean", "low", "high"}``: an interval
    that holds 0 means the two sets are not distinguishable."""
    scale = normaliser(study, protocol)
    a, b = members(study, SETS[first]), members(study, SETS[second])
    m = min(len(a), len(b))
    rng = np.random.default_rng(seed)
    diffs = np.array(
        [
            hypervolume([a[i] for i in rng.integers(len(a), size=m)], scale, protocol)
            - hypervolume([b[i] for i in rng.integers(len(b), size=m)], scale, protocol)
            for _ in range(n)
        ]
    )
    low, high = _interval(diffs)
    return {"m": m, "mean": float(diffs.mean()), "low": low, "high": high}


def overlap(a: dict, b: dict) -> bool:
    """True when two intervals ``{"low", "high"}`` overlap: the two sets are not distinguishable."""
    return a["low"] <= b["high"] and b["low"] <= a["high"]


def relative_improvement(acc_method: float, acc_random: float) -> float:
    """RI = 100 (acc_method - acc_random) / acc_random, in percent of the random accuracy."""
    return 100.0 * (acc_method - acc_random) / acc_random


def matched_improvement(study: dict, protocol: str = "retrain", n: int = BOOTSTRAP, seed: int = 0) -> dict:
    """RI of each of A-D over its matched random architecture (same op counts per cell), and their
    mean with a bootstrap interval over the pairs."""
    by_label = {a["label"]: a for a in study["architectures"]}
    pairs = {}
    for a in members(study, ("paper",)):
        twin = by_label.get(f"{a['label']}~")
        if twin is not None:
            pairs[a["label"]] = relative_improvement(
                score(a, protocol, "test"), score(twin, protocol, "test")
            )
    values = np.array(list(pairs.values()))
    out = {"pairs": pairs, "mean": float(values.mean()) if len(values) else math.nan}
    if len(values) > 1:
        rng = np.random.default_rng(seed)
        out["low"], out["high"] = _interval(
            np.array([values[rng.integers(len(values), size=len(values))].mean() for _ in range(n)])
        )
    return out


def _kendall_spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from scipy.stats import kendalltau, spearmanr

    return float(kendalltau(x, y).statistic), float(spearmanr(x, y).statistic)


def rank_agreement(study: dict, n: int = BOOTSTRAP, seed: int = 0) -> dict:
    """Kendall's tau and Spearman's rho between inherited and retrained test accuracy over every
    distinct architecture of the study, with bootstrap intervals over the architectures."""
    seen, inh, ret = set(), [], []
    for a in study["architectures"]:
        if a["genotype"] in seen:
            continue
        seen.add(a["genotype"])
        inh.append(score(a, "inherited", "test"))
        ret.append(score(a, "retrain", "test"))
    x, y = np.array(inh), np.array(ret)
    tau, rho = _kendall_spearman(x, y)
    rng = np.random.default_rng(seed)
    taus, rhos = [], []
    for _ in range(n):
        idx = rng.integers(len(x), size=len(x))
        if len(set(idx.tolist())) < 3:
            continue
        t, r = _kendall_spearman(x[idx], y[idx])
        if not (math.isnan(t) or math.isnan(r)):
            taus.append(t)
            rhos.append(r)
    tau_lo, tau_hi = _interval(np.array(taus)) if taus else (math.nan, math.nan)
    rho_lo, rho_hi = _interval(np.array(rhos)) if rhos else (math.nan, math.nan)
    return {
        "n": len(x),
        "kendall_tau": tau,
        "tau_low": tau_lo,
        "tau_high": tau_hi,
        "spearman_rho": rho,
        "rho_low": rho_lo,
        "rho_high": rho_hi,
    }


def compute_ratio(study: dict) -> dict:
    """What the separate searches cost against the one hypernetwork search: their totals and ratios
    (wall time, CPU time, images processed), and the machines each ran on."""
    c = study["compute"]
    return {
        "hypernetwork": c["hypernetwork"],
        "separate_total": c["separate_total"],
        "n_separate": len(c["separate"]),
        "ratio": c["ratio"],
        "same_machines": len(
            {h for s in c["separate"].values() for h in s["hardware"]} | set(c["hypernetwork"]["hardware"])
        )
        == 1,
    }


def seed_summary(results: Sequence[Result], protocol: str) -> dict[str, dict]:
    """Per architecture A-D: its test accuracy under ``protocol`` in each result (one per seed), and
    their mean and sample standard deviation (0 for one seed)."""
    out = {}
    for name in results[0].architectures:
        values = [r.architectures[name].test_accuracy[protocol] for r in results]
        out[name] = {
            "values": values,
            "mean": float(np.mean(values)),
            "sd": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
        }
    return out
