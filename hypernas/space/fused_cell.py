"""Source-grouped execution of a supernet cell: the same mixed-op computation with fewer, wider kernels.

In a DARTS cell every node feeds several edges (an input node feeds all ``nodes`` intermediate
nodes), and every edge of the supernet holds the same k candidate ops. Evaluated edge by edge, the
cell runs each op once per edge on the *same* input tensor. Grouped by source node instead:

* the ReLU in front of separable convolutions and FactorizedReduce is computed once per source;
* a pooling op followed by a BatchNorm without affine parameters gives the *same* output on every
  edge of a source during training (same input, same batch statistics), so it is computed once;
  each edge's running statistics are still updated with that batch's mean and variance;
* separable convolutions and FactorizedReduce of the E edges of a source run as grouped
  convolutions over E * C channels (weights concatenated at call time, so every edge keeps its own
  parameters and the state dict is unchanged), and their BatchNorms as one call over E * C channels.

Each node then sums its incoming edges' op outputs weighted by gamma in one autograd function
(:class:`_WeightedSum`). What is computed is the mixed operation g(x) = sum_m gamma_m o^(m)(x) of
every edge, exactly as the edge-by-edge forward computes it; only floating-point summation order
differs (tests compare both: outputs to 1e-5, gradients of weights and gamma to 1e-4, BatchNorm
statistics to 1e-5). Used in training mode; evaluation keeps the edge-by-edge path.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.nn import functional as F

from hypernas.space import ops as op_registry
from hypernas.space.cells import cell_edges


def _momentum(bn: nn.BatchNorm2d) -> float:
    """The factor BatchNorm's next training step gives this batch in its running statistics."""
    return bn.momentum if bn.momentum is not None else 1.0 / (float(bn.num_batches_tracked) + 1)


def _update_running_stats(bn: nn.BatchNorm2d, mean: torch.Tensor, var: torch.Tensor) -> None:
    """The running-statistics update BatchNorm makes in training mode (unbiased var), applied to ``bn``."""
    momentum = _momentum(bn)
    bn.running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
    bn.running_var.mul_(1 - momentum).add_(var, alpha=momentum)
    bn.num_batches_tracked.add_(1)


def _cat_or_none(tensors: list[torch.Tensor | None]) -> torch.Tensor | None:
    return None if tensors[0] is None else torch.cat(tensors)


def batch_norm_grouped(y: torch.Tensor, bns: list[nn.BatchNorm2d]) -> torch.Tensor:
    """BatchNorm of E stacked blocks of C channels, block e normalised as ``bns[e]`` would (training mode)."""
    bn0 = bns[0]
    tracking = bn0.track_running_stats
    rm = torch.cat([bn.running_mean for bn in bns]) if tracking else None
    rv = torch.cat([bn.running_var for bn in bns]) if tracking else None
    weight = _cat_or_none([bn.weight for bn in bns])
    bias = _cat_or_none([bn.bias for bn in bns])
    momentum = _momentum(bn0) if tracking else 0.0
    out = F.batch_norm(y, rm, rv, weight, bias, training=True, momentum=momentum, eps=bn0.eps)
    if tracking:
        with torch.no_grad():
            for bn, m, v in zip(bns, rm.chunk(len(bns)), rv.chunk(len(bns))):
                bn.running_mean.copy_(m)
                bn.running_var.copy_(v)
                bn.num_batches_tracked.add_(1)
    return out


def _sep_conv_grouped(x_relu: torch.Tensor, convs: list[op_registry.SepConv]) -> list[torch.Tensor]:
    """E separable convolutions of the same (ReLU'd) input as grouped convolutions over E * C channels."""
    n = len(convs)
    y = torch.cat([x_relu] * n, dim=1) if n > 1 else x_relu  # one copy of the input per edge
    for stage in range(2):
        blocks = [c[stage] for c in convs]  # DilConv: ReLU, depthwise, pointwise, BN
        if stage == 1:
            y = F.relu(y, inplace=True)  # BatchNorm's backward does not need its output
        dw = blocks[0][1]
        y = F.conv2d(
            y, torch.cat([b[1].weight for b in blocks]), None, dw.stride, dw.padding, dw.dilation, y.shape[1]
        )
        y = F.conv2d(y, torch.cat([b[2].weight for b in blocks]), None, 1, 0, 1, n)
        y = batch_norm_grouped(y, [b[3] for b in blocks])
    return list(y.chunk(n, dim=1))


def _factorized_reduce_grouped(
    x_relu: torch.Tensor, reducers: list[op_registry.FactorizedReduce]
) -> list[torch.Tensor]:
    """E FactorizedReduce ops (stride-2 skip) of the same (ReLU'd) input, as two 1 x 1 convolutions."""
    n = len(reducers)
    shifted = x_relu[:, :, 1:, 1:]
    if shifted.shape[-1] < x_relu.shape[-1]:
        shifted = F.pad(shifted, (0, 1, 0, 1))
    a = F.conv2d(x_relu, torch.cat([r.conv_1.weight for r in reducers]), None, 2)
    b = F.conv2d(shifted, torch.cat([r.conv_2.weight for r in reducers]), None, 2)
    # per edge the output is cat([a_e, b_e]): interleave the halves edge by edge, channels innermost
    # (NHWC) so that the result and its gradient stay channels_last
    a, b = (t.permute(0, 2, 3, 1).unflatten(3, (n, -1)) for t in (a, b))
    y = torch.stack([a, b], dim=4).flatten(3).permute(0, 3, 1, 2)
    y = batch_norm_grouped(y, [r.bn for r in reducers])
    return list(y.chunk(n, dim=1))


def _pool_shared(x: torch.Tensor, pools: list[op_registry.PoolBN]) -> list[torch.Tensor]:
    """Pool + affine-free BatchNorm is the same function on every edge of a source: compute it once."""
    pooled = pools[0][0](x)
    bns = [p[1] for p in pools]
    if any(bn.affine for bn in bns) or not bns[0].track_running_stats:
        return [p[1](pooled) for p in pools]
    # with momentum 1 the "running" statistics come back as this batch's mean and unbiased variance
    mean = torch.zeros_like(bns[0].running_mean)
    var = torch.ones_like(bns[0].running_var)
    out = F.batch_norm(pooled, mean, var, None, None, training=True, momentum=1.0, eps=bns[0].eps)
    with torch.no_grad():
        for bn in bns:
            _update_running_stats(bn, mean, var)
    return [out] * len(pools)


def source_outputs(x: torch.Tensor, ops_per_edge: list[nn.ModuleList]) -> list[list[torch.Tensor]]:
    """``out[i][m]``: op m of the i-th edge leaving the source node whose output is ``x``."""
    n_ops = len(ops_per_edge[0])
    out: list[list[torch.Tensor | None]] = [[None] * n_ops for _ in ops_per_edge]
    x_relu = None
    for m in range(n_ops):
        mods = [ops[m] for ops in ops_per_edge]
        kind = type(mods[0])
        if any(type(mod) is not kind for mod in mods):
            results = [mod(x) for mod in mods]
        elif kind is op_registry.Identity:
            results = [x] * len(mods)
        elif kind is op_registry.PoolBN:
            results = _pool_shared(x, mods)
        elif kind in (op_registry.SepConv, op_registry.FactorizedReduce):
            if x_relu is None:
                x_relu = F.relu(x)
            grouped = _sep_conv_grouped if kind is op_registry.SepConv else _factorized_reduce_grouped
            results = grouped(x_relu, mods)
        else:
            results = [mod(x) for mod in mods]
        for i, r in enumerate(results):
            out[i][m] = r
    return out


class _WeightedSum(torch.autograd.Function):
    """sum_n w[:, n] * y_n for per-example weights w (B, N) and tensors y_n (B, C, H, W).

    The same value as a chain of ``addcmul``; its backward skips the multiplication of every y_n by
    addcmul's scalar ``value`` and reduces grad * y_n straight to the (B,) weight gradient.
    """

    @staticmethod
    def forward(ctx, w: torch.Tensor, *ys: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(w, *ys)
        wv = w[:, :, None, None, None]
        out = ys[0] * wv[:, 0]
        for i in range(1, len(ys)):
            out.addcmul_(ys[i], wv[:, i])
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        w, *ys = ctx.saved_tensors
        grad_w = None
        if ctx.needs_input_grad[0]:
            grad_w = torch.stack([(grad * y).sum((1, 2, 3)) for y in ys], dim=1)
        wv = w[:, :, None, None, None]
        grad_ys = [grad * wv[:, i] if ctx.needs_input_grad[i + 1] else None for i in range(len(ys))]
        return (grad_w, *grad_ys)


@functools.cache
def _edge_index(nodes: int) -> tuple[dict[int, list[int]], list[list[int]]]:
    """For a cell of ``nodes`` nodes: the edges leaving each vertex, and the edges entering each node."""
    edges = cell_edges(nodes)
    leaving: dict[int, list[int]] = {}
    for e, edge in enumerate(edges):
        leaving.setdefault(edge.src, []).append(e)
    entering = [[e for e, edge in enumerate(edges) if edge.dst == node] for node in range(nodes)]
    return leaving, entering


def cell_forward(cell, s0: torch.Tensor, s1: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """The supernet cell's forward with per-example weights ``gamma`` (B, n_edges, k), grouped by source."""
    states = [cell.preprocess0(s0), cell.preprocess1(s1)]
    leaving, entering = _edge_index(cell.nodes)
    pending: dict[int, list[torch.Tensor]] = {}  # edge -> outputs of its k ops
    for node in range(cell.nodes):
        for source in [0, 1] if node == 0 else [len(states) - 1]:
            es = leaving[source]
            for e, outs in zip(es, source_outputs(states[source], [cell.edges[e].ops for e in es])):
                pending[e] = outs
        incoming = entering[node]
        ys = [y for e in incoming for y in pending.pop(e)]
        states.append(_WeightedSum.apply(gamma[:, incoming].flatten(1), *ys))
    return torch.cat(states[2:], dim=1)
