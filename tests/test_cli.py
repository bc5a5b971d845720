"""Every user error gets one line on stderr and exit status 2; derive/evaluate JSON is complete."""

import json
import subprocess
import sys

import pytest

from hypernas import data
from hypernas.cli import main
from hypernas.data import datasets
from hypernas.space.genotype import Genotype, derive
from hypernas.train.build import load_splits
from hypernas.train.evaluate import evaluate
from hypernas.train.presets import paper_s
from hypernas.train.run import load_family

PER_OP = {"normal_conv": 800, "reduce_conv": 11_968, "reduce_skip_stride2": 5_120}


def run_cli(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def assert_user_error(rc, err, *needles):
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], f"{n!r} not in {lines[0]!r}"


@pytest.mark.parametrize(
    "s,needle",
    [
        ("0.5,0.5", "k=3"),
        ("-0.2,0.6,0.6", "negative"),
        ("0.2,0.2,0.2", "--normalize"),
        ("a,b,c", "comma-separated"),
        ("nan,0.5,0.5", "NaN"),
    ],
)
def test_bad_s(capsys, smoke_run, s, needle):
    rc, _, err = run_cli(capsys, "derive", str(smoke_run), "--s", s)
    assert_user_error(rc, err, needle)


def test_normalize(capsys, smoke_run):
    rc, out, _ = run_cli(capsys, "derive", str(smoke_run), "--s", "1,1,5", "--normalize", "--json")
    assert rc == 0
    assert json.loads(out)["s"] == pytest.approx([1 / 7, 1 / 7, 5 / 7], abs=1e-6)


@pytest.mark.parametrize(
    "argv,needles",
    [
        (["search", "exp9", "--profile", "smoke", "--out", "X"], ["unknown experiment", "exp1"]),
        (["search", "exp1", "--profile", "quik", "--out", "X"], ["unknown profile", "quick"]),
        (
            ["search", "exp1", "--profile", "smoke", "--out", "X", "--set", "kapa=3"],
            ["unknown config key", "kappa"],
        ),
        (["search", "exp1", "--profile", "smoke", "--out", "X", "--set", "kappa=lots"], ["kappa", "float"]),
        (
            ["search", "exp1", "--profile", "smoke", "--out", "X", "--set", "ops=max_pool_3x3,sep_conv_7x7"],
            ["unknown operation", "sep_conv"],
        ),
        (
            ["search", "exp1", "--profile", "smoke", "--out", "X", "--set", "cost_relaxation=exact"],
            ["cost_relaxation"],
        ),
        (["search", "exp1", "--profile", "smoke", "--out", "X", "--set", "kappa"], ["key=value"]),
        (
            ["search", "exp1", "--profile", "smoke", "--out", "X", "--set", "ref_layout=random"],
            ["ref_layout", "random_per_node"],
        ),
        (["search", "exp1", "--profile", "smoke", "--out", "X", "--set", "rbf_sign=2"], ["rbf_sign", "-1"]),
        (["search", "exp1", "--profile", "smoke", "--out", "X", "--resume"], ["nothing to resume"]),
        (["derive", "no/such/run", "--s", "0.2,0.3,0.5"], ["does not exist"]),
        (["evaluate", "no/such/run", "--s", "0.2,0.3,0.5", "--protocol", "inherited"], ["does not exist"]),
        (["search"], ["experiment"]),
        (["baseline", "study", "exp1", "--profile", "smoke", "--part", "3/2"], ["--part", "1 <= K <= N"]),
    ],
)
def test_user_errors(capsys, tmp_path, monkeypatch, argv, needles):
    monkeypatch.chdir(tmp_path)
    rc, _, err = run_cli(capsys, *argv)
    assert_user_error(rc, err, *needles)
    assert not (tmp_path / "X").exists() or "--resume" in argv


def test_unknown_protocol(capsys, smoke_run):
    rc, _, err = run_cli(capsys, "evaluate", str(smoke_run), "--s", "0.2,0.3,0.5", "--protocol", "inherit")
    assert_user_error(rc, err, "unknown protocol", "inherited")


def test_existing_run_is_not_overwritten(capsys, smoke_run):
    before = (smoke_run / "checkpoint.pt").read_bytes()
    rc, _, err = run_cli(capsys, "search", "exp1", "--profile", "smoke", "--out", str(smoke_run))
    assert_user_error(rc, err, "--resume")
    assert (smoke_run / "checkpoint.pt").read_bytes() == before


def test_resume_with_other_config_is_refused(capsys, smoke_run):
    rc, _, err = run_cli(
        capsys,
        "search",
        "exp1",
        "--profile",
        "smoke",
        "--out",
        str(smoke_run),
        "--resume",
        "--set",
        "kappa=1",
    )
    assert_user_error(rc, err, "another config")


def test_missing_data(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "offline_dirs", lambda: [tmp_path / "nowhere"])
    monkeypatch.setenv("HYPERNAS_OFFLINE", "1")
    rc, _, err = run_cli(
        capsys,
        "search",
        "exp1",
        "--profile",
        "smoke",
        "--out",
        str(tmp_path / "r"),
        "--data-root",
        str(tmp_path / "empty"),
    )
    assert_user_error(rc, err, "Fashion-MNIST not found", "nowhere", "--data-root")
    monkeypatch.setattr(datasets, "offline_dirs", lambda: [tmp_path / "nowhere"])
    with pytest.raises(data.DataError, match="CIFAR-10 not found"):
        data.load("cifar10", tmp_path / "empty", download=False)


def test_exit_code_and_no_traceback_in_a_real_process(tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "hypernas", "derive", str(tmp_path / "none"), "--s", "1,2"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2 and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_help_of_every_command(capsys):
    """Every command and sub-command answers --help (in this process; ``python -m hypernas`` in a real
    process: the next test)."""
    commands = [[], ["search"], ["derive"], ["evaluate"], ["latency", "measure"], ["select"]]
    commands += [["export"], ["baseline", "random"], ["baseline", "study"], ["campaign"]]
    for cmd in commands:
        rc, out, _ = run_cli(capsys, *cmd, "--help")
        assert rc == 0 and out.startswith(f"usage: hypernas {' '.join(cmd)}".rstrip()), cmd


def expected_cell_params(record) -> int:
    """The paper's convention from the per-op figures of the genotype."""
    stride2 = {0, 1, 2, 3, 5, 6, 9, 10}  # reduction edges leaving the two cell inputs
    conv = lambda name: name.startswith("sep_conv_3x3")  # noqa: E731
    total = PER_OP["normal_conv"] * sum(conv(o) for o in record["normal"])
    total += PER_OP["reduce_conv"] * sum(conv(o) for o in record["reduce"])
    total += PER_OP["reduce_skip_stride2"] * sum(
        o == "skip_connect" and i in stride2 for i, o in enumerate(record["reduce"])
    )
    return total


def test_derive_json_at_paper_s(capsys, smoke_run):
    for s in paper_s(3).values():
        rc, out, _ = run_cli(
            capsys, "derive", str(smoke_run), "--s", ",".join(f"{v:.10f}" for v in s), "--json"
        )
        assert rc == 0
        rec = json.loads(out)
        assert set(rec) >= {"s", "ops", "normal", "reduce", "op_counts", "cell_params", "total_params"}
        assert rec["ops"] == ["max_pool_3x3", "skip_connect", "sep_conv_3x3"]
        assert len(rec["normal"]) == len(rec["reduce"]) == 14
        assert sum(rec["op_counts"].values()) == 28
        assert rec["cell_params"] == expected_cell_params(rec)
        assert rec["total_params"] > rec["cell_params"]
        g = Genotype.from_dict(rec)
        assert g.op_counts() == rec["op_counts"]


@pytest.mark.parametrize(
    "protocol",
    [
        "inherited",
        pytest.param("relaxed", marks=pytest.mark.slow),
        pytest.param("retrain", marks=pytest.mark.slow),
    ],
)
def test_evaluate_json(capsys, smoke_run, data_root, protocol):
    rc, out, _ = run_cli(
        capsys,
        "evaluate",
        str(smoke_run),
        "--s",
        "0.2,0.3,0.5",
        "--protocol",
        protocol,
        "--epochs",
        "1",
        "--data-root",
        str(data_root),
        "--json",
    )
    assert rc == 0
    rec = json.loads(out)
    assert rec["protocol"] == protocol
    assert rec["data_source"].startswith("Fashion-MNIST")
    # the accuracy counts correct test images, and it is the library's number for this architecture
    run = load_family(smoke_run)
    splits = load_splits(run.config, data_root)
    assert rec["test_images"] == len(splits.test_y)
    correct = rec["test_accuracy"] * rec["test_images"] / 100
    assert correct == pytest.approx(round(correct), abs=1e-3)
    g = Genotype.from_dict(rec)
    assert g == derive(run.hypernet, [0.2, 0.3, 0.5], run.config.ops)
    expected = evaluate(run, g, [0.2, 0.3, 0.5], protocol, splits, epochs=1)
    assert rec["test_accuracy"] == pytest.approx(expected, abs=1e-4)
