"""Bring a results folder written by earlier code to today's layout, without recomputing a number.

    python scripts/migrate_results.py results/quick results/paper

``results/quick`` and ``results/paper`` were migrated with this script once; it stays for results
that older code still writes (a campaign started before the change) and does nothing to a folder
already migrated.

* Every stored config gets all of today's keys and today's hash (``SearchConfig.hash`` now covers
  every key; earlier code left out ``ref_layout`` and ``rbf_sign`` while they kept the values of its
  first results). Each stored hash is first checked against the hash that code computed for the
  config, so nothing is relabelled that was not made with it.
* Data-source labels lose the machine's path ("Fashion-MNIST (offline IDX copy)").
* The sweep files ``<experiment>-kappa*.json`` become records of ``sweeps/<experiment>.jsonl`` (full
  config, hash, provenance, A-D and the curves; not the family grid, which no sweep table reads) and
  are removed.
* ``theorem.json`` (its two searches) and ``latency.json`` (the trained family in its cache key) get
  the new hashes of their configs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

from hypernas.io import read_json, write_json
from hypernas.pipeline.experiment import read_sweep, sweep_file, sweep_record, write_sweep
from hypernas.pipeline.theorem_study import comparison_config
from hypernas.pipeline.upgrade import clean_source, upgrade_result
from hypernas.train.config import SearchConfig
from hypernas.train.presets import resolve

SWEEP_FILE = re.compile(r"^(exp\d+)-kappa.*\.json$")
# The keys earlier code left out of the hash while they held these values.
_LEFT_OUT = {"ref_layout": "lattice", "rbf_sign": -1.0}


def earlier_hash(cfg: SearchConfig) -> str:
    """The config hash of the code before this change (for the check only)."""
    d = {k: v for k, v in cfg.to_dict().items() if k not in _LEFT_OUT or _LEFT_OUT[k] != v}
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def checked(stored: str, cfg: SearchConfig, what: str) -> str:
    """Today's hash of ``cfg`` once ``stored`` is known to be its hash (earlier or today's)."""
    if stored not in (earlier_hash(cfg), cfg.hash()):
        sys.exit(f"{what}: the stored hash {stored} is not that of its config; nothing was changed there")
    return cfg.hash()


def migrate(folder: Path) -> list[str]:
    notes, sweeps = [], {}
    for path in sorted(folder.glob("*.json")):
        data = read_json(path)
        if path.name == "theorem.json":
            for relaxation, c in data.get("relaxation_comparison", {}).items():
                cfg = comparison_config(data["profile"], relaxation, data["seed"])
                c["config_hash"] = checked(c["config_hash"], cfg, f"{path} ({relaxation})")
            write_json(path, data)
        elif path.name == "latency.json":
            key = data["cache_key"]
            cfg = resolve("exp1", data["profile"], {"seed": "0"})
            key["family_config_hash"] = checked(key["family_config_hash"], cfg, str(path))
            data["provenance"]["data_source"] = clean_source(data["provenance"]["data_source"])
            write_json(path, data)
        elif "config" in data and "architectures" in data:
            checked(data["config_hash"], SearchConfig.from_dict(data["config"]), str(path))
            result = upgrade_result(data)
            if SWEEP_FILE.match(path.name):
                sweeps.setdefault(result["experiment"], []).append((path, sweep_record(result)))
                continue
            write_json(path, result)
        else:
            continue
        notes.append(f"{path}: rewritten")
    for experiment, items in sweeps.items():
        out = sweep_file(folder, experiment)
        names = {record["name"] for _, record in items}
        kept = [r for r in read_sweep(out) if r["name"] not in names]
        write_sweep(out, kept + [record for _, record in items])
        for path, _ in items:
            path.unlink()
        notes.append(f"{out}: {len(items)} sweep runs from {experiment}-kappa*.json (files removed)")
    return notes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", type=Path)
    args = ap.parse_args(argv)
    for folder in args.folders:
        for note in migrate(folder):
            print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
