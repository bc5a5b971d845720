"""Latency tables, prediction, budget selection and export, on the smoke run of exp1."""

import json

import pytest
import torch

from hypernas.cli import main
from hypernas.device import latency
from hypernas.device.export import export_model
from hypernas.device.select import family_latencies, select_for_budget
from hypernas.device.timing import Protocol, Timing
from hypernas.errors import ConfigError
from hypernas.space.genotype import Genotype
from hypernas.train.build import load_splits
from hypernas.train.evaluate import inherited
from hypernas.train.presets import resolve
from hypernas.train.run import load_family

SPACE = resolve("exp1", "smoke").space()


@pytest.fixture(scope="module")
def lut(tmp_path_factory):
    torch.set_num_threads(1)
    table = latency.measure_lut(
        SPACE, "fashion_mnist", "cpu", threads=1, protocol=Protocol(rounds=2, warmup=1, reps=4)
    )
    path = tmp_path_factory.mktemp("lut") / "lut.json"
    path.write_text(json.dumps(table))
    yield table, path
    torch.set_num_threads(2)


def test_lut_contents(lut):
    table, _ = lut
    # 3 ops x 5 distinct (C, stride, H) slots of the 3-cell network
    assert len(table["entries"]) == 15
    # entries are net of the runtime's call overhead: identity costs (almost) nothing, the rest is positive
    assert all(e["median_ms"] >= 0 and e["iqr_ms"] >= 0 for e in table["entries"].values())
    assert all(e["median_ms"] > 0 for k, e in table["entries"].items() if not k.startswith("skip_connect"))
    assert table["runtime"] == "torch" and table["provenance"]["protocol"]["rounds"] == 2
    assert table["provenance"]["threads"] == 1 and table["provenance"]["batch"] == 1
    s = latency.s_device(table, SPACE, "fashion_mnist")
    assert sum(s) == pytest.approx(1.0) and all(v > 0 for v in s)
    # (which op is slowest is the machine's, measured by `make bench`, not asserted here)


def test_lut_refuses_other_space(lut):
    table, _ = lut
    other = resolve("exp2", "smoke").space()
    with pytest.raises(ConfigError, match="another search space"):
        latency.check_lut(table, other, "fashion_mnist")


def test_prediction_is_the_calibrated_sum_of_the_table(lut):
    """A network's predicted latency is base + sum over ops of scale_m * (its entries of op m): the
    table alone decides it (how close it comes to a measurement is the machine's: ``make bench``)."""
    table, _ = lut
    hw = 28
    for op in SPACE.ops:
        g = Genotype(SPACE.ops, (op,) * 14, (op,) * 14)
        entries = sum(
            table["entries"][latency.position_key(op, p["C"], p["stride"], p["H"])]["median_ms"]
            for p in latency.positions(SPACE, hw)
        )
        expected = table["base_ms"] + table["scale"][op] * entries
        assert latency.predict(table, g, SPACE, "fashion_mnist") == pytest.approx(expected)


@pytest.mark.slow
def test_select_within_budget_and_impossible_budget(lut, smoke_run, data_root, capsys, monkeypatch):
    """The selection's choice on a machine that runs as its table says (the clock is replaced by the
    table's predictions, so that a loaded CI runner cannot move the answer; the fault cases of a
    slower machine are in test_latency_protocol)."""
    table, path = lut
    run = load_family(smoke_run)
    fam = family_latencies(run, table, grid=6)
    lo, hi = fam[0]["predicted_ms"], fam[-1]["predicted_ms"]
    budget = hi * 1.2 if hi == lo else (lo + hi) / 2
    splits = load_splits(run.config, data_root)

    def as_predicted(genotypes, space, dataset, *args, **kwargs):
        times = [latency.predict(table, g, space, dataset) for g in genotypes]
        return [Timing(ms, 0.0, 1, [ms], ms) for ms in times] + [Timing(table["reference_ms"], 0.0, 1)]

    monkeypatch.setattr(latency, "measure_networks", as_predicted)
    rec = select_for_budget(run, table, budget, splits, grid=6, max_eval=3)
    assert rec["predicted_ms"] <= budget * 0.95 and 0 < rec["measured_ms"] <= budget
    # the winner is the most accurate on the validation split, among the 3 slowest genotypes predicted
    # within the budget less its 5 % margin, of those measured within the budget
    fits = [r for r in fam if r["predicted_ms"] <= budget * 0.95]
    candidates = fits[-3:]
    val = {r["genotype"].key(): inherited(run, r["genotype"], splits, split="val") for r in candidates}
    assert rec["n_fitting"] == len(fits) and rec["n_evaluated"] == len(candidates) == len(val)
    assert {c["genotype"] for c in rec["candidates"]} == set(val)
    within = {c["genotype"] for c in rec["candidates"] if c["measured_ms"] <= budget}
    chosen = Genotype(tuple(rec["ops"]), tuple(rec["normal"]), tuple(rec["reduce"]))
    assert chosen.key() in within and val[chosen.key()] == max(val[g] for g in within), (chosen.key(), val)
    assert rec["val_accuracy"] == pytest.approx(val[chosen.key()], abs=1e-4)
    rc = main(
        ["select", str(smoke_run), "--lut", str(path), "--budget-ms", "0.0001", "--data-root", str(data_root)]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "no architecture of this family fits" in err and len(err.strip().splitlines()) == 1
    rc = main(["select", str(smoke_run), "--lut", "missing.json", "--budget-ms", "5"])
    assert rc == 2 and "hypernas latency measure" in capsys.readouterr().err


@pytest.mark.parametrize(
    "fmt",
    [
        pytest.param("torchscript", marks=pytest.mark.slow),
        "onnx",
        pytest.param("pt2", marks=pytest.mark.slow),
    ],
)
def test_export_matches_pytorch(tmp_path, smoke_run, data_root, fmt):
    run = load_family(smoke_run)
    splits = load_splits(run.config, data_root)
    res = export_model(run, [0.2, 0.3, 0.5], fmt, tmp_path / f"model.{fmt}", splits=splits)
    assert (tmp_path / f"model.{fmt}").stat().st_size > 10_000
    assert res["max_abs_diff"] < 1e-4


def test_export_cli_errors(capsys, smoke_run, tmp_path):
    rc = main(
        ["export", str(smoke_run), "--s", "0.2,0.3,0.5", "--format", "tflite", "--out", str(tmp_path / "m")]
    )
    assert rc == 2 and "onnx, pt2 or torchscript" in capsys.readouterr().err
