"""End to end on the real Fashion-MNIST: the smoke search and its artefacts (a real SIGKILL and
resume: ``test_campaign.py``)."""

import json

import pytest

from hypernas.train.run import load_run


def test_smoke_search_artifacts(smoke_run):
    summary = json.loads((smoke_run / "search.json").read_text())
    assert summary["finished"] and summary["epochs_done"] == 2
    assert summary["provenance"]["data_source"].startswith("Fashion-MNIST")
    lines = (smoke_run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2
    m = json.loads(lines[-1])
    assert m["ce"] < 2.4 and m["t"] == pytest.approx(0.2)
    run = load_run(smoke_run)
    assert run.config.experiment == "exp1" and run.config.profile == "smoke"
