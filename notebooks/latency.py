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
# experiments only set the penalty vector s by hand. This chapter measures this machine in two
# target runtimes, predicts the latency of every architecture of the trained experiment-1 family
# from a lookup table, checks the prediction against real measurements and against the machine's
# own noise, and picks architectures for latency budgets without any retraining.

# %% tags=["parameters", "hide-cell"]
profile = "quick"
seed = 0
data_root = None
results_dir = None
runs_dir = "runs"
threads = 1
force = False

# %% tags=["remove-cell"]
import os
import warnings

import matplotlib.pyplot as plt
from IPython.display import Markdown, display
from myst_nb import glue

from hypernas import book

warnings.filterwarnings("ignore")
os.environ.setdefault("TQDM_DISABLE", "1")
book.use_book_style()

# %% [markdown]
# ## How latency is measured here
#
# This is a shared virtual machine: between two passes over the same networks its speed can drift
# by tens of percent. A single pass would let that drift decide the verdict, so every study uses one
# protocol:
#
# * **Interleaved rounds.** Every network of a study, and a fixed reference network, is timed in
#   five rounds. Each round visits the networks in a fresh random order and gives each a short burst:
#   five untimed calls, then twenty timed ones, whose median is the round's figure. A network's
#   latency is the median over its rounds, so a slow phase of the machine touches all networks alike.
# * **A drift reference and one time base.** Each round's figures are divided by the reference
#   network's figure in the same round and multiplied by the reference's latency when the lookup
#   table was made. Every later measurement of the study (calibration, validation, its retest,
#   budgets) is expressed in that time base: what the machine would read at the speed it had when
#   the table was made. This removes drift slower than a round, also between measurements minutes
#   apart; the clock's own readings are kept beside them in the results, and the table below shows
#   how far two passes differ as read.
# * **Fixed settings.** One thread, batch 1, the process pinned to one CPU, inference mode; all of
#   it is recorded in each lookup table's provenance.
# * **Two target runtimes.** PyTorch eager, and ONNX Runtime on the CPU, which is what a user runs
#   after `hypernas export`. Each runtime has its own lookup table, calibration, s_device and
#   budgets.
# * **Repetitions.** The whole study (table, calibration, validation, budgets) runs three times,
#   each in a fresh process (twice in the `smoke` profile, which checks the code rather than the
#   machine). The tables report the median and every repetition.
#
# The table holds every primitive at every position it can occupy, net of the runtime's fixed cost
# per call, which a network pays once. It is calibrated on whole networks: the prediction for a
# genotype g is $\text{base} + \sum_m \text{scale}_m S_m(g)$, where $S_m(g)$ sums the table's
# entries over the edges where g uses operation m, and base and the k scales are fitted by least
# squares on random genotypes measured when the table is made.

# %% tags=["remove-output"]
# Three repetitions per runtime (two in the smoke profile), each in a fresh process, cached in results/<profile>/latency.json;
# reused only on the same machine, threads, torch, protocol and trained family (force=True re-measures).
result = book.run_latency_study(
    profile,
    seed=seed,
    data_root=data_root,
    results_dir=results_dir,
    runs_dir=runs_dir,
    threads=threads,
    force=force,
)
n_repetitions = len(next(iter(result["runtimes"].values()))["repetitions"])

# %% [markdown]
# ## Does the table predict whole networks, and how well could it?
#
# The prediction is compared with the measured latency of the built network for the distinct
# genotypes of the experiment-1 family. The family is read on a lattice on the simplex, refined
# until it gives at least 30 genotypes; random genotypes make up the number if the family is
# smaller. The same networks are then measured a second time, independently. The agreement of the
# two passes, *retest*, is the ceiling that any predictor can reach on this machine.

# %% tags=["remove-input", "nbval-ignore-output"]
display(book.latency_accuracy_table(result))
display(
    Markdown(
        "Spearman rank correlation and median absolute percentage error (APE) of the prediction "
        f"against the measurement, the median of the {n_repetitions} "
        "repetitions. Retest: the same networks "
        "measured a second time, independently; its figures are the noise floor of this machine."
    )
)

# %% [markdown]
# Every repetition, with the retest's median difference also as the clock read it, without the
# time base. The time base removes the machine's drift between the two passes but adds the
# reference network's own noise, so where the machine held its speed the figure as read can be
# the smaller one. Then the median error of the calibration fit, and the wall time of the whole
# repetition (table, calibration, validation and budgets):

# %% tags=["remove-input", "nbval-ignore-output"]
display(book.latency_repetition_table(result))

# %% tags=["remove-input", "nbval-ignore-output"]
fig = book.latency_prediction_figure(result)
glue("latency_pred", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} latency_pred
# :name: "fig-latency-pred"
#
# Predicted against measured latency (batch 1) of distinct genotypes in each runtime (first
# repetition). Grey crosses: the retest measurement. Dashed line: equality.
# ```

# %% [markdown]
# ## Budgets that hold
#
# For each budget, the library keeps the genotypes predicted to fit within the budget less a 5 %
# margin, and ranks the largest of them by inherited accuracy on the held-out validation split
# (never the test split). It measures all of them under the protocol above and returns the most
# accurate one whose *measured* latency is within the budget. A prediction that was too optimistic
# costs a place, never the budget. When none of them fits (the table is optimistic for them), the
# predictions are rescaled by the median ratio of measured to predicted latency, and the next
# faster genotypes are measured (the fastest ones not yet measured, where the rescaled
# predictions leave none, and in the third pass), for up to three passes; if nothing fits then, the
# selection says so rather than return an architecture that breaks the budget. Each repetition
# sets its budgets at a quarter, half and three quarters of the way between the fastest and the
# slowest genotype of the family as its own table predicts them (widened by the margin), so the budgets
# are the same places in the family's range in every repetition, in that repetition's time base.

# %% tags=["remove-input", "nbval-ignore-output"]
display(book.latency_budget_table(result))
display(Markdown(book.latency_budget_as_read(result)))

# %% [markdown]
# ## Two targets, two answers
#
# The same family measured in two runtimes is a different device: PyTorch eager pays a dispatch
# cost per operation, ONNX Runtime runs a graph with almost none, so what each primitive costs
# relative to the others changes. s_device, each operation's share of the summed table latency
# (median of the repetitions), is the vector the paper's method would take as its penalty s on that
# target:

# %% tags=["remove-input", "nbval-ignore-output"]
display(book.latency_s_device_table(result))
display(Markdown(book.latency_runtime_contrast(result)))

# %% [markdown]
# ## What this shows

# %% tags=["remove-input", "nbval-ignore-output"]
holds, why = book.latency_verdict(result)
display(
    Markdown(
        (
            "**Latency control holds on this machine.** "
            if holds
            else "**Latency control does not fully hold here.** "
        )
        + why
        + f". A full study (both runtimes, {n_repetitions} "
        f"repetitions each) took {result['wall_time_s'] / 60:,.0f} minutes "
        "on one pinned CPU core."
    )
)
