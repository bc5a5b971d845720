"""Command line: ``hypernas search | derive | evaluate``.

Every error a user can cause prints one line to stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import fields

from hypernas.errors import HyperNASError
from hypernas.method import simplex

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line and exits 2 (as it does) without the usage block."""

    def error(self, message: str):
        sys.stderr.write(f"hypernas: error: {message} (see `{self.prog} --help`)\n")
        sys.exit(EXIT_USAGE)


def _config_keys_help() -> str:
    from hypernas.train.config import SearchConfig

    return ", ".join(f.name for f in fields(SearchConfig) if f.name not in ("experiment", "profile"))


def build_parser() -> argparse.ArgumentParser:
    from hypernas.train.config import PRESETS, PROFILES
    from hypernas.train.evaluate import PROTOCOLS

    p = _Parser(
        prog="hypernas",
        description="Hypernetwork-controlled NAS: one search, a family of architectures indexed by s.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ps = sub.add_parser(
        "search",
        help="train the supernet and the hypernetwork",
        description=(
            "Train the supernet and the RBF hypernetwork with the single-level objective "
            "CE + kappa * Cost. Writes checkpoint.pt, metrics.jsonl, config.json and search.json to --out."
        ),
    )
    ps.add_argument("experiment", help=f"preset: {', '.join(PRESETS)}")
    ps.add_argument("--profile", default="quick", help=f"{', '.join(PROFILES)} (default quick)")
    ps.add_argument("--out", required=True, help="run directory")
    ps.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    ps.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help=f"override a config key; keys: {_config_keys_help()}",
    )
    ps.add_argument(
        "--resume", action="store_true", help="continue the search in --out from its last checkpoint"
    )
    ps.add_argument("--data-root", default=None, help="data folder (default $HYPERNAS_DATA, else ./data)")
    ps.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if available)")
    ps.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    ps.add_argument(
        "--checkpoint-every",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="also checkpoint within an epoch after this many seconds of compute (default 600; 0: every step)",
    )
    ps.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="stop after this many epochs in this call (for time-limited jobs); continue later with --resume",
    )

    def add_s(q):
        q.add_argument("run_dir", help="run directory written by `hypernas search`")
        q.add_argument(
            "--s",
            required=True,
            help="complexity vector, k comma-separated numbers on the simplex (order of the run's ops)",
        )
        q.add_argument("--normalize", action="store_true", help="rescale a non-negative --s onto the simplex")
        q.add_argument("--json", action="store_true", help="print JSON")

    pd = sub.add_parser(
        "derive",
        help="print the architecture at s",
        description=("Read the architecture at s off a trained family: argmax on each of the 28 edges."),
    )
    add_s(pd)

    pe = sub.add_parser(
        "evaluate",
        help="test accuracy of the architecture at s",
        description=(
            "Test accuracy of the architecture at s under a protocol: inherited (discrete net, supernet weights), "
            "retrain (from scratch for --epochs), relaxed (authors' protocol: supernet with GS at t=1)."
        ),
    )
    add_s(pe)
    pe.add_argument("--protocol", required=True, help=f"{', '.join(PROTOCOLS)}")
    pe.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs for --protocol retrain (default: the profile's retrain_epochs)",
    )
    pe.add_argument("--data-root", default=None, help="data folder (default $HYPERNAS_DATA, else ./data)")
    pe.add_argument("--device", default=None, help="cpu, cuda, cuda:N")
    pe.add_argument(
        "--save-model",
        default=None,
        help="with --protocol retrain: save the retrained weights here (for `export --retrained`)",
    )

    pl = sub.add_parser(
        "latency", help="measure per-op latency lookup tables", description="Per-device latency tools."
    )
    lsub = pl.add_subparsers(dest="latency_command", required=True, parser_class=_Parser)
    plp = lsub.add_parser(
        "profile",
        help="measure a latency lookup table (LUT) on a device",
        description=(
            "Measure the latency of every primitive at every position of a preset's network (median and IQR "
            "over many repetitions after warm-up, inference mode, fixed threads) and write a JSON LUT."
        ),
    )
    plp.add_argument(
        "--experiment", default="exp1", help=f"preset whose search space is profiled ({', '.join(PRESETS)})"
    )
    plp.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a config key (e.g. ops=...)"
    )
    plp.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    plp.add_argument("--out", required=True, help="output JSON file")
    plp.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads (default: torch's default), recorded in the LUT",
    )
    plp.add_argument("--batch", type=int, default=1, help="batch size of the measurement (default 1)")
    plp.add_argument("--reps", type=int, default=50, help="timed repetitions per entry (default 50)")

    psel = sub.add_parser(
        "select",
        help="pick the best architecture of a family for a latency budget",
        description=(
            "Scan the trained family over a lattice on the simplex, predict each distinct genotype's latency from a "
            "LUT, rank those within the budget by inherited accuracy on the validation split, then build the winner "
            "and measure its real latency."
        ),
    )
    psel.add_argument("run_dir")
    psel.add_argument("--lut", required=True, help="LUT JSON from `hypernas latency profile`")
    psel.add_argument("--budget-ms", type=float, required=True, help="latency budget in milliseconds")
    psel.add_argument("--grid", type=int, default=10, help="lattice divisions (default 10)")
    psel.add_argument(
        "--max-eval", type=int, default=12, help="candidates evaluated on the validation split (default 12)"
    )
    psel.add_argument(
        "--margin", type=float, default=0.05, help="safety margin on the predicted latency (default 0.05)"
    )
    psel.add_argument("--data-root", default=None)
    psel.add_argument("--json", action="store_true")

    px = sub.add_parser(
        "export",
        help="export the architecture at s to ONNX or TorchScript",
        description=(
            "Export the discrete network at s with inherited weights (BatchNorm re-estimated on training data), or "
            "with the weights of a retrained state dict, and check its outputs against PyTorch's."
        ),
    )
    px.add_argument("run_dir")
    px.add_argument("--s", required=True)
    px.add_argument("--normalize", action="store_true")
    px.add_argument("--format", required=True, help="onnx or torchscript")
    px.add_argument("--out", required=True)
    px.add_argument("--retrained", default=None, help="state dict of the retrained discrete network")
    px.add_argument("--data-root", default=None)

    pc = sub.add_parser(
        "campaign",
        help="run the paper-scale queue of searches and evaluations in the background",
        description=(
            "A queue of (experiment, setting) runs taken to their results in the background: search with checkpoints "
            "every few minutes, evaluation of A-D and the family, results/<profile>/<name>.json. `start` resumes a "
            "stopped campaign where it stands; `stop` ends it cleanly after a checkpoint."
        ),
    )
    pc.add_argument(
        "action",
        choices=("start", "status", "stop", "run", "work"),
        help="start | status | stop (run and work are the supervisor's and workers' own)",
    )
    pc.add_argument("experiment", nargs="?", help=argparse.SUPPRESS)
    pc.add_argument("setting", nargs="?", help=argparse.SUPPRESS)
    pc.add_argument("--profile", default="paper", help="profile of every run (default paper)")
    pc.add_argument("--runs-dir", default="runs", help="checkpoints and logs (default runs)")
    pc.add_argument("--results-dir", default=None, help="result JSON files (default results/<profile>)")
    pc.add_argument("--workers", type=int, default=2, help="queue items run at once (default 2)")
    pc.add_argument("--threads", type=int, default=1, help="threads per worker (default 1)")
    pc.add_argument(
        "--checkpoint-every",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="checkpoint the search after this many seconds of compute (default 300)",
    )
    pc.add_argument(
        "--item",
        action="append",
        metavar="EXPERIMENT:SETTING",
        help="queue item (repeatable; default: exp1 printed and rebalanced, exp3, exp2 rebalanced, "
        "exp3, exp2 printed); settings: printed, rebalanced",
    )
    pc.add_argument(
        "--wait", type=float, default=900.0, help="stop: seconds to wait for the workers (default 900)"
    )
    pc.add_argument("--json", action="store_true", help="status: print JSON")
    return p


def _device(name: str | None):
    import torch

    from hypernas.errors import ConfigError

    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda requested but no CUDA GPU is available; use --device cpu")
    return dev


def cmd_search(args) -> int:
    from hypernas.errors import ConfigError
    from hypernas.train.config import parse_set, resolve
    from hypernas.train.search import search
    from hypernas.train.stopping import EXIT_STOPPED, Interrupted, stop_on_sigterm

    overrides = parse_set(args.set)
    if args.seed is not None:
        overrides["seed"] = str(args.seed)
    cfg = resolve(args.experiment, args.profile, overrides)
    if args.max_epochs is not None and args.max_epochs < 1:
        raise ConfigError("--max-epochs must be >= 1")
    if args.checkpoint_every < 0:
        raise ConfigError("--checkpoint-every must be >= 0 seconds")
    with stop_on_sigterm() as stop:
        try:
            summary = search(
                cfg,
                args.out,
                data_root=args.data_root,
                resume=args.resume,
                device=_device(args.device),
                progress=not args.no_progress,
                max_epochs=args.max_epochs,
                checkpoint_every_s=args.checkpoint_every,
                stop=stop,
            )
        except Interrupted as exc:
            print(f"hypernas: {exc} after writing a checkpoint; continue with --resume", file=sys.stderr)
            return EXIT_STOPPED
    final = summary["final"]
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    print(
        json.dumps(
            {
                "run_dir": args.out,
                "config_hash": summary["config_hash"],
                "epochs": summary["epochs_done"],
                "final_loss": final["loss"],
                "final_ce": final["ce"],
                "val_acc_centre": final["val_acc_centre"],
                "wall_time_s": round(summary["wall_time_s"], 1),
                "data_source": summary["provenance"]["data_source"],
                **({"distributed": summary["distributed"]} if "distributed" in summary else {}),
            },
            indent=2,
        )
    )
    return 0


def _architecture(args, device="cpu"):
    from hypernas.space.genotype import derive
    from hypernas.space.network import describe
    from hypernas.train.run import load_run

    run = load_run(args.run_dir, device)
    s = simplex.parse(args.s, len(run.config.ops), normalize=args.normalize)
    g = derive(run.hypernet, s, run.config.ops)
    return run, s, g, describe(g, run.space, s)


def _print_arch(record: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(record, indent=2))
        return
    print("s: " + ", ".join(f"{o}={v:.3f}" for o, v in zip(record["ops"], record["s"])))
    print("normal: " + " ".join(record["normal"]))
    print("reduce: " + " ".join(record["reduce"]))
    print("op counts: " + ", ".join(f"{k}={v}" for k, v in record["op_counts"].items()))
    print(f"cell_params: {record['cell_params']:,}  total_params: {record['total_params']:,}")
    if "test_accuracy" in record:
        print(
            f"test accuracy ({record['protocol']}): {record['test_accuracy']:.2f}%  [{record['data_source']}]"
        )


def cmd_derive(args) -> int:
    _, _, _, record = _architecture(args)
    _print_arch(record, args.json)
    return 0


def cmd_evaluate(args) -> int:
    from hypernas.errors import ConfigError
    from hypernas.train.build import load_splits
    from hypernas.train.config import nearest
    from hypernas.train.evaluate import PROTOCOLS, evaluate

    if args.protocol not in PROTOCOLS:
        raise ConfigError(
            f"unknown protocol {args.protocol!r}{nearest(args.protocol, PROTOCOLS)} (choose {', '.join(PROTOCOLS)})"
        )
    if args.epochs is not None and args.epochs < 1:
        raise ConfigError("--epochs must be >= 1")
    run, s, g, record = _architecture(args, _device(args.device))
    splits = load_splits(run.config, args.data_root)
    if args.save_model and args.protocol != "retrain":
        raise ConfigError("--save-model needs --protocol retrain")
    if args.save_model:
        from hypernas.io import save_torch
        from hypernas.train.evaluate import retrain

        n = run.config.retrain_epochs if args.epochs is None else args.epochs
        acc, net = retrain(g, run.config, splits, n, next(run.supernet.parameters()).device)
        save_torch(args.save_model, {"model": net.state_dict(), "genotype": g.to_dict(), "s": list(s)})
    else:
        acc = evaluate(run, g, s, args.protocol, splits, epochs=args.epochs)
    record.update(
        test_accuracy=round(acc, 4),
        protocol=args.protocol,
        data_source=splits.source,
        test_images=len(splits.test_y),
    )
    _print_arch(record, args.json)
    return 0


def cmd_latency(args) -> int:
    from pathlib import Path

    from hypernas.device import latency
    from hypernas.errors import ConfigError
    from hypernas.io import write_json
    from hypernas.train.config import parse_set, resolve

    if args.batch < 1 or args.reps < 3 or (args.threads is not None and args.threads < 1):
        raise ConfigError("--batch and --threads must be >= 1 and --reps >= 3")
    cfg = resolve(args.experiment, "paper", parse_set(args.set))
    device = _device(args.device)
    lut = latency.profile(
        cfg.space(), cfg.dataset, device, threads=args.threads, batch=args.batch, reps=args.reps
    )
    lut["experiment"] = args.experiment
    write_json(Path(args.out), lut)
    s_dev = latency.s_device(lut, cfg.space(), cfg.dataset)
    print(
        json.dumps(
            {
                "out": args.out,
                "entries": len(lut["entries"]),
                "base_ms": round(lut["base_ms"], 4),
                "s_device": dict(zip(cfg.ops, [round(v, 4) for v in s_dev])),
                **lut["provenance"],
            },
            indent=2,
        )
    )
    return 0


def _read_lut(path: str) -> dict:
    from hypernas.errors import ConfigError
    from hypernas.io import read_json

    try:
        return read_json(path)
    except FileNotFoundError:
        raise ConfigError(
            f"latency table {path} does not exist; create it with `hypernas latency profile --out {path}`"
        ) from None
    except json.JSONDecodeError:
        raise ConfigError(f"latency table {path} is not valid JSON; measure it again") from None


def cmd_select(args) -> int:
    from hypernas.device.select import select_for_budget
    from hypernas.errors import ConfigError
    from hypernas.train.build import load_splits
    from hypernas.train.run import load_run

    if args.grid < 1 or args.max_eval < 1:
        raise ConfigError("--grid and --max-eval must be >= 1")
    lut = _read_lut(args.lut)
    run = load_run(args.run_dir)
    if lut.get("provenance", {}).get("threads"):
        import torch

        torch.set_num_threads(int(lut["provenance"]["threads"]))
    splits = load_splits(run.config, args.data_root)
    rec = select_for_budget(
        run, lut, args.budget_ms, splits, grid=args.grid, max_eval=args.max_eval, margin=args.margin
    )
    if args.json:
        print(json.dumps(rec, indent=2))
    else:
        _print_arch(rec, False)
        print(
            f"budget {rec['budget_ms']} ms: predicted {rec['predicted_ms']:.3f} ms, measured {rec['measured_ms']:.3f} ms "
            f"(IQR {rec['measured_iqr_ms']:.3f}), validation accuracy {rec['val_accuracy']:.2f}%"
        )
    return 0


def cmd_export(args) -> int:
    from hypernas.device.select import export_model
    from hypernas.train.build import load_splits
    from hypernas.train.run import load_run

    run = load_run(args.run_dir)
    s = simplex.parse(args.s, len(run.config.ops), normalize=args.normalize)
    splits = None if args.retrained else load_splits(run.config, args.data_root)
    res = export_model(run, s, args.format, args.out, splits=splits, retrained=args.retrained)
    print(json.dumps(res, indent=2))
    return 0


def cmd_campaign(args) -> int:
    from hypernas.book import campaign
    from hypernas.errors import ConfigError

    queue = None
    if args.item:
        queue = []
        for item in args.item:
            if ":" not in item:
                raise ConfigError(f"--item expects EXPERIMENT:SETTING (e.g. exp1:printed), got {item!r}")
            queue.append(item.split(":", 1))
    cc = campaign.CampaignConfig(
        profile=args.profile,
        runs_dir=args.runs_dir,
        results_dir=args.results_dir,
        workers=args.workers,
        threads=args.threads,
        checkpoint_every_s=args.checkpoint_every,
        **({"queue": queue} if queue else {}),
    )
    if args.action in ("run", "work"):
        logging.getLogger().setLevel(logging.INFO)
    if args.action == "run":
        return campaign.supervise(cc)
    if args.action == "work":
        if not (args.experiment and args.setting):
            raise ConfigError("campaign work needs an experiment and a setting")
        return campaign.work(cc, args.experiment, args.setting)
    if args.action == "start":
        st = campaign.start(cc)
        verb = "already running" if st["already_running"] else "started"
        print(
            f"campaign {verb}: pid {st.get('pid')}, commit {st.get('commit')}; "
            f"`hypernas campaign status` shows where it stands"
        )
        return 0
    if args.action == "stop":
        stopped = campaign.stop(cc, args.wait)
        print("campaign stopped after its workers checkpointed" if stopped else "no campaign is running")
        return 0
    st = campaign.status(cc)
    print(json.dumps(st, indent=2) if args.json else campaign.format_status(st))
    return 0


COMMANDS = {
    "campaign": cmd_campaign,
    "search": cmd_search,
    "derive": cmd_derive,
    "evaluate": cmd_evaluate,
    "latency": cmd_latency,
    "select": cmd_select,
    "export": cmd_export,
}


def _join_negative_values(argv: list[str]) -> list[str]:
    """Let ``--s -0.1,0.6,0.5`` reach our own validation (argparse would take it for an option)."""
    out = []
    i = 0
    while i < len(argv):
        if argv[i] == "--s" and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"--s={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = _join_negative_values(list(sys.argv[1:] if argv is None else argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        return COMMANDS[args.command](args)
    except HyperNASError as exc:
        sys.stderr.write(f"hypernas: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("hypernas: interrupted; the last finished epoch is saved, continue with --resume\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
