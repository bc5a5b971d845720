"""The stored results: reading a result file, and finding a profile's or the paper scale's results."""

from __future__ import annotations

from pathlib import Path

from hypernas.io import read_record
from hypernas.train.presets import SETTINGS, resolve, result_name

RESULT_FIX = "delete it and make it again (its chapter, or `make paper`, re-runs the experiment)"


def paper_result(results_dir: str | Path, experiment: str, setting: str) -> dict | None:
    """The finished paper-scale result of ``experiment`` under ``setting``, or None.

    A file made with another config than today's paper profile (an earlier run) is not returned.
    """
    path = Path(results_dir) / f"{result_name(experiment, setting)}.json"
    if not path.is_file():
        return None
    result = read_result(path)
    wanted = resolve(experiment, "paper", SETTINGS[setting]).hash()
    return result if result.get("config_hash") == wanted else None


def read_if_present(path: str | Path) -> dict | None:
    """A stored result, or None when the file does not exist."""
    path = Path(path)
    return read_result(path) if path.is_file() else None


def read_result(path: str | Path) -> dict:
    """A stored result JSON, checked to be a record (:class:`~hypernas.errors.ArtefactError` if not)."""
    return read_record(path, "result", RESULT_FIX)


def profile_results(results_dir: str | Path, experiments=("exp1", "exp2", "exp3")) -> dict[str, dict]:
    """The main results ``<experiment>.json`` present in ``results_dir``, by experiment."""
    found = {e: read_if_present(Path(results_dir) / f"{e}.json") for e in experiments}
    return {e: r for e, r in found.items() if r is not None}


def paper_results(
    results_dir: str | Path, experiments=("exp1", "exp2", "exp3")
) -> dict[str, dict[str, dict]]:
    """The finished paper-scale results (:func:`paper_result`), by setting, then by experiment."""
    return {
        setting: {e: r for e in experiments if (r := paper_result(results_dir, e, setting)) is not None}
        for setting in SETTINGS
    }
