"""Your own data and operations end to end: an image folder and a registered op through search,
derive, the latency table, selection for a budget and export (run in ONNX Runtime); tensors from
Python; and every kind of bad input refused with one line and exit status 2."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from hypernas.cli import main
from hypernas.cli.imports import ENV
from hypernas.data import decode
from hypernas.data.shapes import write_shapes
from hypernas.space import ops

MY_OPS = """
import hypernas
from hypernas.space.ops import DilConv

hypernas.register_op(
    "dil_conv_3x3", lambda C, stride, affine: DilConv(C, C, 3, stride, 2, 2, affine), group="conv"
)
"""
OPS = "max_pool_3x3,skip_connect,dil_conv_3x3"
SMALL = ["--profile", "smoke", "--set", "epochs=1", "--no-progress"]


@pytest.fixture
def my_ops(tmp_path, monkeypatch):
    """A user's module that registers dil_conv_3x3; afterwards the op and the modules that the CLI
    passes on to its child processes (``$HYPERNAS_IMPORT``) are gone again."""
    path = tmp_path / "myops.py"
    path.write_text(MY_OPS)
    monkeypatch.setenv(ENV, "")
    yield path
    ops.unregister_op("dil_conv_3x3")


def _cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(capsys, *args) -> str:
    code, _, err = _cli(capsys, *args)
    assert code == 2 and err.startswith("hypernas: error: ") and len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.slow
def test_an_image_folder_and_an_own_op_from_search_to_onnx_runtime(tmp_path, capsys, my_ops, data_root):
    import onnxruntime

    folder = write_shapes(tmp_path / "shapes", per_class=60, size=16)
    run = tmp_path / "runs" / "mine"
    imp = ["--import", my_ops]
    code, out, err = _cli(
        capsys,
        *imp,
        "search",
        "exp1",
        "--dataset",
        f"imagefolder:{folder}",
        "--out",
        run,
        "--set",
        f"ops={OPS}",
        *SMALL,
    )
    assert code == 0, err
    summary = json.loads(out)
    assert "shapes (own images, 240 in all" in summary["data_source"]
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"].startswith("custom:shapes:") and config["dataset"].endswith(":3x16:4")
    assert str(tmp_path) not in (run / "config.json").read_text() + (run / "search.json").read_text()

    # a later process knows the op only once it is registered again
    ops.unregister_op("dil_conv_3x3")
    os.environ.pop(ENV)  # as in a new shell: the search passed its --import on to its own children only
    err = _one_line_error(capsys, "derive", run, "--s", "0.2,0.3,0.5")
    assert "uses the operation 'dil_conv_3x3', which this process does not know; register it" in err
    code, out, err = _cli(capsys, *imp, "derive", run, "--s", "0.45,0.45,0.1", "--json")
    assert code == 0, err
    assert json.loads(out)["ops"] == OPS.split(",")
    all_own = "2" * 14 + "|" + "2" * 14  # the own op on every edge: its parameters are counted
    code, out, err = _cli(capsys, *imp, "derive", run, "--genotype", all_own, "--json")
    assert code == 0, err
    arch = json.loads(out)
    assert arch["op_counts"]["dil_conv_3x3"] == 28 and arch["cell_params"] > 0

    lut = tmp_path / "lut.json"
    code, out, err = _cli(
        capsys,
        "latency",
        "measure",
        "--like",
        run,
        "--out",
        lut,
        "--threads",
        "1",
        "--reps",
        "3",
        "--rounds",
        "1",
    )
    assert code == 0, err
    entries = json.loads(lut.read_text())["entries"]
    assert any(key.startswith("dil_conv_3x3") for key in entries)
    code, out, err = _cli(
        capsys, *imp, "select", run, "--lut", lut, "--budget-ms", "1000", "--max-eval", "2", "--json"
    )
    assert code == 0, err
    chosen = json.loads(out)
    assert chosen["within_budget"] and 0 <= chosen["val_accuracy"] <= 100
    code, out, err = _cli(capsys, *imp, "select", run, "--lut", lut, "--budget-ms", "1000", "--max-eval", "2")
    assert code == 0, err
    assert f"genotype: {chosen['genotype']}" in out and "budget 1000.0 ms (torch)" in out

    model = tmp_path / "model.onnx"
    s = ",".join(str(v) for v in chosen["s"])
    code, out, err = _cli(capsys, *imp, "export", run, "--s", s, "--format", "onnx", "--out", model)
    assert code == 0, err
    assert json.loads(out)["max_abs_diff"] < 1e-4
    session = onnxruntime.InferenceSession(str(model))
    images = np.stack([np.asarray(Image.open(folder / "circle" / "0000.png"))]).transpose(0, 3, 1, 2)
    logits = session.run(None, {session.get_inputs()[0].name: images.astype(np.float32) / 255})[0]
    assert logits.shape == (1, 4) and np.isfinite(logits).all()


@pytest.mark.slow
def test_tensors_from_python_search_and_export(tmp_path, data_root):
    import hypernas

    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(240) % 3
    images = torch.rand(240, 1, 12, 12, generator=gen) * 0.5 + labels.view(-1, 1, 1, 1) * 0.25
    name = hypernas.from_tensors(images, labels, label="bright", root=data_root)
    assert name.startswith("custom:bright:") and name.endswith(":1x12:3")
    run = hypernas.search(
        "exp1",
        profile="smoke",
        out=tmp_path / "run",
        dataset=name,
        overrides={"epochs": 1},
        data_root=data_root,
        progress=False,
    )
    assert (run.space.in_channels, run.space.num_classes) == (1, 3)
    s = [0.2, 0.3, 0.5]
    for protocol, epochs in (("inherited", None), ("relaxed", None), ("retrain", 1)):
        assert 0 <= run.evaluate(s, protocol, epochs=epochs, data_root=data_root) <= 100, protocol
    assert run.export(s, "onnx", tmp_path / "m.onnx").is_file()
    program = torch.export.load(run.export(s, "pt2", tmp_path / "m.pt2"))
    logits = program.module()(images[:2].float())
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()


def _folder(path, classes=("a", "b"), n=6, size=8):
    for c in classes:
        (path / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(np.full((size, size), 40 * i, np.uint8), "L").save(path / c / f"{i}.png")
    return path


BAD_FOLDERS = {
    "empty folder": (lambda p: p.mkdir(), "holds no class folders"),
    "class without images": (lambda p: (_folder(p), (p / "c").mkdir()), "holds no images"),
    "unreadable image": (
        lambda p: (_folder(p), (p / "a" / "x.png").write_bytes(b"?")),
        "cannot be read as an image",
    ),
    "transparent image": (
        lambda p: (_folder(p), Image.new("LA", (8, 8), (0, 0)).save(p / "a" / "t.png")),
        "has transparent pixels",
    ),
    "one class": (lambda p: _folder(p, classes=("a",)), "a classifier needs at least two"),
    "fewer images than a batch": (lambda p: _folder(p), "fewer than one batch of 64"),
}


@pytest.mark.parametrize("case", list(BAD_FOLDERS))
def test_bad_image_folders_exit_2_with_one_line(tmp_path, capsys, case, data_root):
    make, words = BAD_FOLDERS[case]
    make(tmp_path / "bad")
    err = _one_line_error(
        capsys,
        "search",
        "exp1",
        "--dataset",
        f"imagefolder:{tmp_path / 'bad'}",
        "--out",
        tmp_path / "run",
        "--data-root",
        tmp_path / "root",
        *SMALL,
    )
    assert words in err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


BAD_ARRAYS = {
    "labels out of range": (dict(labels=[0, 1, 3, 0] * 8), "skip 2"),
    "test labels out of range": (dict(test_labels=[0, 5]), "out of the training labels' range"),
    "negative label": (dict(labels=[0, 1, -1, 0] * 8), "the label -1"),
}


@pytest.mark.parametrize("case", list(BAD_ARRAYS))
def test_bad_arrays_exit_2_with_one_line(tmp_path, capsys, case):
    change, words = BAD_ARRAYS[case]
    arrays = dict(images=np.zeros((32, 8, 8), np.uint8), labels=[0, 1, 2, 3] * 8)
    if "test_labels" in change:
        arrays.update(test_images=np.zeros((2, 8, 8), np.uint8))
    arrays.update(change)
    np.savez(tmp_path / "d.npz", **{k: np.asarray(v) for k, v in arrays.items()})
    err = _one_line_error(
        capsys,
        "search",
        "exp1",
        "--dataset",
        tmp_path / "d.npz",
        "--out",
        tmp_path / "run",
        "--data-root",
        tmp_path / "root",
        *SMALL,
    )
    assert words in err


def test_a_dataset_too_large_for_memory_says_how_large(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(decode, "MEMORY_SHARE", 1e-9)
    _folder(tmp_path / "big")
    err = _one_line_error(
        capsys,
        "search",
        "exp1",
        "--dataset",
        f"imagefolder:{tmp_path / 'big'}",
        "--out",
        tmp_path / "run",
        "--data-root",
        tmp_path / "root",
        *SMALL,
    )
    assert "GiB decoded, more than" in err and "resize the images or use a subset" in err


def test_bad_imports_and_bad_ops_exit_2_with_one_line(tmp_path, capsys):
    assert "no such file" in _one_line_error(
        capsys, "--import", tmp_path / "none.py", "derive", tmp_path, "--s", "1,0,0"
    )
    assert "No module named" in _one_line_error(
        capsys, "--import", "no_such_module_x", "derive", tmp_path, "--s", "1,0,0"
    )
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('my bug')\n")
    assert "failed: RuntimeError: my bug" in _one_line_error(
        capsys, "--import", broken, "derive", tmp_path, "--s", "1"
    )
    err = _one_line_error(
        capsys, "search", "exp1", "--out", tmp_path / "r", "--set", "ops=max_pool_3x3,my_conv", *SMALL
    )
    assert "unknown operation 'my_conv'" in err and "register_op" in err


def test_register_op_checks_the_factory():
    from hypernas.errors import ConfigError

    with pytest.raises(ConfigError, match="built in"):
        ops.register_op("sep_conv_3x3", lambda C, stride, affine: torch.nn.Identity())
    with pytest.raises(ConfigError, match=r"must give \(2, 8, 3, 3\)"):
        ops.register_op("no_stride", lambda C, stride, affine: torch.nn.Identity())
    with pytest.raises(ConfigError, match="fails at C=8, stride 1: ZeroDivisionError"):
        ops.register_op("broken", lambda C, stride, affine: 1 / 0)
    with pytest.raises(ConfigError, match="op group 'fancy'"):
        ops.register_op("x_op", lambda C, stride, affine: torch.nn.Identity(), group="fancy")
    with pytest.raises(ConfigError, match="lower-case"):
        ops.register_op("Bad Name", lambda C, stride, affine: torch.nn.Identity())
    assert "no_stride" not in ops.PRIMITIVES and "broken" not in ops.PRIMITIVES
    ops.register_op("avg_pool_5x5", lambda C, stride, affine: torch.nn.AvgPool2d(5, stride, 2), group="pool")
    try:
        assert ops.OP_GROUP["avg_pool_5x5"] == "pool"
        with pytest.raises(ConfigError, match="already registered"):
            ops.register_op("avg_pool_5x5", lambda C, stride, affine: torch.nn.AvgPool2d(5, stride, 2))
    finally:
        ops.unregister_op("avg_pool_5x5")
    with pytest.raises(ConfigError, match="cannot be removed"):
        ops.unregister_op("skip_connect")


def test_the_readmes_own_data_commands_parse():
    """Every ``hypernas`` line of the README's "Your own data" section is a valid command line."""
    import shlex
    from pathlib import Path

    from hypernas.cli.parser import build_parser

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Your own data and operations", 1)[1].split("\n## ", 1)[0]
    lines = section.replace("\\\n", " ").splitlines()
    commands = [shlex.split(line.split("#")[0])[1:] for line in lines if line.startswith("hypernas ")]
    assert len(commands) == 4
    for argv in commands:
        build_parser().parse_args(argv)  # exits 2 on an unknown flag


def test_the_chapter_text_says_whether_onnx_runtime_agrees():
    """On the committed quick study: ONNX Runtime's accuracy, stored to 0.01 %, reads as the same as
    PyTorch's; one test image's difference reads as a difference."""
    import copy
    from pathlib import Path

    from hypernas.io import read_record
    from hypernas.report import own_data

    path = Path(__file__).resolve().parent.parent / "results" / "quick" / "own-data.json"
    record = read_record(path, "own-data study", "run the chapter again")
    assert "gives the same test accuracy" in own_data.chosen_text(record)
    other = copy.deepcopy(record)
    other["onnx_runtime"]["test_accuracy"] = record["chosen_test_accuracy"] - 100 / record["test_images"]
    assert "instead of" in own_data.chosen_text(other)
    table = own_data.front_table(record)
    assert len(table) == len(record["front"]) and table["test accuracy %"].between(0, 100).all()
