"""Determinism and exact resume of the search on the real Fashion-MNIST (small subsets)."""

import json

import pytest
import torch

from hypernas.space.genotype import derive
from hypernas.train.presets import resolve
from hypernas.train.run import load_family
from hypernas.train.search import run_search

TINY = {"train_subset": "256", "val_subset": "128", "test_subset": "128", "epochs": "3"}


def _genotypes(run_dir):
    run = load_family(run_dir)
    return [
        derive(run.hypernet, s, run.config.ops).key() for s in ([0.2, 0.3, 0.5], [0.6, 0.2, 0.2], [1 / 3] * 3)
    ]


@pytest.mark.slow
def test_same_seed_same_numbers(tmp_path, data_root):
    cfg = resolve("exp1", "smoke", TINY)
    a = run_search(cfg, tmp_path / "a", data_root, progress=False)
    b = run_search(cfg, tmp_path / "b", data_root, progress=False)
    assert a["final"]["loss"] == b["final"]["loss"]
    assert _genotypes(tmp_path / "a") == _genotypes(tmp_path / "b")
    c = run_search(resolve("exp1", "smoke", {**TINY, "seed": "1"}), tmp_path / "c", data_root, progress=False)
    assert c["final"]["loss"] != a["final"]["loss"]


@pytest.mark.slow
def test_resume_equals_uninterrupted(tmp_path, data_root):
    cfg = resolve("exp1", "smoke", TINY)
    full = run_search(cfg, tmp_path / "full", data_root, progress=False)
    part = run_search(cfg, tmp_path / "part", data_root, progress=False, max_epochs=1)
    assert not part["finished"] and part["epochs_done"] == 1
    assert not (tmp_path / "part" / "search.json").exists()
    resumed = run_search(cfg, tmp_path / "part", data_root, resume=True, progress=False)
    assert resumed["epochs_done"] == 3
    assert resumed["final"]["loss"] == full["final"]["loss"]
    sa = load_family(tmp_path / "full").hypernet.state_dict()
    sb = load_family(tmp_path / "part").hypernet.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    lines = (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_cpu_checkpoint_resumes_on_the_gpu(tmp_path, data_root):
    """A search checkpointed on the CPU goes on on cuda: the generators' states stay on the CPU."""
    cfg = resolve("exp1", "smoke", TINY)
    run_search(cfg, tmp_path / "run", data_root, progress=False, max_epochs=1, device="cpu")
    resumed = run_search(cfg, tmp_path / "run", data_root, resume=True, progress=False, device="cuda")
    assert resumed["epochs_done"] == 3
    hardware = [segment["hardware"] for segment in resumed["provenance"]["segments"]]
    assert "CUDA" not in hardware[0] and "CUDA" in hardware[1], hardware
