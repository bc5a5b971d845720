"""Figures, tables and sentences of the "your own data" chapter, from the record of
:func:`hypernas.examples.own_data.run_own_data_study`."""

from __future__ import annotations

import pandas as pd

from hypernas.report.style import use_book_style


def samples_figure(images, labels, classes: list[str], per_class: int = 6):
    """A grid of training images, one row per class (as decoded: what the network sees)."""
    import matplotlib.pyplot as plt

    use_book_style()
    fig, axes = plt.subplots(len(classes), per_class, figsize=(per_class * 0.9, len(classes) * 0.95))
    for row, name in enumerate(classes):
        idx = (labels == row).nonzero().flatten()[:per_class].tolist()
        for col in range(per_class):
            ax = axes[row, col]
            ax.axis("off")
            if col < len(idx):
                ax.imshow(images[idx[col]].permute(1, 2, 0).squeeze().numpy(), cmap="gray")
        axes[row, 0].text(-0.15, 0.5, name, transform=axes[row, 0].transAxes, ha="right", va="center")
    fig.tight_layout()
    return fig


def front_figure(record: dict):
    """Inherited test accuracy against predicted latency for architectures spread over the family,
    the budget (the median predicted latency) and the chosen architecture marked."""
    import matplotlib.pyplot as plt

    use_book_style()
    front = pd.DataFrame(record["front"])
    chosen = record["chosen"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(
        front["predicted_ms"], front["test_accuracy"], "o-", color="0.5", label="family (spread over latency)"
    )
    ax.axvline(record["budget_ms"], color="0.3", ls="--", lw=1, label=f"budget {record['budget_ms']:.2f} ms")
    ax.scatter(
        [chosen["predicted_ms"]], [record["chosen_test_accuracy"]], s=90, marker="D", zorder=3, label="chosen"
    )
    ax.set_xlabel("predicted latency on this CPU, PyTorch eager, batch 1 (ms)")
    ax.set_ylabel("test accuracy, inherited weights (%)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def front_table(record: dict) -> pd.DataFrame:
    """The architectures of :func:`front_figure`: s, op groups, cell parameters, latency, accuracy."""
    rows = []
    for p in record["front"]:
        rows.append(
            {
                "s (pool, skip, dil_conv)": ", ".join(f"{v:.2f}" for v in p["s"]),
                "pool / conv / identity edges": "{pool} / {conv} / {identity}".format(**p["group_counts"]),
                "cell parameters": f"{p['cell_params']:,}",
                "predicted ms": round(p["predicted_ms"], 2),
                "test accuracy %": round(p["test_accuracy"], 1),
            }
        )
    return pd.DataFrame(rows)


def chosen_table(record: dict) -> pd.DataFrame:
    """The chosen architecture as PyTorch and as ONNX Runtime run it."""
    c, ort = record["chosen"], record["onnx_runtime"]
    return pd.DataFrame(
        [
            {
                "runtime": "PyTorch eager (the table's)",
                "latency ms": f"{c['predicted_ms']:.2f} predicted, {c['measured_ms']:.2f} measured",
                "test accuracy %": round(record["chosen_test_accuracy"], 1),
            },
            {
                "runtime": "ONNX Runtime (exported)",
                "latency ms": f"{ort['median_ms']:.2f} measured",
                "test accuracy %": round(ort["test_accuracy"], 1),
            },
        ]
    ).set_index("runtime")


def chosen_text(record: dict) -> str:
    """What was chosen, and whether the exported model agrees with PyTorch."""
    c, ort = record["chosen"], record["onnx_runtime"]
    one_image = 100 / record["test_images"]  # the stored accuracies are rounded to 0.01 %
    same = abs(ort["test_accuracy"] - record["chosen_test_accuracy"]) < min(0.01, one_image / 2)
    agree = (
        "gives the same test accuracy"
        if same
        else f"gives {ort['test_accuracy']:.1f} % instead of {record['chosen_test_accuracy']:.1f} %"
    )
    return (
        f"For a budget of {record['budget_ms']:.2f} ms (the median predicted latency of the architectures above), "
        f"the selection chose s = ({', '.join(f'{v:.2f}' for v in c['s'])}): {c['op_counts']['dil_conv_3x3']} of 28 "
        f"edges use the registered dil_conv_3x3, {c['cell_params']:,} cell parameters, predicted at "
        f"{c['predicted_ms']:.2f} ms and measured at {c['measured_ms']:.2f} ms "
        f"({'within' if c['within_budget'] else 'over'} the budget), {c['val_accuracy']:.1f} % on the validation "
        f"split. Exported to ONNX (largest output difference from PyTorch {record['export_max_abs_diff']:.1e}), it "
        f"{agree} in ONNX Runtime and runs in {ort['median_ms']:.2f} ms per image there."
    )
