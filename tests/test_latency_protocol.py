"""The latency measurement protocol (interleaved random rounds, a drift reference), the ONNX Runtime
target, and budget selection that never returns an architecture measured over its budget."""

from __future__ import annotations

import json

import pytest
import torch

from hypernas.cli import main
from hypernas.device import latency, select, timing
from hypernas.device.runtime import prepare
from hypernas.device.timing import Protocol, Timing
from hypernas.errors import ArtefactError, BudgetError
from hypernas.space.genotype import Genotype
from hypernas.space.network import build_discrete
from hypernas.train.build import load_splits
from hypernas.train.presets import resolve
from hypernas.train.run import load_family

SPACE = resolve("exp1", "smoke").space()


def _drifting_bursts(monkeypatch, base: dict, drift: list[float]) -> list:
    """Replace :func:`timing.burst`: callable ``f`` takes ``base[f] * drift[k]`` ms in its k-th round."""
    calls: list = []
    seen: dict = {}

    def fake_burst(fn, device, warmup, reps):
        k = seen.get(fn, 0)
        seen[fn] = k + 1
        calls.append(fn)
        return Timing(base[fn] * drift[k], 0.1, reps)

    monkeypatch.setattr(timing, "burst", fake_burst)
    return calls


def test_rounds_are_interleaved_in_random_order(monkeypatch):
    fns = [lambda i=i: i for i in range(6)]
    calls = _drifting_bursts(monkeypatch, dict.fromkeys(fns, 1.0), [1.0] * 4)
    timing.measure_rounds(fns, torch.device("cpu"), Protocol(rounds=4, seed=3))
    rounds = [calls[6 * r : 6 * r + 6] for r in range(4)]
    assert all(sorted(map(id, r)) == sorted(map(id, fns)) for r in rounds)  # every callable once per round
    assert len({tuple(map(id, r)) for r in rounds}) > 1  # in a new order


def test_reference_removes_drift_between_rounds(monkeypatch):
    fast, slow, ref = (lambda: "fast"), (lambda: "slow"), (lambda: "ref")
    drift = [1.0, 1.6, 1.1, 2.0, 1.3]  # the machine slows down and recovers between rounds
    _drifting_bursts(monkeypatch, {fast: 2.0, slow: 5.0, ref: 3.0}, drift)
    plain = timing.measure_rounds([fast, slow], torch.device("cpu"), Protocol(rounds=5, normalise=False), ref)
    _drifting_bursts(monkeypatch, {fast: 2.0, slow: 5.0, ref: 3.0}, drift)
    fixed = timing.measure_rounds([fast, slow], torch.device("cpu"), Protocol(rounds=5), ref)
    assert max(plain[0].rounds_ms) / min(plain[0].rounds_ms) == pytest.approx(2.0)
    assert max(fixed[0].rounds_ms) / min(fixed[0].rounds_ms) == pytest.approx(1.0)
    assert fixed[1].median_ms / fixed[0].median_ms == pytest.approx(2.5)  # the true ratio survives
    assert fixed[2].median_ms == pytest.approx(3.0 * 1.3)  # the reference itself, as the clock read it


def test_time_base_removes_drift_between_measurements(monkeypatch):
    """Two measurements of one network, the second on a machine 1.5x slower throughout, agree when
    both are scaled to the same reference latency (the table's), and differ by 1.5x as read."""
    net, ref = (lambda: "net"), (lambda: "ref")
    _drifting_bursts(monkeypatch, {net: 4.0, ref: 3.0}, [1.0] * 3)
    first = timing.measure_rounds([net], torch.device("cpu"), Protocol(rounds=3), ref, reference_ms=3.0)
    _drifting_bursts(monkeypatch, {net: 4.0, ref: 3.0}, [1.5] * 3)
    later = timing.measure_rounds([net], torch.device("cpu"), Protocol(rounds=3), ref, reference_ms=3.0)
    assert first[0].median_ms == pytest.approx(4.0) and later[0].median_ms == pytest.approx(4.0)
    assert later[0].raw_ms == pytest.approx(6.0)


def test_onnxruntime_runs_the_same_network():
    pytest.importorskip("onnxruntime")
    g = Genotype(SPACE.ops, ("sep_conv_3x3",) * 14, ("max_pool_3x3",) * 14)
    net = build_discrete(g, SPACE).eval()
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = net(x).numpy()
    got = prepare("onnxruntime", net, x, torch.device("cpu"), threads=1)()[0]
    assert abs(got - want).max() < 1e-4


@pytest.fixture(scope="module")
def onnx_lut(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    path = tmp_path_factory.mktemp("lut") / "onnx.json"
    rc = main(
        ["latency", "measure", "--runtime", "onnxruntime", "--threads", "1", "--reps", "5", "--rounds", "2", "--out",
         str(path), "--experiment", "exp1"]
    )  # fmt: skip
    assert rc == 0
    return json.loads(path.read_text()), path


@pytest.mark.slow
def test_onnxruntime_lut(onnx_lut):
    table, _ = onnx_lut
    assert table["runtime"] == "onnxruntime" and table["provenance"]["runtime"] == "onnxruntime"
    assert table["provenance"]["protocol"] == {
        "rounds": 2,
        "warmup": 5,
        "reps": 5,
        "normalise": True,
        "seed": 0,
    }
    s = latency.s_device(table, resolve("exp1", "paper").space(), "fashion_mnist")
    assert sum(s) == pytest.approx(1.0) and all(v >= 0 for v in s)
    assert table["reference_ms"] > 0  # the time base of every later measurement with this table
    with pytest.raises(ArtefactError, match="reference_ms"):
        latency.read_lut({**table, "reference_ms": -1.0})


def test_select_refuses_another_runtime(capsys, torch_lut, smoke_run, tmp_path):
    path = tmp_path / "onnx.json"  # a table that says it was measured in ONNX Runtime
    provenance = {**torch_lut["provenance"], "runtime": "onnxruntime"}
    path.write_text(json.dumps({**torch_lut, "runtime": "onnxruntime", "provenance": provenance}))
    rc = main(["select", str(smoke_run), "--lut", str(path), "--budget-ms", "5", "--runtime", "torch"])
    err = capsys.readouterr().err
    assert rc == 2 and "measured in onnxruntime, not torch" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_select_in_onnxruntime_from_the_cli(capsys, onnx_lut, smoke_run, data_root):
    """`select --runtime onnxruntime`: the winner is measured in ONNX Runtime and fits the budget."""
    table, path = onnx_lut
    run = load_family(smoke_run)
    family = select.family_latencies(run, table, grid=4)
    budget = 2 * family[-1]["predicted_ms"]  # generous: the machine may be busy
    rc = main(
        ["select", str(smoke_run), "--lut", str(path), "--budget-ms", f"{budget:.4f}", "--runtime", "onnxruntime",
         "--grid", "4", "--max-eval", "2", "--data-root", str(data_root), "--json"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    rec = json.loads(out)
    assert rec["runtime"] == "onnxruntime" and rec["within_budget"] and rec["measured_ms"] <= budget


@pytest.fixture(scope="module")
def torch_lut() -> dict:
    return latency.measure_lut(
        SPACE, "fashion_mnist", "cpu", threads=1, protocol=Protocol(rounds=1, warmup=1, reps=3)
    )


def test_budget_holds_when_the_prediction_is_optimistic(monkeypatch, smoke_run, data_root, torch_lut):
    """The most accurate candidate measures over the budget: the next one that fits is chosen; when
    none fits, the selection says so instead of returning one."""
    run = load_family(smoke_run)
    table = torch_lut
    family = select.family_latencies(run, table, grid=6)
    if len(family) < 3:
        pytest.skip("the smoke family has fewer than 3 distinct genotypes")
    budget = family[-1]["predicted_ms"] * 2  # every genotype is predicted within it
    splits = load_splits(run.config, data_root)

    def measured(factors):
        def fake(genotypes, *args, **kwargs):
            return [Timing(budget * f, 0.0, 1) for f in factors[: len(genotypes)]]

        return fake

    monkeypatch.setattr(select, "inherited", lambda run, g, splits, split: 90.0 - 10 * family.index(
        next(r for r in family if r["genotype"].key() == g.key())))  # fmt: skip
    # candidates are the 3 slowest; the most accurate is the fastest of them (smallest family index)
    monkeypatch.setattr(latency, "measure_networks", measured([1.3, 0.9, 0.8]))
    rec = select.select_for_budget(run, table, budget, splits, grid=6, max_eval=3)
    assert rec["within_budget"] and rec["measured_ms"] <= budget and rec["n_measured_within"] == 2
    assert rec["val_accuracy"] == max(
        c["val_accuracy"] for c in rec["candidates"] if c["measured_ms"] <= budget
    )
    monkeypatch.setattr(latency, "measure_networks", measured([1.3, 1.2, 1.1]))
    with pytest.raises(BudgetError, match="measured within"):
        select.select_for_budget(run, table, budget, splits, grid=6, max_eval=3)


def test_budget_selection_rescales_and_measures_faster_candidates(
    monkeypatch, smoke_run, data_root, torch_lut
):
    """When the machine runs slower than the table says, the first pass finds nothing within the
    budget; the second rescales the predictions by the measured slowdown and measures faster
    genotypes, never one measured before."""
    run = load_family(smoke_run)
    table = torch_lut
    family = select.family_latencies(run, table, grid=10)
    predicted = {r["genotype"].key(): r["predicted_ms"] for r in family}
    fastest, second_slowest = family[0]["predicted_ms"], family[-2]["predicted_ms"]
    assert len(family) >= 4 and second_slowest >= 1.11 * fastest, "the smoke family should span its ops"
    budget = family[-1]["predicted_ms"] / 0.95  # every genotype is predicted within it
    slowdown = 2 * budget / (fastest + second_slowest)  # the two slowest break it, the fastest fits
    splits = load_splits(run.config, data_root)
    monkeypatch.setattr(select, "inherited", lambda *args, **kwargs: 80.0)
    calls = []

    def slow_machine(genotypes, *args, **kwargs):
        calls.append([g.key() for g in genotypes])
        return [Timing(slowdown * predicted[g.key()], 0.0, 1) for g in genotypes]

    monkeypatch.setattr(latency, "measure_networks", slow_machine)
    rec = select.select_for_budget(run, table, budget, splits, grid=10, max_eval=2)
    assert rec["n_passes"] == 2 and rec["slowdown"] == pytest.approx(slowdown, rel=1e-3)
    assert rec["within_budget"] and rec["measured_ms"] <= budget
    assert [c["pass"] for c in rec["candidates"]] == [1, 1, 2, 2][: len(rec["candidates"])]
    assert all(c["measured_ms"] > budget for c in rec["candidates"] if c["pass"] == 1)
    measured_keys = [k for call in calls for k in call]
    assert len(measured_keys) == len(set(measured_keys))  # nothing measured twice
    # a machine so slow that nothing fits: the selection says so after its passes
    slowdown = 10 * budget / fastest
    with pytest.raises(BudgetError, match="measured within"):
        select.select_for_budget(run, table, budget, splits, grid=10, max_eval=2)


def test_budget_selection_falls_back_to_the_fastest(monkeypatch, smoke_run, data_root, torch_lut):
    """When the rescaled predictions leave no candidate, the fastest genotypes not yet measured are."""
    run = load_family(smoke_run)
    family = select.family_latencies(run, torch_lut, grid=10)
    budget = family[-1]["predicted_ms"] / 0.95
    slowest = {r["genotype"].key() for r in family[-2:]}
    monkeypatch.setattr(select, "inherited", lambda *args, **kwargs: 80.0)

    def uneven_machine(genotypes, *args, **kwargs):  # the slowest two far over, the rest just within
        return [Timing((4.0 if g.key() in slowest else 0.99) * budget, 0.0, 1) for g in genotypes]

    monkeypatch.setattr(latency, "measure_networks", uneven_machine)
    assert family[0]["predicted_ms"] > 0.95 * budget / 3.5  # the rescaled limit leaves nothing
    rec = select.select_for_budget(
        run, torch_lut, budget, load_splits(run.config, data_root), grid=10, max_eval=2
    )
    assert rec["n_passes"] == 2 and rec["within_budget"]
    fastest = {r["genotype"].key() for r in family[:2]}
    assert {c["genotype"] for c in rec["candidates"] if c["pass"] == 2} == fastest


def _study(spearman: float, retest: float, met: bool) -> dict:
    budget = {
        "fraction": 0.25,
        "budget_ms": [4.0, 4.1, 3.9],
        "measured_ms": [3.9, 3.8, 3.95] if met else [3.9, None, 3.95],
        "measured_raw_ms": [3.9, 4.3, 3.7] if met else [3.9, None, 3.7],
        "within_budget": [True, True, True] if met else [True, False, True],
        "group_counts": [{"pool": 1, "conv": 20, "identity": 7}] * 3,
        "val_accuracy": [80.0] * 3,
        "all_within": met,
    }
    rep = {"repetition": 0, "cpus": [0], "calibration_median_ape": 0.05, "s_device": [0.2, 0.1, 0.7],
           "wall_time_s": 10.0, "spearman": spearman, "median_ape": 0.04, "retest_spearman": retest,
           "retest_median_rel_diff": 0.03}  # fmt: skip
    runtime = {**{k: rep[k] for k in ("spearman", "median_ape", "retest_spearman", "retest_median_rel_diff")},
               "n_genotypes": 30, "s_device": [0.2, 0.1, 0.7], "ops": ["max_pool_3x3", "skip_connect", "sep_conv_3x3"],
               "budgets": [budget], "repetitions": [rep] * 3}  # fmt: skip
    return {"runtimes": {"torch": runtime, "onnxruntime": runtime}}


def test_latency_verdict_and_tables():
    from hypernas.report import latency as latency_report

    ok, text = latency_report.verdict(_study(0.97, 0.98, met=True))
    assert ok and "PyTorch eager: Spearman 0.970 (retest 0.980)" in text and "1 of 1 budgets met" in text
    ok, _ = latency_report.verdict(_study(0.90, 0.91, met=True))  # below 0.95 but within the noise floor
    assert ok
    ok, _ = latency_report.verdict(_study(0.80, 0.99, met=True))  # below both
    assert not ok
    ok, text = latency_report.verdict(_study(0.97, 0.98, met=False))
    assert not ok and "0 of 1 budgets met" in text
    table = latency_report.budget_table(_study(0.97, 0.98, met=False))
    assert list(table["measured (ms), per repetition"]) == ["3.90, -, 3.95"] * 2
    assert list(table["met in every repetition"]) == ["no", "no"]
    assert list(table["budget (ms), per repetition"]) == ["4.00, 4.10, 3.90"] * 2
    assert list(table["as read (ms), per repetition"]) == ["3.90, -, 3.70"] * 2
    text = latency_report.budget_as_read_text(_study(0.97, 0.98, True))
    assert (
        text.startswith("As the clock read them, without the time base, 4 of the 6")
        and "up to 5 % over" in text
    )
    assert "4.00 to 4.00 ms in the first repetition" in latency_report.runtime_contrast_text(
        _study(0.97, 0.98, True)
    )
    assert latency_report.accuracy_table(_study(0.97, 0.98, True)).loc["ONNX Runtime", "genotypes"] == 30
