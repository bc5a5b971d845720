"""The public Python API: the README's example runs, and it gives the command line's and the library's numbers."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import hypernas
from hypernas import api
from hypernas.cli import main
from hypernas.errors import ArtefactError, ConfigError, HyperNASError, SimplexError
from hypernas.space.genotype import Genotype
from hypernas.train.build import load_splits
from hypernas.train.evaluate import evaluate
from hypernas.train.presets import resolve
from hypernas.train.run import TrainedFamily

README = Path(__file__).resolve().parent.parent / "README.md"
S = [0.2, 0.3, 0.5]


@pytest.fixture(scope="module")
def run(smoke_run) -> api.Run:
    return hypernas.load_run(smoke_run)


def readme_example() -> str:
    """The first ``python`` block of the README's "Python API" section."""
    section = README.read_text().split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_readme_example_runs(smoke_run, data_root, monkeypatch, capsys):
    """The README's code as written; its search is the smoke run the fixture made with the same config.

    (``hypernas search exp1 --profile smoke`` goes through :func:`hypernas.api.search`, and a search is
    deterministic, so copying that run, once its config hash is checked to be the call's, is what the
    call would write, minus a few minutes.)
    """
    calls = []

    def search(experiment, profile="quick", out=None, *, seed=0, overrides=None, **kw):
        calls.append((experiment, profile, kw))
        # the call's config is the fixture run's config, so the copy is what the call would write
        wanted = resolve(experiment, profile, {"seed": seed, **(overrides or {})}).hash()
        assert json.loads((smoke_run / "config.json").read_text())["config_hash"] == wanted
        shutil.copytree(smoke_run, out)
        return api.Run(out)

    monkeypatch.setattr(hypernas, "search", search)
    monkeypatch.setenv("HYPERNAS_DATA", str(data_root))
    scope: dict = {}
    exec(compile(readme_example(), str(README), "exec"), scope)
    assert calls == [("exp1", "smoke", {"progress": False})]
    out = capsys.readouterr().out
    assert "sep_conv_3x3" in out and "test accuracy" in out
    assert isinstance(scope["run"], api.Run) and isinstance(scope["genotype"], Genotype)
    assert 0.0 <= scope["acc"] <= 100.0
    # the library's number for the architecture at s, loaded and evaluated without the API
    family = scope["run"].family
    assert isinstance(family, TrainedFamily)
    splits = load_splits(family.config, data_root)
    assert scope["acc"] == evaluate(family, scope["genotype"], S, "inherited", splits)


def test_run_describes_the_search(run, smoke_run):
    assert run.run_dir == Path(smoke_run) and repr(run) == f"Run({str(smoke_run)!r})"
    assert run.config.experiment == "exp1" and run.config.profile == "smoke"
    assert run.space.ops == run.config.ops and run.device == torch.device("cpu")
    assert len(run.history) == run.config.epochs == run.summary["epochs_done"]
    assert run.summary["config_hash"] == run.config.hash()


def test_derive_matches_the_command_line(run, smoke_run, capsys):
    assert main(["derive", str(smoke_run), "--s", "0.2,0.3,0.5", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert run.describe(S) == record
    assert run.derive(S) == Genotype.from_dict(record)
    # every accepted form of s: list, tuple, tensor, string, and any non-negative vector with normalize
    for s in ((0.2, 0.3, 0.5), torch.tensor(S), "0.2, 0.3, 0.5"):
        assert run.derive(s) == run.derive(S)
    assert run.derive([2, 3, 5], normalize=True) == run.derive(S)
    assert run.check_s("1,1,2", normalize=True) == [0.25, 0.25, 0.5]


@pytest.mark.parametrize(
    "s,needle",
    [
        ([0.5, 0.5], "k=3"),
        ([-0.2, 0.6, 0.6], "negative"),
        ((0.2, 0.2, 0.2), "normalize"),
        ("a,b,c", "comma-separated"),
        ([float("nan"), 0.5, 0.5], "NaN"),
        (torch.tensor([S]), "shape (1, 3)"),
        (0.5, "give 3 numbers"),
        (["x", 0.5, 0.5], "give 3 numbers"),
        ([0, 0, 0], "sums to 0"),
    ],
)
def test_bad_s_is_a_one_line_error(run, s, needle):
    with pytest.raises(SimplexError) as info:
        run.derive(s, normalize=needle == "sums to 0")
    message = str(info.value)
    assert isinstance(info.value, HyperNASError) and "\n" not in message and needle in message


def test_argument_errors_come_before_any_work(tmp_path):
    missing = api.Run(tmp_path / "none")  # opened lazily: the arguments are checked first
    with pytest.raises(ConfigError, match="unknown protocol 'inherit'; did you mean 'inherited'"):
        missing.evaluate(S, "inherit")
    with pytest.raises(ConfigError, match="--epochs must be >= 1"):
        missing.evaluate(S, "retrain", epochs=0)
    with pytest.raises(ArtefactError, match="does not exist"):
        missing.select(5.0, tmp_path / "lut.json")
    with pytest.raises(HyperNASError, match="does not exist"):
        hypernas.load_run(tmp_path / "none")
    with pytest.raises(ConfigError, match="unknown experiment"):
        hypernas.search("exp9", "smoke", tmp_path / "x")
    with pytest.raises(ConfigError, match="unknown config key 'kapa'"):
        hypernas.search("exp1", "smoke", tmp_path / "x", overrides={"kapa": 1})
    with pytest.raises(ConfigError, match="--max-epochs"):
        hypernas.search("exp1", "smoke", tmp_path / "x", max_epochs=0)
    with pytest.raises(ConfigError, match="unknown device"):
        hypernas.search("exp1", "smoke", tmp_path / "x", device="tpu9")
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_export_writes_the_file(run, tmp_path, data_root):
    import onnxruntime as ort

    path = run.export(S, "onnx", tmp_path / "m.onnx", data_root=data_root)
    assert path == tmp_path / "m.onnx" and path.stat().st_size > 10_000
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"images": np.zeros((3, 1, 28, 28), np.float32)})
    assert logits.shape == (3, 10)  # any batch size, not only the traced one
    with pytest.raises(ConfigError, match="onnx, pt2 or torchscript"):
        run.export(S, "tflite", tmp_path / "m", data_root=data_root)


def test_help_lists_the_api_and_import_stays_light():
    code = "import sys, hypernas; light = 'torch' not in sys.modules; help(hypernas); print('light', light)"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    for name in ("search(", "load_run(", "class Run", "derive(", "evaluate(", "Example", "light True"):
        assert name in p.stdout, name
