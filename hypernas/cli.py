"""Command line: ``hypernas search | derive | evaluate | latency | select | export | baseline | campaign``.

Each command parses its arguments and calls :mod:`hypernas.api` (the campaign: :mod:`hypernas.campaign.engine`).
Every error a user can cause prints one line to stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
from dataclasses import fields

from hypernas import api
from hypernas.device.runtime import RUNTIMES
from hypernas.errors import ConfigError, HyperNASError
from hypernas.io import finite, json_text, write_problem
from hypernas.train.config import PRESETS, PROFILES, SearchConfig, parse_set
from hypernas.train.evaluate import PROTOCOLS
from hypernas.train.stopping import EXIT_STOPPED, Interrupted, stop_on_sigterm

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
        "profile",
        help="measure a latency lookup table (LUT) on a device",
        description="Measure the latency of every primitive at every position of a preset's network (median and "
        "IQR over many repetitions after warm-up, inference mode, fixed threads) and write a JSON LUT.",
    )
    q.add_argument(
        "--experiment", default="exp1", help=f"preset whose search space is profiled ({', '.join(PRESETS)})"
    )
    _set_arg(q, "override a config key (e.g. ops=...)")
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
    q.add_argument("--lut", required=True, help="LUT JSON from `hypernas latency profile`")
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
        help="export the architecture at s to ONNX or TorchScript",
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


def _print_json(obj) -> None:
    print(json_text(obj))


def _print_arch(record: dict, as_json: bool) -> None:
    if as_json:
        _print_json(record)
        return
    if record["s"] is not None:
        print("s: " + ", ".join(f"{o}={v:.3f}" for o, v in zip(record["ops"], record["s"])))
    print(f"genotype: {record['genotype']}")
    print("normal: " + " ".join(record["normal"]))
    print("reduce: " + " ".join(record["reduce"]))
    print("op counts: " + ", ".join(f"{k}={v}" for k, v in record["op_counts"].items()))
    print(f"cell_params: {record['cell_params']:,}  total_params: {record['total_params']:,}")
    if "test_accuracy" in record:
        print(
            f"test accuracy ({record['protocol']}): {record['test_accuracy']:.2f}%  [{record['data_source']}]"
        )


def cmd_search(args) -> int:
    overrides = parse_set(args.set)
    if args.seed is not None:
        overrides["seed"] = str(args.seed)
    with stop_on_sigterm() as stop:
        try:
            run = api.search(
                args.experiment,
                args.profile,
                args.out,
                seed=None,
                overrides=overrides,
                data_root=args.data_root,
                resume=args.resume,
                device=args.device,
                progress=not args.no_progress,
                checkpoint_every_s=args.checkpoint_every,
                max_epochs=args.max_epochs,
                stop=stop,
            )
        except Interrupted as exc:
            print(f"hypernas: {exc} after writing a checkpoint; continue with --resume", file=sys.stderr)
            return EXIT_STOPPED
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    summary = run.summary
    final = summary["final"]
    _print_json(
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
        }
    )
    return 0


def _arch(args):
    """The architecture the user named: ``--s`` or ``--genotype``."""
    return args.s if args.s is not None else args.genotype


def cmd_derive(args) -> int:
    _print_arch(api.load_run(args.run_dir).describe(_arch(args), normalize=args.normalize), args.json)
    return 0


def cmd_evaluate(args) -> int:
    run = api.Run(args.run_dir, args.device)  # loaded after the protocol is checked
    acc = run.evaluate(
        _arch(args),
        args.protocol,
        normalize=args.normalize,
        epochs=args.epochs,
        data_root=args.data_root,
        save_model=args.save_model,
    )
    splits = run.splits(args.data_root)
    record = run.describe(_arch(args), normalize=args.normalize)
    record.update(
        test_accuracy=round(acc, 4),
        protocol=args.protocol,
        data_source=splits.source,
        test_images=len(splits.test_y),
    )
    _print_arch(record, args.json)
    return 0


def cmd_latency(args) -> int:
    lut = api.profile_latency(
        args.experiment,
        overrides=parse_set(args.set),
        device=args.device,
        threads=args.threads,
        batch=args.batch,
        reps=args.reps,
        rounds=args.rounds,
        runtime=args.runtime,
        out=args.out,
    )
    _print_json(
        {
            "out": args.out,
            "entries": len(lut["entries"]),
            "base_ms": round(lut["base_ms"], 4),
            "s_device": {op: round(v, 4) for op, v in api.s_device(lut).items()},
            **lut["provenance"],
        }
    )
    return 0


def cmd_select(args) -> int:
    run = api.Run(args.run_dir)  # loaded after the options and the table are checked
    rec = run.select(
        args.budget_ms,
        args.lut,
        grid=args.grid,
        max_eval=args.max_eval,
        margin=args.margin,
        runtime=args.runtime,
        data_root=args.data_root,
    )
    if args.json:
        _print_json(rec)
        return 0
    _print_arch(rec, False)
    print(
        f"budget {rec['budget_ms']} ms ({rec['runtime']}): predicted {rec['predicted_ms']:.3f} ms, "
        f"measured {rec['measured_ms']:.3f} ms "
        f"(IQR {rec['measured_iqr_ms']:.3f}), validation accuracy {rec['val_accuracy']:.2f}%"
    )
    return 0


def cmd_export(args) -> int:
    run = api.load_run(args.run_dir)
    _print_json(
        run.export_model(
            _arch(args),
            args.format,
            args.out,
            normalize=args.normalize,
            retrained=args.retrained,
            data_root=args.data_root,
        )
    )
    return 0


def cmd_baseline(args) -> int:
    if args.baseline_command == "random":
        if args.n < 1 or args.n > 100_000:
            raise ConfigError("--n must be from 1 to 100000")
        run = api.load_run(args.run_dir)
        for g in api.random_genotypes(run.config.ops, run.space.n_edges, args.n, args.seed, args.sampler):
            print(json.dumps(run.describe(g)))
        return 0
    from hypernas.pipeline.baselines import run_baseline_study
    from hypernas.report import compare

    sizes = {
        key: value
        for key, value in (("n_random", args.n_random), ("front_size", args.front_size))
        if value is not None
    }
    if any(v < 1 for v in sizes.values()):
        raise ConfigError("--n-random and --front-size must be >= 1")
    result = run_baseline_study(
        args.experiment,
        args.profile,
        seed=args.seed,
        overrides=parse_set(args.set),
        name=args.name,
        main_name=args.experiment if args.seed == 0 else f"{args.experiment}-seed{args.seed}",
        data_root=args.data_root,
        results_dir=args.results_dir,
        runs_dir=args.runs_dir,
        progress=not args.no_progress,
        device=args.device,
        sizes=sizes,
    )
    hv = compare.hypervolumes(result, n=200)
    print(
        json_text(
            {
                "result": result["name"],
                "architectures": len(result["architectures"]),
                "hypervolume": {k: round(v["hv"], 4) for k, v in hv.items()},
                "compute_ratio": result["compute"]["ratio"],
                "rank_agreement": {
                    k: round(v, 3) for k, v in compare.rank_agreement(result, n=200).items() if k != "n"
                },
            }
        )
    )
    return 0


def cmd_campaign(args) -> int:
    from hypernas.campaign import engine
    from hypernas.campaign.queue import CampaignConfig
    from hypernas.pipeline.items import QueueItem

    queue = list(args.item) if args.item else None
    cc = CampaignConfig(
        profile=args.profile,
        runs_dir=args.runs_dir,
        results_dir=args.results_dir,
        workers=args.workers,
        threads=args.threads,
        checkpoint_every_s=args.checkpoint_every,
        device=args.device,
        **({"queue": queue} if queue else {}),
    )
    if args.action == "work":
        from hypernas.campaign.work import work

        if not args.work_item:
            raise ConfigError("campaign work needs a queue item")
        logging.getLogger().setLevel(logging.INFO)
        return work(cc, QueueItem.parse(args.work_item))
    if args.action == "start":
        st = engine.start(cc)
        verb = "already running" if st["already_running"] else "started"
        print(
            f"campaign {verb}: Snakemake pid {st.get('pid')}, commit {st.get('commit')}; "
            f"`hypernas campaign status` shows where it stands"
        )
        return 0
    if args.action == "stop":
        if not finite(args.wait) or args.wait < 0:
            raise ConfigError("--wait must be a finite number of seconds >= 0")
        stopped = engine.stop(cc, args.wait)
        print("campaign stopped after its workers checkpointed" if stopped else "no campaign is running")
        return 0
    from hypernas.campaign import status as campaign_status

    st = campaign_status.status(cc)
    print(json_text(st) if args.json else campaign_status.format_status(st))
    return 0


COMMANDS = {
    "baseline": cmd_baseline,
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
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed or full stdout fails here, inside the error boundary
        return code
    except HyperNASError as exc:
        return _fail(str(exc))
    except BrokenPipeError:
        _silence_stdout()
        return _fail("the output was closed before everything was written (broken pipe)")
    except OSError as exc:  # the user's paths and devices: permission, read-only, not a directory, full
        return _fail(_os_error_line(exc))
    except KeyboardInterrupt:
        sys.stderr.write("hypernas: interrupted; the last finished epoch is saved, continue with --resume\n")
        return 130


def _fail(message: str) -> int:
    sys.stderr.write(f"hypernas: error: {message}\n")
    return EXIT_USAGE


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _os_error_line(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    if exc.filename is None and exc.errno in (errno.ENOSPC, errno.EIO):
        _silence_stdout()
        reason = "no space left on the device" if exc.errno == errno.ENOSPC else (exc.strerror or "").lower()
        return f"cannot write the output: {reason}; send it where there is room"
    return f"cannot use{where}: {write_problem(exc)}"


if __name__ == "__main__":
    sys.exit(main())
