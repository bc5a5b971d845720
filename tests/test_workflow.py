"""The queue on Snakemake (workflow/Snakefile): which items it runs, and a SIGKILL of the engine in
the middle of a search, then a restart, ends in the same numbers as an uninterrupted queue."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from test_campaign import position  # where a search's checkpoint stands

from hypernas.campaign.queue import CampaignConfig, item_hash, run_dir, superseded
from hypernas.pipeline.items import QueueItem
from hypernas.train.run import load_family

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
pytestmark = pytest.mark.skipif(
    not SNAKEMAKE.exists(), reason="snakemake is not installed (the workflow extra)"
)


def snakemake(workdir: Path, data_root: Path, *config: str, extra: tuple[str, ...] = (), **kw):
    env = {**os.environ, "HYPERNAS_DATA": str(data_root), "HYPERNAS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [
        str(SNAKEMAKE),
        "-s",
        str(SNAKEFILE),
        "-d",
        str(workdir),
        "--cores",
        "2",
        *extra,
        "--config",
        *config,
    ]
    return subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        **kw,
    )


def planned_jobs(output: str) -> dict[str, int]:
    """The job counts of a dry run's 'Job stats' table."""
    lines = output.split("Job stats:")[1].splitlines()[3:]
    jobs = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        jobs[parts[0]] = int(parts[1])
    return jobs


def test_the_workflow_plans_what_is_not_done(tmp_path, data_root):
    """A finished item is not run again; a baseline study waits for its searches; once the study is
    done, its searches are not needed, so a lost run directory is not searched again."""
    results = tmp_path / "results"
    results.mkdir()
    (results / "exp1-seed1.json").write_text("{}")  # the target exists: done, whatever its age
    (results / "exp1.json").write_text("{}")  # the study's main experiment, not queued here
    searches = ["exp1:default:search", *(f"exp1:default:separate{a}" for a in "ABCD")]
    parts = ["exp1:default:baselines1of2", "exp1:default:baselines2of2"]
    items = ["exp1:default:seed1", "exp1:default:seed2", *searches, *parts, "exp1:default:baselines"]
    common = (
        "profile=smoke",
        f"items={','.join(items)}",
        f"runs_dir={tmp_path / 'runs'}",
        f"results_dir={results}",
    )
    proc = snakemake(tmp_path, data_root, *common, extra=("-n",))
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-2000:]
    separate = {f"exp1_separate{a}": 1 for a in "ABCD"}
    assert planned_jobs(out) == {
        "exp1_seed2": 1,
        "exp1_search": 1,
        **separate,
        "exp1_baselines_part1of2": 1,
        "exp1_baselines_part2of2": 1,
        "exp1_baselines": 1,
        "all": 1,
        "total": 10,
    }

    cc = CampaignConfig("smoke", str(tmp_path / "runs"), str(results), workers=1, queue=items)
    study = QueueItem.parse("exp1:default:baselines")
    assert not any(superseded(cc, QueueItem.parse(s)) for s in searches + parts)
    (results / "exp1-baselines.json").write_text(json.dumps({"config_hash": item_hash(study, "smoke")}))
    assert all(superseded(cc, QueueItem.parse(s)) for s in searches + parts)
    assert not superseded(cc, QueueItem.parse("exp1:default:seed2"))  # not a search alone
    (results / "exp1-baselines.json").write_text(json.dumps({"config_hash": "0" * 12}))  # another config's
    assert not any(superseded(cc, QueueItem.parse(s)) for s in searches)


@pytest.mark.slow
def test_engine_killed_mid_search_then_restarted_gives_the_same_numbers(tmp_path, data_root):
    item = "exp1:default:separateA"
    target_dir = run_dir(
        CampaignConfig("smoke", str(tmp_path / "b" / "runs"), workers=1), QueueItem.parse(item)
    )

    def config(name: str) -> tuple[str, ...]:
        return (
            "profile=smoke",
            f"items={item}",
            f"runs_dir={tmp_path / name / 'runs'}",
            f"results_dir={tmp_path / name / 'results'}",
            "checkpoint_every=0.001",
        )

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    full = snakemake(tmp_path / "a", data_root, *config("a"))
    part = snakemake(tmp_path / "b", data_root, *config("b"))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        pos = position(target_dir)
        if pos is not None and pos[0] >= 1 and pos[1] >= 2:  # inside an epoch after the first
            os.killpg(part.pid, signal.SIGKILL)  # the engine and its job, at once
            break
        if part.poll() is not None:
            pytest.fail(
                "the queue ended before it could be killed mid-epoch: " + part.communicate()[0][-1500:]
            )
        time.sleep(0.05)
    part.wait()
    assert part.returncode == -signal.SIGKILL
    assert not (target_dir / "search.json").exists()
    # a killed engine leaves its lock behind: unlock, then run the same command again
    subprocess.run([str(SNAKEMAKE), "-s", str(SNAKEFILE), "-d", str(tmp_path / "b"), "--unlock"], check=True,
                   capture_output=True)  # fmt: skip
    resumed = snakemake(tmp_path / "b", data_root, *config("b"))
    out, _ = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, out[-2000:]
    out, _ = full.communicate(timeout=900)
    assert full.returncode == 0, out[-2000:]
    a_dir = run_dir(CampaignConfig("smoke", str(tmp_path / "a" / "runs"), workers=1), QueueItem.parse(item))
    a, b = load_family(a_dir), load_family(target_dir)
    for x, y in ((a.supernet, b.supernet), (a.hypernet, b.hypernet)):
        sa, sb = x.state_dict(), y.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    segments = json.loads((target_dir / "search.json").read_text())["provenance"]["segments"]
    assert len(segments) == 2, "the restarted search continued from the kill's checkpoint"
