"""Command line: ``hypernas search | derive | evaluate | latency | select | export | baseline | campaign``.

Each command parses its arguments and calls :mod:`hypernas.api` (the campaign: :mod:`hypernas.campaign.engine`).
Every error a user can cause prints one line to stderr and exits with status 2.
"""

from __future__ import annotations

import errno
import logging
import os
import sys

from hypernas.cli.commands import COMMANDS
from hypernas.cli.imports import import_user_modules
from hypernas.cli.parser import EXIT_USAGE, build_parser
from hypernas.errors import HyperNASError
from hypernas.io import write_problem

__all__ = ["EXIT_USAGE", "build_parser", "main"]


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
        import_user_modules(args.imports)
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
