"""The DARTS search space as data: cells, nodes, edges and the normal/reduction layout.

A cell has two inputs (vertices 0 and 1: the outputs of the two previous cells) and ``nodes``
intermediate vertices; intermediate vertex j receives an edge from every earlier vertex, so a
4-node cell has 2 + 3 + 4 + 5 = 14 edges. Edges are listed in the DARTS order: node 0's edges
from input 0 and input 1, then node 1's edges from input 0, input 1 and node 0, and so on.

An architecture is one op per edge for the normal cell and one for the reduction cell (all
reduction cells share a genotype), i.e. ``2 * n_edges`` choices (28 for 4 nodes).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Edge:
    """Edge from vertex ``src`` to intermediate node ``dst`` (0-based among the intermediate nodes)."""

    src: int
    dst: int

    def stride(self, reduction: bool) -> int:
        """Edges leaving the two cell inputs have stride 2 in a reduction cell."""
        return 2 if reduction and self.src < 2 else 1


def cell_edges(nodes: int = 4) -> list[Edge]:
    """Edges of one cell in DARTS order."""
    return [Edge(src, dst) for dst in range(nodes) for src in range(2 + dst)]


def reduction_layers(layers: int) -> list[int]:
    """Indices of the reduction cells: ``layers // 3`` and ``2 * layers // 3`` (cells 1 and 2 of 3)."""
    return sorted({layers // 3, 2 * layers // 3})


@dataclass(frozen=True)
class SearchSpace:
    """Everything that fixes the shape of the supernet and of every derived network."""

    ops: tuple[str, ...]
    in_channels: int = 1
    num_classes: int = 10
    init_channels: int = 16
    layers: int = 3
    nodes: int = 4
    stem_multiplier: int = 3

    @property
    def k(self) -> int:
        return len(self.ops)

    @property
    def edges(self) -> list[Edge]:
        return cell_edges(self.nodes)

    @property
    def n_edges(self) -> int:
        """Edges per cell type (14 for 4 nodes)."""
        return len(self.edges)

    @property
    def n_arch_edges(self) -> int:
        """Edges of an architecture: normal + reduction (28 for 4 nodes)."""
        return 2 * self.n_edges

    def cell_layout(self) -> list[tuple[bool, int]]:
        """``(is_reduction, C)`` for each cell: C doubles at every reduction cell."""
        reductions = reduction_layers(self.layers)
        C = self.init_channels
        layout = []
        for i in range(self.layers):
            if i in reductions:
                C *= 2
            layout.append((i in reductions, C))
        return layout
