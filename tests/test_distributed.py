"""torchrun with 2 CPU processes (gloo): ranks agree, the result matches one process, resume across world sizes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hypernas.train.run import load_family

COMMON = ["exp1", "--profile", "smoke", "--set", "train_subset=256", "--no-progress"]


def torchrun(n, *args, port):
    exe = Path(sys.executable).parent / "torchrun"
    if not exe.exists():
        pytest.skip("torchrun not found next to the interpreter")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [str(exe), "--nproc_per_node", str(n), "--master_port", str(port), "-m", "hypernas", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def single(*args):
    return subprocess.run(
        [sys.executable, "-m", "hypernas", *args], capture_output=True, text=True, timeout=600
    )


def last_json(text):
    return json.loads(text[text.index("{") :])


@pytest.mark.slow
def test_two_processes_agree_with_one(tmp_path, data_root):
    d = ["--data-root", str(data_root)]
    two = torchrun(2, "search", *COMMON, *d, "--out", str(tmp_path / "two"), port=29611)
    assert two.returncode == 0, two.stderr[-2000:]
    one = single("search", *COMMON, *d, "--out", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr[-2000:]
    a, b = last_json(two.stdout), last_json(one.stdout)
    assert a["distributed"]["world_size"] == 2 and a["distributed"]["ranks_agree"]
    # same data, s and noise; only BatchNorm batch statistics (per-rank halves) differ
    assert a["final_loss"] == pytest.approx(b["final_loss"], rel=0.02)
    ha = load_family(tmp_path / "two").hypernet.alpha_ref
    hb = load_family(tmp_path / "one").hypernet.alpha_ref
    assert torch.allclose(ha, hb, atol=0.05)

    # resume with another world size: 1 epoch on 2 processes, then the rest on 1 process
    part = torchrun(
        2, "search", *COMMON, *d, "--out", str(tmp_path / "mixed"), "--max-epochs", "1", port=29612
    )
    assert part.returncode == 0, part.stderr[-2000:]
    assert not (tmp_path / "mixed" / "search.json").exists()
    rest = single("search", *COMMON, *d, "--out", str(tmp_path / "mixed"), "--resume")
    assert rest.returncode == 0, rest.stderr[-2000:]
    assert last_json(rest.stdout)["final_loss"] == pytest.approx(b["final_loss"], rel=0.02)
