"""Throughput of one search step (forward, backward, both optimiser steps) at batch 64.

    python -m benchmarks.search_step            # or: make bench
    python -m benchmarks.search_step --rounds 3 --steps 8

For the exp1 and exp3 presets and three modes, each measured in a fresh subprocess (so that peak
memory is that mode's own), alternating the modes over several rounds and taking the median:

* ``baseline``: the step as first written (NCHW layout, per-op multiply-and-add mixing);
* ``full``: the current default (channels_last, addcmul mixing), the same mixed-op computation;
* ``sampled``: ``path_sampling=one`` (one op per edge and batch, straight-through estimator).

It also measures this machine's achievable convolution throughput (a large 3x3 convolution,
forward) in the same run and reports each step's FLOPs / time as a fraction of it. Writes
``results/bench/<device>.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODES = ("baseline", "full", "sampled")
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


def measure_one(preset: str, mode: str, steps: int, warmup: int, device: str) -> dict:
    """Run in a subprocess: images/s, peak memory and FLOPs of the step of (preset, mode)."""
    import resource

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from hypernas import supernet
    from hypernas.experiments import resolve
    from hypernas.search import build_models, make_optimizers, train_step

    overrides = {"baseline": {"channels_last": "false"}, "full": {}, "sampled": {"path_sampling": "one"}}[mode]
    if mode == "baseline":
        supernet.MixedEdge.forward = _reference_forward
    cfg = resolve(preset, "paper", overrides)
    dev = torch.device(device)
    sup, hyp = build_models(cfg, dev)
    opt_w, opt_a, _ = make_optimizers(cfg, sup, hyp, 100)
    in_ch, hw = (1, 28) if cfg.dataset == "fashion_mnist" else (3, 32)
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    x = torch.randn(64, in_ch, hw, hw, device=dev).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (64,), device=dev)
    gen = torch.Generator().manual_seed(0)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    for _ in range(warmup):
        train_step(sup, hyp, x, y, 1.0, cfg, opt_w, opt_a, gen)
    with FlopCounterMode(display=False) as fc:
        train_step(sup, hyp, x, y, 1.0, cfg, opt_w, opt_a, gen)
    flops = fc.get_total_flops()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    tic = time.perf_counter()
    for _ in range(steps):
        train_step(sup, hyp, x, y, 1.0, cfg, opt_w, opt_a, gen)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    dt = (time.perf_counter() - tic) / steps
    peak = (torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"images_per_s": 64 / dt, "step_s": dt, "peak_mem_mb": peak, "flops_per_step": flops}


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--presets", nargs="*", default=list(PRESETS))
    ap.add_argument("--out", default=None)
    ap.add_argument("--_child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._child:
        print(json.dumps(measure_one(args._child[0], args._child[1], args.steps, args.warmup, args.device)))
        return 0

    import torch

    from hypernas.provenance import provenance

    runs: dict = {p: {m: [] for m in MODES} for p in args.presets}
    peak_flops = []
    total = args.rounds * len(args.presets) * len(MODES)
    done = 0
    for r in range(args.rounds):
        peak_flops.append(conv_peak(args.device))
        for preset in args.presets:
            for mode in MODES:
                out = subprocess.run([sys.executable, "-m", "benchmarks.search_step", "--device", args.device,
                                      "--steps", str(args.steps), "--warmup", str(args.warmup), "--_child", preset, mode],
                                     cwd=REPO, capture_output=True, text=True, check=True)
                runs[preset][mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
                done += 1
                print(f"[{done}/{total}] round {r + 1} {preset} {mode}: {runs[preset][mode][-1]['images_per_s']:.1f} images/s",
                      file=sys.stderr, flush=True)
    conv_flops = statistics.median(peak_flops)
    result = {"device": args.device, "provenance": provenance(args.device), "batch": 64, "rounds": args.rounds,
              "steps_per_round": args.steps, "conv_peak_gflops": conv_flops / 1e9, "presets": {}}
    rows = []
    for preset, modes in runs.items():
        result["presets"][preset] = {}
        for mode, rs in modes.items():
            ips = statistics.median(r["images_per_s"] for r in rs)
            step = statistics.median(r["step_s"] for r in rs)
            flops = rs[0]["flops_per_step"]
            entry = {"images_per_s": round(ips, 2), "peak_mem_mb": round(statistics.median(r["peak_mem_mb"] for r in rs), 1),
                     "gflops_per_step": round(flops / 1e9, 2),
                     "fraction_of_conv_peak": round(flops / step / conv_flops, 4),
                     "all_images_per_s": [round(r["images_per_s"], 2) for r in rs]}
            result["presets"][preset][mode] = entry
            rows.append((preset, mode, entry))
        p = result["presets"][preset]
        p["speedup_vs_baseline"] = round(p["full"]["images_per_s"] / p["baseline"]["images_per_s"], 3)
        p["sampled_path_speedup"] = round(p["sampled"]["images_per_s"] / p["full"]["images_per_s"], 3)
    if "exp1" in result["presets"]:
        result["speedup_vs_baseline"] = result["presets"]["exp1"]["speedup_vs_baseline"]
        result["sampled_path_speedup"] = result["presets"]["exp1"]["sampled_path_speedup"]
    print(f"\nsearch step, batch 64, {result['provenance']['hardware']}; conv peak {conv_flops / 1e9:.1f} GFLOP/s")
    print(f"{'preset':8}{'mode':10}{'images/s':>10}{'peak MB':>10}{'GFLOP/step':>12}{'of conv peak':>14}")
    for preset, mode, e in rows:
        print(f"{preset:8}{mode:10}{e['images_per_s']:>10.1f}{e['peak_mem_mb']:>10.0f}{e['gflops_per_step']:>12.2f}"
              f"{100 * e['fraction_of_conv_peak']:>13.1f}%")
    for preset in result["presets"]:
        p = result["presets"][preset]
        print(f"{preset}: full vs baseline x{p['speedup_vs_baseline']:.2f}; sampled vs full x{p['sampled_path_speedup']:.2f}")
    out = Path(args.out or REPO / "results" / "bench" / f"{torch.device(args.device).type}.json")
    from hypernas.io import write_json

    write_json(out, result)
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
