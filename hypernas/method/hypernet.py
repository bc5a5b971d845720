"""The RBF hypernetwork u_a(s) -> alpha: architecture logits of every edge from a complexity vector s.

For reference points s_ref,r (r = 1..m) with learned reference logits alpha_ref,r (one k-vector
per edge of the architecture),

    w_r(s) = exp(-||s - s_ref,r||^2 / sigma^2) / sum_l exp(-||s - s_ref,l||^2 / sigma^2)
    alpha(s) = sum_r w_r(s) alpha_ref,r

(the paper has sigma = 1 and a negative sign; the authors' code used a positive sign, which
``sign=+1`` reproduces). Without further arguments the class uses one fixed lattice on the
simplex (vertices, edge midpoints and centre) shared by every edge, optionally learnable. The
authors' code had instead one small hypernetwork per intermediate node: each node's edges share
that node's own reference points, drawn from N(0, I) off the simplex; reference points of shape
``(G, m, k)`` with ``edge_groups`` give that layout (:func:`random_node_references`), which is the
search config's default (``ref_layout="random_per_node"``, see ``search.build_hypernet``).
"""

from __future__ import annotations

import torch
from torch import nn

from hypernas.method import simplex

REF_LAYOUTS = ("lattice", "random_per_node")
AUTHORS_REFS_PER_NODE = 5  # pivots per intermediate node in the authors' code


def random_node_references(
    k: int, groups: int, per_group: int = AUTHORS_REFS_PER_NODE, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Reference points of shape ``(groups, per_group, k)`` drawn from N(0, I), as the authors' code did."""
    return torch.randn(groups, per_group, k, generator=generator)


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
        edge_groups: torch.Tensor | None = None,
        sign: float = -1.0,
    ):
        super().__init__()
        if sigma <= 0:
            raise ValueError("sigma must be positive")
        if sign not in (-1.0, 1.0):
            raise ValueError("sign must be -1 (paper) or +1 (authors' code)")
        refs = simplex.reference_points(k) if ref_points is None else ref_points.float()
        if refs.dim() not in (2, 3) or refs.shape[-1] != k:
            raise ValueError(
                f"reference points must have shape (m, {k}) or (G, m, {k}), got {tuple(refs.shape)}"
            )
        groups = 1 if refs.dim() == 2 else refs.shape[0]
        if edge_groups is None:
            if groups != 1:
                raise ValueError("grouped reference points need edge_groups (the group of every edge)")
            edge_groups = torch.zeros(n_edges, dtype=torch.long)
        edge_groups = torch.as_tensor(edge_groups, dtype=torch.long)
        if edge_groups.shape != (n_edges,) or int(edge_groups.min()) < 0 or int(edge_groups.max()) >= groups:
            raise ValueError(
                f"edge_groups must give a group in [0, {groups}) for each of the {n_edges} edges"
            )
        self.k = k
        self.n_edges = n_edges
        self.sigma = float(sigma)
        self.sign = float(sign)
        if learnable_refs:
            self.ref_points = nn.Parameter(refs.clone())
        else:
            self.register_buffer("ref_points", refs.clone())
        self.register_buffer("edge_groups", edge_groups.clone(), persistent=False)
        init = torch.randn(refs.shape[-2], n_edges, k, generator=generator) * init_scale
        self.alpha_ref = nn.Parameter(init)

    @property
    def m(self) -> int:
        """Number of reference points (per group)."""
        return self.ref_points.shape[-2]

    @property
    def grouped(self) -> bool:
        """True when groups of edges have their own reference points (the authors' per-node layout)."""
        return self.ref_points.dim() == 3

    def rbf_weights(self, s: torch.Tensor) -> torch.Tensor:
        """w(s): shape ``(m,)`` for s of shape ``(k,)``, or ``(B, m)`` for ``(B, k)``; grouped: ``(..., G, m)``."""
        refs = self.ref_points if self.grouped else self.ref_points.unsqueeze(0)
        d2 = ((s[..., None, None, :] - refs) ** 2).sum(-1)
        w = torch.softmax(self.sign * d2 / self.sigma**2, dim=-1)
        return w if self.grouped else w.squeeze(-2)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        """alpha(s): shape ``(n_edges, k)`` for one s, ``(B, n_edges, k)`` for a batch of s."""
        w = self.rbf_weights(s.to(self.alpha_ref.dtype))
        if not self.grouped:
            return torch.einsum("...r,rek->...ek", w, self.alpha_ref)
        w_edge = w[..., self.edge_groups, :]  # (..., n_edges, m)
        return torch.einsum("...er,rek->...ek", w_edge, self.alpha_ref)


class PlainLogits(nn.Module):
    """Architecture logits alpha learned directly, one k-vector per edge, the same for every s.

    This is an ordinary DARTS search at one fixed complexity vector (the separate-search baseline:
    ``SearchConfig.fixed_s``); it has the hypernetwork's call signature, so deriving, evaluating and
    checkpointing treat both alike.
    """

    def __init__(
        self, k: int, n_edges: int, init_scale: float = 1e-3, generator: torch.Generator | None = None
    ):
        super().__init__()
        self.k = k
        self.n_edges = n_edges
        self.alpha = nn.Parameter(torch.randn(n_edges, k, generator=generator) * init_scale)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        """alpha: shape ``(n_edges, k)`` for one s, ``(B, n_edges, k)`` for a batch of s."""
        return self.alpha if s.dim() == 1 else self.alpha.expand(s.shape[0], -1, -1)
