"""The network of the search space: mixed operations, cells and the whole supernet.

One class, :class:`CellNetwork`, underlies both the :class:`Supernet` and every derived
:class:`~hypernas.space.network.StandaloneNetwork`: an edge holds a list of candidate ops. In the supernet each edge holds all k primitives and its output is the mixed
operation g(x) = sum_m gamma_m o^(m)(x) with per-example weights gamma (shape ``(B, k)``);
in a derived (discrete) network each edge holds the single chosen op and no gamma is needed.
Module names are the same in both, so the supernet's weights can be inherited op by op.
"""

from __future__ import annotations

import torch
from torch import nn

from hypernas.space import fused_cell as grouped_exec
from hypernas.space import ops as op_registry
from hypernas.space.cells import SearchSpace


class MixedEdge(nn.Module):
    """Candidate ops of one edge; ``forward(x, gamma)`` mixes them with per-example weights."""

    def __init__(self, op_names: list[str], C: int, stride: int, affine: bool):
        super().__init__()
        self.op_names = list(op_names)
        self.ops = nn.ModuleList(op_registry.build(name, C, stride, affine) for name in op_names)

    def forward(
        self, x: torch.Tensor, gamma: torch.Tensor | None = None, active: int | None = None
    ) -> torch.Tensor:
        if gamma is None:
            if len(self.ops) != 1:
                raise ValueError("a mixed edge with several ops needs weights gamma")
            return self.ops[0](x)
        if active is not None:
            # sampled path: only op `active` is computed; gamma[..., active] is 1 in the forward pass
            # and carries the straight-through gradient to the logits
            return gamma[..., active].reshape(-1, 1, 1, 1) * self.ops[active](x)
        # gamma: (B, k) per-example weights, broadcast over (C, H, W); the weighted sum is
        # accumulated with addcmul (one pass per op instead of a multiply and an add)
        g = gamma.reshape(gamma.shape[0], -1, 1, 1, 1).unbind(1)
        out = self.ops[0](x) * g[0]
        for m in range(1, len(self.ops)):
            out = out.addcmul(self.ops[m](x), g[m])
        return out


class Cell(nn.Module):
    """A DARTS cell: two preprocessed inputs, ``nodes`` intermediate nodes, output = concat of the nodes."""

    def __init__(
        self,
        space: SearchSpace,
        edge_ops: list[list[str]],
        c_prev_prev: int,
        c_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
        affine: bool = False,
    ):
        super().__init__()
        self.reduction = reduction
        self.nodes = space.nodes
        self.edge_list = space.edges
        if reduction_prev:
            self.preprocess0 = op_registry.FactorizedReduce(c_prev_prev, C, affine)
        else:
            self.preprocess0 = op_registry.ReLUConvBN(c_prev_prev, C, 1, 1, 0, affine)
        self.preprocess1 = op_registry.ReLUConvBN(c_prev, C, 1, 1, 0, affine)
        self.edges = nn.ModuleList(
            MixedEdge(names, C, edge.stride(reduction), affine)
            for names, edge in zip(edge_ops, self.edge_list)
        )
        #: run the mixed edges grouped by source node in training (see :mod:`hypernas.space.fused_cell`)
        self.grouped = True

    def forward(
        self, s0: torch.Tensor, s1: torch.Tensor, gamma: torch.Tensor | None, active: list[int] | None = None
    ) -> torch.Tensor:
        if self.grouped and self.training and gamma is not None and active is None:
            return grouped_exec.cell_forward(self, s0, s1, gamma)
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        e = 0
        for _ in range(self.nodes):
            node = None
            for src in range(len(states)):
                g = None if gamma is None else gamma[:, e]
                term = self.edges[e](states[src], g, None if active is None else active[e])
                node = term if node is None else node + term
                e += 1
            states.append(node)
        return torch.cat(states[2:], dim=1)


class CellNetwork(nn.Module):
    """Stem (3 x 3 conv + BN) -> cells -> global average pool -> linear classifier.

    ``normal_ops[e]`` / ``reduce_ops[e]`` list the candidate ops of edge e of the normal /
    reduction cell. ``forward(x, gamma)`` takes gamma of shape ``(B, 2 * n_edges, k)`` (normal
    edges first) for a supernet, or ``None`` for a discrete network. With ``active`` (one op index
    per architecture edge) only those ops are computed (sampled-path mode; gamma of shape
    ``(1, 2 * n_edges, k)`` is then shared by the batch).
    """

    def __init__(
        self,
        space: SearchSpace,
        normal_ops: list[list[str]],
        reduce_ops: list[list[str]],
        affine: bool = False,
    ):
        super().__init__()
        self.space = space
        c_stem = space.stem_multiplier * space.init_channels
        self.stem = nn.Sequential(
            nn.Conv2d(space.in_channels, c_stem, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_stem),
        )
        c_prev_prev, c_prev = c_stem, c_stem
        reduction_prev = False
        self.cells = nn.ModuleList()
        for reduction, C in space.cell_layout():
            cell = Cell(
                space,
                reduce_ops if reduction else normal_ops,
                c_prev_prev,
                c_prev,
                C,
                reduction,
                reduction_prev,
                affine,
            )
            self.cells.append(cell)
            c_prev_prev, c_prev = c_prev, space.nodes * C
            reduction_prev = reduction
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, space.num_classes)

    def forward(
        self, x: torch.Tensor, gamma: torch.Tensor | None = None, active: list[int] | None = None
    ) -> torch.Tensor:
        n = self.space.n_edges
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            g = a = None
            if gamma is not None:
                g = gamma[:, n:] if cell.reduction else gamma[:, :n]
            if active is not None:
                a = active[n:] if cell.reduction else active[:n]
            s0, s1 = s1, cell(s0, s1, g, a)
        return self.classifier(self.global_pooling(s1).flatten(1))


class Supernet(CellNetwork):
    """The supernet: every edge holds all k ops of the space, mixed by gamma."""


def build_supernet(space: SearchSpace) -> Supernet:
    """The supernet: every edge holds all k ops of ``space.ops``."""
    all_ops = [list(space.ops) for _ in range(space.n_edges)]
    return Supernet(space, all_ops, all_ops, affine=False)
