"""The book's tables as pandas frames, built from typed results (:mod:`hypernas.pipeline.results`)."""

from __future__ import annotations

import pandas as pd

from hypernas.pipeline.results import Result
from hypernas.report.claims import (
    collapses_onto_identity,
    counts_text,
    epochs_holding_all_effects,
    holds_all_effects,
    penalised_counts_text,
    penalty_effects,
)
from hypernas.report.paper import (
    ARCH_NAMES,
    CELL_PARAMS_ROW,
    GROUPS,
    PAPER_TABLES,
    PROFILE_SOURCES,
    pool_counts,
)
from hypernas.report.provenance import best_accuracy, duration_text, hardware_text
from hypernas.train.config import SearchConfig
from hypernas.train.presets import SETTINGS, resolve


def comparison_table(result: Result) -> pd.DataFrame:
    """Rows: metrics; columns: (architecture, ours | paper)."""
    paper = PAPER_TABLES.get(result.experiment, {})
    rows: dict[str, dict] = {}
    for name, arch in result.architectures.items():
        col = ARCH_NAMES[name]
        fam = arch.group_counts
        acc = arch.test_accuracy
        ours = {
            "complexity vector s": ", ".join(f"{v:.3g}" for v in arch.s),
            "test acc. inherited %": f"{acc['inherited']:.2f}",
            "test acc. retrain %": f"{acc['retrain']:.2f}",
            "test acc. relaxed (t=1) %": f"{acc['relaxed']:.2f}",
            CELL_PARAMS_ROW: f"{arch.cell_params:,}",
            "parameters, whole network": f"{arch.total_params:,}",
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
            theirs.update(
                {
                    "test acc. relaxed (t=1) %": f"{p['acc']:.2f}",
                    CELL_PARAMS_ROW: f"{p['params']:,}",
                    "# pooling": str(p["pool"]),
                    "# conv": str(p["conv"]),
                    "# identity": str(p["identity"]),
                }
            )
        rows[(col, "ours")] = ours
        rows[(col, "paper")] = theirs
    df = pd.DataFrame(rows)
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    return df


def curves_frame(result: Result) -> pd.DataFrame:
    """One row per epoch of the search: its scalar metrics (loss, ce, cost, accuracies, t, times)."""
    return pd.DataFrame([{k: v for k, v in m.items() if not isinstance(v, dict)} for m in result.curves])


def op_stats_frame(result: Result) -> pd.DataFrame:
    """Long frame: architecture, source (ours/paper), op group, count (for the Figure 2 analogue)."""
    rows = []
    paper = PAPER_TABLES.get(result.experiment, {})
    for name, arch in result.architectures.items():
        for fam in GROUPS:
            rows.append(
                dict(architecture=ARCH_NAMES[name], source="ours", op=fam, count=arch.group_counts[fam])
            )
            if name in paper:
                rows.append(
                    dict(architecture=ARCH_NAMES[name], source="paper", op=fam, count=paper[name][fam])
                )
    return pd.DataFrame(rows)


def family_frame(result: Result) -> pd.DataFrame:
    """One row per grid point: s, aggregated s per op group, op shares, parameters."""
    ops = result.config.ops
    from hypernas.space.ops import OP_GROUP

    rows = []
    for r in result.family_grid:
        row = {"cell_params": r.cell_params, "total_params": r.total_params, "genotype": r.genotype}
        for fam in GROUPS:
            row[f"s_{fam}"] = sum(v for v, op in zip(r.s, ops) if OP_GROUP[op] == fam)
            row[f"share_{fam}"] = r.group_counts[fam] / 28
        for op, v in zip(ops, r.s):
            row[f"s[{op}]"] = v
        rows.append(row)
    return pd.DataFrame(rows)


_SWEPT = ("kappa", "cost_relaxation", "seed", "profile", "experiment")


def setting_label(result: Result, base: SearchConfig) -> str:
    """The run's Cost relaxation, followed by every other setting in which it differs from ``base``."""
    cfg, base = result.config.to_dict(), base.to_dict()
    changed = [k for k in sorted(cfg) if k not in _SWEPT and cfg[k] != base[k]]
    if "ref_layout" in changed and "learnable_refs" in changed and cfg["ref_layout"] == "lattice":
        changed.remove("learnable_refs")  # "lattice" alone says it: the lattice runs kept their points fixed
    return ", ".join([cfg["cost_relaxation"], *(f"{k}={cfg[k]}" for k in changed)])


def same_setting(result: Result, config: SearchConfig, ignore: tuple[str, ...] = ("seed",)) -> bool:
    """True when ``result`` was searched with ``config`` except for the keys in ``ignore``."""
    a, b = result.config.to_dict(), config.to_dict()
    return all(a[k] == b[k] for k in a if k not in ignore)


def kappa_sweep_frame(results: list[Result], main: Result | None = None) -> pd.DataFrame:
    """One row per run (kappa, Cost relaxation, seed): final op counts (pool / conv / identity) of
    A-D, the penalty effects, the counts of A one epoch before the end, and the best accuracy. The
    row of ``main`` (the chapter's own run) is marked; settings other than these three in which a
    run differs from ``main`` are appended to its Cost relaxation (e.g. ``softmax_t, epochs=10``)."""
    rows = []
    base = (main or results[0]).config
    labelled = sorted(
        ((r.config.kappa, setting_label(r, base), r.config.seed, i, r) for i, r in enumerate(results)),
        key=lambda row: row[:4],
    )
    for _, label, _, _, r in labelled:
        relaxation = label + (" (main run)" if r is main else "")
        row = {"kappa": r.config.kappa, "Cost relaxation": relaxation, "seed": r.config.seed}
        for name, a in r.architectures.items():
            row[name] = counts_text(a.group_counts)
        row["penalty effects held"] = f"{sum(penalty_effects(r).values())} of 3"
        if len(r.curves) > 1:
            before = r.curves[-2]
            row["A one epoch earlier"] = f"{counts_text(before['group_counts']['A'])} (t = {before['t']:.2f})"
        held = epochs_holding_all_effects(r)
        row["epochs holding all three"] = f"{', '.join(map(str, held)) or 'none'} of {len(r.curves)}"
        best, accuracy = best_accuracy(r)
        row["best inherited %"] = f"{accuracy:.2f} ({best})"
        rows.append(row)
    return pd.DataFrame(rows).set_index(["kappa", "Cost relaxation", "seed"])


def sweep_by_setting(results: list[Result]) -> pd.DataFrame:
    """The sweep grouped by (kappa, Cost relaxation) over seeds: how many runs hold all three penalty
    effects, how many collapse onto skip connections in the last epoch, A's counts per seed, and the
    number of edges B, C, D give to their own penalised operation per seed."""
    groups: dict[tuple, list[Result]] = {}
    for r in results:
        groups.setdefault((r.config.kappa, setting_label(r, results[0].config)), []).append(r)
    rows = []
    for (kappa, relaxation), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r.config.seed)
        rows.append(
            {
                "kappa": kappa,
                "Cost relaxation": relaxation,
                "seeds": ", ".join(str(r.config.seed) for r in rs),
                "all three effects held": f"{sum(map(holds_all_effects, rs))} of {len(rs)}",
                "last-epoch collapse": f"{sum(collapses_onto_identity(r) for r in rs)} of {len(rs)}",
                "A per seed": ", ".join(counts_text(r.architectures["A"].group_counts) for r in rs),
                "B conv / C pool / D identity per seed": ", ".join(penalised_counts_text(r) for r in rs),
            }
        )
    return pd.DataFrame(rows).set_index(["kappa", "Cost relaxation"])


def accuracy_table(labelled: list[tuple[str, Result]]) -> pd.DataFrame:
    """Test accuracy of A-D under the three protocols beside the paper's, one block per (label, result)."""
    rows = []
    for label, r in labelled:
        for name, a in r.architectures.items():
            p = PAPER_TABLES[r.experiment][name]
            rows.append(
                {
                    "experiment": label,
                    "architecture": ARCH_NAMES[name],
                    "inherited": round(a.test_accuracy["inherited"], 2),
                    "retrain": round(a.test_accuracy["retrain"], 2),
                    "relaxed (t=1)": round(a.test_accuracy["relaxed"], 2),
                    "paper": p["acc"],
                    "parameters, cell ops": f"{a.cell_params:,}",
                    "paper's parameters": f"{p['params']:,}",
                }
            )
    return pd.DataFrame(rows).set_index(["experiment", "architecture"])


def provenance_table(labelled: list[tuple[str, Result]]) -> pd.DataFrame:
    """Where each (label, result) comes from: profile, config hash, commit, machine, data, times."""
    rows = {}
    for label, r in labelled:
        p = r.provenance
        rows[label] = {
            "profile": r.profile,
            "config hash": r.config_hash,
            "commit": p.commit,
            "hardware": hardware_text(p.hardware),
            "torch": p.torch,
            "data source": p.data_source,
            "train / test images": f"{p.train_images:,} / {p.test_images:,}",
            "search (wall time)": duration_text(p.search_time_s),
            "evaluation (wall time)": duration_text(p.evaluation_seconds),
            "date": p.date,
        }
    return pd.DataFrame(rows)


def format_provenance(result: Result) -> pd.DataFrame:
    """The provenance of a result, one row per field (seconds as stored)."""
    p = result.provenance.to_dict()
    keys = [
        "commit",
        "hardware",
        "torch",
        "data_source",
        "train_images",
        "test_images",
        "search_time_s",
        "evaluation_time_s",
        "evaluation_compute_time_s",
        "wall_time_s",
        "date",
    ]
    return pd.DataFrame({"value": [p.get(k, "") for k in keys]}, index=keys)


def profile_table(
    profile: str = "paper", experiments: tuple[str, ...] = ("exp1", "exp2", "exp3")
) -> pd.DataFrame:
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
        text = (
            next(iter(values.values()))
            if len(set(values.values())) == 1
            else "; ".join(f"{e}: {v}" for e, v in values.items())
        )
        rows.append({"setting": key, "value": text, "source": source})
    for name, changes in SETTINGS.items():
        rows.append(
            {
                "setting": f"setting '{name}'",
                "value": ", ".join(f"{k} = {v:g}" for k, v in changes.items()),
                "source": "the paper as printed"
                if name == "printed"
                else "the short profiles' objective: kappa * Cost on the scale of the cross-entropy",
            }
        )
    return pd.DataFrame(rows).set_index("setting")
