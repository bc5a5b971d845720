"""The RBF hypernetwork u_a(s) -> alpha: architecture logits of every edge from a complexity vector s.

For reference points s_ref,r (r = 1..m) with learned reference logits alpha_ref,r (one k-vector
per edge of the architecture),

    w_r(s) = exp(-||s - s_ref,r||^2 / sigma^2) / sum_l exp(-||s - s_ref,l||^2 / sigma^2)
    alpha(s) = sum_r w_r(s) alpha_ref,r

(the paper has sigma = 1 and a negative sign; the authors' code used a positive sign). The
reference points are a fixed lattice on the simplex by default (vertices, edge midpoints and
centre) or learnable.
"""
from __future__ import annotations

import torch
from torch import nn

from . import simplex


class RBFHypernet(nn.Module):
    """alpha(s) for all ``n_edges`` edges of an architecture (28 = 14 normal + 14 reduction)."""

    def __init__(
        self,
        k: int,
        n_edges: int,
        ref_points: torch.Tensor | None = None,
        learnable_refs: bool = False,
        sigma: float = 1.0,
        init_scale: float = 1e-3,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if sigma <= 0:
            raise ValueError("sigma must be positive")
        refs = simplex.reference_points(k) if ref_points is None else ref_points.float()
        if refs.shape[1] != k:
            raise ValueError(f"reference points have {refs.shape[1]} coordinates, expected k={k}")
        self.k = k
        self.n_edges = n_edges
        self.sigma = float(sigma)
        if learnable_refs:
            self.ref_points = nn.Parameter(refs.clone())
        else:
            self.register_buffer("ref_points", refs.clone())
        init = torch.randn(refs.shape[0], n_edges, k, generator=generator) * init_scale
        self.alpha_ref = nn.Parameter(init)

    @property
    def m(self) -> int:
        """Number of reference points."""
        return self.ref_points.shape[0]

    def rbf_weights(self, s: torch.Tensor) -> torch.Tensor:
        """w(s): shape ``(m,)`` for s of shape ``(k,)``, or ``(B, m)`` for ``(B, k)``."""
        d2 = ((s.unsqueeze(-2) - self.ref_points) ** 2).sum(-1)
        return torch.softmax(-d2 / self.sigma**2, dim=-1)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        """alpha(s): shape ``(n_edges, k)`` for one s, ``(B, n_edges, k)`` for a batch of s."""
        w = self.rbf_weights(s.to(self.alpha_ref.dtype))
        return torch.einsum("...r,rek->...ek", w, self.alpha_ref)
