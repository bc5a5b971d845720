"""A genotype's normal and reduction cells drawn as graphs, the way the DARTS paper draws its cells.

Vertices: the two cell inputs c_{k-2} and c_{k-1}, the intermediate nodes 0..N-1 and the output
c_k (the concatenation of the intermediate nodes). Every one of the 14 edges carries the operation
chosen on it (no top-2 pruning in this search space), drawn in the colour of its operation, with
identity edges dashed; the edges into c_k are the concatenation, drawn thin and grey.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch

from hypernas.space.cells import cell_edges

OP_STYLE: dict[str, tuple[str, str]] = {  # op -> (colour, line style)
    "max_pool_3x3": ("#1f77b4", "-"),
    "avg_pool_3x3": ("#17becf", "-"),
    "sep_conv_3x3": ("#d62728", "-"),
    "sep_conv_5x5": ("#ff7f0e", "-"),
    "skip_connect": ("#555555", "--"),
}
OP_SHORT = {
    "max_pool_3x3": "max pool 3x3",
    "avg_pool_3x3": "avg pool 3x3",
    "sep_conv_3x3": "sep conv 3x3",
    "sep_conv_5x5": "sep conv 5x5",
    "skip_connect": "identity",
}


def _positions(nodes: int) -> dict[int | str, tuple[float, float]]:
    """Inputs on the left, intermediate nodes on a gentle zig-zag, output on the right."""
    pos: dict[int | str, tuple[float, float]] = {0: (0.0, 1.2), 1: (0.0, -1.2)}
    for j in range(nodes):
        pos[2 + j] = (1.3 + 1.25 * j, 0.55 if j % 2 == 0 else -0.55)
    pos["out"] = (1.3 + 1.25 * nodes + 0.6, 0.0)
    return pos


def draw_cell(ax, ops_on_edges: tuple[str, ...] | list[str], title: str = "", nodes: int = 4) -> None:
    """Draw one cell (its edges' op names in DARTS edge order) on ``ax``."""
    pos = _positions(nodes)
    for edge, op in zip(cell_edges(nodes), ops_on_edges):
        a, b = pos[edge.src], pos[2 + edge.dst]
        colour, style = OP_STYLE.get(op, ("#8c564b", "-"))
        span = (2 + edge.dst) - edge.src
        rad = 0.0 if span == 1 and edge.src >= 2 else (0.18 + 0.06 * span) * (1 if edge.src % 2 else -1)
        ax.add_patch(
            FancyArrowPatch(
                a,
                b,
                connectionstyle=f"arc3,rad={rad}",
                arrowstyle="-|>",
                mutation_scale=9,
                color=colour,
                linestyle=style,
                linewidth=1.6,
                shrinkA=11,
                shrinkB=11,
                zorder=2,
            )
        )
    for j in range(nodes):
        ax.add_patch(
            FancyArrowPatch(
                pos[2 + j],
                pos["out"],
                arrowstyle="-|>",
                mutation_scale=7,
                color="#bbbbbb",
                linewidth=0.8,
                shrinkA=11,
                shrinkB=13,
                zorder=1,
            )
        )
    labels = {0: "c$_{k-2}$", 1: "c$_{k-1}$", "out": "c$_{k}$", **{2 + j: str(j) for j in range(nodes)}}
    for key, (x, y) in pos.items():
        box = "round,pad=0.3" if key in (0, 1, "out") else "circle,pad=0.25"
        face = "#dff0d8" if key in (0, 1) else ("#fcf8e3" if key == "out" else "#d9edf7")
        ax.text(
            x,
            y,
            labels[key],
            ha="center",
            va="center",
            fontsize=9,
            zorder=3,
            bbox=dict(boxstyle=box, facecolor=face, edgecolor="#666666"),
        )
    xs = [p[0] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.5, max(xs) + 0.5)
    ax.set_ylim(-2.4, 2.4)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)


def plot_cells(genotypes: dict, ops: tuple[str, ...] | list[str], nodes: int = 4):
    """One row per architecture (name -> an object with ``normal`` and ``reduce`` edge ops, such as a
    :class:`~hypernas.space.genotype.Genotype` or a result's architecture), normal and reduction cells."""
    names = list(genotypes)
    fig, axes = plt.subplots(len(names), 2, figsize=(10, 2.5 * len(names)), squeeze=False)
    for row, name in enumerate(names):
        g = genotypes[name]
        draw_cell(axes[row][0], g.normal, f"{name}: normal cell", nodes)
        draw_cell(axes[row][1], g.reduce, f"{name}: reduction cell", nodes)
    handles = [
        Line2D([0], [0], color=OP_STYLE[op][0], linestyle=OP_STYLE[op][1], linewidth=2, label=OP_SHORT[op])
        for op in ops
        if op in OP_STYLE
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
