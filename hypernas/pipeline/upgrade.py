"""Results written by earlier code, brought to today's format without recomputing a number.

Earlier code stored configs without the keys added since (``SearchConfig.from_dict`` knows the
values those runs were made with), computed a config hash that left such keys out, and labelled
offline data with the machine's path. :func:`upgrade_result` rewrites a result dict with its full
config, today's hash of that config and a data label without a path; everything measured stays as
it is. ``scripts/migrate_results.py`` applies it to a results folder, and ``hypernas campaign start``
to the campaign's own results.
"""

from __future__ import annotations

import re

from hypernas.train.config import SearchConfig

_PATH_IN_LABEL = re.compile(r" from /[^)]*(?=\))")


def clean_source(label: str) -> str:
    """A data-source label without a machine path: ``Fashion-MNIST (offline IDX copy from /x/y)``
    becomes ``Fashion-MNIST (offline IDX copy)``."""
    return _PATH_IN_LABEL.sub("", label)


def upgrade_result(result: dict) -> dict:
    """``result`` with every config key, today's ``config_hash`` and a path-free data-source label."""
    cfg = SearchConfig.from_dict(result["config"])
    out = {**result, "config_hash": cfg.hash(), "config": cfg.to_dict()}
    prov = result.get("provenance")
    if isinstance(prov, dict) and isinstance(prov.get("data_source"), str):
        out["provenance"] = {**prov, "data_source": clean_source(prov["data_source"])}
    return out
