"""End to end on the real Fashion-MNIST: the smoke search and its artefacts (a real SIGKILL and
resume: ``test_campaign.py``)."""

import json
import math

import pytest

from hypernas.train.run import load_family


def test_smoke_search_artifacts(smoke_run):
    summary = json.loads((smoke_run / "search.json").read_text())
    assert summary["finished"] and summary["epochs_done"] == 2
    assert summary["provenance"]["data_source"].startswith("Fashion-MNIST")
    lines = (smoke_run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2
    first, m = json.loads(lines[0]), json.loads(lines[-1])
    # an untrained net's cross-entropy is ln 10 = 2.303; two epochs bring it clearly below (2.06 here)
    assert m["ce"] < math.log(10) - 0.1 and m["ce"] < first["ce"] and m["t"] == pytest.approx(0.2)
    run = load_family(smoke_run)
    assert run.config.experiment == "exp1" and run.config.profile == "smoke"
