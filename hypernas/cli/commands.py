"""What each command does: read its parsed arguments, call :mod:`hypernas.api` (the campaign:
:mod:`hypernas.campaign.engine`), print the answer."""

from __future__ import annotations

import json
import logging
import os
import sys

from hypernas import api
from hypernas.errors import ConfigError
from hypernas.io import finite, json_text
from hypernas.train.checkpoint import run_config
from hypernas.train.config import parse_set
from hypernas.train.stopping import EXIT_STOPPED, Interrupted, stop_on_sigterm


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
                dataset=args.dataset,
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
    experiment, overrides, dataset = args.experiment, parse_set(args.set), args.dataset
    if args.like is not None:  # the search space of a run: its preset, ops, cell sizes and dataset
        cfg = run_config(args.like)
        space_keys = ("ops", "init_channels", "layers", "nodes", "stem_multiplier")
        experiment, dataset = cfg.experiment, dataset or cfg.dataset
        overrides = {**{k: getattr(cfg, k) for k in space_keys}, **overrides}
    lut = api.measure_lut(
        experiment,
        overrides=overrides,
        dataset=dataset,
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


def _part(text: str | None) -> tuple[int, int] | None:
    """``--part K/N`` as (K, N)."""
    if text is None:
        return None
    k, sep, n = text.partition("/")
    if not (sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise ConfigError(f"--part expects K/N with 1 <= K <= N (e.g. 1/2), got {text!r}")
    return int(k), int(n)


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
    part = _part(args.part)
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
        part=part,
    )
    if part is not None:
        print(json_text({"part": result["part"], "measurements": len(result["measurements"])}))
        return 0
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
