# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Control on the target device: measured latency
#
# The paper's title promises control of operational characteristics on the target device, but its
# experiments only set the penalty vector s by hand. This chapter measures this machine, predicts
# the latency of every architecture of the trained experiment-1 family from a lookup table, checks
# the prediction against real measurements, and picks architectures for latency budgets without
# any retraining.

# %% tags=["parameters", "hide-cell"]
profile = "quick"
seed = 0
data_root = None
results_dir = None
runs_dir = "runs"
threads = 1
reps = 30
force = False

# %% tags=["remove-cell"]
import os
import warnings

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display
from myst_nb import glue

from hypernas import book

warnings.filterwarnings("ignore")
os.environ.setdefault("TQDM_DISABLE", "1")
plt.rcParams["figure.dpi"] = 110
sns.set_theme(style="whitegrid", context="notebook")

# %% [markdown]
# ## The lookup table of this machine
#
# Every primitive is timed at every position it can occupy: the normal cell (16 channels, 28x28),
# the stride-2 input edges and the stride-1 inner edges of the two reduction cells (32 and 64
# channels). Each entry is the median of many timed calls after warm-up, in inference mode, at
# batch 1, with the number of threads fixed. An operation inside a network does not cost exactly
# what it costs alone, and the stem, preprocessing, classifier, sums and concatenations add a fixed
# cost, so the table is calibrated on whole networks: the prediction for a genotype g is
# $\text{base} + \sum_m \text{scale}_m S_m(g)$, where $S_m(g)$ sums the table's entries over the
# edges where g uses operation m, and base and the k scales are fitted by least squares on random
# genotypes (plus the k single-operation networks) measured when the table is made.

# %% tags=["remove-output"]
# The table, the check of its predictions and the three budgets below, measured once and kept in
# results/<profile>/latency.json; reused only on the same machine, threads, torch and trained family
# (force=True re-measures).
result = book.run_latency_study(
    profile,
    seed=seed,
    data_root=data_root,
    results_dir=results_dir,
    runs_dir=runs_dir,
    threads=threads,
    reps=reps,
    force=force,
)
lut = result["lut"]

# %% tags=["remove-input", "nbval-ignore-output"]
rows = []
for key, e in lut["entries"].items():
    op, C, stride, H = key.split("|")
    rows.append(
        {
            "op": op,
            "position": f"{C[1:]} ch, stride {stride[1:]}, {H[1:]}x{H[1:]}",
            "median_ms": e["median_ms"],
            "iqr_ms": e["iqr_ms"],
        }
    )
lut_df = pd.DataFrame(rows)
fig, ax = plt.subplots(figsize=(9, 3.6))
sns.barplot(data=lut_df, x="position", y="median_ms", hue="op", ax=ax, palette="Set2")
ax.set(xlabel="position in the network", ylabel="median latency (ms)", yscale="log")
ax.legend(title="op", fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
ax.tick_params(axis="x", labelsize=8)
fig.tight_layout()
glue("latency_lut", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} latency_lut
# :name: "fig-latency-lut"
#
# Measured latency of each primitive at each position of the experiment-1 network on this machine
# (batch 1, fixed threads; log scale). Provenance below.
# ```

# %% tags=["remove-input", "nbval-ignore-output"]
p = lut["provenance"]
display(
    Markdown(
        f"Measured on {p['device_name']} with {p['threads']} thread(s), torch {p['torch']}, batch {p['batch']}, "
        f"{p['reps']} repetitions after {p['warmup']} warm-up calls. Calibration on {lut['calibration']['n_genotypes']} whole "
        f"networks: base {lut['base_ms']:.3f} ms, scales "
        + ", ".join(f"`{o}` {v:.2f}" for o, v in lut["scale"].items())
        + f" (median error of the fit {100 * lut['calibration']['median_ape']:.1f} %). "
        f"The device's complexity vector (each op's share of the latency summed over all positions) is "
        + ", ".join(f"`{o}` {v:.3f}" for o, v in zip(lut["scale"], result["s_device"]))
        + "."
    )
)

# %% [markdown]
# The vector $s_\text{device}$ is the natural penalty for this machine: feeding it to the
# hypernetwork asks for an architecture in which each operation is penalised in proportion to what
# it costs here.

# %% [markdown]
# ## Does the table predict whole networks?
#
# The calibration genotypes are random; here we compare the prediction with the measured latency
# of the built network for the distinct genotypes of the
# experiment-1 family (a lattice on the simplex, refined until it gives enough distinct genotypes;
# random genotypes make up the number if the family is smaller).

# %% tags=["remove-input", "nbval-ignore-output"]
pts = pd.DataFrame(result["points"])
fig, ax = plt.subplots(figsize=(5.5, 4.5))
sns.scatterplot(data=pts, x="predicted_ms", y="measured_ms", hue="source", ax=ax, s=30)
lim = [
    min(pts.predicted_ms.min(), pts.measured_ms.min()) * 0.95,
    max(pts.predicted_ms.max(), pts.measured_ms.max()) * 1.05,
]
ax.plot(lim, lim, "k--", lw=0.8)
ax.set(xlim=lim, ylim=lim, xlabel="predicted latency (ms)", ylabel="measured latency (ms)")
fig.tight_layout()
glue("latency_pred", fig, display=False)
plt.close(fig)
glue("latency_n", result["n_genotypes"], display=False)
glue("latency_spearman", float(result["spearman"]), display=False)
glue("latency_mape", float(100 * result["median_ape"]), display=False)

# %% [markdown]
# ```{glue:figure} latency_pred
# :name: "fig-latency-pred"
#
# Predicted against measured latency (batch 1) of distinct genotypes; the dashed line is equality.
# ```
#
# Over {glue:text}`latency_n` genotypes the Spearman rank correlation between prediction and
# measurement is {glue:text}`latency_spearman:.3f` and the median absolute percentage error is
# {glue:text}`latency_mape:.1f` %.

# %% [markdown]
# ## The family's accuracy-latency front, and three budgets
#
# For each budget the library keeps the genotypes predicted to fit, ranks the largest of them by the
# inherited accuracy on the held-out validation split (never the test split), builds the winner and
# measures it. The budgets are a quarter, half and three quarters of the way between the fastest and
# the slowest genotype of the family, widened by the 5 % safety margin so that each one admits at
# least the fastest genotype even when the family's latencies lie close together.

# %% tags=["remove-input", "nbval-ignore-output"]
display(
    pd.DataFrame(
        [
            {
                "budget (ms)": f"{w['budget_ms']:.2f}",
                "within budget": "yes" if w["within_budget"] else "no",
                "measured (ms)": f"{w['measured_ms']:.2f} ± {w['measured_iqr_ms'] / 2:.2f}",
                "predicted (ms)": f"{w['predicted_ms']:.2f}",
                "pool / conv / identity (of 28)": "/".join(
                    str(w["family_counts"][f]) for f in ("pool", "conv", "identity")
                ),
                "parameters, cell ops": f"{w['cell_params']:,}",
                "validation acc. (%)": f"{w['val_accuracy']:.1f}",
                "s": ", ".join(f"{x:.2f}" for x in w["s"]),
            }
            for w in result["budgets"]
        ]
    ).set_index("budget (ms)")
)
display(Markdown("Measured latency: median of repeated runs at batch 1, ± half the interquartile range."))

# %% tags=["remove-input", "nbval-ignore-output"]
fam = pts[pts.source == "family"]
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.scatter(fam.measured_ms, fam.cell_params, color="0.6", s=20, label="family genotypes")
for w in result["budgets"]:
    ax.axvline(w["budget_ms"], color="C3", lw=0.8, ls=":")
    ax.scatter(
        w["measured_ms"],
        w["cell_params"],
        marker="D",
        s=60,
        label=f"chosen for {w['budget_ms']:.2f} ms (val. acc. {w['val_accuracy']:.1f} %)",
    )
ax.set(xlabel="measured latency (ms, batch 1)", ylabel="cell parameters", yscale="symlog")
ax.legend(fontsize=7)
fig.tight_layout()
glue("latency_front", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} latency_front
# :name: "fig-latency-front"
#
# The family in the latency-size plane, the three budgets (dotted) and the architecture chosen for
# each, with its validation accuracy (inherited weights).
# ```
