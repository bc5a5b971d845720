"""The command line's parser: every command, its arguments and their help."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields

from hypernas.device.runtime import RUNTIMES
from hypernas.train.config import SearchConfig
from hypernas.train.evaluate import PROTOCOLS
from hypernas.train.presets import PRESETS, PROFILES

EXIT_USAGE = 2
DATA_ROOT = "data folder (default $HYPERNAS_DATA, else ./data)"


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line and exits 2 (as it does) without the usage block."""

    def error(self, message: str):
        sys.stderr.write(f"hypernas: error: {message} (see `{self.prog} --help`)\n")
        sys.exit(EXIT_USAGE)


def _arch_args(q: argparse.ArgumentParser, json_flag: bool = True) -> None:
    """run_dir, --s or --genotype, --normalize (and --json): an architecture of a trained family's space."""
    q.add_argument("run_dir", help="run directory written by `hypernas search`")
    which = q.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--s",
        help="complexity vector, k comma-separated numbers on the simplex (order of the run's ops)",
    )
    which.add_argument(
        "--genotype",
        help="an architecture itself instead of an s: its key (op indices, normal|reduce, as `derive --json` "
        "prints), JSON with normal and reduce, or a JSON file",
    )
    q.add_argument("--normalize", action="store_true", help="rescale a non-negative --s onto the simplex")
    if json_flag:
        q.add_argument("--json", action="store_true", help="print JSON")


def _set_arg(q: argparse.ArgumentParser, help: str) -> None:
    q.add_argument("--set", action="append", metavar="KEY=VALUE", help=help)


def build_parser() -> argparse.ArgumentParser:
    config_keys = ", ".join(f.name for f in fields(SearchConfig) if f.name not in ("experiment", "profile"))
    p = _Parser(
        prog="hypernas",
        description="Hypernetwork-controlled NAS: one search, a family of architectures indexed by s.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    p.add_argument(
        "--import",
        dest="imports",
        action="append",
        metavar="MODULE",
        help="import a module (a dotted name or a .py file) first, e.g. one that calls "
        "hypernas.register_op for your own operations; repeatable",
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    q = sub.add_parser(
        "search",
        help="train the supernet and the hypernetwork",
        description="Train the supernet and the RBF hypernetwork with the single-level objective "
        "CE + kappa * Cost. Writes checkpoint.pt, metrics.jsonl, config.json and search.json to --out.",
    )
    q.add_argument("experiment", help=f"preset: {', '.join(PRESETS)}")
    q.add_argument("--profile", default="quick", help=f"{', '.join(PROFILES)} (default quick)")
    q.add_argument("--out", required=True, help="run directory")
    q.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    _set_arg(q, f"override a config key; keys: {config_keys}")
    q.add_argument(
        "--dataset",
        default=None,
        help="the preset's dataset, or your own: fashion_mnist, cifar10, imagefolder:PATH "
        "(PATH/<class>/<image>, or PATH/train and PATH/test), PATH.npz (arrays images, labels)",
    )
    q.add_argument(
        "--resume", action="store_true", help="continue the search in --out from its last checkpoint"
    )
    q.add_argument("--data-root", default=None, help=DATA_ROOT)
    q.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if available)")
    q.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    q.add_argument(
        "--checkpoint-every",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="also checkpoint within an epoch after this many seconds of compute (default 600; 0: every step)",
    )
    q.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="stop after this many epochs in this call (for time-limited jobs); continue later with --resume",
    )

    q = sub.add_parser(
        "derive",
        help="print the architecture at s",
        description="Read the architecture at s off a trained family: argmax on each of the 28 edges.",
    )
    _arch_args(q)

    q = sub.add_parser(
        "evaluate",
        help="test accuracy of the architecture at s",
        description="Test accuracy of the architecture at s under a protocol: inherited (discrete net, supernet "
        "weights), retrain (from scratch for --epochs), relaxed (authors' protocol: supernet with GS at t=1).",
    )
    _arch_args(q)
    q.add_argument("--protocol", required=True, help=f"{', '.join(PROTOCOLS)}")
    q.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs for --protocol retrain (default: the profile's retrain_epochs)",
    )
    q.add_argument("--data-root", default=None, help=DATA_ROOT)
    q.add_argument("--device", default=None, help="cpu, cuda, cuda:N")
    q.add_argument(
        "--save-model",
        default=None,
        help="with --protocol retrain: save the retrained weights here (for `export --retrained`)",
    )

    q = sub.add_parser(
        "latency", help="measure per-op latency lookup tables", description="Per-device latency tools."
    )
    q = q.add_subparsers(dest="latency_command", required=True, parser_class=_Parser).add_parser(
        "measure",
        help="measure a latency lookup table (LUT) on a device",
        description="Measure the latency of every primitive at every position of a preset's network (median and "
        "IQR over many repetitions after warm-up, inference mode, fixed threads) and write a JSON LUT.",
    )
    q.add_argument(
        "--experiment", default="exp1", help=f"preset whose search space is profiled ({', '.join(PRESETS)})"
    )
    _set_arg(q, "override a config key (e.g. ops=...)")
    q.add_argument(
        "--dataset",
        default=None,
        help="the dataset whose image size is timed (as `hypernas search --dataset`)",
    )
    q.add_argument(
        "--like",
        metavar="RUN_DIR",
        default=None,
        help="time the search space of this run (its preset, ops, cell sizes and dataset)",
    )
    q.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    q.add_argument("--out", required=True, help="output JSON file")
    q.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads (default: torch's default), recorded in the LUT",
    )
    q.add_argument("--batch", type=int, default=1, help="batch size of the measurement (default 1)")
    q.add_argument("--reps", type=int, default=20, help="timed calls per burst (default 20)")
    q.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds; each figure is their median (default 5)"
    )
    q.add_argument(
        "--runtime", default="torch", help=f"target runtime: {', '.join(RUNTIMES)} (default torch)"
    )

    q = sub.add_parser(
        "select",
        help="pick the best architecture of a family for a latency budget",
        description="Scan the trained family over a lattice on the simplex, predict each distinct genotype's latency "
        "from a LUT, rank those within the budget by inherited accuracy on the validation split, then build the "
        "winner and measure its real latency.",
    )
    q.add_argument("run_dir", help="run directory written by `hypernas search`")
    q.add_argument("--lut", required=True, help="LUT JSON from `hypernas latency measure`")
    q.add_argument("--budget-ms", type=float, required=True, help="latency budget in milliseconds")
    q.add_argument("--grid", type=int, default=10, help="lattice divisions (default 10)")
    q.add_argument(
        "--max-eval", type=int, default=12, help="candidates evaluated on the validation split (default 12)"
    )
    q.add_argument(
        "--margin", type=float, default=0.05, help="safety margin on the predicted latency (default 0.05)"
    )
    q.add_argument(
        "--runtime",
        default=None,
        help=f"runtime the candidates are measured in ({', '.join(RUNTIMES)}); must be the table's (default: the table's)",
    )
    q.add_argument("--data-root", default=None, help=DATA_ROOT)
    q.add_argument("--json", action="store_true", help="print JSON")

    q = sub.add_parser(
        "export",
        help="export the architecture at s to ONNX, pt2 (torch.export) or TorchScript",
        description="Export the discrete network at s with inherited weights (BatchNorm re-estimated on training "
        "data), or with the weights of a retrained state dict, and check its outputs against PyTorch's.",
    )
    _arch_args(q, json_flag=False)
    q.add_argument(
        "--format", required=True, help="onnx, pt2 (torch.export, load with torch.export.load) or torchscript"
    )
    q.add_argument("--out", required=True, help="output file")
    q.add_argument("--retrained", default=None, help="state dict of the retrained discrete network")
    q.add_argument("--data-root", default=None, help=DATA_ROOT)

    q = sub.add_parser(
        "baseline",
        help="random architectures and the baseline study of an experiment",
        description="Baselines of the same space: `random` draws architectures of a run's space (op counts "
        "first, so that they span the family's sizes); `study` runs the whole baseline study of an experiment "
        "(random, matched, separate searches and the family, retrained and inherited) into a result JSON. "
        "One separate search alone is `hypernas search EXP --set fixed_s=a,b,c`.",
    )
    bq = q.add_subparsers(dest="baseline_command", required=True, parser_class=_Parser)
    r = bq.add_parser("random", help="draw random architectures of a run's space (one JSON record per line)")
    r.add_argument("run_dir", help="run directory written by `hypernas search` (its space and ops)")
    r.add_argument("--n", type=int, default=16, help="how many (default 16)")
    r.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    r.add_argument(
        "--sampler",
        default="split",
        help="split: each cell's op counts uniform over all splits, then placed (default); edge: each edge uniform",
    )
    r = bq.add_parser("study", help="run the baseline study of an experiment (cached by its hash)")
    r.add_argument("experiment", help=f"preset: {', '.join(PRESETS)}")
    r.add_argument("--profile", default="quick", help=f"{', '.join(PROFILES)} (default quick)")
    r.add_argument("--seed", type=int, default=0, help="seed of the main search (default 0)")
    _set_arg(r, "override a config key of the main search (as `hypernas search --set`)")
    r.add_argument("--name", default=None, help="result name (default <experiment>-baselines)")
    r.add_argument("--runs-dir", default="runs", help="checkpoints (default runs)")
    r.add_argument("--results-dir", default=None, help="result JSON files (default results/<profile>)")
    r.add_argument("--n-random", type=int, default=None, help="random architectures (default: the profile's)")
    r.add_argument(
        "--front-size", type=int, default=None, help="family members beside A-D (default: the profile's)"
    )
    r.add_argument(
        "--part",
        default=None,
        metavar="K/N",
        help="make only part K of N of the measurements (N processes or cluster jobs at once); "
        "the study without --part, run after them, gathers them into the result",
    )
    r.add_argument("--data-root", default=None, help=DATA_ROOT)
    r.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if available)")
    r.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    q = sub.add_parser(
        "campaign",
        help="run the paper-scale queue of searches and evaluations in the background",
        description="A queue of (experiment, setting) runs taken to their results in the background: search with "
        "checkpoints every few minutes, evaluation of A-D and the family, results/<profile>/<name>.json, run by "
        "Snakemake (workflow/Snakefile). `start` resumes a stopped campaign where it stands; `stop` ends it "
        "cleanly after a checkpoint.",
    )
    q.add_argument(
        "action",
        choices=("start", "status", "stop", "work"),
        help="start | status | stop (work: one queue item, the command each job of the workflow runs)",
    )
    q.add_argument("work_item", nargs="?", help=argparse.SUPPRESS)
    q.add_argument("--profile", default="paper", help="profile of every run (default paper)")
    q.add_argument("--runs-dir", default="runs", help="checkpoints and logs (default runs)")
    q.add_argument("--results-dir", default=None, help="result JSON files (default results/<profile>)")
    q.add_argument("--workers", type=int, default=2, help="queue items run at once (default 2)")
    q.add_argument("--threads", type=int, default=1, help="threads per worker (default 1)")
    q.add_argument(
        "--checkpoint-every",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="checkpoint the search after this many seconds of compute (default 300)",
    )
    q.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if available)")
    q.add_argument(
        "--item",
        action="append",
        metavar="EXPERIMENT:SETTING[:seedN|:baselines]",
        help="queue item (repeatable; default: the paper's queue, `hypernas campaign status` lists it); "
        "settings: printed, rebalanced; seedN: another seed; baselines: the baseline study",
    )
    q.add_argument(
        "--wait", type=float, default=900.0, help="stop: seconds to wait for the workers (default 900)"
    )
    q.add_argument("--json", action="store_true", help="status: print JSON")
    return p
