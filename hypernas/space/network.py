"""The stand-alone network of a genotype, and inheritance of the supernet's weights.

The discrete network has the same modules as the supernet except that each edge holds only its
chosen op (module ``cells.c.edges.e.ops.0``), so inheriting weights is a key renaming.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from hypernas.space.cells import SearchSpace
from hypernas.space.genotype import Genotype
from hypernas.space.supernet import CellNetwork, Supernet


class StandaloneNetwork(CellNetwork):
    """The network of one architecture: each edge holds the single op its genotype chose."""


def build_discrete(genotype: Genotype, space: SearchSpace, affine: bool = False) -> StandaloneNetwork:
    """The network with one op per edge. ``affine=False`` keeps BN as in the supernet."""
    if len(genotype.normal) != space.n_edges or len(genotype.reduce) != space.n_edges:
        raise ValueError(
            f"genotype has {len(genotype.normal)}+{len(genotype.reduce)} edges, the space needs {space.n_edges} per cell"
        )
    return StandaloneNetwork(
        space, [[n] for n in genotype.normal], [[n] for n in genotype.reduce], affine=affine
    )


_KEY = re.compile(r"^cells\.(\d+)\.edges\.(\d+)\.ops\.(\d+)\.(.*)$")


def inherit_weights(discrete: StandaloneNetwork, supernet: Supernet, genotype: Genotype) -> StandaloneNetwork:
    """Copy the supernet's weights (and BN buffers) of the chosen ops into ``discrete``."""
    index = {name: i for i, name in enumerate(genotype.ops)}
    sup = supernet.state_dict()
    new_state = {}
    for key in discrete.state_dict():
        m = _KEY.match(key)
        if m is None:
            new_state[key] = sup[key]
            continue
        c, e, _, rest = m.groups()
        cell = discrete.cells[int(c)]
        choice = (genotype.reduce if cell.reduction else genotype.normal)[int(e)]
        new_state[key] = sup[f"cells.{c}.edges.{e}.ops.{index[choice]}.{rest}"]
    discrete.load_state_dict(new_state)
    return discrete


def discrete_from_supernet(genotype: Genotype, supernet: Supernet) -> StandaloneNetwork:
    """Build the genotype's network with the supernet's weights, on the supernet's device."""
    device = next(supernet.parameters()).device
    net = build_discrete(genotype, supernet.space).to(device)
    return inherit_weights(net, supernet, genotype)


@torch.no_grad()
def recalibrate_bn(net: torch.nn.Module, batches, max_batches: int) -> None:
    """Re-estimate BatchNorm running statistics on ``max_batches`` training batches.

    The supernet's statistics were gathered on mixtures of ops, not on the chosen op alone.
    """
    bns = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns or max_batches <= 0:
        return
    saved = [(m.momentum, m.training) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    was_training = net.training
    net.train()
    for i, (x, _) in enumerate(batches):
        if i >= max_batches:
            break
        net(x)
    for m, (momentum, _) in zip(bns, saved):
        m.momentum = momentum
    net.train(was_training)


_EDGE_OP = re.compile(r"^cells\.\d+\.edges\.\d+\.ops\.")


def parameter_counts(genotype: Genotype, space: SearchSpace) -> dict[str, int]:
    """``{"cell_params": ..., "total_params": ...}`` of the discrete network of ``genotype``."""
    net = build_discrete(genotype, space)
    cell = sum(p.numel() for name, p in net.named_parameters() if _EDGE_OP.match(name))
    total = sum(p.numel() for p in net.parameters() if p.requires_grad)
    return {"cell_params": int(cell), "total_params": int(total)}


def describe(genotype: Genotype, space: SearchSpace, s: Sequence[float]) -> dict:
    """The JSON record of an architecture: s, ops, normal, reduce, op_counts, group_counts, params."""
    return {
        "s": [round(float(v), 6) for v in s],
        "ops": list(genotype.ops),
        "normal": list(genotype.normal),
        "reduce": list(genotype.reduce),
        "op_counts": genotype.op_counts(),
        "group_counts": genotype.group_counts(),
        **parameter_counts(genotype, space),
    }
