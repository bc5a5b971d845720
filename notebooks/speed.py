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
# # Speed and scale
#
# A supernet holds every candidate operation on every edge, so a search step costs about k
# networks. This chapter reports the measured throughput of the search step, what made it faster,
# and the outcome of the sampled-path mode, which computes only one operation per edge.

# %% tags=["parameters", "hide-cell"]
profile = "quick"
seed = 0
data_root = None
results_dir = None
runs_dir = "runs"
force = False

# %% tags=["remove-cell"]
import os
import warnings
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from hypernas import book
from hypernas.io import read_json
from hypernas.pipeline.experiment import run_experiment

warnings.filterwarnings("ignore")
os.environ.setdefault("TQDM_DISABLE", "1")
results_dir = Path(results_dir or f"results/{profile}")
import hypernas

bench_file = Path(hypernas.__file__).resolve().parent.parent / "results" / "bench" / "cpu.json"
levers_file = bench_file.with_name("cpu-levers.json")

# %% [markdown]
# ## Throughput of one search step
#
# `make bench` (`benchmarks/search_step.py`) times a full step (forward, backward, both optimiser
# steps) at batch 64 for the exp1 and exp3 presets. All modes are built in one process and their
# steps run in turn, so that a change of load on this shared machine hits every mode alike; the
# table gives the median step. Peak memory comes from a separate short process per mode.
#
# * `baseline`: the step as first written (NCHW layout, a multiply and an add per op, edges one by one);
# * `edgewise`: channels_last layout (which makes max-pooling about ten times faster on this CPU)
#   and fused `addcmul` mixing, edges still one by one;
# * `full`: the default, edges grouped by source node (`hypernas.space.fused_cell`): one ReLU per node, one
#   pooling per node (a pool followed by an affine-free BatchNorm gives every outgoing edge the same
#   output during training), grouped convolutions over the node's outgoing edges. It computes the
#   same mixed operation; a test checks outputs, gradients and BatchNorm statistics against the
#   edge-by-edge form;
# * `sampled`: `path_sampling=one`.
#
# The last column relates the step's counted FLOPs per second to this machine's throughput on a
# large 3x3 convolution, measured in the same run.

# %% tags=["remove-input", "nbval-ignore-output"]
if bench_file.is_file():
    bench = read_json(bench_file)
    rows = []
    for preset, modes in bench["presets"].items():
        for mode in ("baseline", "edgewise", "full", "sampled"):
            e = modes[mode]
            rows.append(
                {
                    "preset": preset,
                    "mode": mode,
                    "images/s": e["images_per_s"],
                    "peak memory MB": e["peak_mem_mb"],
                    "GFLOP per step": e["gflops_per_step"],
                    "share of conv peak": f"{100 * e['fraction_of_conv_peak']:.1f} %",
                }
            )
    display(pd.DataFrame(rows).set_index(["preset", "mode"]))
    display(
        Markdown(
            f"Measured on {bench['provenance']['hardware']} (commit `{bench['provenance']['commit']}`), conv peak "
            f"{bench['conv_peak_gflops']:.1f} GFLOP/s. exp1: full mode x{bench['speedup_vs_baseline']:.2f} against the "
            f"baseline (of which grouping the edges by source x{bench['presets']['exp1']['grouped_vs_edgewise']:.2f}), "
            f"sampled paths x{bench['sampled_path_speedup']:.2f} against the full mode."
        )
    )
else:
    display(Markdown("No benchmark file yet: run `make bench`."))

# %% [markdown]
# ## Levers for the long CPU campaign
#
# The paper-scale campaign keeps the paper's algorithm (every operation on every edge, a sample
# per example), so sampled paths are no option there. `make bench` measures, in the same run as
# the table above, what else could make the campaign cheaper on this machine: running two
# queue items side by side with one thread each instead of one item with two threads (judged by
# the images per second of both together), bfloat16 autocast against float32, and where the step
# spends its time (self CPU time per operator, from `torch.profiler`).

# %% tags=["remove-input", "nbval-ignore-output"]
if levers_file.is_file():
    lev = read_json(levers_file)
    rows = []
    for preset, p in lev["presets"].items():
        lay, prec = p["layout"], p["precision"]
        rows.append(
            {
                "preset": preset,
                "one process, 2 threads (images/s)": lay["one_process_2_threads"],
                "two processes, 1 thread each (images/s, both)": lay["two_processes_total"],
                "layout ratio": f"x{lay['ratio']:.2f}",
                "float32 (images/s)": prec["float32_images_per_s"],
                "bfloat16 autocast (images/s)": prec["bfloat16_images_per_s"],
                "precision ratio": f"x{prec['ratio']:.2f}",
            }
        )
    display(pd.DataFrame(rows).set_index("preset"))
    top = lev["presets"]["exp1"]["profile"]
    display(
        Markdown(
            f"Measured on {lev['provenance']['hardware']} (commit `{lev['provenance']['commit']}`). The campaign runs "
            "two workers of one thread each, the faster layout; it keeps float32, since bfloat16 autocast is far slower on "
            "a CPU without native bfloat16 arithmetic. A search's numbers depend on its thread count at the level of "
            "floating-point rounding (the same config with one and with two threads drifts apart slowly), so every "
            "campaign run records its thread count and resumes with it. Where the exp1 step spends its CPU time: "
            + ", ".join(f"`{e['op']}` {100 * e['share']:.0f} %" for e in top[:6])
            + "."
        )
    )
else:
    display(Markdown("No lever measurements yet: run `make bench`."))

# %% [markdown]
# ## Sampled paths: does the cheaper step find the same family?
#
# In sampled-path mode one Gumbel-Softmax sample per edge and mini-batch picks the operation that is
# computed; its straight-through gradient reaches the hypernetwork. The search below repeats
# experiment 1 of this profile with `path_sampling=one` and everything else equal.

# %% tags=["remove-output"]
full = book.read_if_present(results_dir / "exp1.json")
sampled = run_experiment(
    "exp1",
    profile,
    seed=seed,
    data_root=data_root,
    results_dir=results_dir,
    runs_dir=runs_dir,
    overrides={"path_sampling": "one"},
    force=force,
    progress=False,
    name="exp1-sampled",
)

# %% tags=["remove-input"]
rows = []
for label, r in (("full mixed op", full), ("sampled path", sampled)):
    for name, a in r.architectures.items():
        f = a.group_counts
        rows.append(
            {
                "mode": label,
                "architecture": book.ARCH_NAMES[name],
                "pool": f["pool"],
                "conv": f["conv"],
                "identity": f["identity"],
                "parameters, cell ops": f"{a.cell_params:,}",
                "inherited %": round(a.test_accuracy["inherited"], 2),
                "retrain %": round(a.test_accuracy["retrain"], 2),
            }
        )
display(pd.DataFrame(rows).set_index(["mode", "architecture"]))

# %% tags=["remove-input", "nbval-ignore-output"]
display(
    Markdown(
        f"Search time: full mode {full.provenance.search_time_s:.0f} s, sampled paths "
        f"{sampled.provenance.search_time_s:.0f} s "
        f"(x{full.provenance.search_time_s / max(sampled.provenance.search_time_s, 1e-9):.2f}), same data and epochs."
    )
)

# %% [markdown]
# ## Several processes
#
# `torchrun --nproc_per_node N -m hypernas search ...` runs the same search data-parallel (gloo on
# CPU, nccl on GPU): all ranks draw the same global batch, s and Gumbel noise, each computes on its
# slice, gradients are averaged, and only rank 0 writes checkpoints, which resume with any number of
# processes. The test suite runs two CPU processes and checks that the ranks hold identical weights
# and that the final loss matches a single-process run within 2 % (only BatchNorm's per-rank batch
# statistics differ). On a two-core machine one process already keeps both cores busy through
# PyTorch's intra-op threads, so the mode is meant for several GPUs or machines.
