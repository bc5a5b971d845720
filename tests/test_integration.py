"""End to end on the real Fashion-MNIST: the smoke search, and a real kill + resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def test_killed_search_resumes_to_the_same_numbers(tmp_path, data_root):
    common = [
        "exp1",
        "--profile",
        "smoke",
        "--set",
        "train_subset=640",
        "--set",
        "epochs=3",
        "--data-root",
        str(data_root),
        "--no-progress",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    full = subprocess.run(
        [sys.executable, "-m", "hypernas", "search", *common, "--out", str(tmp_path / "full")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert full.returncode == 0, full.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hypernas", "search", *common, "--out", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    while not (out / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # kill in the middle of the second epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (out / "checkpoint.pt").exists() and not (out / "search.json").exists()
    resumed = subprocess.run(
        [sys.executable, "-m", "hypernas", "search", *common, "--out", str(out), "--resume"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert resumed.returncode == 0, resumed.stderr
    a, b = json.loads(full.stdout), json.loads(resumed.stdout)
    assert a["final_loss"] == b["final_loss"] and a["val_acc_centre"] == b["val_acc_centre"]
    assert not list(Path(out).glob(".*.tmp")), "a temporary file was left behind"
