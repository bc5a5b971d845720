"""Tables, figures and the verdict of the latency chapter, from ``results/<profile>/latency.json``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from hypernas.report.style import use_book_style

RUNTIME_LABELS = {"torch": "PyTorch eager", "onnxruntime": "ONNX Runtime"}
GROUPS = ("pool", "conv", "identity")
TARGET_SPEARMAN, TARGET_APE = 0.95, 0.10  # what the chapter asks of the PyTorch-eager predictor


def _figure_columns(figures: dict) -> dict:
    """The predictor's figures and the noise floor, formatted as table columns."""
    return {
        "Spearman": f"{figures['spearman']:.3f}",
        "median APE (%)": f"{100 * figures['median_ape']:.1f}",
        "retest Spearman": f"{figures['retest_spearman']:.3f}",
        "retest median difference (%)": f"{100 * figures['retest_median_rel_diff']:.1f}",
    }


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _ms_list(values: list) -> str:
    return ", ".join(f"{v:.2f}" if v is not None else "-" for v in values)


def accuracy_table(result: dict) -> pd.DataFrame:
    """Per runtime: the predictor's figures (median of the repetitions) beside the noise floor."""
    rows = []
    for runtime, r in result["runtimes"].items():
        rows.append(
            {
                "runtime": RUNTIME_LABELS.get(runtime, runtime),
                "genotypes": r["n_genotypes"],
                **_figure_columns(r),
            }
        )
    return pd.DataFrame(rows).set_index("runtime")


def repetition_table(result: dict) -> pd.DataFrame:
    """Every repetition's figures, per runtime: predictor, noise floor, calibration and wall time."""
    rows = []
    for runtime, r in result["runtimes"].items():
        for rep in r["repetitions"]:
            rows.append(
                {
                    "runtime": RUNTIME_LABELS.get(runtime, runtime),
                    "repetition": rep["repetition"] + 1,
                    **_figure_columns(rep),
                    "retest difference as read (%)": _percent(rep.get("retest_raw_median_rel_diff")),
                    "calibration APE (%)": f"{100 * rep['calibration_median_ape']:.1f}",
                    "wall time (s)": f"{rep['wall_time_s']:,.0f}",
                }
            )
    short = {  # eight figures beside two index columns: short names keep the table within the page
        "median APE (%)": "APE (%)",
        "retest median difference (%)": "retest diff. (%)",
        "retest difference as read (%)": "retest diff. as read (%)",
        "calibration APE (%)": "calib. APE (%)",
        "wall time (s)": "time (s)",
    }
    return pd.DataFrame(rows).rename(columns=short).set_index(["runtime", "repetition"])


def s_device_table(result: dict) -> pd.DataFrame:
    """s_device per runtime: each operation's share of the summed table latency (median of repetitions)."""
    return pd.DataFrame(
        {
            RUNTIME_LABELS.get(runtime, runtime): dict(zip(r["ops"], (round(v, 3) for v in r["s_device"])))
            for runtime, r in result["runtimes"].items()
        }
    ).T.rename_axis("runtime")


def runtime_contrast_text(result: dict) -> str:
    """How the two runtimes differ: s_device, latency range, and the architectures chosen at the same
    relative budget (a quarter, half, three quarters of each runtime's own range)."""
    runtimes = list(result["runtimes"])
    if len(runtimes) < 2:
        return ""
    a, b = (result["runtimes"][rt] for rt in runtimes[:2])
    name_a, name_b = (RUNTIME_LABELS.get(rt, rt) for rt in runtimes[:2])
    ops = a["ops"]
    gap = max(range(len(ops)), key=lambda i: abs(a["s_device"][i] - b["s_device"][i]))
    differ = sum(
        1
        for ba, bb in zip(a["budgets"], b["budgets"])
        if ba["group_counts"][0] and bb["group_counts"][0] and ba["group_counts"][0] != bb["group_counts"][0]
    )
    return (
        f"The two targets weigh the operations differently: s_device gives {ops[gap]} a share of "
        f"{a['s_device'][gap]:.3f} in {name_a} and {b['s_device'][gap]:.3f} in {name_b}, the largest "
        f"difference of the {len(ops)} operations. Their budgets differ in scale ({name_a}: "
        f"{a['budgets'][0]['budget_ms'][0]:.2f} to {a['budgets'][-1]['budget_ms'][0]:.2f} ms; {name_b}: "
        f"{b['budgets'][0]['budget_ms'][0]:.2f} to {b['budgets'][-1]['budget_ms'][0]:.2f} ms in the first "
        f"repetition), so they are compared "
        f"at the same place in each runtime's own range: in the first repetition, the two runtimes "
        f"choose different architectures at {differ} of the {len(a['budgets'])} budgets."
    )


_PLACES = {0.25: "a quarter", 0.5: "half", 0.75: "three quarters"}


def budget_table(result: dict) -> pd.DataFrame:
    """Per runtime and budget: each repetition's budget, the architecture it chose, that
    architecture's measured latency, and the verdict."""
    rows = []
    for runtime, r in result["runtimes"].items():
        for b in r["budgets"]:
            chosen = ["/".join(str(c[f]) for f in GROUPS) if c else "none" for c in b["group_counts"]]
            rows.append(
                {
                    "runtime": RUNTIME_LABELS.get(runtime, runtime),
                    "place in the range": _PLACES.get(b.get("fraction"), str(b.get("fraction"))),
                    "budget (ms), per repetition": _ms_list(b["budget_ms"]),
                    "measured (ms), per repetition": _ms_list(b["measured_ms"]),
                    "as read (ms), per repetition": _ms_list(
                        b.get("measured_raw_ms") or [None] * len(chosen)
                    ),
                    "pool/conv/identity, per repetition": ", ".join(chosen),
                    "met in every repetition": "yes" if b["all_within"] else "no",
                }
            )
    return pd.DataFrame(rows).set_index(["runtime", "place in the range"])


def budget_as_read_text(result: dict) -> str:
    """How many chosen architectures were within their budgets as the clock read them (no time base)."""
    pairs = [
        (raw, budget)
        for r in result["runtimes"].values()
        for b in r["budgets"]
        for raw, budget in zip(b.get("measured_raw_ms") or [], b["budget_ms"])
        if raw is not None
    ]
    if not pairs:
        return ""
    over = [raw / budget for raw, budget in pairs if raw > budget]
    text = (
        f"As the clock read them, without the time base, {len(pairs) - len(over)} of the {len(pairs)} "
        "chosen architectures were within their budgets"
    )
    if over:
        text += (
            f"; the other {len(over)} read up to {100 * (max(over) - 1):.0f} % over theirs, measured while "
            "the machine ran slower than when its table was made"
        )
    return text + "."


def prediction_figure(result: dict) -> plt.Figure:
    """Predicted against measured latency, one panel per runtime (first repetition's points)."""
    use_book_style()
    runtimes = list(result["runtimes"])
    fig, axes = plt.subplots(1, len(runtimes), figsize=(5 * len(runtimes), 4.3), squeeze=False)
    for ax, runtime in zip(axes[0], runtimes):
        pts = pd.DataFrame(result["runtimes"][runtime]["points"])
        sns.scatterplot(data=pts, x="predicted_ms", y="measured_ms", hue="source", ax=ax, s=28)
        if "retest_ms" in pts:
            ax.scatter(pts.predicted_ms, pts.retest_ms, s=10, color="0.6", marker="x", label="retest")
        lo = min(pts.predicted_ms.min(), pts.measured_ms.min()) * 0.95
        hi = max(pts.predicted_ms.max(), pts.measured_ms.max()) * 1.05
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set(
            xlim=(lo, hi),
            ylim=(lo, hi),
            xlabel="predicted latency (ms)",
            ylabel="measured latency (ms)",
            title=RUNTIME_LABELS.get(runtime, runtime),
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def verdict(result: dict) -> tuple[bool, str]:
    """Whether latency control holds here, and the sentence that says why (for the claims table)."""
    parts, ok = [], True
    for runtime, r in result["runtimes"].items():
        within_floor = r["spearman"] >= r["retest_spearman"] - 0.02
        good = r["spearman"] >= TARGET_SPEARMAN and r["median_ape"] <= TARGET_APE
        met = all(b["all_within"] for b in r["budgets"])
        if runtime == "torch":
            ok &= (good or within_floor) and met
        else:
            ok &= met
        if good:
            target = "meeting the target (Spearman >= 0.95, median error <= 10 %)"
        elif within_floor:
            target = (
                "short of the target, but ranking as well as a second measurement of the same networks does"
            )
        else:
            target = "short of the target and of the noise floor"
        parts.append(
            f"{RUNTIME_LABELS.get(runtime, runtime)}: Spearman {r['spearman']:.3f} (retest {r['retest_spearman']:.3f}), "
            f"median error {100 * r['median_ape']:.1f} % over {r['n_genotypes']} genotypes, {target}; "
            f"{sum(b['all_within'] for b in r['budgets'])} of {len(r['budgets'])} budgets met in every repetition"
        )
    return ok, "; ".join(parts)
