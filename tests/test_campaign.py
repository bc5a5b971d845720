"""The paper-scale campaign's machinery at smoke scale: exact resume after a SIGKILL mid-epoch,
and a background campaign that reports where it stands, stops cleanly and resumes to its result."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hypernas import provenance
from hypernas.pipeline.items import QueueItem
from hypernas.train.run import load_family

SMALL = [
    "exp1",
    "--profile",
    "smoke",
    "--set",
    "train_subset=640",
    "--set",
    "val_subset=128",
    "--set",
    "test_subset=128",
    "--no-progress",
]


def hypernas(*args, data_root, env=None, **kw):
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HYPERNAS_DATA": str(data_root),
        "HYPERNAS_OFFLINE": "1",
        **(env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "hypernas", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def position(run_dir):
    try:
        ck = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    except (OSError, RuntimeError, EOFError):
        return None
    return ck["epoch"], ck["step"]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_gives_the_same_numbers(tmp_path, data_root):
    full = hypernas("search", *SMALL, "--out", str(tmp_path / "full"), data_root=data_root)
    part = hypernas(
        "search", *SMALL, "--out", str(tmp_path / "part"), "--checkpoint-every", "0", data_root=data_root
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        pos = position(tmp_path / "part")
        if pos is not None and pos[0] == 1 and 2 <= pos[1] <= 7:  # inside the second of two 10-step epochs
            part.send_signal(signal.SIGKILL)
            break
        if part.poll() is not None:
            pytest.fail(
                f"the search ended (status {part.returncode}) before it could be killed mid-epoch: "
                + part.communicate()[1][-1500:]
            )
        time.sleep(0.05)
    part.wait()
    assert part.returncode == -signal.SIGKILL
    epoch, step = position(tmp_path / "part")
    assert epoch == 1 and step > 0, "the checkpoint left by the kill lies inside an epoch"
    resumed = hypernas("search", *SMALL, "--out", str(tmp_path / "part"), "--resume", data_root=data_root)
    out_resumed, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-2000:]
    out_full, err = full.communicate(timeout=600)
    assert full.returncode == 0, err[-2000:]
    assert json.loads(out_resumed)["final_loss"] == json.loads(out_full)["final_loss"]
    a, b = load_family(tmp_path / "full"), load_family(tmp_path / "part")
    for x, y in ((a.supernet, b.supernet), (a.hypernet, b.hypernet)):
        sa, sb = x.state_dict(), y.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    segments = json.loads((tmp_path / "part" / "search.json").read_text())["provenance"]["segments"]
    assert [s["from"] for s in segments] == [[0, 0], [epoch, step]] and segments[-1]["to"] == [2, 0]
    assert not list((tmp_path / "part").glob(".*.tmp")), "the kill left a temporary file behind"


@pytest.mark.slow
def test_campaign_reports_stops_and_resumes(tmp_path, data_root):
    common = [
        "--profile",
        "smoke",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--results-dir",
        str(tmp_path / "results"),
        "--item",
        "exp1:rebalanced",
        "--workers",
        "1",
        "--checkpoint-every",
        "2",
    ]

    def cli(*args):
        proc = hypernas("campaign", *args, *common, data_root=data_root)
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-2000:]
        return out

    def status():
        return json.loads(cli("status", "--json"))

    assert status()["engine"]["state"] == "never started"
    assert "started" in cli("start")
    deadline, row = time.monotonic() + 600, {}
    while time.monotonic() < deadline:  # each status call is a new process: it may first see the evaluation
        st = status()
        row = st["runs"][0]
        if row["state"] in ("searching", "evaluating"):
            break
        time.sleep(0.5)
    assert st["engine"]["alive"] and row["state"] in ("searching", "evaluating")
    if row["state"] == "searching":
        assert row["epochs"] == 2 and 0 <= row["step"] <= row["steps_per_epoch"] and row["images_per_s"] >= 0
    else:
        assert row["measured"] >= 1 and row["measurement"]
    assert "exp1-rebalanced" in cli("status")  # the table a person reads
    assert "stopped" in cli("stop")
    st = status()
    assert not st["engine"]["alive"] and st["engine"]["state"] == "stopped"
    assert st["runs"][0]["state"] in ("stopped", "paused", "searched", "done")
    assert "already" not in cli("start")
    while time.monotonic() < deadline + 600 and status()["engine"]["alive"]:
        time.sleep(1.0)
    st = status()
    assert st["engine"]["state"] == "finished" and st["runs"][0]["state"] == "done"
    result = json.loads((tmp_path / "results" / "exp1-rebalanced.json").read_text())
    assert result["config"]["kappa"] == 0.3 and set(result["architectures"]) == {"A", "B", "C", "D"}
    assert len(result["provenance"]["search_segments"]) >= 1


@pytest.mark.slow
def test_a_campaign_worker_continues_a_search_where_it_stands(tmp_path, data_root):
    """A search of a queue item stopped after one of its two epochs is continued by the worker, never
    started over: the finished search records both segments. (The search-alone item: its target is
    the search's summary, so no evaluation runs; the whole study is in the test above.)"""
    from hypernas.campaign import queue
    from hypernas.campaign import status as campaign_status
    from hypernas.train.search import run_search

    runs, results = tmp_path / "runs", tmp_path / "results"
    cc = queue.CampaignConfig(
        profile="smoke",
        runs_dir=str(runs),
        results_dir=str(results),
        workers=1,
        queue=["exp1:rebalanced:search"],
    )
    item = QueueItem.parse("exp1:rebalanced:search")
    run_dir = queue.run_dir(cc, item)
    run_search(queue.item_config(item, "smoke"), run_dir, data_root, progress=False, max_epochs=1)
    assert campaign_status.status(cc)["runs"][0]["epoch"] == 1

    common = ["--profile", "smoke", "--runs-dir", str(runs), "--results-dir", str(results), "--workers", "1"]
    proc = hypernas("campaign", "work", "exp1:rebalanced:search", *common, data_root=data_root)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-2000:]
    summary = json.loads(queue.target(cc, item).read_text())
    assert [seg["from"] for seg in summary["provenance"]["segments"]] == [[0, 0], [1, 0]]
    assert queue.is_done(cc, item)


@pytest.mark.slow
def test_campaign_refuses_bad_input(tmp_path, data_root):
    for args, words in (
        (["--item", "exp1:fast"], "unknown setting"),
        (["--item", "exp1"], "EXPERIMENT:SETTING"),
        (["--item", "exp1:printed:seedx"], "unknown part"),
        (["--item", "exp1:printed:baselines3of2"], "1 <= K <= N"),
        (["--item", "exp9:printed"], "unknown experiment"),
        (["--workers", "0"], ">= 1"),
        (["--item", "exp1:printed", "--item", "exp1:printed"], "twice"),
        (["--device", "tpu9"], "unknown device"),
        *([] if torch.cuda.is_available() else [(["--device", "cuda"], "no CUDA GPU")]),
    ):
        proc = hypernas("campaign", "status", "--runs-dir", str(tmp_path), *args, data_root=data_root)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 2 and words in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.slow
def test_campaign_start_reports_missing_data(tmp_path):
    """A dataset that cannot be found stops `start` with the data layer's one-line error, and the
    status keeps it, instead of a campaign that says 'started' and dies in its log."""
    from hypernas.data.datasets import DEBIAN_DATASETS

    if (DEBIAN_DATASETS / "fashion-mnist").exists():
        pytest.skip("this machine has Debian's Fashion-MNIST, so the data cannot be missing")
    common = ["--profile", "smoke", "--runs-dir", str(tmp_path / "runs"), "--item", "exp1:rebalanced"]
    no_data = {"data_root": tmp_path / "no-data", "env": {"HYPERNAS_OFFLINE_DIRS": str(tmp_path / "none")}}
    proc = hypernas("campaign", "start", *common, **no_data)
    _, err = proc.communicate(timeout=300)
    # (a working tree with uncommitted changes adds a warning that the campaign runs the last commit)
    errors = [line for line in err.strip().splitlines() if " WARNING " not in line]
    assert proc.returncode == 2 and len(errors) == 1, err
    assert "could not start: Fashion-MNIST not found" in err and "Fix:" in err
    proc = hypernas("campaign", "status", *common, **no_data)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "last state failed" in out and "error: Fashion-MNIST not found" in out


def test_retraining_resumes_from_its_checkpoint(tmp_path, fmnist, monkeypatch):
    import threading

    from hypernas import data
    from hypernas.provenance import hardware
    from hypernas.space.genotype import Genotype
    from hypernas.train.evaluate import retrain, retrain_history
    from hypernas.train.presets import resolve
    from hypernas.train.stopping import Interrupted

    cfg = resolve("exp1", "smoke")
    splits = data.make_splits(fmnist, 0.1, train_subset=192, val_subset=64, test_subset=128)
    ops = tuple(cfg.ops)
    g = Genotype(ops, tuple(ops[i % 3] for i in range(14)), tuple(ops[(i + 1) % 3] for i in range(14)))
    plain_acc, plain = retrain(g, cfg, splits, epochs=2)
    stop = threading.Event()
    stop.set()  # stops after the first step, keeping its state
    ckpt = tmp_path / "retrain.pt"
    with pytest.raises(Interrupted):
        retrain(g, cfg, splits, epochs=2, stop=stop, checkpoint=ckpt)
    assert torch.load(ckpt, weights_only=False)["step"] == 1
    earlier = retrain_history(ckpt)  # one step's time, on this machine
    assert earlier["hardware"] == [hardware("cpu")] and earlier["seconds"] > 0
    assert retrain_history(tmp_path / "none.pt") == {"seconds": 0.0, "hardware": []}
    monkeypatch.setattr("hypernas.train.evaluate.REPORT_EVERY_S", 0.0)
    reports = []  # where the resumed training stands, as the campaign's status reads it
    resumed_acc, resumed = retrain(
        g, cfg, splits, epochs=2, checkpoint=ckpt, checkpoint_every_s=0, report=reports.append
    )
    assert resumed_acc == plain_acc and not ckpt.exists()
    steps = [r["epoch"] * r["steps_per_epoch"] + r["step"] for r in reports]
    # where it resumed (step 1, no speed measured yet), then every step to the end
    assert steps == list(range(1, 2 * reports[0]["steps_per_epoch"] + 1))
    assert reports[0]["images_per_s"] == 0 and reports[0]["eta_s"] is None
    assert all(r["epochs"] == 2 and r["images_per_s"] > 0 for r in reports[1:]) and reports[-1]["eta_s"] == 0
    sa, sb = plain.state_dict(), resumed.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_commit_is_dirty_for_code_not_for_outputs(tmp_path, monkeypatch):
    """A changed result or executed chapter leaves the commit clean; a changed source file does not."""
    monkeypatch.delenv(provenance.COMMIT_ENV, raising=False)

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    for path in ("results/quick/exp1.json", "book/exp1.ipynb", "hypernas/step.py"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("0")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    head = provenance.git_commit(tmp_path)
    assert len(head) == 12 and not head.endswith("-dirty")
    (tmp_path / "results/quick/exp1.json").write_text("1")
    (tmp_path / "book/exp1.ipynb").write_text("1")
    assert provenance.git_commit(tmp_path) == head
    (tmp_path / "hypernas/step.py").write_text("1")
    assert provenance.git_commit(tmp_path) == head + "-dirty"


def test_campaign_leg_refuses_bad_input(tmp_path):
    """scripts/campaign_leg.sh (a leg of the queue on another machine) says what is wrong in one line."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "campaign_leg.sh"
    env = {**os.environ, "HYPERNAS_COMMIT": "0123456789ab"}
    for args, words in (
        ([], "usage"),
        (["run", "soon", str(tmp_path)], "whole number"),
        (["run", "5", str(tmp_path), "--runs-dir", "elsewhere"], "leave --runs-dir out"),
        (["unpack", str(tmp_path / "missing.tar.gz")], "no such archive"),
    ):
        proc = subprocess.run(
            ["bash", str(script), *args], capture_output=True, text=True, env=env, timeout=60
        )
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_status_shows_a_retraining_under_way():
    from hypernas.campaign.status import format_status

    row = {"name": "exp3-rebalanced", "state": "evaluating", "epoch": 2, "epochs": 10, "step": 120}
    row.update(
        steps_per_epoch=390, images_per_s=95.5, eta_s=9000, measured=5, measurement="retrain|epochs=10|x"
    )
    st = {
        "engine": {"alive": True, "pid": 1, "commit": "c", "started": "t", "state": "running"},
        "runs": [row],
    }
    line = format_status(st).splitlines()[2]
    assert line.split()[:6] == ["exp3-rebalanced", "evaluating", "2/10", "120/390", "95.5", "2h30m"], line
    assert "measurement 5: retrain|epochs=10|x" in line and "retraining under way" in format_status(st)


def test_status_names_a_failed_workers_error(tmp_path):
    """A worker that failed shows its error line in the status."""
    from hypernas.campaign.queue import CampaignConfig
    from hypernas.campaign.status import format_status, status
    from hypernas.campaign.work import worker_file

    cc = CampaignConfig(profile="smoke", runs_dir=str(tmp_path), queue=[["exp1", "rebalanced"]])
    run = tmp_path / "smoke" / "exp1-rebalanced-0"
    run.mkdir(parents=True)
    (run / "progress.json").write_text(json.dumps({"state": "searching", "epoch": 1, "epochs": 2}))
    worker_file(cc, "exp1-rebalanced").parent.mkdir()
    record = {"pid": 0, "state": "failed", "error": "loss became NaN at epoch 1; lower lr"}
    worker_file(cc, "exp1-rebalanced").write_text(json.dumps(record))
    with pytest.MonkeyPatch.context() as mp:  # the run directory this config would use
        mp.setattr("hypernas.campaign.status.run_dir", lambda *a: run)
        st = status(cc)
    assert st["runs"][0]["state"] == "failed"
    assert "worker failed: loss became NaN at epoch 1; lower lr" in format_status(st)


def test_queue_items_name_their_results_and_differ_only_by_seed():
    """An item's spec reads back, names its result, and a seed changes the search config, not its split."""
    items = [
        QueueItem.parse(t)
        for t in (
            "exp1:rebalanced",
            "exp1:rebalanced:seed2",
            "exp1:rebalanced:baselines",
            "exp1:rebalanced:baselines2of3:seed1",
        )
    ]
    assert [i.name for i in items] == [
        "exp1-rebalanced",
        "exp1-rebalanced-seed2",
        "exp1-rebalanced-baselines",
        "exp1-rebalanced-seed1-baselines-part2of3",
    ]
    assert [QueueItem.parse(i.spec()) for i in items] == items
    part = items[3]
    assert (
        part.whole() == QueueItem.parse("exp1:rebalanced:baselines:seed1")
        and part.depends_on() == part.whole().depends_on()
    )
    assert part.run_name == "exp1-rebalanced-seed1-baselines" and not items[2].is_part
    a, b = items[0].config("paper"), items[1].config("paper")
    assert (a.seed, b.seed) == (0, 2) and a.hash() != b.hash()
    assert {k: v for k, v in a.to_dict().items() if k != "seed"} == {
        k: v for k, v in b.to_dict().items() if k != "seed"
    }


def test_a_study_gathers_its_parts_and_what_is_queued_after_it_waits():
    """In the paper's queue the study's two parts wait for its searches only, the study for its
    parts, and the items queued after the study for the study (so its parts get both workers)."""
    from hypernas.campaign.queue import QUEUE, CampaignConfig, waits_for

    cc = CampaignConfig("paper", workers=1)
    q = QueueItem.parse
    searches = [
        q("exp1:rebalanced"),
        q("exp1:rebalanced:search"),
        *(q(f"exp1:rebalanced:separate{a}") for a in "ABCD"),
    ]
    parts = [q("exp1:rebalanced:baselines1of2"), q("exp1:rebalanced:baselines2of2")]
    assert all(p in cc.items for p in parts) and len(cc.items) == len(QUEUE)
    for part in parts:
        assert waits_for(cc, part) == searches
    assert waits_for(cc, q("exp1:rebalanced:baselines")) == searches + parts
    assert waits_for(cc, q("exp1:printed:seed1")) == [q("exp1:rebalanced:baselines")]
    assert waits_for(cc, q("exp1:rebalanced:seed2")) == []
