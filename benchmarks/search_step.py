"""Throughput of one search step (forward, backward, both optimiser steps) at batch 64.

    python -m benchmarks.search_step            # or: make bench
    python -m benchmarks.search_step --steps 20 --presets exp1

For the exp1 and exp3 presets and four modes of the step:

* ``baseline``: the step as first written (NCHW layout, per-op multiply-and-add mixing, edges one
  by one);
* ``edgewise``: channels_last and addcmul mixing, the edges still evaluated one by one;
* ``full``: the current default, edges grouped by source node (:mod:`hypernas.space.fused_cell`), the same
  mixed-op computation;
* ``sampled``: ``path_sampling=one`` (one op per edge and batch, straight-through estimator).

Timing: one process builds all four and runs their steps in turn (baseline, edgewise, full,
sampled, baseline, ...), so that a load change on a shared machine affects every mode alike; the
median step time per mode is reported. Peak memory: each mode runs a few steps in a fresh
subprocess of its own (RSS on CPU, max allocated on GPU). The machine's achievable convolution
throughput (a large 3x3 convolution, forward) is measured in the same run, and each step's FLOPs /
time is reported as a fraction of it.

The levers for the long CPU campaign, measured in the same run on the ``full`` step:

* layout: one process with 2 threads against two processes with 1 thread each running side by
  side (two queue runs of the campaign), judged by the total images/s of both;
* precision: float32 against bfloat16 autocast, interleaved in one process;
* profile: the share of the step's CPU time taken by each kind of operator (torch.profiler).

Writes ``results/bench/<device>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import types
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODES = ("baseline", "edgewise", "full", "sampled")
PRESETS = ("exp1", "exp3")


def _reference_forward(self, x, gamma=None, active=None):
    """The mixed edge exactly as first written: a multiply and an add per op."""
    if gamma is None:
        return self.ops[0](x)
    out = None
    for m, op in enumerate(self.ops):
        term = gamma[:, m].view(-1, 1, 1, 1) * op(x)
        out = term if out is None else out + term
    return out


def build_mode(preset: str, mode: str, device: str):
    """(config, supernet, hypernet, weight optimiser, hypernet optimiser, input batch, labels) of one mode."""
    import torch

    from hypernas.train.build import build_models, make_optimizers
    from hypernas.train.presets import resolve

    cfg = resolve(preset, "paper", {"path_sampling": "one"} if mode == "sampled" else {})
    if mode == "baseline":
        cfg = replace(cfg, channels_last=False)
    dev = torch.device(device)
    torch.manual_seed(0)
    sup, hyp = build_models(cfg, dev)
    for cell in sup.cells:
        cell.grouped = mode in ("full", "sampled")
        if mode == "baseline":
            for edge in cell.edges:
                edge.forward = types.MethodType(_reference_forward, edge)
    opt_w, opt_a, _ = make_optimizers(cfg, sup, hyp, 100)
    in_ch, hw = (1, 28) if cfg.dataset == "fashion_mnist" else (3, 32)
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, in_ch, hw, hw, generator=gen).to(dev).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (64,), generator=gen).to(dev)
    return cfg, sup, hyp, opt_w, opt_a, x, y


def time_modes(preset: str, steps: int, warmup: int, device: str) -> dict:
    """Run in a subprocess: steps of all modes in turn; median step time and FLOPs per mode."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from hypernas.train.step import train_step

    setups = {m: build_mode(preset, m, device) for m in MODES}
    gens = {m: torch.Generator().manual_seed(0) for m in MODES}
    dev = torch.device(device)

    def step(mode):
        cfg, sup, hyp, opt_w, opt_a, x, y = setups[mode]
        train_step(sup, hyp, x, y, 1.0, cfg, opt_w, opt_a, gens[mode])

    flops = {}
    for mode in MODES:
        for _ in range(warmup):
            step(mode)
        # the FLOP counter does not divide grouped convolutions by their groups: count the grouped
        # step's FLOPs on the edgewise form, which computes the same thing
        with FlopCounterMode(display=False) as fc:
            step("edgewise" if mode == "full" else mode)
        flops[mode] = fc.get_total_flops()
    times = {m: [] for m in MODES}
    for _ in range(steps):
        for mode in MODES:
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            tic = time.perf_counter()
            step(mode)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            times[mode].append(time.perf_counter() - tic)
    return {
        m: {"step_s": statistics.median(times[m]), "all_step_s": times[m], "flops_per_step": flops[m]}
        for m in MODES
    }


def peak_memory(preset: str, mode: str, steps: int, device: str) -> float:
    """Run in a subprocess: peak memory (MB) of a few steps of one mode."""
    import resource

    import torch

    from hypernas.train.step import train_step

    cfg, sup, hyp, opt_w, opt_a, x, y = build_mode(preset, mode, device)
    dev = torch.device(device)
    gen = torch.Generator().manual_seed(0)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    for _ in range(steps):
        train_step(sup, hyp, x, y, 1.0, cfg, opt_w, opt_a, gen)
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated(dev) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def conv_peak(device: str, seconds: float = 3.0) -> float:
    """Achievable conv FLOP/s: a 3x3 convolution, 128 -> 128 channels, 32 x 32, batch 32, forward."""
    import torch

    dev = torch.device(device)
    conv = torch.nn.Conv2d(128, 128, 3, padding=1, bias=False).to(dev, memory_format=torch.channels_last)
    x = torch.randn(32, 128, 32, 32, device=dev).contiguous(memory_format=torch.channels_last)
    flops = 2 * 32 * 128 * 128 * 9 * 32 * 32
    with torch.inference_mode():
        for _ in range(3):
            conv(x)
        n, tic = 0, time.perf_counter()
        while time.perf_counter() - tic < seconds:
            conv(x)
            n += 1
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        dt = (time.perf_counter() - tic) / n
    return flops / dt


def _full_step(preset: str, device: str, precision: str = "float32"):
    """A closure running one ``full`` search step (optionally under bfloat16 autocast)."""
    import contextlib

    import torch

    from hypernas.train.step import train_step

    cfg, sup, hyp, opt_w, opt_a, x, y = build_mode(preset, "full", device)
    gen = torch.Generator().manual_seed(0)
    dev = torch.device(device)

    def step():
        ctx = (
            torch.autocast(dev.type, dtype=torch.bfloat16)
            if precision == "bfloat16"
            else contextlib.nullcontext()
        )
        with ctx:
            train_step(sup, hyp, x, y, 1.0, cfg, opt_w, opt_a, gen)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    return step


def throughput(preset: str, threads: int, steps: int, warmup: int, device: str) -> float:
    """Run in a subprocess: images/s of the ``full`` step with ``threads`` threads."""
    import torch

    torch.set_num_threads(threads)
    step = _full_step(preset, device)
    for _ in range(warmup):
        step()
    tic = time.perf_counter()
    for _ in range(steps):
        step()
    return 64 * steps / (time.perf_counter() - tic)


def precisions(preset: str, steps: int, warmup: int, device: str) -> dict:
    """Run in a subprocess: median step time of float32 and bfloat16 autocast, interleaved."""
    modes = {p: _full_step(preset, device, p) for p in ("float32", "bfloat16")}
    for step in modes.values():
        for _ in range(warmup):
            step()
    times = {p: [] for p in modes}
    for _ in range(steps):
        for p, step in modes.items():
            tic = time.perf_counter()
            step()
            times[p].append(time.perf_counter() - tic)
    return {p: 64 / statistics.median(t) for p, t in times.items()}


def operator_profile(preset: str, steps: int, device: str, top: int = 8) -> list[dict]:
    """Run in a subprocess: the operators taking the largest shares of the step's self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    step = _full_step(preset, device)
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: -e.self_cpu_time_total)
    return [{"op": e.key, "share": round(e.self_cpu_time_total / total, 4)} for e in events[:top]]


def layouts(preset: str, steps: int, warmup: int, device: str) -> dict:
    """images/s of one 2-thread process, and the total of two 1-thread processes run side by side."""
    args = ["--device", device, "--steps", str(steps), "--warmup", str(warmup)]
    one = _child([*args, "--_throughput", preset, "2"])
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.search_step", *args, "--_throughput", preset, "1"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        for _ in range(2)
    ]
    each = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return {
        "one_process_2_threads": round(one, 2),
        "two_processes_1_thread_each": [round(v, 2) for v in each],
        "two_processes_total": round(sum(each), 2),
        "ratio": round(sum(each) / one, 3),
    }


def levers(presets: list[str], steps: int, warmup: int, device: str) -> dict:
    """The campaign's levers (layout, precision, operator profile) for each preset."""
    out = {}
    for preset in presets:
        common = ["--device", device, "--steps", str(steps), "--warmup", str(warmup)]
        print(f"{preset}: layouts, precisions, operator profile", file=sys.stderr, flush=True)
        prec = _child([*common, "--_precision", preset])
        out[preset] = {
            "layout": layouts(preset, steps, warmup, device),
            "precision": {
                "float32_images_per_s": round(prec["float32"], 2),
                "bfloat16_images_per_s": round(prec["bfloat16"], 2),
                "ratio": round(prec["bfloat16"] / prec["float32"], 3),
            },
            "profile": _child([*common, "--_profile", preset]),
        }
    return out


def _child(args: list[str]) -> dict | float:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.search_step", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_modes(args, out: Path) -> None:
    """The four forms of the step: interleaved timing, peak memory, share of the conv peak."""

    from hypernas.io import write_json
    from hypernas.provenance import provenance

    common = ["--device", args.device, "--steps", str(args.steps), "--warmup", str(args.warmup)]
    conv_flops = [conv_peak(args.device)]
    result = {
        "device": args.device,
        "provenance": provenance(args.device),
        "batch": 64,
        "timed_steps_per_mode": args.steps,
        "presets": {},
    }
    rows = []
    for preset in args.presets:
        print(
            f"{preset}: timing {len(MODES)} modes, {args.steps} interleaved steps each",
            file=sys.stderr,
            flush=True,
        )
        timing = _child([*common, "--_time", preset])
        memory = {}
        for mode in MODES:
            memory[mode] = _child([*common, "--_mem", preset, mode])
            print(
                f"{preset} {mode}: {64 / timing[mode]['step_s']:.1f} images/s, peak {memory[mode]:.0f} MB",
                file=sys.stderr,
                flush=True,
            )
        conv_flops.append(conv_peak(args.device))
        result["presets"][preset] = {
            mode: {
                "step_s": timing[mode]["step_s"],
                "memory": memory[mode],
                "flops": timing[mode]["flops_per_step"],
                "all_step_s": timing[mode]["all_step_s"],
            }
            for mode in MODES
        }
    peak = statistics.median(conv_flops)
    result["conv_peak_gflops"] = round(peak / 1e9, 1)
    for preset, modes in result["presets"].items():
        p = {}
        for mode, m in modes.items():
            p[mode] = {
                "images_per_s": round(64 / m["step_s"], 2),
                "peak_mem_mb": round(m["memory"], 1),
                "gflops_per_step": round(m["flops"] / 1e9, 2),
                "fraction_of_conv_peak": round(m["flops"] / m["step_s"] / peak, 4),
                "all_images_per_s": [round(64 / t, 1) for t in m["all_step_s"]],
            }
            rows.append((preset, mode, p[mode]))
        p["speedup_vs_baseline"] = round(p["full"]["images_per_s"] / p["baseline"]["images_per_s"], 3)
        p["grouped_vs_edgewise"] = round(p["full"]["images_per_s"] / p["edgewise"]["images_per_s"], 3)
        p["sampled_path_speedup"] = round(p["sampled"]["images_per_s"] / p["full"]["images_per_s"], 3)
        result["presets"][preset] = p
    if "exp1" in result["presets"]:
        result["speedup_vs_baseline"] = result["presets"]["exp1"]["speedup_vs_baseline"]
        result["sampled_path_speedup"] = result["presets"]["exp1"]["sampled_path_speedup"]
    print(f"\nsearch step, batch 64, {result['provenance']['hardware']}; conv peak {peak / 1e9:.1f} GFLOP/s")
    print(f"{'preset':8}{'mode':10}{'images/s':>10}{'peak MB':>10}{'GFLOP/step':>12}{'of conv peak':>14}")
    for preset, mode, e in rows:
        print(
            f"{preset:8}{mode:10}{e['images_per_s']:>10.1f}{e['peak_mem_mb']:>10.0f}{e['gflops_per_step']:>12.2f}"
            f"{100 * e['fraction_of_conv_peak']:>13.1f}%"
        )
    for preset, p in result["presets"].items():
        print(
            f"{preset}: full vs baseline x{p['speedup_vs_baseline']:.2f} (grouping edges by source "
            f"x{p['grouped_vs_edgewise']:.2f}); sampled vs full x{p['sampled_path_speedup']:.2f}"
        )
    write_json(out, result)
    print(f"written {out}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=12, help="timed steps per mode (interleaved)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--presets", nargs="*", default=list(PRESETS))
    ap.add_argument("--out", default=None)
    ap.add_argument(
        "--sections",
        nargs="*",
        default=["modes", "levers"],
        choices=["modes", "levers"],
        help="modes: the four forms of the step; levers: layout, precision, operator profile",
    )
    ap.add_argument("--_time", help=argparse.SUPPRESS)
    ap.add_argument("--_mem", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--_throughput", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--_precision", help=argparse.SUPPRESS)
    ap.add_argument("--_profile", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._throughput:
        print(
            json.dumps(
                throughput(
                    args._throughput[0], int(args._throughput[1]), args.steps, args.warmup, args.device
                )
            )
        )
        return 0
    if args._precision:
        print(json.dumps(precisions(args._precision, args.steps, args.warmup, args.device)))
        return 0
    if args._profile:
        print(json.dumps(operator_profile(args._profile, 3, args.device)))
        return 0
    if args._time:
        print(json.dumps(time_modes(args._time, args.steps, args.warmup, args.device)))
        return 0
    if args._mem:
        print(json.dumps(peak_memory(args._mem[0], args._mem[1], args.warmup + 2, args.device)))
        return 0

    import torch

    from hypernas.io import write_json
    from hypernas.provenance import provenance

    device_type = torch.device(args.device).type
    if "modes" in args.sections:
        measure_modes(
            args, REPO / "results" / "bench" / f"{device_type}.json" if args.out is None else Path(args.out)
        )
    if "levers" in args.sections:
        lev = {
            "device": args.device,
            "provenance": provenance(args.device),
            "batch": 64,
            "steps": args.steps,
            "presets": levers(args.presets, args.steps, args.warmup, args.device),
        }
        print(f"\nlevers of the campaign, batch 64, {lev['provenance']['hardware']}")
        for preset, p in lev["presets"].items():
            lay, prec = p["layout"], p["precision"]
            print(
                f"{preset}: two 1-thread processes {lay['two_processes_total']:.1f} images/s in all vs one 2-thread "
                f"process {lay['one_process_2_threads']:.1f}: x{lay['ratio']:.2f}; bfloat16 autocast "
                f"{prec['bfloat16_images_per_s']:.1f} vs float32 {prec['float32_images_per_s']:.1f}: x{prec['ratio']:.2f}"
            )
            print(
                "  self CPU time: "
                + ", ".join(f"{e['op']} {100 * e['share']:.0f}%" for e in p["profile"][:6])
            )
        out = REPO / "results" / "bench" / f"{device_type}-levers.json"
        write_json(out, lev)
        print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
