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
# # Is one search worth it?
#
# The other chapters show that the complexity vector s moves the architecture. This one asks what a
# researcher asks first of any search method: are its answers stable from one seed to the next, and
# are its architectures better than the obvious alternatives of the same space and size? Three
# alternatives stand beside the family of one hypernetwork search:
#
# * **random architectures** of the same space, drawn so that they span the family's sizes (each
#   cell's op counts uniform over all splits of its 14 edges, then placed at random), and for each
#   of A-D one with **the same op counts in each cell**, placed at random (same size exactly);
# * **separate searches**: for each of A-D, an ordinary search with that s fixed and plain learned
#   logits instead of the hypernetwork, everything else as the main search. This is what the paper
#   claims to save: one run instead of one per constraint.
#
# Every architecture of every group is scored the same way: retrained from scratch with one
# protocol, and with the main search's inherited weights, each on the held-out validation split and
# on the test split. Fronts are *picked* on validation accuracy and *reported* on test accuracy.

# %% tags=["parameters", "hide-cell"]
profile = "quick"
seed = 0
data_root = None
results_dir = None
runs_dir = "runs"
paper_results_dir = "results/paper"
experiments = ["exp1", "exp2", "exp3"]
seeds = [0, 1, 2]
compute = False  # True: run what is missing here (the smoke profile in CI); False: show the stored results
force = False

# %% tags=["remove-cell"]
import logging
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import HTML, Markdown, display

from hypernas import book
from hypernas.pipeline.baselines import run_baseline_study
from hypernas.pipeline.experiment import run_experiment
from hypernas.report import baselines as report
from hypernas.report import seeds as seed_report

warnings.filterwarnings("ignore")
logging.basicConfig(level=logging.WARNING)
os.environ.setdefault("TQDM_DISABLE", "1")
book.use_book_style()
results_dir = Path(results_dir or f"results/{profile}")
latency = book.read_record_if_present(results_dir / "latency.json", "latency study")
lut = latency["runtimes"]["torch"]["lut"] if latency else None


def show_study(title, study, seed_results, main):
    """Everything the chapter shows of one study: figure, fronts, statistics, seeds, protocol."""
    key = study["name"]
    display(Markdown(f"### {title}"))
    numbers = report.comparison(study)
    fig = report.plot_study(study)
    plt.show()
    plt.close(fig)
    lat = report.latencies(study, lut) if lut is not None else None
    if lat is not None:
        fig = report.plot_study(study, latency=lat)
        plt.show()
        plt.close(fig)
    display(
        report.hypervolume_table(study, numbers["hypervolume"]).style.set_uuid(f"hv-{key}").hide(axis="index")
    )
    display(Markdown(report.comparison_text(study, numbers)))
    display(Markdown(report.same_search_text(study, main)))
    display(Markdown(report.protocol_text(study, main)))
    if len(seed_results) > 1:
        display(
            Markdown(
                f"**Seeds.** A-D's test accuracy (%), retrained and inherited, in {seed_report.seeds_text(seed_results)}:"
            )
        )
        display(
            seed_report.seed_table(seed_results)
            .style.set_uuid(f"seeds-{key}")
            .format(precision=2)
            .hide(axis="index")
        )
        display(Markdown(seed_report.seed_verdict_text(seed_results)))
    table = report.architecture_table(study)
    styled = table.style.set_uuid(f"archs-{key}").format(precision=2).hide(axis="index")
    title = f"Every architecture of the study ({len(table)}) and its four scores"
    display(HTML(book.collapsed_html(title, styled.to_html())))


# %% tags=["remove-input"]
display(Markdown(report.conventions_text()))


# %% [markdown]
# ## At the paper's scale: experiment 1, setting (b)

# %% tags=["remove-input"]
paper = report.paper_study(paper_results_dir)
if paper["study"] is None:
    display(
        Markdown(
            "The paper-scale baseline study of exp1 (setting b) has not finished yet. The background "
            "campaign runs it after the seeds (`make paper`; `make paper-status` tells where each part "
            f"stands). Finished so far: {seed_report.seeds_text(paper['seeds'])}."
        )
    )
    if len(paper["seeds"]) > 1:
        display(
            seed_report.seed_table(paper["seeds"])
            .style.set_uuid("seeds-paper")
            .format(precision=2)
            .hide(axis="index")
        )
        display(Markdown(seed_report.seed_verdict_text(paper["seeds"])))
else:
    show_study("exp1, setting (b), paper scale", paper["study"], paper["seeds"], paper["seeds"][0])

# %% [markdown]
# ## At the short profile's scale
#
# The same study on subsets for a few epochs (the chapter's own profile), for each experiment at
# that profile's own config. Its searches and retrainings take hours on two CPU cores, so they run
# in the background like the paper's (`make baselines`, the campaign's queue of this profile), and
# the chapter shows what has finished.

# %% tags=["remove-input"]
quick = {}
for experiment in experiments:
    if compute:
        for s in seeds:
            run_experiment(
                experiment,
                profile,
                seed=s,
                data_root=data_root,
                results_dir=results_dir,
                runs_dir=runs_dir,
                name=experiment if s == 0 else f"{experiment}-seed{s}",
                force=force,
                progress=False,
            )
        run_baseline_study(
            experiment,
            profile,
            data_root=data_root,
            results_dir=results_dir,
            runs_dir=runs_dir,
            force=force,
            progress=False,
        )
    found = report.campaign_study(results_dir, profile, experiment, "default")
    if found["study"] is None:
        display(Markdown(f"### {experiment}, {profile} scale\n\nNot finished yet (`make baselines`)."))
        continue
    quick[experiment] = (found["study"], found["seeds"])
    show_study(
        f"{experiment}, {profile} scale",
        found["study"],
        found["seeds"],
        found["seeds"][0] if found["seeds"] else None,
    )

# %% [markdown]
# ## In short

# %% tags=["remove-input"]
verdicts = report.study_verdicts(
    {
        **({"exp1 (b), paper scale": (paper["study"], paper["seeds"])} if paper["study"] else {}),
        **{f"{e}, {profile} scale": v for e, v in quick.items()},
    }
)
display(
    verdicts.style.set_uuid("verdicts")
    .hide(axis="index")
    .set_properties(**{"text-align": "left", "white-space": "normal"})
)
