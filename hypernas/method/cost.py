"""The complexity penalty Cost(gamma; s) = sum_{edges} sum_m gamma_m s_m and its relaxations.

The sum runs over the architecture's edges (14 normal + 14 reduction). What stands in for gamma
is an explicit option, because the paper's text and its code disagree:

* ``softmax_t`` (the paper's text): gamma_tilde = Softmax(alpha / t), claimed to equal E[gamma];
* ``softmax`` (the authors' code): Softmax(alpha), the true t -> 0 limit of E[gamma];
* ``sample``: the Gumbel-Softmax sample gamma itself, averaged over the mini-batch.
"""

from __future__ import annotations

import torch

RELAXATIONS = ("softmax_t", "softmax", "sample")


def relaxed_weights(
    alpha: torch.Tensor, t: float, relaxation: str, gamma: torch.Tensor | None = None
) -> torch.Tensor:
    """The ``(n_edges, k)`` weights that enter the Cost under ``relaxation``."""
    if relaxation == "softmax_t":
        return torch.softmax(alpha / t, dim=-1)
    if relaxation == "softmax":
        return torch.softmax(alpha, dim=-1)
    if relaxation == "sample":
        if gamma is None:
            raise ValueError("relaxation 'sample' needs the Gumbel-Softmax sample gamma")
        return gamma.mean(dim=0) if gamma.dim() == alpha.dim() + 1 else gamma
    raise ValueError(f"unknown cost relaxation {relaxation!r}; choose one of {', '.join(RELAXATIONS)}")


def cost(weights: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Cost = sum_e sum_m weights[e, m] * s_m (a scalar)."""
    return (weights * s.to(weights.dtype)).sum()


def relaxed_cost(
    alpha: torch.Tensor, s: torch.Tensor, t: float, relaxation: str, gamma: torch.Tensor | None = None
) -> torch.Tensor:
    """Cost(gamma; s) with gamma replaced according to ``relaxation``."""
    return cost(relaxed_weights(alpha, t, relaxation, gamma), s)
