"""The book's figures (seaborn and matplotlib), drawn from typed results."""

from __future__ import annotations

import pandas as pd

from hypernas.pipeline.results import Result
from hypernas.report import cell_figure as cellplot
from hypernas.report.paper import ARCH_NAMES
from hypernas.report.style import use_book_style
from hypernas.report.tables import curves_frame, family_frame, op_stats_frame


def plot_curves(result: Result):
    import matplotlib.pyplot as plt

    df = curves_frame(result)
    use_book_style()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    axes[0].plot(df["epoch"], df["ce"], marker="o", label="train CE")
    axes[0].set(xlabel="epoch", ylabel="cross-entropy", title="Task loss")
    axes[1].plot(df["epoch"], df["cost"], marker="o", color="C1")
    axes[1].set(xlabel="epoch", ylabel="Cost (mean over batches)", title="Complexity penalty")
    axes[2].plot(df["epoch"], df["train_acc"], marker="o", label="train (GS sample)")
    axes[2].plot(df["epoch"], df["val_acc_centre"], marker="s", label="validation, s = centre")
    axes[2].set(xlabel="epoch", ylabel="accuracy %", title="Supernet accuracy")
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return fig


def plot_counts_over_epochs(result: Result):
    """Op-family counts of A-D after every epoch of the search (how the family forms)."""
    import seaborn as sns

    rows = [
        dict(epoch=m["epoch"], t=m["t"], architecture=ARCH_NAMES[a], op=f, count=c)
        for m in result.curves
        for a, fc in m["group_counts"].items()
        for f, c in fc.items()
    ]
    df = pd.DataFrame(rows)
    use_book_style()
    g = sns.relplot(
        data=df,
        x="epoch",
        y="count",
        hue="op",
        col="architecture",
        kind="line",
        marker="o",
        height=2.8,
        aspect=1.0,
        palette="Set2",
    )
    g.set_titles("{col_name}")
    g.set_axis_labels("epoch", "edges (of 28)")
    for ax in g.axes.flat:
        ax.xaxis.get_major_locator().set_params(integer=True)
    return g.figure


def plot_op_stats(result: Result):
    """Figure 2 analogue: op-group counts of A-D, ours beside the paper's."""
    import seaborn as sns

    df = op_stats_frame(result)
    use_book_style()
    g = sns.catplot(
        data=df,
        x="architecture",
        y="count",
        hue="op",
        col="source",
        kind="bar",
        height=3.4,
        aspect=1.5,
        palette="Set2",
    )
    g.set_axis_labels("", "edges (of 28)")
    g.set_titles("{col_name}")
    for ax in g.axes.flat:
        ax.tick_params(axis="x", labelsize=9)
    g.figure.subplots_adjust(right=0.88, wspace=0.08)
    return g.figure


def plot_family_map(result: Result):
    """Ternary maps over the simplex: cell parameters and each op group's share of the 28 edges.

    For 5 ops the simplex is projected onto (pool, identity, conv) by summing the s of each family;
    grid points that land on the same projected point are averaged.
    """
    import matplotlib.pyplot as plt
    import mpltern  # noqa: F401  (registers the 'ternary' projection)

    df = family_frame(result)
    agg = df.groupby(["s_pool", "s_identity", "s_conv"], as_index=False).mean(numeric_only=True)
    panels = [
        ("cell_params", "cell parameters", "viridis"),
        ("share_pool", "pool share", "Blues"),
        ("share_conv", "conv share", "Reds"),
        ("share_identity", "identity share", "Greens"),
    ]
    fig = plt.figure(figsize=(10, 9.4))
    for i, (col, title, cmap) in enumerate(panels):
        ax = fig.add_subplot(2, 2, i + 1, projection="ternary")
        vmin, vmax = (None, None) if col == "cell_params" else (0, 1)
        pc = ax.tripcolor(
            agg["s_pool"],
            agg["s_identity"],
            agg["s_conv"],
            agg[col],
            shading="gouraud",
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            rasterized=True,
        )
        ax.set_tlabel("s pool", fontsize=10)
        ax.set_llabel("s identity", fontsize=10)
        ax.set_rlabel("s conv", fontsize=10)
        ax.tick_params(labelsize=8)
        ax.set_title(title, fontsize=12, pad=26)
        cax = ax.inset_axes([1.08, 0.1, 0.04, 0.8], transform=ax.transAxes)
        cb = fig.colorbar(pc, cax=cax)
        cb.ax.tick_params(labelsize=7)
        if col == "cell_params":
            cb.ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    fig.subplots_adjust(wspace=0.5, hspace=0.6, left=0.06, right=0.92, top=0.9, bottom=0.07)
    return fig


def plot_front(result: Result):
    """Accuracy (inherited) against cell parameters for genotypes of the family; A-D marked."""
    import matplotlib.pyplot as plt

    use_book_style()
    fam = pd.DataFrame([p.to_dict() for p in result.family_eval])
    fig, ax = plt.subplots(figsize=(6.5, 4))
    if len(fam):
        ax.scatter(
            fam["cell_params"],
            fam["test_accuracy_inherited"],
            color="0.55",
            s=25,
            label="family (grid genotypes)",
        )
    for name, arch in result.architectures.items():
        ax.scatter(
            arch.cell_params, arch.test_accuracy["inherited"], s=70, marker="D", label=ARCH_NAMES[name]
        )
        ax.annotate(
            name,
            (arch.cell_params, arch.test_accuracy["inherited"]),
            xytext=(5, 5),
            textcoords="offset points",
        )
    ax.set_xscale("symlog", linthresh=1000)
    ax.set(xlabel="cell parameters (paper's convention)", ylabel="test accuracy %, inherited weights")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_cells(result: Result):
    """The normal and reduction cells of A-D drawn as graphs (one row per architecture)."""
    return cellplot.plot_cells(result.architectures, result.config.ops, result.config.nodes)
