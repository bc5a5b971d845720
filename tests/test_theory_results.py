"""The theorem check, the results cache and the report on a tiny run."""

import dataclasses
import json
import re
from pathlib import Path

import fake_results as fake
import pytest
import torch

from hypernas import book
from hypernas.method import theorem
from hypernas.pipeline.experiment import run_experiment
from hypernas.pipeline.results import SCHEMA_VERSION, Result
from hypernas.report import claims
from hypernas.report.paper import PROFILE_SOURCES
from hypernas.train.presets import SETTINGS, resolve

REPO = Path(__file__).resolve().parents[1]


def test_theorem_check_limits():
    out = theorem.run_checks({"a": [1.0, 0.0, -0.5]}, ts=(1.0, 0.01), n_samples=50_000)
    c = out["alphas"]["a"]
    assert out["t"] == [1.0, 0.01]
    assert set(c) >= {"mc_mean", "mc_ci", "softmax_t", "softmax"}
    # E[GS] at t -> 0 is Softmax(alpha) within the CI, not Softmax(alpha/t)
    for m in range(3):
        assert theorem.agrees(c["mc_mean"][1][m], c["softmax"][m], c["mc_ci"][1][m])
    assert abs(c["mc_mean"][1][0] - c["softmax_t"][1][0]) > 0.3
    for f in c["f"].values():
        assert theorem.agrees(f["mc"][1], f["categorical_limit"], f["mc_ci"][1])
        assert not theorem.agrees(f["mc"][1], f["at_argmax_one_hot"], f["mc_ci"][1])
    assert theorem.limit_verdict(out) == {"holds": 2, "fails": 2, "total": 2}
    # the summary's sentence states the data's verdict, not a fixed one
    digest = {"t": out["t"], "alphas": {"k3_paper": {**c, "alpha": [1.0, 0.0, -0.5]}}}
    assert "do not hold" in book.theorem_text(digest) and "does not" not in book.theorem_text(digest)
    agreeing = {name: {**f, "at_argmax_one_hot": f["categorical_limit"]} for name, f in c["f"].items()}
    digest["alphas"]["k3_paper"]["f"] = agreeing
    text = book.theorem_text(digest)
    assert "do not hold" not in text and "rejected in 0 of 2 cases" in text and "agrees in 2 of 2" in text
    # a stored check is reused only for exactly the same settings
    same = dict(alphas={"a": [1.0, 0.0, -0.5]}, ts=(1.0, 0.01), n_samples=50_000, seed=0)
    assert theorem.checks_match(out, **same)
    assert not theorem.checks_match(out, **{**same, "n_samples": 10_000})
    assert not theorem.checks_match(out, **{**same, "seed": 1})
    assert not theorem.checks_match(out, **{**same, "ts": (1.0, 0.5, 0.01)})
    assert not theorem.checks_match(out, **{**same, "alphas": {"a": [2.0, 0.0, -0.5]}})
    assert not theorem.checks_match({}, **same)


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory, data_root):
    tmp = tmp_path_factory.mktemp("res")
    kw = dict(
        profile="smoke",
        data_root=data_root,
        results_dir=tmp / "results",
        runs_dir=tmp / "runs",
        overrides={
            "train_subset": "256",
            "val_subset": "128",
            "test_subset": "256",
            "bn_recalibration_batches": "2",
            "epochs": "1",
        },
        progress=False,
        family_eval_max=2,
    )
    return tmp, kw, run_experiment("exp1", **kw)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_gpu_runs_search_and_evaluation(tmp_path, data_root):
    """With a GPU, the evaluation runs where the search ran (not on the CPU after a GPU search)."""
    r = run_experiment(
        "exp1",
        profile="smoke",
        data_root=data_root,
        results_dir=tmp_path / "results",
        runs_dir=tmp_path / "runs",
        overrides={"train_subset": "256", "epochs": "1", "retrain_epochs": "1"},
        progress=False,
        family_eval_max=2,
        device="cuda",
    )
    prov = r.provenance
    assert "CUDA" in prov.hardware, prov.hardware
    assert all("CUDA" in segment.hardware for segment in prov.search_segments)


def test_result_fields_and_cache(tiny_result):
    tmp, kw, r = tiny_result
    stored = json.loads((tmp / "results" / "exp1.json").read_text())
    assert stored["schema"] == SCHEMA_VERSION and Result.from_dict(stored) == r
    assert r.config_hash == r.config.hash() and r.experiment == r.name == "exp1" and r.profile == "smoke"
    assert r.provenance.test_images == 256 and r.provenance.wall_time_s > 0
    assert list(r.architectures) == ["A", "B", "C", "D"]
    # the ledger of measurements is kept only until the result holds them
    assert list((tmp / "results").glob("measurements/*")) == []
    for a in r.architectures.values():
        assert set(a.test_accuracy) == {"inherited", "retrain", "relaxed"}
        assert sum(a.op_counts.values()) == 28 == sum(a.group_counts.values())
    assert len(r.family_grid) == 231 and len(r.family_eval) == 2
    assert all(p.test_accuracy_inherited is not None for p in r.family_eval)
    # a second call reuses the file (same hash); another config recomputes
    again = run_experiment("exp1", **kw)
    assert again == r and again.provenance.date == r.provenance.date


def test_sweep_runs_are_records_selected_by_config(tiny_result):
    """A sweep run is one line of sweeps/<experiment>.jsonl (no family grid), found again by its config."""
    from hypernas.pipeline.experiment import run_sweep, sweep_file, write_sweep

    tmp, kw, r = tiny_result
    results = tmp / "sweep-results"
    write_sweep(sweep_file(results, "exp1"), [dataclasses.replace(r, name="exp1-small").sweep_record()])
    again = dict(kw, results_dir=results, runs_dir=tmp / "no-runs")
    record = run_sweep("exp1", "exp1-small", **{k: v for k, v in again.items() if k != "family_eval_max"})
    assert not (tmp / "no-runs").exists()  # found by its config hash: nothing ran
    assert record.family_grid == [] == record.family_eval and record.config_hash == r.config_hash
    assert record.architectures == r.architectures and record.curves == r.curves
    assert book.sweep_results(results, "exp1") == [record]
    assert book.sweep_results(results, "exp1", where={"kappa": r.config.kappa, "seed": 0}) == [record]
    assert book.sweep_results(results, "exp1", where={"seed": 1}) == [] == book.sweep_results(results, "exp2")
    table = book.kappa_sweep_frame([r, record], main=r)
    assert len(table) == 2 and table.iloc[0]["A"] == table.iloc[1]["A"]


def test_a_sweep_record_from_uncommitted_code_is_remade_in_place(tiny_result):
    """scripts/kappa_sweep.py --remake-dirty runs a dirty record again with the same config and
    replaces it (one record, same name and hash, today's commit); a clean record is left alone."""
    import importlib.util

    from hypernas.pipeline.experiment import read_sweep, sweep_file, write_sweep

    tmp, kw, r = tiny_result
    results, runs = tmp / "remake-results", tmp / "remake-runs"
    dirty = dataclasses.replace(r, name="exp1-small").sweep_record()
    dirty = dataclasses.replace(
        dirty, provenance=dataclasses.replace(dirty.provenance, commit="0123abcd-dirty")
    )
    write_sweep(sweep_file(results, "exp1"), [dirty])
    spec = importlib.util.spec_from_file_location("kappa_sweep", REPO / "scripts" / "kappa_sweep.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.remake_dirty("exp1", "smoke", str(results), str(runs), kw["data_root"]) == 0
    [remade] = read_sweep(sweep_file(results, "exp1"))
    assert remade.name == "exp1-small" and remade.config_hash == r.config_hash
    assert (
        remade.provenance.commit != "0123abcd-dirty" and len(list((runs / "smoke").glob("exp1-small-*"))) == 1
    )
    # the remade record is not dirty (unless this checkout is): nothing runs a second time
    if not remade.provenance.commit.endswith("-dirty"):
        assert script.remake_dirty("exp1", "smoke", str(results), str(runs / "none"), kw["data_root"]) == 0
        assert not (runs / "none").exists()


@pytest.mark.slow
def test_evaluation_resumes_from_its_cache(tiny_result):
    """A recomputed result reuses every accuracy measured before (the cache stands in for an
    interrupted evaluation) and gives the same numbers; force=True measures afresh, same numbers."""
    tmp, kw, r = tiny_result
    run_dir = next((tmp / "runs" / "smoke").glob("exp1-*"))
    cache = json.loads((run_dir / "evaluations.json").read_text())
    n_arch_keys = len({k for k in cache if not k.startswith("inherited")})
    assert n_arch_keys >= 2 and all(
        set(v) == {"accuracy", "seconds", "commit", "hardware"} for v in cache.values()
    )
    assert r.provenance.evaluation_hardware == (r.provenance.hardware,)  # measured here, all of it
    assert all(v["hardware"] == [r.provenance.hardware] for v in cache.values())
    (tmp / "results" / "exp1.json").unlink()
    resumed = run_experiment("exp1", **kw)
    assert resumed.architectures == r.architectures and resumed.family_eval == r.family_eval
    assert resumed.provenance.evaluation_compute_time_s == r.provenance.evaluation_compute_time_s
    fresh = run_experiment("exp1", **{**kw, "force": True})
    assert fresh.architectures == r.architectures


def test_report_tables(tiny_result):
    _, _, r = tiny_result
    table = book.comparison_table(r)
    assert ("A uniform", "paper") in table.columns
    assert table.loc[book.CELL_PARAMS_ROW, ("B conv pen.", "paper")] == "5,120"
    verdicts = book.claim_verdicts({"exp1": r})
    assert len(verdicts) == 5 and set(verdicts["verdict"]) <= {
        "reproduced",
        "partly",
        "not reproduced",
        "not tested here",
    }
    effects = sum(book.penalty_effects(r).values())
    claim5 = verdicts.iloc[4]
    assert f"penalty effects {effects} of 3" in claim5["our numbers"]
    if effects < 3:
        assert claim5["verdict"] != "reproduced"


def _fake_result(kappa, relaxation, counts, before, seed=0, **config):
    fam = lambda p, c, i: {"pool": p, "conv": c, "identity": i}  # noqa: E731
    return fake.result(
        {n: fake.architecture(c, 60.0 + k) for k, (n, c) in enumerate(zip("ABCD", counts))},
        config={"kappa": kappa, "cost_relaxation": relaxation, "seed": seed, **config},
        curves=[
            {"epoch": 1, "t": 0.47, "group_counts": {n: fam(*before) for n in "ABCD"}},
            {"epoch": 2, "t": 0.2, "group_counts": {n: fam(*c) for n, c in zip("ABCD", counts)}},
        ],
    )


def test_penalty_effects_and_kappa_sweep_table():
    good = _fake_result(0.3, "softmax", [(10, 10, 8), (12, 2, 14), (0, 15, 13), (14, 14, 0)], (9, 9, 10))
    collapsed = _fake_result(3.0, "softmax_t", [(0, 0, 28), (0, 0, 28), (0, 0, 28), (0, 28, 0)], (17, 11, 0))
    assert all(book.penalty_effects(good).values())
    assert list(book.penalty_effects(collapsed).values()) == [False, False, True]
    assert book.epochs_holding_all_effects(good) == [2]
    assert book.epochs_holding_all_effects(collapsed) == []
    # each effect's verdict with the two counts it compares (B's conv, C's pool, D's identity vs A's)
    stated = re.findall(r": (yes|no) \((\d+) vs (\d+)\)", book.penalty_effects_text(collapsed))
    assert stated == [("no", "0", "0"), ("no", "0", "0"), ("yes", "0", "28")]
    other_seed = _fake_result(
        3.0, "softmax_t", [(9, 9, 10), (12, 2, 14), (0, 15, 13), (14, 14, 0)], (9, 9, 10), seed=1
    )
    table = book.kappa_sweep_frame([other_seed, collapsed, good], main=good)
    assert list(table.index) == [(0.3, "softmax (main run)", 0), (3.0, "softmax_t", 0), (3.0, "softmax_t", 1)]
    assert list(table["penalty effects held"]) == ["3 of 3", "1 of 3", "3 of 3"]
    assert table.loc[(3.0, "softmax_t", 0), "A"] == "0/0/28"
    assert table.loc[(3.0, "softmax_t", 0), "A one epoch earlier"] == "17/11/0 (t = 0.47)"
    assert table.loc[(0.3, "softmax (main run)", 0), "epochs holding all three"] == "2 of 2"
    assert table.loc[(3.0, "softmax_t", 0), "epochs holding all three"] == "none of 2"
    assert table.loc[(0.3, "softmax (main run)", 0), "best inherited %"] == "63.00 (D)"
    counts = [(10, 10, 8), (12, 2, 14), (0, 15, 13), (14, 14, 0)]
    longer = _fake_result(0.3, "softmax", counts, (9, 9, 10), epochs=4)
    assert book.kappa_sweep_frame([good, longer], main=good).index[1] == (0.3, "softmax, epochs=4", 0)
    # the lattice runs kept their reference points fixed: their label names the layout alone
    lattice = _fake_result(0.3, "softmax", counts, (9, 9, 10), ref_layout="lattice", learnable_refs=False)
    assert book.kappa_sweep_frame([good, lattice], main=good).index[1] == (
        0.3,
        "softmax, ref_layout=lattice",
        0,
    )
    as_lattice = dataclasses.replace(good.config, ref_layout="lattice", learnable_refs=False)
    assert book.same_setting(lattice, as_lattice)
    assert not book.same_setting(lattice, good.config)
    assert book.same_setting(longer, dataclasses.replace(good.config, epochs=4))
    assert book.same_hypernet(good.config, longer.config) and not book.same_hypernet(
        good.config, lattice.config
    )
    grouped = book.sweep_by_setting([other_seed, collapsed, good])
    assert grouped.loc[(3.0, "softmax_t"), "seeds"] == "0, 1"
    assert grouped.loc[(3.0, "softmax_t"), "all three effects held"] == "1 of 2"
    assert grouped.loc[(3.0, "softmax_t"), "last-epoch collapse"] == "1 of 2"
    assert grouped.loc[(3.0, "softmax_t"), "A per seed"] == "0/0/28, 9/9/10"
    assert grouped.loc[(3.0, "softmax_t"), "B conv / C pool / D identity per seed"] == "0/0/0, 2/0/0"
    assert grouped.loc[(0.3, "softmax"), "all three effects held"] == "1 of 1"


def test_seed_given_twice_is_refused(tmp_path):
    from hypernas.errors import ConfigError

    with pytest.raises(ConfigError, match="give the seed once"):
        run_experiment(
            "exp1", "smoke", seed=0, overrides={"seed": 1}, results_dir=tmp_path, runs_dir=tmp_path
        )


def test_run_times_count_resumed_evaluation():
    fresh = fake.result(provenance=fake.provenance(evaluation_compute_time_s=30.0))
    assert fresh.provenance.evaluation_seconds == 30.0
    text = book.run_times(fresh)
    assert "search 100 s, evaluation 30 s on cpu" in text and "`abc`" in text and "summed" not in text
    resumed = fake.result(provenance=fake.provenance(evaluation_compute_time_s=3000.0))
    assert resumed.provenance.evaluation_seconds == 3000.0
    assert "evaluation 50 min (summed over the measurements" in book.run_times(resumed)
    assert "the last pass took 30 s" in book.run_times(resumed)
    long = fake.result(provenance=fake.provenance(search_time_s=15725.1, hardware="AMD EPYC, 1 threads"))
    assert "search 4.4 h (15,725 s)" in book.run_times(long) and "on AMD EPYC, 1 thread " in book.run_times(
        long
    )


def test_run_times_warn_of_a_dirty_commit():
    assert "dirty" not in book.run_times(fake.result())
    dirty = fake.result(provenance=fake.provenance(commit="abc-dirty"))
    assert "Commit `abc-dirty` is marked dirty" in book.run_times(dirty)
    assert book.uncommitted_records_text([fake.result()]) == ""
    text = book.uncommitted_records_text([dirty], "sweep records")
    assert text.startswith("The sweep record was made with uncommitted changes beside commit `abc-dirty`")
    text = book.uncommitted_records_text([dirty, fake.result(), dirty], "sweep records")
    assert text.startswith("2 of these 3 sweep records were made")


def test_accuracy_gaps_are_set_beside_the_test_sets_chance():
    # two accuracies of 50 % on 10,000 images each: 1.96 * sqrt(2 * 0.25 / 10,000) = 1.386 points
    assert claims.chance_gap(50.0, 50.0, 10_000) == pytest.approx(1.386, abs=1e-3)
    assert claims.chance_gap(90.0, 90.0, 2_500) == pytest.approx(2 * claims.chance_gap(90.0, 90.0, 10_000))
    accs = {"A": 87.5, "B": 74.47, "C": 86.28, "D": 85.11}
    result = fake.result({n: fake.architecture((10, 10, 8), acc) for n, acc in accs.items()})
    noise = claims.chance_gap(86.28, 87.5, 10_000)
    assert claims._c_gap(result) == ("A", pytest.approx(86.28 - 87.5), pytest.approx(noise))
    assert not claims.c_gap_within_chance(result)  # 1.22 points apart, chance allows 0.95
    assert "C trails A by 1.22 points" in claims.c_margin_text(
        result
    ) and f"±{noise:.2f}" in claims.c_margin_text(result)
    # the mean of A-D is 83.34 %: 1.96 * sqrt(2 * 0.8334 * 0.1666 / 10,000) = 1.03 points
    assert "near 83 % differ by up to ±1.0 points" in claims.chance_text(result)
    assert claims.c_margin_text(fake.with_accuracy(result, "C", "inherited", 90.0)).startswith(
        "C leads A by 2.50 points"
    )


def test_paper_scale_helpers(tiny_result, tmp_path):
    from hypernas.pipeline.results import write_result

    _, _, r = tiny_result
    # a result made with another config than today's paper profile is not shown as a paper-scale result
    write_result(tmp_path / "exp1.json", r)
    assert book.paper_result(tmp_path, "exp1", "printed") is None
    wanted = resolve("exp1", "paper", SETTINGS["rebalanced"])
    write_result(tmp_path / "exp1-rebalanced.json", dataclasses.replace(r, config_hash=wanted.hash()))
    assert book.paper_result(tmp_path, "exp1", "rebalanced").config_hash == wanted.hash()
    assert book.paper_result(tmp_path, "exp2", "rebalanced") is None

    table = book.profile_table()
    assert table.loc["epochs", "value"] == "exp1: 10; exp2: 20; exp3: 50"
    assert table.loc["kappa", "value"] == "50" and table.loc["test_subset", "value"] == "all"
    assert all(table["source"].str.len() > 0) and set(PROFILE_SOURCES) <= set(table.index)

    text = book.headline({"paper scale": {}, "smoke scale": {"exp1": r}})
    paper_block, smoke_block = text.split("\n\n", 1)
    assert "no run has finished yet" in paper_block and "exp1" not in paper_block
    b, c, d = book.penalised_counts(r)
    claims = [line for line in smoke_block.splitlines() if line.startswith("* ")]
    assert len(claims) == 4 and f"exp1: {b}/{c}/{d}, paper 0/0/1" in claims[0]
    assert claims[0].count("**yes**") + claims[0].count("**no**") == 1
    assert ("**yes**" in claims[0]) == (max(b, c, d) <= book.REMOVED_MAX_EDGES)
    best, acc = book.best_accuracy(r, "inherited")
    assert f"{best} with inherited weights ({acc:.2f} %)" in claims[1]

    # the grid of verdicts: one column per scale, experiments named only where they disagree
    best_c, worst_c = (fake.with_accuracy(r, "C", "inherited", v) for v in (100.0, -1.0))
    grid = book.verdict_grid({"paper scale": {}, "smoke scale": {"exp1": best_c, "exp3": worst_c}})
    assert list(grid.columns) == ["paper scale (no run finished)", "smoke scale (exp1, exp3)"]
    assert len(grid) == 4 and set(grid.iloc[:, 0]) == {"not finished"}
    smoke = grid["smoke scale (exp1, exp3)"]
    assert smoke[book.HEADLINE_CLAIMS["best_c"]] == "yes in exp1, no in exp3"
    assert smoke[book.HEADLINE_CLAIMS["removes"]] in ("yes in exp1, exp3", "no in exp1, exp3")
    # C 0.1 point ahead / behind: chance
    others = [a.test_accuracy["inherited"] for n, a in r.architectures.items() if n != "C"]
    close_c, behind_c = (fake.with_accuracy(r, "C", "inherited", max(others) + d) for d in (0.1, -0.1))
    assert book.c_gap_within_chance(close_c) and book.c_gap_within_chance(behind_c)
    assert not book.c_gap_within_chance(best_c) and not book.c_gap_within_chance(worst_c)
    mixed = book.verdict_grid({"smoke scale": {"exp1": best_c, "exp2": close_c, "exp3": behind_c}})
    assert mixed["smoke scale (exp1, exp2, exp3)"][book.HEADLINE_CLAIMS["best_c"]] == (
        "yes in exp1, exp2, no in exp3 (the gap is within chance in exp2, exp3)"
    )
    # with seeds: each claim counts the seeds in which it holds
    seeded = book.verdict_grid(
        {"smoke scale": {"exp1": best_c, "exp3": worst_c}},
        seeds={"smoke scale": {"exp1": [best_c, worst_c, best_c], "exp3": [worst_c, worst_c, worst_c]}},
    )["smoke scale (exp1, exp3; 3 seeds each)"]
    assert seeded[book.HEADLINE_CLAIMS["best_c"]] == "yes in exp1 (2 of 3 seeds); no in exp3 (0 of 3 seeds)"
    one = book.verdict_grid({"s": {"exp1": best_c}}, seeds={"s": {"exp1": [best_c, worst_c]}})
    assert one["s (exp1; 2 seeds)"][book.HEADLINE_CLAIMS["best_c"]] == "yes in 1 of 2 seeds"
    alone = book.verdict_grid({"smoke scale": {"exp1": r}})["smoke scale (exp1)"]
    assert alone[book.HEADLINE_CLAIMS["removes"]] == (
        "yes" if max(b, c, d) <= book.REMOVED_MAX_EDGES else "no"
    )

    fig = book.plot_cells(r)
    assert len(fig.axes) == 8  # A-D, normal and reduction
    # every edge of the normal cell of A is drawn (14 arrows) plus the 4 edges into c_k
    assert len(fig.axes[0].patches) == 14 + 4


def test_run_times_name_each_machine_of_a_search_that_moved():
    cpu, gpu = "AMD EPYC, 1 threads", "NVIDIA H200 (CUDA)"
    moved = (
        fake.segment(commit="c1", hardware=cpu, start=(0, 0), end=(8, 329), images=220_736, seconds=8_495.3),
        fake.segment(
            commit="c1",
            hardware=gpu,
            torch="2.11.0",
            start=(8, 329),
            end=(24, 99),
            images=363_520,
            seconds=425.8,
        ),
    )

    def run(segments, evaluation_hardware=()):
        prov = fake.provenance(
            commit="c1", hardware=cpu, search_segments=segments, evaluation_hardware=evaluation_hardware
        )
        return fake.result(provenance=prov)

    assert book.search_hardware(run(moved)) == ["AMD EPYC, 1 thread", gpu]
    assert book.evaluation_hardware(run(moved)) == ["AMD EPYC, 1 thread"]  # not recorded: the result's own
    text = book.run_times(run(moved))
    assert f"ran on AMD EPYC, 1 thread and {gpu}; the evaluation on AMD EPYC, 1 thread." in text
    assert f"{220_736 / 8_495.3:,.0f} images/s" in text and f"{363_520 / 425.8:,.0f} images/s" in text
    assert "epoch 8 step 329" in text and "torch 2.11.0" in text
    one_machine = (fake.segment(commit="c1", hardware=cpu),) * 2
    assert book.search_hardware(run(one_machine)) == ["AMD EPYC, 1 thread"]
    assert "The search ran on" not in book.run_times(run(one_machine))
    assert "(1 thread)" in book.run_times(run(one_machine))
    both = run(moved, (gpu, cpu))  # a retraining resumed on the CPU
    assert book.evaluation_hardware(both) == [gpu, "AMD EPYC, 1 thread"]
    assert "(commit `c1`). The search ran on" in book.run_times(both)  # no single machine to name
    moved_eval = run(one_machine, (gpu,))
    assert f"ran on AMD EPYC, 1 thread; the evaluation on {gpu}." in book.run_times(moved_eval)


def test_a_lost_run_directory_resumes_its_evaluation_from_the_ledger(tmp_path):
    """Entries written with a ledger are read back from it alone (the run directory's cache gone):
    nothing is measured twice, and the run directory's cache wins where both have an entry."""
    from hypernas.pipeline.eval_cache import EvaluationCache

    ledger = tmp_path / "results" / "measurements" / "exp1-abc.json"
    calls = []

    def measure(value):
        def compute():
            calls.append(value)
            return value

        return compute

    first = EvaluationCache(tmp_path / "run", ledger=ledger)
    assert first.accuracy("retrain|epochs=2|g1", measure(71.5), "cpu") == 71.5
    assert first.scores("inherited|g1", lambda: {"val": 60.0, "test": 61.0}, "cpu") == {
        "val": 60.0,
        "test": 61.0,
    }
    assert json.loads(ledger.read_text()) == first.entries
    (tmp_path / "run" / "evaluations.json").unlink()  # the run directory is lost
    second = EvaluationCache(tmp_path / "run", ledger=ledger)
    assert second.accuracy("retrain|epochs=2|g1", measure(0.0), "cpu") == 71.5
    assert second.scores("inherited|g1", lambda: {"val": 0.0, "test": 0.0}, "cpu")["test"] == 61.0
    assert calls == [71.5]
    assert second.accuracy("retrain|epochs=2|g2", measure(72.0), "cpu") == 72.0  # a new one is measured
    assert json.loads((tmp_path / "run" / "evaluations.json").read_text()) == json.loads(ledger.read_text())
    fresh = EvaluationCache(tmp_path / "run", fresh=True, ledger=ledger)
    assert fresh.entries == {}
