"""Numerical check of the paper's Theorem 1 on the t -> 0 limit of Gumbel-Softmax expectations.

The paper states lim_{t->0} E f(GS(alpha, t)) = f(Softmax(alpha/t)|_{t=0}) = f(one-hot(argmax alpha))
and uses gamma_tilde = Softmax(alpha/t) as E[gamma]. By the Gumbel-max trick the GS sample tends,
as t -> 0, to a *random* one-hot e_K with P(K = k) = Softmax(alpha)_k, so for bounded continuous f

    lim_{t->0} E f(GS(alpha, t)) = sum_k Softmax(alpha)_k f(e_k),
    lim_{t->0} E GS(alpha, t)    = Softmax(alpha).

This module estimates both sides by Monte Carlo with confidence intervals.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from hypernas.method.gumbel import gumbel_softmax

DEFAULT_TS = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01)
AGREE_HALF_WIDTHS = 3  # a Monte Carlo estimate agrees with a limit within this many 95 % half-widths,
AGREE_SLACK = 1e-3  # plus this absolute slack (where the half-width itself is near 0)

DEFAULT_ALPHAS: dict[str, list[float]] = {
    "k3_paper": [1.0, 0.0, -0.5],  # the alpha of the check recorded with the paper's digest
    "k3_peaked": [3.0, 0.0, -1.0],
    "k3_flat": [0.2, 0.1, 0.0],
    "k5_peaked": [2.5, 1.0, 0.0, -0.5, -1.0],
    "k5_flat": [0.2, 0.15, 0.1, 0.05, 0.0],
}


def linear_cost(s: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """f(gamma) = <gamma, s>: the Cost of one edge."""
    return lambda g: g @ s


def task_loss(q: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """f(gamma) = -log <gamma, q> with q in (0, 1]: a bounded, continuous, non-linear task-like loss
    (the cross-entropy of a mixture whose op m predicts the true class with probability q_m)."""
    return lambda g: -torch.log(g @ q)


def functions_for(k: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    s = torch.linspace(1.0, 2.0, k, dtype=torch.float64)
    s = s / s.sum()
    q = torch.linspace(0.9, 0.1, k, dtype=torch.float64)
    # the task loss rewards the op that the linear cost penalises least: a trade-off as in the search
    return {"linear_cost": linear_cost(s), "task_loss": task_loss(q)}


def _mean_ci(x: torch.Tensor, z: float = 1.96) -> tuple[torch.Tensor, torch.Tensor]:
    n = x.shape[0]
    return x.mean(0), z * x.std(0) / n**0.5


def check(
    alpha: list[float],
    ts: tuple[float, ...] = DEFAULT_TS,
    n_samples: int = 100_000,
    seed: int = 0,
) -> dict:
    """Monte Carlo estimates of E[GS(alpha, t)] and E[f(GS(alpha, t))] against the candidate limits."""
    a = torch.tensor(alpha, dtype=torch.float64)
    k = len(alpha)
    fns = functions_for(k)
    eye = torch.eye(k, dtype=torch.float64)
    p = torch.softmax(a, 0)
    gen = torch.Generator().manual_seed(seed)
    out = {
        "alpha": list(alpha),
        "mc_mean": [],
        "mc_ci": [],
        "softmax_t": [],
        "softmax": p.tolist(),
        "f": {
            name: {
                "mc": [],
                "mc_ci": [],
                "at_softmax_t": [],
                "at_softmax": float(f(p)),
                "at_argmax_one_hot": float(f(eye[int(a.argmax())])),
                "categorical_limit": float(sum(p[j] * f(eye[j]) for j in range(k))),
            }
            for name, f in fns.items()
        },
    }
    for t in ts:
        g = gumbel_softmax(a, t, batch=n_samples, generator=gen).to(torch.float64)
        g = g.clamp_min(1e-300)
        mean, ci = _mean_ci(g)
        out["mc_mean"].append(mean.tolist())
        out["mc_ci"].append(ci.tolist())
        out["softmax_t"].append(torch.softmax(a / t, 0).tolist())
        for name, f in fns.items():
            m, c = _mean_ci(f(g))
            out["f"][name]["mc"].append(float(m))
            out["f"][name]["mc_ci"].append(float(c))
            out["f"][name]["at_softmax_t"].append(float(f(torch.softmax(a / t, 0))))
    return out


def checks_match(
    previous: dict,
    alphas: dict[str, list[float]] | None = None,
    ts=DEFAULT_TS,
    n_samples: int = 100_000,
    seed: int = 0,
) -> bool:
    """Whether ``previous`` (a stored :func:`run_checks` result) was made with exactly these settings,
    so that it can be reused instead of drawing the samples again."""
    alphas = alphas or DEFAULT_ALPHAS
    return (
        previous.get("t") == list(ts)
        and previous.get("n_samples") == n_samples
        and previous.get("seed") == seed
        and {n: c.get("alpha") for n, c in previous.get("alphas", {}).items()}
        == {n: list(a) for n, a in alphas.items()}
    )


def run_checks(
    alphas: dict[str, list[float]] | None = None, ts=DEFAULT_TS, n_samples: int = 100_000, seed: int = 0
) -> dict:
    """``check`` for every alpha; the dict written to ``results/<profile>/theorem.json``."""
    alphas = alphas or DEFAULT_ALPHAS
    return {
        "t": list(ts),
        "n_samples": n_samples,
        "seed": seed,
        "alphas": {name: check(a, ts, n_samples, seed + i) for i, (name, a) in enumerate(alphas.items())},
    }


def agrees(estimate: float, limit: float, half_width: float) -> bool:
    """Whether a Monte Carlo ``estimate`` with 95 % ``half_width`` agrees with ``limit``: within
    :data:`AGREE_HALF_WIDTHS` half-widths plus :data:`AGREE_SLACK`."""
    return abs(estimate - limit) <= AGREE_HALF_WIDTHS * half_width + AGREE_SLACK


def limit_verdict(checks: dict) -> dict[str, int]:
    """At the coldest temperature, over every (alpha, f) of :func:`run_checks`: in how many cases the
    corrected limit (the categorical expectation under Softmax(alpha)) agrees with the Monte Carlo
    estimate (``holds``), in how many the paper's limit f(one-hot argmax) does not (``fails``), of ``total``."""
    cases = [c["f"][name] for c in checks["alphas"].values() for name in c["f"]]
    return {
        "holds": sum(agrees(f["mc"][-1], f["categorical_limit"], f["mc_ci"][-1]) for f in cases),
        "fails": sum(not agrees(f["mc"][-1], f["at_argmax_one_hot"], f["mc_ci"][-1]) for f in cases),
        "total": len(cases),
    }
