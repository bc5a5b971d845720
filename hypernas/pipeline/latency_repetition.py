"""``python -m hypernas.pipeline.latency_repetition``: one repetition of the latency study, in the
fresh process that :func:`hypernas.pipeline.latency_study.run_latency_study` starts for it, written as
JSON to ``--out``."""

from __future__ import annotations

import argparse
import sys

from hypernas.device.runtime import RUNTIMES
from hypernas.io import write_json
from hypernas.pipeline.latency_study import run_repetition


def main(argv: list[str] | None = None) -> int:
    """Run one repetition with the arguments of ``argv`` and write it to ``--out``."""
    p = argparse.ArgumentParser(description="one repetition of the latency study (see run_latency_study)")
    p.add_argument("--profile", default="quick")
    p.add_argument("--runtime", default="torch", choices=RUNTIMES)
    p.add_argument("--repetition", type=int, default=0)
    p.add_argument("--budgets", default=None, help="comma-separated budgets in ms (default: derived)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", default=None)
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    budgets = [float(b) for b in args.budgets.split(",")] if args.budgets else None
    rep = run_repetition(
        args.profile,
        args.runtime,
        args.repetition,
        budgets,
        seed=args.seed,
        data_root=args.data_root,
        runs_dir=args.runs_dir,
        threads=args.threads,
    )
    write_json(args.out, rep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
