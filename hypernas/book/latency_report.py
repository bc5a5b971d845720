"""Tables, figures and the verdict of the latency chapter, from ``results/<profile>/latency.json``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from hypernas.book.style import use_book_style

RUNTIME_LABELS = {"torch": "PyTorch eager", "onnxruntime": "ONNX Runtime"}
FAMILIES = ("pool", "conv", "identity")
TARGET_SPEARMAN, TARGET_APE = 0.95, 0.10  # what the chapter asks of the PyTorch-eager predictor


def accuracy_table(result: dict) -> pd.DataFrame:
    """Per runtime: the predictor's figures (median of the repetitions) beside the noise floor."""
    rows = []
    for runtime, r in result["runtimes"].items():
        reps = r["repetitions"]
        rows.append(
            {
                "runtime": RUNTIME_LABELS.get(runtime, runtime),
                "genotypes": r["n_genotypes"],
                "Spearman": f"{r['spearman']:.3f}",
                "median APE (%)": f"{100 * r['median_ape']:.1f}",
                "retest Spearman": f"{r['retest_spearman']:.3f}",
                "retest median diff. (%)": f"{100 * r['retest_median_rel_diff']:.1f}",
                "per repetition: Spearman / APE %": "; ".join(
                    f"{rep['spearman']:.3f} / {100 * rep['median_ape']:.1f}" for rep in reps
                ),
                "s_device": ", ".join(f"{o} {v:.3f}" for o, v in zip(r["ops"], r["s_device"])),
            }
        )
    return pd.DataFrame(rows).set_index("runtime")


def budget_table(result: dict) -> pd.DataFrame:
    """Per runtime and budget: what each repetition chose, its measured latency and the verdict."""
    rows = []
    for runtime, r in result["runtimes"].items():
        for b in r["budgets"]:
            chosen = ["/".join(str(c[f]) for f in FAMILIES) if c else "none" for c in b["family_counts"]]
            measured = [f"{m:.2f}" if m is not None else "-" for m in b["measured_ms"]]
            rows.append(
                {
                    "runtime": RUNTIME_LABELS.get(runtime, runtime),
                    "budget (ms)": f"{b['budget_ms']:.2f}",
                    "measured (ms), per repetition": ", ".join(measured),
                    "pool/conv/identity, per repetition": ", ".join(chosen),
                    "met in every repetition": "yes" if b["all_within"] else "no",
                }
            )
    return pd.DataFrame(rows).set_index(["runtime", "budget (ms)"])


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
        parts.append(
            f"{RUNTIME_LABELS.get(runtime, runtime)}: Spearman {r['spearman']:.3f} (retest {r['retest_spearman']:.3f}), "
            f"median error {100 * r['median_ape']:.1f} % over {r['n_genotypes']} genotypes; "
            f"{sum(b['all_within'] for b in r['budgets'])} of {len(r['budgets'])} budgets met in every repetition"
        )
    return ok, "; ".join(parts)
