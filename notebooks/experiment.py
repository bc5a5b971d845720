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
# # One experiment of the paper
#
# (`scripts/run_chapters.py` replaces this title with the experiment's own.)

# %% tags=["parameters", "hide-cell"]
experiment = "exp1"
profile = "quick"
seed = 0
data_root = None
results_dir = None
runs_dir = "runs"
overrides = {}
force = False
paper_results_dir = "results/paper"
extra_seeds = []  # further seeds this chapter runs itself (the smoke profile in CI); others are read if present

# %% tags=["remove-cell"]
import logging
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import HTML, Markdown, display
from myst_nb import glue

from hypernas import book
from hypernas.pipeline.experiment import run_experiment
from hypernas.report import baselines as baseline_report
from hypernas.report import seeds as seed_report
from hypernas.train.presets import SETTINGS

warnings.filterwarnings("ignore")
logging.basicConfig(level=logging.WARNING)
os.environ.setdefault("TQDM_DISABLE", "1")
book.use_book_style()

# %% [markdown]
# One search trains the supernet and the hypernetwork; the four architectures of the paper
# (A: uniform penalty, B: convolutions penalised, C: pooling penalised, D: identity penalised)
# and the whole family are then read off the trained hypernetwork without further search.
#
# The chapter leads with the runs at the paper's own scale (the `paper` profile: the paper's
# epochs, one half of the training set as the authors used, the official test split) under two
# settings: (a) the objective as the paper prints it, kappa = 50, and (b) the rebalanced objective
# of the short profiles, kappa = 0.3 with a faster hypernetwork. They come from the background
# campaign (`make paper`, hours to days on two CPU cores); a setting whose run has not finished
# is named but shows no numbers. The `quick` profile follows: the same pipeline on a few
# thousand images for a few epochs, which anyone can rerun in minutes.

# %% [markdown]
# ## At the paper's scale

# %% tags=["remove-input"]
paper_runs = {setting: book.paper_result(paper_results_dir, experiment, setting) for setting in SETTINGS}
if not any(paper_runs.values()):
    display(
        Markdown(
            f"No paper-scale run of {experiment} has finished yet under either setting; "
            "`make paper` runs them (`make paper-status` tells where they stand)."
        )
    )

# %% tags=["remove-input"]
for setting, paper_run in paper_runs.items():
    display(Markdown(f"### {book.SETTING_TITLES[setting]}"))
    if paper_run is None:
        display(Markdown("Not finished yet: no numbers are shown for this setting."))
        continue
    display(book.comparison_table(paper_run))
    display(Markdown(book.chance_text(paper_run) + " " + book.penalty_effects_text(paper_run)))
    seeds = baseline_report.paper_study(paper_results_dir, experiment, setting)["seeds"]
    if len(seeds) > 1:
        display(
            Markdown(
                f"**Seeds.** A-D's test accuracy (%), retrained and inherited, in {seed_report.seeds_text(seeds)}."
            )
        )
        display(
            seed_report.seed_table(seeds)
            .style.set_uuid(f"seeds-{setting}")
            .format(precision=2)
            .hide(axis="index")
        )
        display(Markdown(seed_report.seed_verdict_text(seeds)))
    else:
        display(Markdown("One seed so far (seed 0); the campaign runs seeds 1 and 2 (`make paper-status`)."))
    display(
        HTML(
            book.collapsed(
                "How this run was made", book.run_description(paper_run) + "\n\n" + book.run_times(paper_run)
            )
        )
    )
    for plot, caption in (
        (
            book.plot_cells,
            "The cells of A-D: normal (left) and reduction (right), every edge in the colour of "
            "its operation.",
        ),
        (
            book.plot_op_stats,
            "Operation counts of A-D over the 28 edges: ours (left) and the paper's (right).",
        ),
        (book.plot_curves, "Training curves of the search, one point per epoch."),
        (book.plot_counts_over_epochs, "Operation families of A-D after every epoch of the search."),
        (
            book.plot_family_map,
            "The family over the simplex: cell parameters and operation shares at each s.",
        ),
        (
            book.plot_front,
            "Test accuracy (inherited weights) against cell parameters for genotypes of the family.",
        ),
    ):
        fig = plot(paper_run)
        display(fig)
        plt.close(fig)
        display(Markdown(f"*{caption}*"))

# %% [markdown]
# ## The quick check
#
# The cell below either reuses the cached result of this chapter's configuration
# (`results/<profile>/<experiment>.json`, keyed by the hash of the resolved config) or runs the
# search and the evaluations. Everything in this section is regenerated by
# `make book PROFILE=<profile>`; the command line equivalent of the search is
# `hypernas search <experiment> --profile <profile> --out runs/...`.

# %% tags=["remove-output"]
result = run_experiment(
    experiment,
    profile,
    seed=seed,
    data_root=data_root,
    results_dir=results_dir,
    runs_dir=runs_dir,
    overrides=overrides,
    force=force,
    progress=False,
)
cfg = result.config

# %% tags=["remove-input"]
for extra in extra_seeds:
    run_experiment(
        experiment,
        profile,
        seed=extra,
        data_root=data_root,
        results_dir=results_dir,
        runs_dir=runs_dir,
        overrides=overrides,
        name=f"{experiment}-seed{extra}",
        force=force,
        progress=False,
    )
quick_seeds = [result] + [
    r
    for s in (1, 2)
    if (r := book.read_if_present(Path(results_dir or f"results/{profile}") / f"{experiment}-seed{s}.json"))
    is not None
    and book.same_setting(r, cfg)
]
if len(quick_seeds) > 1:
    display(
        Markdown(
            f"**Seeds.** A-D's test accuracy (%), retrained and inherited, in {seed_report.seeds_text(quick_seeds)} (the baseline study is in the chapter *Is one search worth it?*)."
        )
    )
    display(
        seed_report.seed_table(quick_seeds)
        .style.set_uuid("seeds-quick")
        .format(precision=2)
        .hide(axis="index")
    )
    display(Markdown(seed_report.seed_verdict_text(quick_seeds)))

# %% tags=["remove-input", "nbval-ignore-output"]
display(
    HTML(
        book.collapsed(
            "How this run was made", book.run_description(result) + "\n\n" + book.run_times(result)
        )
    )
)

# %% [markdown]
# ### Training curves
#
# The task loss is the cross-entropy of the supernet under per-example Gumbel-Softmax samples;
# the complexity penalty is Cost(gamma; s) at the s drawn for each mini-batch, before the factor
# kappa. The validation accuracy is that of the supernet at the centre of the simplex with the
# deterministic weights Softmax(alpha(s)).

# %% tags=["remove-input"]
fig = book.plot_curves(result)
glue("curves", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} curves
#
# Training curves of the search (one point per epoch), from the run recorded in the provenance above.
# ```

# %% tags=["remove-input"]
fig = book.plot_counts_over_epochs(result)
glue("epochs", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} epochs
#
# How the architectures A-D form during the search: the number of the 28 edges that pick each
# operation group after every epoch (the temperature falls from left to right).
# ```

# %% tags=["remove-input"]
if book.collapse_text(result):
    display(Markdown(book.collapse_text(result)))

# %% [markdown]
# ### The four architectures beside the paper
#
# "Parameters, cell ops" follows the paper's convention (parameters of the chosen operations in the three
# cells; stem, preprocessing and classifier excluded); "whole network" counts every trainable
# parameter of the derived network. Accuracy is reported under three protocols: `inherited`
# (the derived discrete network with the supernet's weights, BatchNorm statistics re-estimated),
# `retrain` (the derived network trained from scratch for the profile's `retrain_epochs`) and
# `relaxed` (the authors' protocol: the supernet at s with a random relaxed Gumbel-Softmax sample
# at t = 1). The paper's accuracies were most likely obtained with the relaxed protocol, so they
# are printed in that row.

# %% tags=["remove-input"]
table = book.comparison_table(result)
display(table)
display(Markdown(book.chance_text(result) + " " + book.penalty_effects_text(result)))

# %% tags=["remove-input"]
best_name, best_acc = book.best_accuracy(result, "inherited")
glue("best_name", Markdown(best_name), display=False)
glue("best_acc", float(best_acc), display=False)
paper_best = max(book.PAPER_TABLES[experiment].items(), key=lambda kv: kv[1]["acc"])
glue("paper_best_name", Markdown(paper_best[0]), display=False)
glue("paper_best_acc", float(paper_best[1]["acc"]), display=False)

# %% [markdown]
# The best of A-D under the `inherited` protocol is architecture {glue:md}`best_name`
# with {glue:text}`best_acc:.2f` % test accuracy; the paper's best is
# {glue:md}`paper_best_name` with {glue:text}`paper_best_acc:.2f` %. The
# profiles other than `paper` train on a subset for a few epochs, so absolute accuracies are not
# comparable with the paper's; the trends (which operations each penalty removes, which
# architecture is largest) are.

# %% [markdown]
# ### Operation statistics (the paper's Figure 2)

# %% tags=["remove-input"]
fig = book.plot_op_stats(result)
glue("opstats", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} opstats
#
# Number of the 28 edges (14 normal + 14 reduction) that choose a pooling, convolution or identity
# operation in architectures A-D: ours (left) and the paper's tables (right).
# ```

# %% tags=["remove-input"]
fig = book.plot_cells(result)
glue("cells", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} cells
#
# The cells of A-D, drawn as the DARTS paper draws its cells: inputs c_{k-2} and c_{k-1}, the four
# intermediate nodes, and the output c_k that concatenates them. Every edge keeps its chosen
# operation (no top-2 pruning), in the colour of that operation; identity edges are dashed.
# ```

# %% [markdown]
# ### The whole family over the simplex
#
# Every point of a lattice on the simplex is a complexity vector s; the hypernetwork gives its
# architecture without training. The maps show the paper-convention parameter count and the share
# of the 28 edges given to each operation group. With five operations the vector s is projected
# onto three coordinates by summing the penalties of the two pools and of the two convolutions.

# %% tags=["remove-input"]
fig = book.plot_family_map(result)
glue("family", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} family
#
# The family over the simplex: cell parameters and operation shares at each s of the lattice
# (corners: all penalty on one operation group).
# ```

# %% tags=["remove-input"]
fam = book.family_frame(result)
display(
    Markdown(
        f"The lattice has {len(fam)} points and yields **{result.n_unique_genotypes} distinct architectures**, "
        f"from {fam.cell_params.min():,} to {fam.cell_params.max():,} cell parameters."
    )
)

# %% [markdown]
# ### Accuracy against size
#
# A spread of the distinct genotypes of the lattice (sorted by size) is evaluated with inherited
# weights; A-D are marked.

# %% tags=["remove-input"]
fig = book.plot_front(result)
glue("front", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} front
#
# Test accuracy (inherited weights) against cell parameters for genotypes of the family.
# ```

# %% [markdown]
# ## An earlier paper-scale run
#
# Before the campaign, experiment 1 was run once at the paper's epochs and kappa on 90 % of the
# training set, with this project's first hypernetwork (one fixed lattice of reference points
# shared by all edges). Its configuration differs from today's paper profile, so it is shown
# here as a record, not as the paper-scale result above.

# %% tags=["remove-input"]
earlier = book.read_if_present(Path(paper_results_dir) / f"{experiment}-lattice.json")
if earlier is None:
    display(Markdown(f"No earlier paper-scale run of {experiment}."))
else:
    display(Markdown(book.run_description(earlier) + "\n\n" + book.run_times(earlier)))
    display(book.comparison_table(earlier))
    display(Markdown(book.penalty_effects_text(earlier)))

# %% [markdown]
# ## The family from Python
#
# The search of the quick check is an ordinary run directory, so the whole family can be read with
# the public API: `hypernas.load_run` gives the trained family, and any s gives its architecture.
# Here s is B's vector from the table above. When the run directory holds the search that made
# the table, the operation counts and the parameter count are the ones the table reports; a search
# repeated on another machine or with another thread count can choose other operations (see
# {doc}`reproduce`), and the last line says which is the case here.

# %%
import hypernas
from hypernas.pipeline.experiment import run_dir_for

run_dir = run_dir_for(cfg, runs_dir)
s_b = list(result.architectures["B"].s)
if (run_dir / "search.json").is_file():  # a finished search, not one still under way
    family = hypernas.load_run(run_dir)
    record = family.describe(s_b)
    print(f"s = {s_b}: {record['group_counts']}, {record['cell_params']:,} cell parameters")
    print(
        f"the table above: {result.architectures['B'].group_counts}, "
        f"{result.architectures['B'].cell_params:,} cell parameters"
    )
    stored = result.architectures["B"]
    same = (record["normal"], record["reduce"]) == (list(stored.normal), list(stored.reduce))
    print("the same architecture" if same else "another architecture: this search is not the stored one")
else:
    print(
        f"The run directory is not on this machine (the book reads cached results); "
        f"`hypernas search {experiment} --profile {profile} --out {run_dir}` makes it."
    )

# %% [markdown]
# ## How much kappa, the Cost relaxation and the seed matter
#
# kappa scales the Cost term against the cross-entropy. Where the results folder holds the same
# experiment searched with other values of kappa, another Cost relaxation or another seed (the
# records of `sweeps/<experiment>.jsonl`, one per run of `scripts/kappa_sweep.py`, each with its
# full config), they are listed here next to this chapter's run, with all else equal;
# any other setting a run changes (e.g. `epochs=10`, `sigma=0.3`, `ref_layout=lattice` for this
# project's first hypernetwork, one fixed lattice of reference points shared by all edges) follows
# its relaxation.
#
# ```{include} sweep_tables.md
# ```

# %% tags=["remove-input"]
sweep = [result] + book.sweep_results(results_dir or f"results/{profile}", experiment)
if len(sweep) > 1:
    display(book.kappa_sweep_frame(sweep, main=result))
    display(book.sweep_by_setting(sweep))
    if book.uncommitted_records_text(sweep[1:], "sweep records"):
        display(Markdown(book.uncommitted_records_text(sweep[1:], "sweep records")))
else:
    display(Markdown(f"No kappa sweep in the results folder for {experiment} under profile `{profile}`."))
