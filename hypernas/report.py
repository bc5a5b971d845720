"""Tables and figures shown by the book, and the paper's own numbers to set beside ours.

Notebooks only call these functions; everything here takes result dicts (the JSON files).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import cellplot
from .experiments import PROFILE_SOURCES, SETTINGS, SearchConfig, resolve, result_name
from .io import read_json

# The paper's Tables 1-3 (PAPER.md): test accuracy %, "parameters" (cell-op convention), op counts.
PAPER_TABLES: dict[str, dict[str, dict]] = {
    "exp1": {
        "A": dict(acc=82.5, params=38_304, pool=12, conv=6, identity=10),
        "B": dict(acc=79.2, params=5_120, pool=17, conv=0, identity=11),
        "C": dict(acc=85.0, params=143_488, pool=0, conv=13, identity=15),
        "D": dict(acc=81.4, params=12_320, pool=18, conv=9, identity=1),
    },
    "exp2": {
        "A": dict(acc=85.62, params=93_888, pool=16, conv=8, identity=4),
        "B": dict(acc=82.37, params=25_280, pool=22, conv=1, identity=5),
        "C": dict(acc=85.63, params=137_632, pool=4, conv=13, identity=11),
        "D": dict(acc=85.60, params=72_928, pool=22, conv=6, identity=0),
    },
    "exp3": {
        "A": dict(acc=71.02, params=113_984, pool=4, conv=18, identity=6),
        "B": dict(acc=52.37, params=10_240, pool=12, conv=0, identity=16),
        "C": dict(acc=73.77, params=159_456, pool=0, conv=9, identity=19),
        "D": dict(acc=68.43, params=8_800, pool=17, conv=11, identity=0),
    },
}
ARCH_NAMES = {"A": "A uniform", "B": "B conv pen.", "C": "C pool pen.", "D": "D ident. pen."}
FAMILIES = ("pool", "conv", "identity")


def pool_counts(arch: dict) -> dict[str, int]:
    """Counts of each pooling op separately (exp2 lists both pools)."""
    return {op: n for op, n in arch["op_counts"].items() if "pool" in op}


CELL_PARAMS_ROW = "parameters, cell ops (paper's count)"


def comparison_table(result: dict) -> pd.DataFrame:
    """Rows: metrics; columns: (architecture, ours | paper)."""
    paper = PAPER_TABLES.get(result["experiment"], {})
    rows: dict[str, dict] = {}
    for name, arch in result["architectures"].items():
        col = ARCH_NAMES[name]
        fam = arch["family_counts"]
        acc = arch["test_accuracy"]
        ours = {
            "complexity vector s": ", ".join(f"{v:.3g}" for v in arch["s"]),
            "test acc. inherited %": f"{acc['inherited']:.2f}",
            "test acc. retrain %": f"{acc['retrain']:.2f}",
            "test acc. relaxed (t=1) %": f"{acc['relaxed']:.2f}",
            CELL_PARAMS_ROW: f"{arch['cell_params']:,}",
            "parameters, whole network": f"{arch['total_params']:,}",
            "# pooling": str(fam["pool"]),
        }
        pools = pool_counts(arch)
        if len(pools) > 1:
            for op, n in pools.items():
                ours[f"  # {op}"] = str(n)
        ours.update({"# conv": str(fam["conv"]), "# identity": str(fam["identity"])})
        p = paper.get(name)
        theirs = {key: "" for key in ours}
        if p:
            theirs.update({
                "test acc. relaxed (t=1) %": f"{p['acc']:.2f}",
                CELL_PARAMS_ROW: f"{p['params']:,}",
                "# pooling": str(p["pool"]),
                "# conv": str(p["conv"]),
                "# identity": str(p["identity"]),
            })
        rows[(col, "ours")] = ours
        rows[(col, "paper")] = theirs
    df = pd.DataFrame(rows)
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    return df


def curves_frame(result: dict) -> pd.DataFrame:
    return pd.DataFrame([{k: v for k, v in m.items() if not isinstance(v, dict)} for m in result["curves"]])


def op_stats_frame(result: dict) -> pd.DataFrame:
    """Long frame: architecture, source (ours/paper), op family, count (for the Figure 2 analogue)."""
    rows = []
    paper = PAPER_TABLES.get(result["experiment"], {})
    for name, arch in result["architectures"].items():
        for fam in FAMILIES:
            rows.append(dict(architecture=ARCH_NAMES[name], source="ours", op=fam, count=arch["family_counts"][fam]))
            if name in paper:
                rows.append(dict(architecture=ARCH_NAMES[name], source="paper", op=fam, count=paper[name][fam]))
    return pd.DataFrame(rows)


def family_frame(result: dict) -> pd.DataFrame:
    """One row per grid point: s, aggregated s per op family, op shares, parameters."""
    ops = result["config"]["ops"]
    from .ops import OP_FAMILY

    rows = []
    for r in result["family_grid"]:
        row = {"cell_params": r["cell_params"], "total_params": r["total_params"], "genotype": r["genotype"]}
        for fam in FAMILIES:
            row[f"s_{fam}"] = sum(v for v, op in zip(r["s"], ops) if OP_FAMILY[op] == fam)
            row[f"share_{fam}"] = r["family_counts"][fam] / 28
        for op, v in zip(ops, r["s"]):
            row[f"s[{op}]"] = v
        rows.append(row)
    return pd.DataFrame(rows)


def plot_curves(result: dict):
    import matplotlib.pyplot as plt
    import seaborn as sns

    df = curves_frame(result)
    sns.set_theme(style="whitegrid", context="notebook")
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


def plot_counts_over_epochs(result: dict):
    """Op-family counts of A-D after every epoch of the search (how the family forms)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = [dict(epoch=m["epoch"], t=m["t"], architecture=ARCH_NAMES[a], op=f, count=c)
            for m in result["curves"] for a, fc in m["family_counts"].items() for f, c in fc.items()]
    df = pd.DataFrame(rows)
    sns.set_theme(style="whitegrid", context="notebook")
    g = sns.relplot(data=df, x="epoch", y="count", hue="op", col="architecture", kind="line", marker="o",
                    height=2.8, aspect=1.0, palette="Set2")
    g.set_titles("{col_name}")
    g.set_axis_labels("epoch", "edges (of 28)")
    for ax in g.axes.flat:
        ax.xaxis.get_major_locator().set_params(integer=True)
    return g.figure


def plot_op_stats(result: dict):
    """Figure 2 analogue: op-family counts of A-D, ours beside the paper's."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    df = op_stats_frame(result)
    sns.set_theme(style="whitegrid", context="notebook")
    g = sns.catplot(data=df, x="architecture", y="count", hue="op", col="source", kind="bar",
                    height=3.4, aspect=1.5, palette="Set2")
    g.set_axis_labels("", "edges (of 28)")
    g.set_titles("{col_name}")
    for ax in g.axes.flat:
        ax.tick_params(axis="x", labelsize=9)
    g.figure.subplots_adjust(right=0.88, wspace=0.08)
    return g.figure


def plot_family_map(result: dict):
    """Ternary maps over the simplex: cell_params and each op family's share of the 28 edges.

    For 5 ops the simplex is projected onto (pool, identity, conv) by summing the s of each family;
    grid points that land on the same projected point are averaged.
    """
    import matplotlib.pyplot as plt
    import mpltern  # noqa: F401  (registers the 'ternary' projection)

    df = family_frame(result)
    agg = df.groupby(["s_pool", "s_identity", "s_conv"], as_index=False).mean(numeric_only=True)
    panels = [("cell_params", "cell_params", "viridis"), ("share_pool", "pool share", "Blues"),
              ("share_conv", "conv share", "Reds"), ("share_identity", "identity share", "Greens")]
    fig = plt.figure(figsize=(10, 8.6))
    for i, (col, title, cmap) in enumerate(panels):
        ax = fig.add_subplot(2, 2, i + 1, projection="ternary")
        vmin, vmax = (None, None) if col == "cell_params" else (0, 1)
        pc = ax.tripcolor(agg["s_pool"], agg["s_identity"], agg["s_conv"], agg[col], shading="gouraud",
                          cmap=cmap, vmin=vmin, vmax=vmax, rasterized=True)
        ax.set_tlabel("s pool", fontsize=10)
        ax.set_llabel("s identity", fontsize=10)
        ax.set_rlabel("s conv", fontsize=10)
        ax.tick_params(labelsize=8)
        ax.set_title(title, fontsize=12, pad=26)
        cax = ax.inset_axes([1.08, 0.1, 0.04, 0.8], transform=ax.transAxes)
        cb = fig.colorbar(pc, cax=cax)
        cb.ax.tick_params(labelsize=7)
    fig.subplots_adjust(wspace=0.5, hspace=0.45, left=0.06, right=0.92, top=0.9, bottom=0.07)
    return fig


def plot_front(result: dict):
    """Accuracy (inherited) against cell parameters for genotypes of the family; A-D marked."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    fam = pd.DataFrame(result["family_eval"])
    fig, ax = plt.subplots(figsize=(6.5, 4))
    if len(fam):
        ax.scatter(fam["cell_params"], fam["test_accuracy_inherited"], color="0.55", s=25, label="family (grid genotypes)")
    for name, arch in result["architectures"].items():
        ax.scatter(arch["cell_params"], arch["test_accuracy"]["inherited"], s=70, marker="D", label=ARCH_NAMES[name])
        ax.annotate(name, (arch["cell_params"], arch["test_accuracy"]["inherited"]), xytext=(5, 5), textcoords="offset points")
    ax.set_xscale("symlog", linthresh=1000)
    ax.set(xlabel="cell parameters (paper's convention)", ylabel="test accuracy %, inherited weights")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- claims
def counts_text(counts: dict[str, int]) -> str:
    """Op-family counts as ``pool/conv/identity``."""
    return f"{counts['pool']}/{counts['conv']}/{counts['identity']}"


def penalty_effects(result: dict) -> dict[str, bool]:
    """Whether B, C, D hold fewer convolutions, poolings, identities respectively than A."""
    return counts_effects({n: a["family_counts"] for n, a in result["architectures"].items()})


def counts_effects(fam: dict[str, dict[str, int]]) -> dict[str, bool]:
    """:func:`penalty_effects` from the family counts of A-D (``{"A": {"pool": .., ...}, ...}``)."""
    return {"B: fewer conv than A": fam["B"]["conv"] < fam["A"]["conv"],
            "C: fewer pool than A": fam["C"]["pool"] < fam["A"]["pool"],
            "D: fewer identity than A": fam["D"]["identity"] < fam["A"]["identity"]}


def epochs_holding_all_effects(result: dict) -> list[int]:
    """The epochs after which the family read off the hypernetwork held all three penalty effects."""
    return [c["epoch"] for c in result["curves"] if all(counts_effects(c["family_counts"]).values())]


def penalty_effects_text(result: dict) -> str:
    """The three penalty effects of ``result`` in one sentence, with the counts they compare."""
    fam = {n: a["family_counts"] for n, a in result["architectures"].items()}
    held = counts_effects(fam).values()
    parts = [f"{name} holds fewer {label} than A: {_yes_no(ok)} ({fam[name][f]} vs {fam['A'][f]})"
             for (name, f, label), ok in zip((("B", "conv", "convolutions"), ("C", "pool", "poolings"),
                                              ("D", "identity", "identities")), held)]
    return "Penalty effects in this run: " + "; ".join(parts) + "."


def collapses_onto_identity(result: dict, at_least: int = 20, before_at_most: int = 5) -> bool:
    """Architecture A ends on at least ``at_least`` identity edges after holding at most
    ``before_at_most`` one epoch earlier (the last-epoch collapse onto skip connections)."""
    curves = result["curves"]
    if len(curves) < 2:
        return False
    last, before = (c["family_counts"]["A"]["identity"] for c in (curves[-1], curves[-2]))
    return last >= at_least and before <= before_at_most


_SWEPT = ("kappa", "cost_relaxation", "seed", "profile", "experiment")


def _full_config(config: dict) -> dict:
    """A stored config with every key: those missing from older results get the values they were made with."""
    return SearchConfig.from_dict(config).to_dict()


def setting_label(result: dict, base: dict) -> str:
    """The run's Cost relaxation, followed by every other setting in which it differs from ``base``."""
    cfg, base = _full_config(result["config"]), _full_config(base)
    changed = [k for k in sorted(cfg) if k not in _SWEPT and cfg[k] != base[k]]
    if "ref_layout" in changed and "learnable_refs" in changed and cfg["ref_layout"] == "lattice":
        changed.remove("learnable_refs")  # "lattice" alone says it: the lattice runs kept their points fixed
    return ", ".join([cfg["cost_relaxation"], *(f"{k}={cfg[k]}" for k in changed)])


def same_setting(result: dict, config: dict, ignore: tuple[str, ...] = ("seed",)) -> bool:
    """True when ``result`` was searched with ``config`` except for the keys in ``ignore``."""
    a, b = _full_config(result["config"]), _full_config(config)
    return all(a[k] == b[k] for k in a if k not in ignore)


_HYPERNET_KEYS = ("ref_layout", "learnable_refs", "sigma", "rbf_sign")


def same_hypernet(config: dict, other: dict) -> bool:
    """True when two runs used the same hypernetwork (reference-point layout, learnability, sigma, sign)."""
    a, b = _full_config(config), _full_config(other)
    return all(a[k] == b[k] for k in _HYPERNET_KEYS)


def hypernet_text(config: dict) -> str:
    """The hypernetwork of a run in words (reference-point layout, learnable or not, sign of the RBF)."""
    cfg = SearchConfig.from_dict(config)
    layout = ("one set of 5 reference points per intermediate node, drawn from N(0, I)"
              if cfg.ref_layout == "random_per_node" else "one lattice of reference points on the simplex shared by all edges")
    sign = "-" if cfg.rbf_sign < 0 else "+"
    return (f"{layout}, {'learnable' if cfg.learnable_refs else 'fixed'}, sigma = {cfg.sigma:g}, "
            f"sign {sign} (w_r ~ exp({sign}||s - s_ref,r||^2 / sigma^2))")


def kappa_sweep_frame(results: list[dict], main: dict | None = None) -> pd.DataFrame:
    """One row per run (kappa, Cost relaxation, seed): final op counts (pool / conv / identity) of
    A-D, the penalty effects, the counts of A one epoch before the end, and the best accuracy. The
    row of ``main`` (the chapter's own run) is marked; settings other than these three in which a
    run differs from ``main`` are appended to its Cost relaxation (e.g. ``softmax_t, epochs=10``)."""
    rows = []
    base = (main or results[0])["config"]
    labelled = sorted(((r["config"]["kappa"], setting_label(r, base), r["config"]["seed"], i, r)
                       for i, r in enumerate(results)), key=lambda row: row[:4])
    for _, label, _, _, r in labelled:
        relaxation = label + (" (main run)" if r is main else "")
        row = {"kappa": r["config"]["kappa"], "Cost relaxation": relaxation, "seed": r["config"]["seed"]}
        for name, a in r["architectures"].items():
            row[name] = counts_text(a["family_counts"])
        row["penalty effects held"] = f"{sum(penalty_effects(r).values())} of 3"
        if len(r["curves"]) > 1:
            before = r["curves"][-2]
            row["A one epoch earlier"] = f"{counts_text(before['family_counts']['A'])} (t = {before['t']:.2f})"
        held = epochs_holding_all_effects(r)
        row["epochs holding all three"] = f"{', '.join(map(str, held)) or 'none'} of {len(r['curves'])}"
        best = max(r["architectures"].items(), key=lambda kv: kv[1]["test_accuracy"]["inherited"])
        row["best inherited %"] = f"{best[1]['test_accuracy']['inherited']:.2f} ({best[0]})"
        rows.append(row)
    return pd.DataFrame(rows).set_index(["kappa", "Cost relaxation", "seed"])


def holds_all_effects(result: dict) -> bool:
    """All three penalty effects of :func:`penalty_effects` hold at the end of the search."""
    return all(penalty_effects(result).values())


def uses_every_family(result: dict, arch: str = "A") -> bool:
    """Architecture ``arch`` gives at least one edge to every operation family."""
    return min(result["architectures"][arch]["family_counts"].values()) > 0


def penalised_counts(result: dict) -> tuple[int, int, int]:
    """How many edges B, C, D give to the operation family each penalises: (conv, pool, identity)."""
    fam = {n: a["family_counts"] for n, a in result["architectures"].items()}
    return fam["B"]["conv"], fam["C"]["pool"], fam["D"]["identity"]


def penalised_counts_text(result: dict) -> str:
    """:func:`penalised_counts` as ``conv/pool/identity``."""
    return "/".join(map(str, penalised_counts(result)))


def sweep_by_setting(results: list[dict]) -> pd.DataFrame:
    """The sweep grouped by (kappa, Cost relaxation) over seeds: how many runs hold all three penalty
    effects, how many collapse onto skip connections in the last epoch, A's counts per seed, and the
    number of edges B, C, D give to their own penalised operation per seed."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["config"]["kappa"], setting_label(r, results[0]["config"])), []).append(r)
    rows = []
    for (kappa, relaxation), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r["config"]["seed"])
        rows.append({
            "kappa": kappa, "Cost relaxation": relaxation,
            "seeds": ", ".join(str(r["config"]["seed"]) for r in rs),
            "all three effects held": f"{sum(map(holds_all_effects, rs))} of {len(rs)}",
            "last-epoch collapse": f"{sum(collapses_onto_identity(r) for r in rs)} of {len(rs)}",
            "A per seed": ", ".join(counts_text(r["architectures"]["A"]["family_counts"]) for r in rs),
            "B conv / C pool / D identity per seed": ", ".join(penalised_counts_text(r) for r in rs),
        })
    return pd.DataFrame(rows).set_index(["kappa", "Cost relaxation"])


def claim_verdicts(results: dict[str, dict], latency: dict | None = None) -> pd.DataFrame:
    """The paper's claims, each judged from our numbers (see PAPER.md, "Claims to reproduce")."""
    rows = []

    def fam(r, name):
        return r["architectures"][name]["family_counts"]

    def acc(r, name, protocol="inherited"):
        return r["architectures"][name]["test_accuracy"][protocol]

    def params(r, name):
        return r["architectures"][name]["cell_params"]

    exps = [e for e in ("exp1", "exp2", "exp3") if e in results]

    # 1. uniform uses all ops; raised penalty removes (almost) all of that op
    details, ok_all, ok_some = [], True, False
    for e in exps:
        r = results[e]
        uses_all = uses_every_family(r)
        removed = dict(zip("BCD", penalised_counts(r)))
        good = uses_all and all(v <= 2 for v in removed.values())
        ok_all &= good
        ok_some |= good or any(v <= 2 for v in removed.values())
        details.append(f"{e}: A uses all = {_yes_no(uses_all)}; conv at B = {removed['B']}, pool at C = {removed['C']}, identity at D = {removed['D']}")
    rows.append(("1. Uniform s uses every op; raising one op's penalty removes (almost) all of it", _verdict(ok_all, ok_some), "; ".join(details)))

    # 2. conv penalty -> fewest params and lowest accuracy; pool penalty -> most conv, params, best accuracy
    details, oks = [], []
    for e in exps:
        r = results[e]
        names = list(r["architectures"])
        p = {n: params(r, n) for n in names}
        a = {n: acc(r, n) for n in names}
        conv = {n: fam(r, n)["conv"] for n in names}
        checks = [min(p, key=p.get) == "B", min(a, key=a.get) == "B", max(conv, key=conv.get) == "C",
                  max(p, key=p.get) == "C", max(a, key=a.get) == "C", fam(r, "D")["identity"] <= 2]
        oks.append(checks)
        details.append(f"{e}: fewest params B {_yes_no(checks[0])}, lowest acc B {_yes_no(checks[1])}, most conv C "
                       f"{_yes_no(checks[2])}, most params C {_yes_no(checks[3])}, best acc C {_yes_no(checks[4])}, "
                       f"identity gone at D {_yes_no(checks[5])}")
    flat = [c for cs in oks for c in cs]
    rows.append(("2. Conv penalty: fewest params, lowest accuracy; pool penalty: most conv, params, best accuracy; identity penalty removes identity",
                 _verdict(all(flat), sum(flat) >= len(flat) / 2), "; ".join(details)))

    # 3. front of about 5k to 150k parameters
    details, spans = [], []
    for e in exps:
        r = results[e]
        ps = [g["cell_params"] for g in r["family_grid"]]
        spans.append((min(ps), max(ps)))
        details.append(f"{e}: family spans {min(ps):,} to {max(ps):,} cell parameters over {r['n_unique_genotypes']} genotypes")
    wide = all(hi / max(lo, 1) >= 10 for lo, hi in spans)
    rows.append(("3. Moving s moves along an accuracy/complexity front (about 5k to 150k parameters)",
                 _verdict(wide, any(hi > lo for lo, hi in spans)), "; ".join(details)))

    claim4 = "4. Mapping ops to measured device latency picks an architecture for a budget without retraining"
    if latency:
        met = [b["within_budget"] for b in latency["budgets"]]
        good = latency["spearman"] >= 0.9 and latency["median_ape"] <= 0.15 and all(met)
        detail = (f"latency chapter: Spearman {latency['spearman']:.3f}, median abs. error {100 * latency['median_ape']:.1f} % over "
                  f"{latency['n_genotypes']} genotypes; budgets " + ", ".join(
                      f"{b['budget_ms']:.2f} ms -> measured {b['measured_ms']:.2f} ms" for b in latency["budgets"])
                  + " (the paper itself does not run this experiment)")
        rows.append((claim4, _verdict(good, any(met)), detail))
    else:
        rows.append((claim4, "not tested here", "the paper does not run this experiment; see the latency chapter"))

    # 5. one run per experiment (true by construction: A-D and the grid are read off one search), and
    # the trends of claims 1-2 hold in every experiment
    effects = {e: sum(penalty_effects(results[e]).values()) for e in exps}
    held = {e: sum(cs) for e, cs in zip(exps, oks)}
    details = [f"{e}: penalty effects {effects[e]} of 3, claim-2 checks {held[e]} of 6" for e in exps]
    rows.append(("5. All architectures of an experiment come from one training run; trends hold on both datasets and op sets",
                 _verdict(bool(exps) and all(effects[e] == 3 and held[e] == 6 for e in exps), any(effects[e] >= 2 for e in exps)),
                 "each experiment's A-D and family grid are read off one search run (see provenance); " + "; ".join(details)))
    return pd.DataFrame(rows, columns=["claim", "verdict", "our numbers"])


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def _verdict(all_ok: bool, some_ok: bool) -> str:
    return "reproduced" if all_ok else ("partly" if some_ok else "not reproduced")


def format_provenance(result: dict) -> pd.DataFrame:
    p = result["provenance"]
    keys = ["commit", "hardware", "torch", "data_source", "train_images", "test_images",
            "search_time_s", "evaluation_time_s", "evaluation_compute_time_s", "wall_time_s", "date"]
    return pd.DataFrame({"value": [p.get(k, "") for k in keys]}, index=keys)


def run_description(result: dict) -> str:
    """One paragraph (Markdown) naming the run: profile, hash, data, epochs, kappa, relaxation, temperature."""
    cfg, prov = result["config"], result["provenance"]
    ops_text = ", ".join(f"`{o}`" for o in cfg["ops"])
    return (
        f"**Run.** profile `{result['profile']}`, config hash `{result['config_hash']}`, seed {cfg['seed']}; "
        f"data: {prov['data_source']}, {prov['train_images']:,} training images, {prov['test_images']:,} test images; "
        f"{cfg['epochs']} epochs at batch {cfg['batch_size']}, kappa = {cfg['kappa']:g}, Cost relaxation "
        f"`{cfg['cost_relaxation']}`, temperature {cfg['t_start']:g} to {cfg['t_end']:g}; retraining "
        f"{cfg['retrain_epochs']} epochs. Operations, in the order of s: {ops_text}. Hypernetwork: "
        f"{hypernet_text(cfg)}."
    )


def evaluation_seconds(result: dict) -> float:
    """Evaluation time of a result: the wall time of its last evaluation pass, or, when that pass
    reused accuracies measured earlier (the evaluation cache), the summed time of every measurement."""
    prov = result["provenance"]
    return max(prov["evaluation_time_s"], prov.get("evaluation_compute_time_s", 0.0))


def run_times(result: dict) -> str:
    """Search and evaluation times, hardware and commit of a result (varies from machine to machine)."""
    prov = result["provenance"]
    resumed = evaluation_seconds(result) > prov["evaluation_time_s"] + 1
    return (f"Search time {prov['search_time_s']:.0f} s, evaluation time {evaluation_seconds(result):.0f} s"
            + (f" (summed over the measurements, some made before a resume; the last pass took "
               f"{prov['evaluation_time_s']:.0f} s)" if resumed else "")
            + f" on {prov['hardware']} (commit `{prov['commit']}`)." + (" " + segments_text(result)).rstrip())


def best_accuracy(result: dict, protocol: str = "inherited") -> tuple[str, float]:
    accs = {n: a["test_accuracy"][protocol] for n, a in result["architectures"].items()}
    best = max(accs, key=accs.get)
    return best, accs[best]




def profile_table(profile: str = "paper", experiments: tuple[str, ...] = ("exp1", "exp2", "exp3")) -> pd.DataFrame:
    """Every setting of ``profile`` with its value (per experiment where they differ) and its source."""
    configs = {e: resolve(e, profile) for e in experiments}

    def show(value) -> str:
        if value is None:
            return "all"
        if isinstance(value, (tuple, list)):
            return ", ".join(value)
        return f"{value:g}" if isinstance(value, float) else str(value)

    rows = []
    for key, source in PROFILE_SOURCES.items():
        values = {e: show(getattr(cfg, key)) for e, cfg in configs.items()}
        text = next(iter(values.values())) if len(set(values.values())) == 1 else \
            "; ".join(f"{e}: {v}" for e, v in values.items())
        rows.append({"setting": key, "value": text, "source": source})
    for name, changes in SETTINGS.items():
        rows.append({"setting": f"setting '{name}'", "value": ", ".join(f"{k} = {v:g}" for k, v in changes.items()),
                     "source": "the paper as printed" if name == "printed" else
                               "the short profiles' objective: kappa * Cost on the scale of the cross-entropy"})
    return pd.DataFrame(rows).set_index("setting")


SETTING_TITLES = {
    "printed": "Setting (a), the paper as printed: kappa = 50, hypernetwork learning rate 1e-3",
    "rebalanced": "Setting (b), rebalanced: kappa = 0.3, hypernetwork learning rate 0.01",
}


def paper_result(results_dir: str | Path, experiment: str, setting: str) -> dict | None:
    """The finished paper-scale result of ``experiment`` under ``setting``, or None.

    A file made with another config than today's paper profile (an earlier run) is not returned.
    """
    path = Path(results_dir) / f"{result_name(experiment, setting)}.json"
    if not path.is_file():
        return None
    result = read_json(path)
    wanted = resolve(experiment, "paper", SETTINGS[setting]).hash()
    return result if result.get("config_hash") == wanted else None


def plot_cells(result: dict):
    """The normal and reduction cells of A-D drawn as graphs (one row per architecture)."""
    return cellplot.plot_cells(result["architectures"], result["config"]["ops"], result["config"]["nodes"])


def segments_text(result: dict) -> str:
    """Which commits ran which part of a resumed search ('' for a search run in one go)."""
    segments = result["provenance"].get("search_segments", [])
    if len(segments) < 2:
        return ""
    parts = [f"`{s['commit']}` from epoch {s['from'][0]} step {s['from'][1]} to epoch {s['to'][0]} step {s['to'][1]}"
             f" ({s['threads']} thread{'s' if s['threads'] > 1 else ''})" for s in segments]
    return f"The search ran in {len(segments)} segments: " + "; ".join(parts) + "."


def headline(scales: dict[str, dict[str, dict]]) -> str:
    """A few plain sentences (Markdown list): per scale, what holds of the paper's main claims.

    ``scales`` maps a label (e.g. "paper scale, setting (a)") to its results by experiment; a scale
    without results is named as not finished.
    """
    lines = []
    for label, results in scales.items():
        if not results:
            lines.append(f"* **{label}**: no run has finished yet, so nothing is claimed at this scale.")
            continue
        exps = list(results)
        left = "; ".join(f"{e} {'/'.join(map(str, penalised_counts(r)))}" for e, r in results.items())
        uses_all = [e for e, r in results.items() if uses_every_family(r)]
        best = {e: best_accuracy(r, "inherited")[0] for e, r in results.items()}
        smallest = {e: min(r["architectures"], key=lambda n: r["architectures"][n]["cell_params"])
                    for e, r in results.items()}
        spans = [(min(g["cell_params"] for g in r["family_grid"]), max(g["cell_params"] for g in r["family_grid"]))
                 for r in results.values()]
        lines.append(
            f"* **{label}** ({', '.join(exps)}): a raised penalty leaves {left} edges of the penalised operation "
            f"at B (conv) / C (pool) / D (identity) (paper: "
            + "; ".join(f"{e} {PAPER_TABLES[e]['B']['conv']}/{PAPER_TABLES[e]['C']['pool']}/{PAPER_TABLES[e]['D']['identity']}"
                        for e in exps) + ") "
            f"(so the penalties act{' in every experiment' if all(max(penalised_counts(r)) <= 2 for r in results.values()) else ' only in part'}); "
            f"uniform s (A) uses all three families in {len(uses_all)} of {len(exps)} experiments; "
            f"the most accurate of A-D with inherited weights is C, as in the paper, in "
            f"{sum(b == 'C' for b in best.values())} of {len(exps)} and the smallest is B in "
            f"{sum(v == 'B' for v in smallest.values())} of {len(exps)}; the families span "
            + ", ".join(f"{lo:,}-{hi:,}" for lo, hi in spans) + " cell parameters.")
    return "\n".join(lines)



__all__ = [n for n in dir() if not n.startswith("_") and n not in ("np", "pd", "Path")]
