"""Random architectures of the search space: the baseline that a searched family must beat.

Drawing each edge's op uniformly keeps every cell near a third of each op, so such architectures
never reach the small (all pooling) or large (all convolution) ends of the family. The default
sampler draws each cell's op counts first, uniformly over all ways to split the cell's edges among
the k ops (``C(n + k - 1, k - 1)`` splits: 120 for 14 edges and 3 ops), then places them on the
edges in a random order; sizes then span the whole range.

>>> import torch
>>> g = random_genotype(("max_pool_3x3", "skip_connect", "sep_conv_3x3"), 14, torch.Generator().manual_seed(0))
>>> len(g.normal), len(g.reduce)
(14, 14)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch

from hypernas.errors import ConfigError
from hypernas.space.cells import cell_edges
from hypernas.space.genotype import Genotype

SAMPLERS = ("split", "edge")


def split_counts(n_edges: int, k: int, generator: torch.Generator) -> list[int]:
    """Op counts ``(c_1, ..., c_k)`` summing to ``n_edges``, uniform over all such splits (stars and bars)."""
    bars = torch.randperm(n_edges + k - 1, generator=generator)[: k - 1].sort().values.tolist()
    edges = [-1, *bars, n_edges + k - 1]
    return [edges[i + 1] - edges[i] - 1 for i in range(k)]


def place(counts: Sequence[int], ops: Sequence[str], generator: torch.Generator) -> tuple[str, ...]:
    """The ops with these counts on the edges of one cell, in a uniformly random order."""
    names = [op for op, n in zip(ops, counts) for _ in range(n)]
    order = torch.randperm(len(names), generator=generator).tolist()
    return tuple(names[i] for i in order)


def random_cell(ops: Sequence[str], n_edges: int, generator: torch.Generator, sampler: str = "split"):
    """One cell's ops: ``split`` (counts uniform over splits, then placed) or ``edge`` (each edge uniform)."""
    if sampler == "split":
        return place(split_counts(n_edges, len(ops), generator), ops, generator)
    if sampler == "edge":
        return tuple(ops[i] for i in torch.randint(len(ops), (n_edges,), generator=generator).tolist())
    raise ConfigError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")


def random_genotype(
    ops: Sequence[str], n_edges: int, generator: torch.Generator, sampler: str = "split"
) -> Genotype:
    """A random architecture: a normal and a reduction cell of ``n_edges`` edges each, drawn independently."""
    normal = random_cell(ops, n_edges, generator, sampler)
    reduce = random_cell(ops, n_edges, generator, sampler)
    return Genotype(tuple(ops), normal, reduce)


def random_genotypes(
    ops: Sequence[str], n_edges: int, n: int, seed: int = 0, sampler: str = "split"
) -> list[Genotype]:
    """``n`` random architectures from one seeded generator (the same list for the same arguments)."""
    if n < 1:
        raise ConfigError(f"the number of random architectures must be >= 1, not {n}")
    gen = torch.Generator().manual_seed(seed)
    return [random_genotype(ops, n_edges, gen, sampler) for _ in range(n)]


def shuffled_within_cells(genotype: Genotype, generator: torch.Generator, nodes: int = 4) -> Genotype:
    """The same op counts in each cell, placed on that cell's edges in a random order, and of the
    same size.

    A shuffle across both cells would change the size: the reduction cells run at twice and four
    times the normal cell's channels, so a convolution costs more there. Within the reduction cell
    the edges leaving the cell's inputs have stride 2, where an identity is a factorized reduction
    with weights of its own; those edges are shuffled among themselves, and the rest among
    themselves, so the parameter count stays exactly the same."""
    edges = cell_edges(nodes)
    if len(edges) != len(genotype.normal):
        raise ConfigError(
            f"a cell of {nodes} nodes has {len(edges)} edges, the genotype {len(genotype.normal)}"
        )

    def shuffle(cell: tuple[str, ...], reduction: bool) -> tuple[str, ...]:
        out = list(cell)
        for stride in {e.stride(reduction) for e in edges}:
            where = [i for i, e in enumerate(edges) if e.stride(reduction) == stride]
            counts = Counter(cell[i] for i in where)
            placed = place([counts.get(op, 0) for op in genotype.ops], genotype.ops, generator)
            for i, op in zip(where, placed):
                out[i] = op
        return tuple(out)

    return Genotype(genotype.ops, shuffle(genotype.normal, False), shuffle(genotype.reduce, True))
