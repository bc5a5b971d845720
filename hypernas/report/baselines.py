"""The baseline chapter's tables, figures and sentences, from a baseline study's result and the
results of an experiment's seeds (:mod:`hypernas.report.compare` computes the numbers)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd

from hypernas.pipeline.results import Result
from hypernas.report import compare
from hypernas.report.headline import seed_count_text
from hypernas.report.seeds import campaign_seeds, seed_flags
from hypernas.space.genotype import Genotype
from hypernas.train.config import SearchConfig

GROUP_STYLE = {  # colour and marker of each group in the figures
    "paper": ("#d62728", "*"),
    "family": ("#1f77b4", "o"),
    "random": ("#7f7f7f", "s"),
    "matched": ("#bcbd22", "D"),
    "separate": ("#2ca02c", "^"),
}
SET_STYLE = {"family": "#1f77b4", "random": "#7f7f7f", "separate": "#2ca02c"}
SET_TITLES = {
    "family": "family (A-D + front)",
    "random": "random (+ same op counts)",
    "separate": "separate searches",
}
FRONT_CAPTION = (
    "test accuracy after retraining against cell parameters, every architecture of the study: the "
    "family (A-D starred, further members as dots), random architectures (squares; diamonds: the same op "
    "counts as A-D), separate searches (triangles); lines are each set's front, picked on validation accuracy."
)


def _fmt_interval(value: float, low: float, high: float, digits: int = 3) -> str:
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def plot_study(study: dict, protocol: str = "retrain", x: str = "cell_params", latency: dict | None = None):
    """Test accuracy against cell parameters (or predicted latency, ``latency``: ``{genotype: ms}``)
    of every architecture of the study, by group, with each set's front (picked on validation
    accuracy) as a step line and A-D marked."""
    fig, ax = plt.subplots(figsize=(7.5, 4.6))

    def xval(a: dict) -> float:
        return latency[a["genotype"]] if latency is not None else a["cell_params"] / 1000

    for group, (colour, marker) in GROUP_STYLE.items():
        archs = compare.members(study, (group,))
        if not archs:
            continue
        ax.scatter(
            [xval(a) for a in archs],
            [compare.score(a, protocol, "test") for a in archs],
            c=colour,
            marker=marker,
            s=120 if group == "paper" else 40,
            label=compare.GROUP_TITLES[group],
            zorder=3,
            edgecolors="black" if group == "paper" else "none",
            linewidths=0.5,
        )
    for name, groups in compare.SETS.items():
        front = compare.pareto_front(compare.members(study, groups), protocol, "val")
        if latency is not None:
            front = sorted(front, key=xval)
        if front:
            ax.step(
                [xval(a) for a in front],
                [compare.score(a, protocol, "test") for a in front],
                where="post",
                color=SET_STYLE[name],
                alpha=0.6,
                lw=1.5,
            )
    for a in compare.members(study, ("paper",)):
        ax.annotate(
            a["label"],
            (xval(a), compare.score(a, protocol, "test")),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=10,
            fontweight="bold",
        )
    ax.set_xlabel(
        "predicted latency on this CPU (ms)" if latency is not None else "cell parameters (thousands)"
    )
    ax.set_ylabel(f"test accuracy, {protocol} (%)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def latencies(study: dict, lut: dict) -> dict[str, float] | None:
    """Predicted latency (ms) of every architecture of the study from a latency table of the same
    space, or None when the table was measured for another space."""
    from hypernas.device import latency as latency_mod
    from hypernas.errors import HyperNASError

    cfg = SearchConfig.from_dict(study["config"])
    space = cfg.space()
    try:
        latency_mod.check_lut(lut, space, cfg.dataset)
    except HyperNASError:
        return None
    out = {}
    for a in study["architectures"]:
        g = Genotype(tuple(a["ops"]), tuple(a["normal"]), tuple(a["reduce"]))
        out[a["genotype"]] = latency_mod.predict(lut, g, space, cfg.dataset)
    return out


def architecture_table(study: dict) -> pd.DataFrame:
    """Every architecture: group, label, op counts (pool/conv/identity), cell parameters and its four scores."""
    rows = []
    for a in study["architectures"]:
        fam = a["group_counts"]
        rows.append(
            {
                "group": compare.GROUP_TITLES[a["group"]],
                "arch": a["label"],
                "pool/conv/id": f"{fam['pool']}/{fam['conv']}/{fam['identity']}",
                "cell params": f"{a['cell_params']:,}",
                "retrained val": round(compare.score(a, "retrain", "val"), 2),
                "retrained test": round(compare.score(a, "retrain", "test"), 2),
                "inherited val": round(compare.score(a, "inherited", "val"), 2),
                "inherited test": round(compare.score(a, "inherited", "test"), 2),
            }
        )
    return pd.DataFrame(rows)


def hypervolume_table(study: dict, hv: dict[str, dict] | None = None) -> pd.DataFrame:
    """Each set's size, front size and hypervolume with its bootstrap interval (retrained)."""
    hv = hv or compare.hypervolumes(study)
    rows = []
    for name, groups in compare.SETS.items():
        archs = compare.members(study, groups)
        h = hv[name]
        rows.append(
            {
                "set": SET_TITLES[name],
                "architectures": len(archs),
                "on the front": len(compare.pareto_front(archs)),
                "hypervolume [95 % interval]": _fmt_interval(h["hv"], h["low"], h["high"]),
            }
        )
    return pd.DataFrame(rows)


def conventions_text() -> str:
    """How the chapter's numbers are computed, from the constants that compute them."""
    ref = ", ".join(f"{v:g}" for v in compare.HV_REFERENCE)
    level = f"{100 * compare.CONFIDENCE:.0f} %"
    return (
        "**How the sets are scored.** A set's *front* is its architectures that no other of the set "
        "beats in both cell parameters and validation accuracy; it is picked on validation accuracy "
        "and scored on test accuracy. Its *hypervolume* is the area that front dominates in the plane "
        "(test error, cell parameters), each axis divided by its largest value over the whole study, "
        f"up to the reference point ({ref}); larger is better (pymoo computes it). Every interval is a "
        f"{level} percentile bootstrap of {compare.BOOTSTRAP:,} resamples. A set's own interval draws "
        "its architectures with replacement; a resample can only lose front points, so that interval "
        "ends at (or just below) the set's full value and says how much the value rests on a few "
        "architectures. Two sets are compared by the difference of their hypervolumes at *equal "
        "numbers* of architectures (each draw takes as many from each as the smaller set has), since "
        "a larger set covers more on its own: an interval that holds 0 reads *not distinguishable*. "
        "The relative improvement at matched size is RI = 100 (acc_method - acc_random) / acc_random "
        "(Yang et al., 2020), for each of A-D against its random twin with the same op counts in each "
        "cell. Rank agreement is Kendall's tau and Spearman's rho between inherited and retrained "
        "test accuracy over every distinct architecture of the study. A study is made for one "
        "main search: its intervals cover the choice of architectures, not the search's "
        "seed. How far a seed moves A-D is the seed table's to say; the baseline groups are not "
        "repeated per seed (a second study would double the compute)."
    )


def comparison(study: dict, n: int = compare.BOOTSTRAP) -> dict:
    """Every number the chapter and the summary state about one study."""
    hv = compare.hypervolumes(study, n=n)
    return {
        "hypervolume": hv,
        "family_vs_random": compare.hypervolume_difference(study, "family", "random", n=n),
        "family_vs_separate": compare.hypervolume_difference(study, "family", "separate", n=n),
        "matched": compare.matched_improvement(study, n=n),
        "ranking": compare.rank_agreement(study, n=n),
        "compute": compare.compute_ratio(study),
    }


def difference_verdict(diff: dict) -> str:
    """'better', 'worse' or 'not distinguishable', from the interval of a hypervolume difference."""
    if diff["low"] > 0:
        return "better"
    if diff["high"] < 0:
        return "worse"
    return "not distinguishable"


def comparison_text(study: dict, numbers: dict) -> str:
    """The study's findings in a paragraph: fronts, matched improvement, rank agreement, compute."""
    fr, fs = numbers["family_vs_random"], numbers["family_vs_separate"]
    m, rank, comp = numbers["matched"], numbers["ranking"], numbers["compute"]
    pairs = ", ".join(f"{k} {v:+.2f} %" for k, v in m["pairs"].items())
    ri = f"mean {m['mean']:+.2f} %" + (f" [{m['low']:+.2f}, {m['high']:+.2f}]" if "low" in m else "")
    ratio = comp["ratio"]
    machines = (
        "on the same machine"
        if comp["same_machines"]
        else "on different machines (the wall-time ratio then mixes their speeds; the images do not)"
    )
    return (
        f"**Fronts.** Against random architectures the family's front is **{difference_verdict(fr)}** "
        f"(hypervolume difference at {fr['m']} architectures each: {fr['mean']:+.3f}, 95 % interval "
        f"[{fr['low']:+.3f}, {fr['high']:+.3f}]); against the separate searches it is "
        f"**{difference_verdict(fs)}** ({fs['mean']:+.3f} [{fs['low']:+.3f}, {fs['high']:+.3f}] at "
        f"{fs['m']} each). **Matched size.** The relative improvement of A-D over the random "
        f"architecture with the same op counts in each cell is {pairs}; {ri}. **Ranking without "
        f"retraining.** Over {rank['n']} distinct architectures, Kendall's tau between inherited and "
        f"retrained test accuracy is {rank['kendall_tau']:.2f} [{rank['tau_low']:.2f}, "
        f"{rank['tau_high']:.2f}] and Spearman's rho {rank['spearman_rho']:.2f} "
        f"[{rank['rho_low']:.2f}, {rank['rho_high']:.2f}]. **Compute.** The {comp['n_separate']} "
        f"separate searches processed {ratio.get('images', math.nan):.2f} times the images of the one "
        f"hypernetwork search and took {ratio.get('wall_time_s', math.nan):.2f} times its wall time "
        f"({ratio.get('cpu_seconds', math.nan):.2f} times its CPU time), {machines}."
    )


def protocol_text(study: dict, main: Result | None = None) -> str:
    """The one retraining protocol, and how it compares with the search's own budget."""
    p = study["retrain_protocol"]
    cfg = study["config"]
    search_images = cfg["epochs"] * study["provenance"]["train_images"]
    text = (
        f"Every architecture is retrained the same way: {p['epochs']} epoch{'s' if p['epochs'] > 1 else ''} from scratch on the search's "
        f"training split ({p['images']:,} images in all, batch {p['batch_size']}, {p['optimizer']}, "
        f"{'random crop and flip' if p['augment'] else 'no augmentation'}, seed {p['seed']}), and scored "
        f"on the held-out validation split (to pick fronts) and the test split (to report them). That is "
        f"{p['images'] / search_images:.2f} of the {search_images:,} images the search itself processed: "
        "the retrained numbers are those of short training, below what these architectures reach trained to the end."
    )
    if main is not None:
        below = [
            name
            for name, a in main.architectures.items()
            if a.test_accuracy["retrain"] < a.test_accuracy["relaxed"]
        ]
        if below:
            text += (
                f" In this run it leaves {', '.join(below)} of A-D retrained below the relaxed protocol's "
                "figure (the supernet itself at s, trained for the whole search)."
            )
    return text


def same_search_text(study: dict, main: Result | None) -> str:
    """Whether the study's A-D are the architectures of the stored result ``main`` of the same
    config, or come from a main search made again (where the run directory was lost: another
    machine or thread count can derive other architectures)."""
    if main is None:
        return ""
    mine = {a["label"]: a["genotype"] for a in compare.members(study, ("paper",))}
    stored = {
        n: Genotype(tuple(a.ops), tuple(a.normal), tuple(a.reduce)).key()
        for n, a in main.architectures.items()
    }
    differ = [n for n in mine if stored.get(n) != mine[n]]
    if not differ:
        return f"The study's A-D are the architectures of the stored result `{main.name}` (the same main search)."
    same = [n for n in mine if n not in differ]
    kept = f" ({', '.join(same)} the same)" if same else ""
    return (
        f"The study's main search was made again from the same config (its first run directory did not "
        f"survive), and another machine or thread count derives other architectures: its A-D differ from "
        f"those of the stored result `{main.name}` in {', '.join(differ)}{kept}. The study scores its own "
        "A-D, so every group is compared with the same search; the seed table shows the stored results' "
        "A-D, so its seed-0 numbers are not the study's."
    )


# ----------------------------------------------------------------------------- verdicts
RANKING_TAU = 0.5  # inherited ranks as retraining does when tau's interval lies above this
STUDY_CLAIMS = {
    "beats_random": "The family's front beats random architectures of the same size",
    "matches_separate": "One search matches separate searches per constraint, at a fraction of their compute",
    "ranking": "Inherited accuracy ranks architectures as retraining does",
    "seeds": "The paper's four claims hold in every seed",
}


def study_verdict(study: dict, seed_results: list[dict], numbers: dict | None = None) -> dict[str, str]:
    """Each of :data:`STUDY_CLAIMS` for one study, a verdict with the numbers that decide it."""
    numbers = numbers or comparison(study)
    fr, fs = numbers["family_vs_random"], numbers["family_vs_separate"]
    m, rank, comp = numbers["matched"], numbers["ranking"], numbers["compute"]
    beats = {"better": "yes", "worse": "no", "not distinguishable": "not distinguishable"}[
        difference_verdict(fr)
    ]
    separate = difference_verdict(fs)
    matches = "yes" if separate in ("better", "not distinguishable") else "no"
    if rank["tau_low"] > RANKING_TAU:
        ranks = "yes"
    elif rank["tau_low"] > 0:
        ranks = "partly"
    else:
        ranks = "no"
    flags = seed_flags(seed_results)
    every = [all(f[i] for f in flags.values()) for i in range(len(seed_results))]
    return {
        "beats_random": f"{beats}: HV difference {fr['mean']:+.3f} [{fr['low']:+.3f}, {fr['high']:+.3f}]; "
        f"RI over matched {m['mean']:+.2f} %",
        "matches_separate": f"{matches} ({separate}: {fs['mean']:+.3f} [{fs['low']:+.3f}, {fs['high']:+.3f}]); "
        f"separate searches cost {comp['ratio'].get('images', math.nan):.1f}x the images, "
        f"{comp['ratio'].get('wall_time_s', math.nan):.1f}x the wall time",
        "ranking": f"{ranks}: Kendall's tau {rank['kendall_tau']:.2f} [{rank['tau_low']:.2f}, "
        f"{rank['tau_high']:.2f}] over {rank['n']} architectures",
        "seeds": f"{seed_count_text(every)} (all four at once)",
    }


def study_verdicts(studies: dict[str, tuple[dict, list[dict]]]) -> pd.DataFrame:
    """:func:`study_verdict` of each labelled (study, seed results), one column per label."""
    columns = {label: study_verdict(study, seeds) for label, (study, seeds) in studies.items()}
    if not columns:
        return pd.DataFrame({"claim": list(STUDY_CLAIMS.values()), "verdict": "no study finished"})
    return (
        pd.DataFrame(columns, index=list(STUDY_CLAIMS))
        .rename(index=STUDY_CLAIMS)
        .rename_axis("claim")
        .reset_index()
    )


def campaign_study(results_dir, profile: str, experiment: str, setting: str) -> dict:
    """The finished baseline study of ``experiment`` under ``setting`` (None until it has finished
    with today's config) and the experiment's finished seeds (seed 0 first), named as the
    campaign's queue items name them (:class:`~hypernas.pipeline.items.QueueItem`)."""
    from pathlib import Path

    from hypernas.pipeline.baselines import study_config
    from hypernas.pipeline.items import QueueItem
    from hypernas.pipeline.results import read_record_if_present

    seeds = campaign_seeds(results_dir, profile, experiment, setting)
    main = QueueItem(experiment, setting, 0, "baselines")
    study = read_record_if_present(Path(results_dir) / f"{main.name}.json", "baseline study")
    if study is not None and study.get("config_hash") != study_config(main.config(profile)).hash():
        study = None
    return {"study": study, "seeds": seeds}


def paper_study(results_dir, experiment: str = "exp1", setting: str = "rebalanced") -> dict:
    """:func:`campaign_study` at the paper's scale (exp1, setting (b) by default)."""
    return campaign_study(results_dir, "paper", experiment, setting)


def profile_studies(results_dir, profile: str, experiments=("exp1", "exp2", "exp3")) -> dict[str, tuple]:
    """The finished baseline studies of a short profile at its own config, with their seeds:
    ``{experiment: (study, [seed results])}``."""
    out = {}
    for e in experiments:
        found = campaign_study(results_dir, profile, e, "default")
        if found["study"] is not None:
            out[e] = (found["study"], found["seeds"])
    return out
