"""Faults a real machine produces and input a hostile user gives: one line on stderr, status 2,
and nothing already written is lost.

Damaged run directories, unwritable or full outputs, a closed stdout, settings out of range and
a search that diverges; `io` keeps writes atomic and removes temporary files orphaned by a kill.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hypernas import io
from hypernas.cli import main
from hypernas.errors import ArtefactError, OutputError

S = "0.2,0.3,0.5"
SMALL_SEARCH = ["--profile", "smoke", "--no-progress", "--set", "train_subset=128", "--set", "val_subset=64"]


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line(rc: int, err: str, *needles: str) -> str:
    lines = err.strip().splitlines()
    assert rc == 2, f"status {rc}, stderr {err!r}"
    assert len(lines) == 1 and "Traceback" not in err, f"expected one line, got {err!r}"
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def hypernas_cmd(*argv) -> list[str]:
    return [sys.executable, "-m", "hypernas", *map(str, argv)]


# ----------------------------------------------------------------------------- damaged run directories
def _truncated(ckpt: Path) -> None:
    ckpt.write_bytes(ckpt.read_bytes()[:1000])


def _empty(ckpt: Path) -> None:
    ckpt.write_bytes(b"")


def _garbage(ckpt: Path) -> None:
    ckpt.write_bytes(bytes(range(256)) * 20)


def _no_config(ckpt: Path) -> None:
    ck = torch.load(ckpt, weights_only=False)
    del ck["config"]
    torch.save(ck, ckpt)


def _wrong_shape(ckpt: Path) -> None:
    ck = torch.load(ckpt, weights_only=False)
    ck["config"]["init_channels"] = 8  # weights of 16 channels under a config of 8
    torch.save(ck, ckpt)


def _not_a_dict(ckpt: Path) -> None:
    torch.save([1, 2, 3], ckpt)


def _bad_config(ckpt: Path) -> None:
    ck = torch.load(ckpt, weights_only=False)
    ck["config"]["kappa"] = float("nan")
    torch.save(ck, ckpt)


DAMAGES = {
    "truncated": (_truncated, "truncated"),
    "empty": (_empty, "is empty"),
    "garbage": (_garbage, "not a PyTorch file"),
    "no-config": (_no_config, "lacks config"),
    "wrong-shape": (_wrong_shape, "does not fit"),
    "not-a-dict": (_not_a_dict, "not a search"),
    "bad-config": (_bad_config, "kappa"),
}


@pytest.fixture(scope="module")
def damaged_runs(smoke_run, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("damaged")
    runs = {}
    for name, (damage, _) in DAMAGES.items():
        run_dir = root / name
        shutil.copytree(smoke_run, run_dir)
        damage(run_dir / "checkpoint.pt")
        runs[name] = run_dir
    return runs


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_checkpoint_gives_one_line(capsys, damaged_runs, damage):
    run_dir = damaged_runs[damage]
    needle = DAMAGES[damage][1]
    for argv in (
        ["derive", run_dir, "--s", S],
        ["evaluate", run_dir, "--s", S, "--protocol", "inherited"],
        ["export", run_dir, "--s", S, "--format", "torchscript", "--out", run_dir / "m.pt"],
        ["search", "exp1", "--out", run_dir, "--resume", *SMALL_SEARCH],
    ):
        rc, _, err = run_cli(capsys, *argv)
        line = assert_one_line(rc, err, str(run_dir))
        if argv[0] != "search":  # a resume may first report the other config
            assert needle in line, line
            assert "search again" in line, line


def test_damaged_summary_and_config(capsys, smoke_run, tmp_path):
    from hypernas.api import Run

    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run, run_dir)
    (run_dir / "search.json").write_text('{"final": ')
    with pytest.raises(ArtefactError, match=r"search summary .* is not valid JSON"):
        Run(run_dir).summary  # noqa: B018


# ----------------------------------------------------------------------------- other artefacts
def test_bad_latency_tables(capsys, smoke_run, tmp_path):
    tables = {
        "missing": None,
        "list": "[1, 2]",
        "nan": '{"entries": NaN}',
        "not-json": "{entries",
        "no-space": json.dumps({"entries": {"a": {"median_ms": 1.0}}}),
    }
    for name, text in tables.items():
        lut = tmp_path / f"{name}.json"
        if text is not None:
            lut.write_text(text)
        rc, _, err = run_cli(capsys, "select", smoke_run, "--lut", lut, "--budget-ms", "5")
        assert_one_line(rc, err, str(lut), "hypernas latency measure")


def test_bad_retrained_models(capsys, smoke_run, tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a model")
    wrong = tmp_path / "wrong.pt"
    torch.save({"model": {"stem.0.weight": torch.zeros(3)}}, wrong)
    for path, needle in (
        (tmp_path / "missing.pt", "does not exist"),
        (garbage, "damaged"),
        (wrong, "does not fit"),
    ):
        rc, _, err = run_cli(
            capsys, "export", smoke_run, "--s", S, "--format", "torchscript", "--out", tmp_path / "m.pt",
            "--retrained", path,
        )  # fmt: skip
        assert_one_line(rc, err, str(path), needle)
        assert not (tmp_path / "m.pt").exists()


def test_damaged_result_files(tmp_path):
    from hypernas.pipeline.experiment import read_sweep
    from hypernas.pipeline.results import read_result

    (tmp_path / "r.json").write_text("[]")
    with pytest.raises(ArtefactError, match="not a record"):
        read_result(tmp_path / "r.json")
    (tmp_path / "s.jsonl").write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(ArtefactError, match="line 2 of sweep file"):
        read_sweep(tmp_path / "s.jsonl")
    stored = Path(__file__).resolve().parents[1] / "results" / "quick" / "exp1.json"
    d = json.loads(stored.read_text())
    for broken, words in (
        ({k: v for k, v in d.items() if k != "schema"}, "has schema 1, not 2 .*make it again"),
        ({**d, "schema": 3}, "has schema 3, not 2"),
        ({k: v for k, v in d.items() if k != "provenance"}, "not a complete result .*provenance"),
        ({**d, "config": {k: v for k, v in d["config"].items() if k != "kappa"}}, "lacks kappa"),
    ):
        (tmp_path / "r.json").write_text(json.dumps(broken))
        with pytest.raises(ArtefactError, match=words):
            read_result(tmp_path / "r.json")


# ----------------------------------------------------------------------------- places that cannot be written
@contextlib.contextmanager
def _mounted_tmpfs(path: Path, options: str):
    """A tmpfs mounted at ``path`` (root only); skips the test where it cannot be made."""
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def read_only_dir(tmp_path) -> Path:
    """A directory nobody may write to: a read-only tmpfs as root, else a directory without write permission."""
    if os.geteuid() == 0:
        with _mounted_tmpfs(tmp_path / "ro", "ro,size=64k") as path:
            yield path
        return
    path = tmp_path / "ro"
    path.mkdir()
    path.chmod(0o555)
    yield path
    path.chmod(0o755)


def test_outputs_that_cannot_be_written(capsys, smoke_run, tmp_path, read_only_dir):
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")
    cases = [
        (["search", "exp1", "--out", a_file, *SMALL_SEARCH], "is a file, not a directory"),
        (["search", "exp1", "--out", read_only_dir / "run", *SMALL_SEARCH], str(read_only_dir)),
        (
            ["export", smoke_run, "--s", S, "--format", "torchscript", "--out", read_only_dir / "m.pt"],
            str(read_only_dir),
        ),
        (["export", smoke_run, "--s", S, "--format", "torchscript", "--out", tmp_path], "is a directory"),
        (
            ["export", smoke_run, "--s", S, "--format", "torchscript", "--out", a_file / "m.pt"],
            "not a directory",
        ),
        (["latency", "measure", "--out", read_only_dir / "lut.json", "--reps", "3"], str(read_only_dir)),
    ]
    for argv, needle in cases:
        rc, _, err = run_cli(capsys, *argv)
        assert_one_line(rc, err, needle)
    assert a_file.read_text() == "keep me"


def test_data_root_that_is_a_file(capsys, smoke_run, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    rc, _, err = run_cli(
        capsys, "evaluate", smoke_run, "--s", S, "--protocol", "inherited", "--data-root", a_file
    )
    assert_one_line(rc, err, str(a_file), "--data-root")


def test_full_disk_keeps_the_last_checkpoint(capsys, data_root, tmp_path):
    """A search on a file system with room for one checkpoint: the second write fails with one line,
    the first checkpoint stays loadable and no temporary file is left behind."""
    full = tmp_path / "full"
    with _mounted_tmpfs(full, "size=5m"):  # a smoke checkpoint is 3.4 MB; the atomic write needs two
        out = full / "run"
        argv = [
            "search",
            "exp1",
            "--out",
            out,
            "--data-root",
            data_root,
            "--checkpoint-every",
            "0",
            *SMALL_SEARCH,
        ]
        rc, _, err = run_cli(capsys, *argv)
        assert_one_line(rc, err, "no space left", "checkpoint.pt", "previous file is kept")
        assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []
        rc, out_text, err = run_cli(capsys, "derive", out, "--s", S, "--json")
        assert rc == 0, err
        assert json.loads(out_text)["s"] == pytest.approx([0.2, 0.3, 0.5])


# ----------------------------------------------------------------------------- stdout closed or full
def test_closed_stdout_gives_one_line(smoke_run):
    proc = subprocess.Popen(
        hypernas_cmd("derive", smoke_run, "--s", S, "--json"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()  # no reader: the command's first write meets a broken pipe
    err = proc.stderr.read().decode()
    assert_one_line(proc.wait(), err, "broken pipe")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_full_stdout_gives_one_line(smoke_run):
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            hypernas_cmd("derive", smoke_run, "--s", S, "--json"), stdout=full, stderr=subprocess.PIPE
        )
    assert_one_line(proc.returncode, proc.stderr.decode(), "no space left")


# ----------------------------------------------------------------------------- settings out of range
@pytest.mark.parametrize(
    "setting,needle",
    [
        ("lr_weights=-1", "lr_weights"),
        ("lr_hypernet=0", "lr_hypernet"),
        ("weight_decay=-1", "weight_decay"),
        ("init_channels=0", "init_channels"),
        ("nodes=0", "nodes"),
        ("seed=99999999999999999999999", "seed"),
        ("seed=-1", "seed"),
        ("kappa=inf", "kappa"),
        ("lr_weights=inf", "lr_weights"),
        ("sigma=inf", "sigma"),
        ("t_start=inf", "t_start"),
        ("t_end=2", "t_end <= t_start"),
        ("grad_clip=nan", "grad_clip"),
        ("bn_recalibration_batches=-1", "bn_recalibration_batches"),
        ("eval_batch_size=0", "eval_batch_size"),
        ("train_subset=0", "train_subset"),
        ("epochs=0", "epochs"),
        ("val_fraction=1", "val_fraction"),
    ],
)
def test_settings_out_of_range(capsys, tmp_path, setting, needle):
    rc, _, err = run_cli(
        capsys, "search", "exp1", "--profile", "smoke", "--out", tmp_path / "x", "--set", setting
    )
    line = assert_one_line(rc, err, needle)
    assert "must" in line or "exceeds" in line
    assert not (tmp_path / "x").exists()


def test_fraction_that_leaves_no_batch(capsys, tmp_path, data_root):
    rc, _, err = run_cli(
        capsys, "search", "exp1", "--profile", "smoke", "--out", tmp_path / "x", "--data-root", data_root,
        "--set", "val_fraction=1e-9",
    )  # fmt: skip
    assert_one_line(rc, err, "val_fraction", "no validation image")


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["latency", "measure", "--out", "{tmp}/l.json", "--threads", "1000"], "--threads must be from 1 to"),
        (["latency", "measure", "--out", "{tmp}/l.json", "--reps", "0"], "--reps"),
        (["latency", "measure", "--out", "{tmp}/l.json", "--batch", "0"], "--batch"),
        (["select", "{run}", "--lut", "{tmp}/l.json", "--budget-ms", "inf"], "--budget-ms"),
        (["select", "{run}", "--lut", "{tmp}/l.json", "--budget-ms", "nan"], "--budget-ms"),
        (["select", "{run}", "--lut", "{tmp}/l.json", "--budget-ms", "-3"], "--budget-ms"),
        (["select", "{run}", "--lut", "{tmp}/l.json", "--budget-ms", "5", "--margin", "nan"], "--margin"),
        (["select", "{run}", "--lut", "{tmp}/l.json", "--budget-ms", "5", "--grid", "0"], "--grid"),
        (["derive", "{run}", "--s", "--"], "0 entries"),
        (["derive", "{run}", "--s", "1e308,1e308,1e308", "--normalize"], "overflows"),
        (["search", "exp1", "--out", "{tmp}/x", "--checkpoint-every", "nan"], "--checkpoint-every"),
        (["campaign", "status", "--threads", "1000", "--runs-dir", "{tmp}"], "--threads"),
    ],
)
def test_options_out_of_range(capsys, smoke_run, tmp_path, argv, needle):
    argv = [a.format(tmp=tmp_path, run=smoke_run) for a in argv]
    rc, out, err = run_cli(capsys, *argv)
    assert_one_line(rc, err, needle)
    assert "NaN" not in out and "Infinity" not in out


def test_json_output_refuses_non_finite_numbers(tmp_path):
    with pytest.raises(OutputError, match="NaN or infinity"):
        io.json_text({"x": float("inf")})
    with pytest.raises(OutputError, match="NaN or infinity"):
        io.write_json(tmp_path / "r.json", {"x": float("nan")})
    assert not (tmp_path / "r.json").exists()
    (tmp_path / "n.json").write_text('{"x": NaN}')
    with pytest.raises(ArtefactError, match="not valid JSON"):
        io.read_json(tmp_path / "n.json")


# ----------------------------------------------------------------------------- atomic writes, orphans
def test_interrupted_write_keeps_the_good_file(tmp_path, monkeypatch):
    path = tmp_path / "result.json"
    io.write_json(path, {"accuracy": 80.0})

    class Killed(BaseException):
        pass

    def killed(_fd):
        raise Killed

    monkeypatch.setattr(io.os, "fsync", killed)  # the process dies after writing, before the rename
    with pytest.raises(Killed):
        io.write_json(path, {"accuracy": 12.0})
    assert json.loads(path.read_text()) == {"accuracy": 80.0}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_orphaned_temporary_files_are_removed(tmp_path):
    path = tmp_path / "checkpoint.pt"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f".checkpoint.pt.{dead.pid}.abc123.tmp"  # left by a writer killed mid-write
    live = tmp_path / f".checkpoint.pt.{os.getpid()}.def456.tmp"  # a writer still at work
    other = tmp_path / f".config.json.{dead.pid}.abc123.tmp"  # another file's: removed at its own next write
    for p in (orphan, live, other):
        p.write_bytes(b"partial")
    io.save_torch(path, {"w": torch.ones(2)})
    assert not orphan.exists() and live.exists() and other.exists()
    assert torch.equal(torch.load(path)["w"], torch.ones(2))


# ----------------------------------------------------------------------------- a search that diverges
def test_diverging_search_stops_and_stays_resumable(capsys, tmp_path, data_root, monkeypatch):
    """The cost turns NaN at the second step (injected: real settings in range rarely overflow, since
    BatchNorm rescales huge weights): the search stops with one line before the optimisers step,
    keeps the checkpoint of step 1, and a resume continues from it to the end."""
    from hypernas.train import step

    calls = {"n": 0}
    real_cost = step.relaxed_cost

    def cost_turning_nan(*args, **kwargs):
        calls["n"] += 1
        value = real_cost(*args, **kwargs)
        return value * float("nan") if calls["n"] == 2 else value

    monkeypatch.setattr(step, "relaxed_cost", cost_turning_nan)
    out = tmp_path / "run"
    argv = [
        "search",
        "exp1",
        "--out",
        out,
        "--data-root",
        data_root,
        "--checkpoint-every",
        "0",
        *SMALL_SEARCH,
    ]
    rc, _, err = run_cli(capsys, *argv)
    assert_one_line(rc, err, "diverged", "loss became nan", "step 2/2 of epoch 1", "kappa", "lr_weights")
    assert_one_line(rc, err, "the checkpoint after step 1 of epoch 1 is kept and --resume continues from it")
    assert json.loads((out / "progress.json").read_text())["state"] == "diverged"
    ck = torch.load(out / "checkpoint.pt", weights_only=False)
    assert (ck["epoch"], ck["step"]) == (0, 1)
    assert all(torch.isfinite(v).all() for v in ck["supernet"].values() if v.is_floating_point())
    monkeypatch.setattr(step, "relaxed_cost", real_cost)
    rc, out_text, err = run_cli(capsys, *argv, "--resume")
    assert rc == 0, err
    assert json.loads(out_text)["epochs"] == 2


def test_non_finite_checks():
    from hypernas.train.step import NonFiniteStep, all_finite, check_finite

    check_finite(torch.tensor(2.3), torch.tensor(0.5))
    with pytest.raises(NonFiniteStep, match="loss became inf"):
        check_finite(torch.tensor(float("inf")), None)
    with pytest.raises(NonFiniteStep, match="gradient norm became nan"):
        check_finite(torch.tensor(2.3), torch.tensor(float("nan")))
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    assert all_finite(net)
    with torch.no_grad():
        net[1].running_var[0] = float("nan")  # a buffer counts too: it is saved in the checkpoint
    assert not all_finite(net)


@pytest.mark.slow
def test_successful_export_prints_no_warnings(smoke_run, tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "model.onnx"
    proc = subprocess.run(
        hypernas_cmd("export", smoke_run, "--s", S, "--format", "onnx", "--out", out),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # the exporters' tracer and constant-folding notes stay inside the library
    assert json.loads(proc.stdout)["max_abs_diff"] < 1e-3 and out.is_file()


def test_whole_numbers_for_float_settings_hash_alike():
    from hypernas.train.presets import resolve

    as_int = resolve("exp1", "smoke", {"kappa": 1, "sigma": 2})
    assert as_int.kappa == 1.0 and isinstance(as_int.kappa, float)
    assert as_int.hash() == resolve("exp1", "smoke", {"kappa": "1", "sigma": 2.0}).hash()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "lacks"])
def test_damaged_retraining_checkpoint_gives_one_line(fmnist, tmp_path, damage):
    """A partial retraining's checkpoint that cannot be read stops the retraining with one line that
    names the file and the fix, before any training; the file is left as it was."""
    import threading

    from hypernas import data
    from hypernas.space.genotype import Genotype
    from hypernas.train.evaluate import retrain, retrain_history
    from hypernas.train.presets import resolve
    from hypernas.train.stopping import Interrupted

    cfg = resolve("exp1", "smoke")
    splits = data.make_splits(fmnist, 0.1, train_subset=128, val_subset=64, test_subset=64)
    ops = tuple(cfg.ops)
    g = Genotype(ops, tuple(ops[i % 3] for i in range(14)), tuple(ops[(i + 1) % 3] for i in range(14)))
    ckpt = tmp_path / "retrain.pt"
    stop = threading.Event()
    stop.set()  # a real partial retraining: stopped after its first step
    with pytest.raises(Interrupted):
        retrain(g, cfg, splits, epochs=1, stop=stop, checkpoint=ckpt)
    if damage == "lacks":
        ck = torch.load(ckpt, weights_only=False)
        del ck["opt"]
        torch.save(ck, ckpt)
    else:
        {"truncated": _truncated, "garbage": _garbage, "empty": _empty}[damage](ckpt)
    before = ckpt.read_bytes()
    for call in (lambda: retrain(g, cfg, splits, epochs=1, checkpoint=ckpt), lambda: retrain_history(ckpt)):
        with pytest.raises(ArtefactError) as err:
            call()
        message = str(err.value)
        assert "\n" not in message and str(ckpt) in message and "retrain this architecture" in message
    assert ckpt.read_bytes() == before
