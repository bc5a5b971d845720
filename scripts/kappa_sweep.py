"""Search one experiment under several penalty weights kappa (and seeds), everything else equal.

    python scripts/kappa_sweep.py exp1 --kappa 1 3 10 --profile quick
    python scripts/kappa_sweep.py exp1 --kappa 0.3 --relaxation softmax
    python scripts/kappa_sweep.py exp1 --kappa 0.3 --seed 1 2
    python scripts/kappa_sweep.py exp1 --kappa 0.3 --set epochs=10
    python scripts/kappa_sweep.py exp1 --remake-dirty

Each run is a record of ``results/<profile>/sweeps/<experiment>.jsonl`` with its full config, found
again by its config hash (a run already there is not repeated); it is named
``<experiment>-kappa<value>[-<relaxation>][-<key><value>...][-seed<n>]``, as is its run directory
``runs/<profile>/<name>-<hash>``. The experiment and summary chapters list the records beside their own run.
``--remake-dirty`` runs again, from the code checked out now, every record whose commit is marked
``-dirty`` (made with uncommitted changes), with the same config; each record is replaced only once
its new run has finished.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import logging
import sys
import time

from hypernas.errors import HyperNASError
from hypernas.pipeline.experiment import read_sweep, run_sweep, sweep_file
from hypernas.report.claims import counts_text
from hypernas.train.presets import resolve


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiment")
    ap.add_argument("--kappa", type=float, nargs="+")
    ap.add_argument(
        "--remake-dirty", action="store_true", help="run again the records made from uncommitted code"
    )
    ap.add_argument(
        "--relaxation",
        default=None,
        choices=["softmax_t", "softmax", "sample"],
        help="Cost relaxation (default: the profile's)",
    )
    ap.add_argument(
        "--seed", type=int, nargs="+", default=[None], help="seeds to run (default: the profile's seed, 0)"
    )
    ap.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="other config overrides, e.g. epochs=10 (added to the run's name)",
    )
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--results", default=None, help="results folder (default results/<profile>)")
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--data-root", default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results = args.results or f"results/{args.profile}"
    if args.remake_dirty:
        return remake_dirty(args.experiment, args.profile, results, args.runs, args.data_root)
    if not args.kappa:
        ap.error("give --kappa (or --remake-dirty)")
    for kappa, seed in itertools.product(args.kappa, args.seed):
        tic = time.perf_counter()
        overrides, name = {"kappa": kappa}, f"{args.experiment}-kappa{kappa:g}"
        if args.relaxation:
            overrides["cost_relaxation"] = args.relaxation
            name += f"-{args.relaxation}"
        for item in args.set:
            k, sep, v = item.partition("=")
            if not sep or not k:
                ap.error(f"--set takes KEY=VALUE, got {item!r}")
            overrides[k] = v
            name += f"-{k}{v}"
        if seed is not None:
            name += f"-seed{seed}"
        try:
            r = run_sweep(
                args.experiment,
                name,
                args.profile,
                seed=seed or 0,
                data_root=args.data_root,
                results_dir=results,
                runs_dir=args.runs,
                overrides=overrides,
            )
        except HyperNASError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        counts = {n: counts_text(a.group_counts) for n, a in r.architectures.items()}
        print(f"{name}: A-D pool/conv/identity {counts} ({time.perf_counter() - tic:.0f} s)", flush=True)
    return 0


def remake_dirty(experiment: str, profile: str, results: str, runs: str, data_root) -> int:
    """Run again each record of ``experiment``'s sweep whose commit is marked dirty, same config."""
    dirty = [r for r in read_sweep(sweep_file(results, experiment)) if r.provenance.commit.endswith("-dirty")]
    print(f"{experiment}: {len(dirty)} records made from uncommitted code", flush=True)
    for old in dirty:
        tic = time.perf_counter()
        config = dataclasses.asdict(old.config)
        seed = config["seed"]
        base = dataclasses.asdict(resolve(experiment, profile, {"seed": seed}))
        overrides = {k: v for k, v in config.items() if k != "seed" and base.get(k) != v}
        if resolve(experiment, profile, {**overrides, "seed": seed}).hash() != old.config_hash:
            print(
                f"error: {old.name}: today's code cannot rebuild its config; run it by hand", file=sys.stderr
            )
            return 2
        try:
            new = run_sweep(
                experiment,
                old.name,
                profile,
                seed=seed,
                data_root=data_root,
                results_dir=results,
                runs_dir=runs,
                overrides=overrides,
                force=True,
            )
        except HyperNASError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        counts = {n: counts_text(a.group_counts) for n, a in new.architectures.items()}
        print(
            f"{old.name}: remade at {new.provenance.commit}, A-D {counts} ({time.perf_counter() - tic:.0f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
