"""The baselines: random architectures, separate searches (fixed s, plain logits), genotypes as
arguments, the comparison's statistics, and the whole study at smoke scale."""

from __future__ import annotations

import json
import math
from collections import Counter

import fake_results as fake
import pytest
import torch

from hypernas.errors import ConfigError, HyperNASError
from hypernas.method.hypernet import PlainLogits
from hypernas.report import compare
from hypernas.space.genotype import Genotype
from hypernas.space.network import parameter_counts
from hypernas.space.sample import random_genotypes, shuffled_within_cells, split_counts
from hypernas.train.config import OPS_3, SearchConfig
from hypernas.train.presets import resolve


def test_split_counts_are_uniform_over_all_splits():
    """14 edges over 3 ops: 120 splits, each about equally often; every draw sums to 14."""
    gen = torch.Generator().manual_seed(0)
    draws = Counter(tuple(split_counts(14, 3, gen)) for _ in range(24_000))
    assert all(sum(c) == 14 and min(c) >= 0 for c in draws)
    assert len(draws) == math.comb(16, 2) == 120
    assert max(draws.values()) < 2 * min(draws.values())  # expected 200 each; sd about 14


def test_random_architectures_span_the_sizes_that_per_edge_draws_miss():
    space = resolve("exp1", "paper").space()
    split = [parameter_counts(g, space)["cell_params"] for g in random_genotypes(OPS_3, 14, 40, seed=1)]
    edge = [
        parameter_counts(g, space)["cell_params"]
        for g in random_genotypes(OPS_3, 14, 40, seed=1, sampler="edge")
    ]
    assert max(split) - min(split) > 2 * (max(edge) - min(edge))
    assert random_genotypes(OPS_3, 14, 3, seed=5) == random_genotypes(OPS_3, 14, 3, seed=5)
    assert random_genotypes(OPS_3, 14, 3, seed=5) != random_genotypes(OPS_3, 14, 3, seed=6)
    with pytest.raises(ConfigError, match="unknown sampler"):
        random_genotypes(OPS_3, 14, 1, sampler="grid")


def test_shuffle_within_cells_keeps_each_cells_counts_and_the_size():
    space = resolve("exp1", "paper").space()
    gen = torch.Generator().manual_seed(0)
    for g in random_genotypes(OPS_3, 14, 10, seed=2):
        h = shuffled_within_cells(g, gen)
        assert Counter(h.normal) == Counter(g.normal) and Counter(h.reduce) == Counter(g.reduce)
        assert parameter_counts(h, space) == parameter_counts(g, space)
    g = Genotype(OPS_3, ("sep_conv_3x3",) * 7 + ("max_pool_3x3",) * 7, ("max_pool_3x3",) * 14)
    assert any(shuffled_within_cells(g, gen).normal != g.normal for _ in range(5))


def test_genotypes_parse_from_keys_json_and_files(tmp_path):
    g = random_genotypes(OPS_3, 14, 1, seed=3)[0]
    assert Genotype.parse(g.key(), OPS_3) == g
    assert Genotype.parse(json.dumps(g.to_dict()), OPS_3) == g
    assert Genotype.parse({"normal": list(g.normal), "reduce": list(g.reduce)}, OPS_3) == g
    (tmp_path / "g.json").write_text(json.dumps(g.to_dict()))
    assert Genotype.parse(str(tmp_path / "g.json"), OPS_3) == g
    for bad, words in (
        ("0129|0000", "op index 9"),
        ("hello", "cannot read genotype"),
        ('{"normal": []}', '"normal" and "reduce"'),
    ):
        with pytest.raises(ConfigError, match=words):
            Genotype.parse(bad, OPS_3)
    with pytest.raises(ConfigError, match="reduction edges"):
        Genotype.parse("0|0", OPS_3).check(OPS_3, 14)
    with pytest.raises(ConfigError, match="not among"):
        Genotype(OPS_3, ("conv_9x9",) * 14, ("max_pool_3x3",) * 14).check(OPS_3, 14)


def test_fixed_s_is_a_plain_search_that_leaves_earlier_hashes_alone():
    """Adding fixed_s must not change the hash of any stored config (results would be recomputed)."""
    cfg = resolve("exp1", "paper", {"kappa": 0.3, "lr_hypernet": 0.01})
    assert cfg.hash() == "19ae49a864ff"  # results/paper/exp1-rebalanced.json
    fixed = resolve("exp1", "smoke", {"fixed_s": "0.15,0.15,0.7"})
    assert fixed.fixed_s == (0.15, 0.15, 0.7) and fixed.hash() != resolve("exp1", "smoke").hash()
    assert SearchConfig.from_dict(json.loads(json.dumps(fixed.to_dict()))) == fixed
    for value, words in (("0.5,0.5", "one penalty per op"), ("0.5,0.7,0.1", "not a point of the simplex")):
        with pytest.raises(ConfigError, match=words):
            resolve("exp1", "smoke", {"fixed_s": value})
    logits = PlainLogits(3, 28)
    a, b = logits(torch.tensor([1.0, 0, 0])), logits(torch.tensor([0.0, 0, 1]))
    assert torch.equal(a, b) and logits(torch.rand(5, 3)).shape == (5, 28, 3)


def _arch(group, label, params, val, test, inh_test=None, genotype=None):
    inh = test if inh_test is None else inh_test
    return {
        "group": group,
        "label": label,
        "genotype": genotype or f"{group}{label}",
        "cell_params": params,
        "accuracy": {"retrain": {"val": val, "test": test}, "inherited": {"val": inh, "test": inh}},
    }


def test_front_is_picked_on_validation_and_hypervolume_matches_a_hand_count():
    archs = [
        _arch("random", "a", 0, 80, 80),
        _arch("random", "b", 50, 85, 90),
        _arch("random", "c", 100, 84, 95),  # dominated on validation by b although best on test
        _arch("random", "d", 100, 90, 88),
    ]
    assert [a["label"] for a in compare.pareto_front(archs)] == ["a", "b", "d"]
    # scale: error 20 (the largest), params 100; points (1, 0), (0.5, 0.5), (0.6, 1); reference (1.1, 1.1)
    hv = compare.hypervolume(archs, (20.0, 100.0))
    by_hand = (1.1 - 1.0) * (1.1 - 0.0) + (1.0 - 0.5) * (1.1 - 0.5)  # the third point adds nothing
    assert hv == pytest.approx(by_hand)


def test_comparison_tells_a_better_set_from_a_worse_one():
    """A family that is more accurate at every size beats random; equal sets are indistinguishable."""
    archs = []
    for i, params in enumerate(range(0, 200, 20)):
        archs.append(_arch("family", f"F{i}", params, 85 + params / 40, 85 + params / 40))
        archs.append(_arch("random", f"R{i}", params + 5, 80 + params / 40, 80 + params / 40))
    study = {"architectures": archs}
    diff = compare.hypervolume_difference(study, "family", "random", n=300)
    assert diff["low"] > 0 and diff["m"] == 10
    same = {"architectures": [dict(a, group="family") for a in archs if a["group"] == "random"]}
    same["architectures"] += [a for a in archs if a["group"] == "random"]
    diff = compare.hypervolume_difference(same, "family", "random", n=300)
    assert diff["low"] < 0 < diff["high"]
    hv = compare.hypervolumes(study, n=200)
    assert hv["family"]["hv"] > hv["random"]["hv"] and hv["family"]["low"] <= hv["family"]["hv"]


def test_matched_improvement_and_rank_agreement():
    archs = [
        _arch("paper", "A", 10, 90, 90, inh_test=70),
        _arch("matched", "A~", 10, 88, 88, inh_test=60),
        _arch("paper", "B", 5, 81, 81, inh_test=50),
        _arch("matched", "B~", 5, 90, 90, inh_test=65),
    ]
    ri = compare.matched_improvement({"architectures": archs})
    assert ri["pairs"]["A"] == pytest.approx(100 * 2 / 88) and ri["pairs"]["B"] == pytest.approx(-10.0)
    assert ri["low"] <= ri["mean"] <= ri["high"]
    ranked = {
        "architectures": [_arch("random", str(i), i, i, 50 + i, inh_test=10 + 2 * i) for i in range(12)]
    }
    agree = compare.rank_agreement(ranked, n=200)
    assert agree["kendall_tau"] == pytest.approx(1.0) and agree["spearman_rho"] == pytest.approx(1.0)
    reversed_ = {"architectures": [_arch("random", str(i), i, i, 50 + i, inh_test=-i) for i in range(12)]}
    assert compare.rank_agreement(reversed_, n=50)["kendall_tau"] == pytest.approx(-1.0)


def test_seed_summary_gives_mean_and_sample_sd():
    results = [fake.result({"A": fake.architecture((10, 10, 8), {"retrain": v})}) for v in (89.0, 90.0, 91.0)]
    row = compare.seed_summary(results, "retrain")["A"]
    assert row["values"] == [89.0, 90.0, 91.0] and row["mean"] == 90.0 and row["sd"] == pytest.approx(1.0)


def test_seed_table_labels_each_protocols_rows_and_the_text_states_the_constants():
    from hypernas.report import baselines as report
    from hypernas.report import seeds

    results = [
        fake.result({"A": fake.architecture((10, 10, 8), {"retrain": r, "inherited": i})}, {"seed": k})
        for k, (r, i) in enumerate(((89.0, 80.0), (90.0, 82.0), (91.0, 84.0)))
    ]
    table = seeds.seed_table(results)
    assert table["scored"].tolist() == ["retrained", "inherited"]
    assert table["mean ± sd"].tolist() == ["90.00 ± 1.00", "82.00 ± 2.00"]
    assert table.iloc[1][["seed 0", "seed 1", "seed 2"]].tolist() == [80.0, 82.0, 84.0]
    assert seeds.seeds_text(results) == "seeds 0, 1 and 2"
    assert seeds.seeds_text(results[:1]) == "seed 0" and seeds.seeds_text([]) == "no seed"
    text = report.conventions_text()
    assert f"({compare.HV_REFERENCE[0]:g}, {compare.HV_REFERENCE[1]:g})" in text
    assert f"{compare.BOOTSTRAP:,} resamples" in text


@pytest.mark.slow
def test_the_study_at_smoke_scale_scores_every_group_and_resumes(tmp_path, data_root, monkeypatch):
    """The whole study on the real Fashion-MNIST, made in two parts and then gathered: the parts
    share the measurements evenly and without overlap, the whole study measures nothing again;
    every group scored on both splits under both protocols; a second call reuses everything; the
    separate searches cost what their images say."""
    from hypernas.pipeline import baselines
    from hypernas.pipeline.baselines import run_baseline_study
    from hypernas.train.run import load_family

    kw = dict(
        runs_dir=tmp_path / "runs",
        results_dir=tmp_path / "results",
        data_root=data_root,
        progress=False,
        overrides={"train_subset": 256, "val_subset": 128, "test_subset": 256},
        sizes={"n_random": 2, "front_size": 1, "baseline_archs": ("B",)},
    )
    parts = [run_baseline_study("exp1", "smoke", part=(k, 2), **kw) for k in (1, 2)]
    made = [set(p["measurements"]) for p in parts]
    assert made[0] and made[1] and not made[0] & made[1]
    retrain = [sum(key.startswith("retrain|") for key in m) for m in made]
    assert abs(retrain[0] - retrain[1]) <= 1
    ledgers = tmp_path / "results" / "measurements"
    assert len(list(ledgers.glob("exp1-baselines-part*of2-*.json"))) == 2

    def measure_again(*args, **kwargs):
        raise AssertionError("the whole study measured again what a part had measured")

    with monkeypatch.context() as m:
        m.setattr(baselines.ev, "split_scores", measure_again)
        study = run_baseline_study("exp1", "smoke", **kw)
    assert not list(ledgers.glob("*.json"))  # the result holds what the parts' ledgers kept
    distinct = {a["genotype"] for a in study["architectures"]}
    assert len(made[0] | made[1]) == 2 * len(distinct)
    with pytest.raises(ConfigError, match="part 3 of 2"):
        run_baseline_study("exp1", "smoke", part=(3, 2), **kw)
    groups = Counter(a["group"] for a in study["architectures"])
    assert groups == {"paper": 4, "family": 1, "random": 2, "matched": 1, "separate": 1}
    for a in study["architectures"]:
        for protocol in ("inherited", "retrain"):
            assert set(a["accuracy"][protocol]) == {"val", "test"}
            assert all(0.0 <= v <= 100.0 for v in a["accuracy"][protocol].values())
    by_label = {a["label"]: a for a in study["architectures"]}
    assert by_label["B~"]["op_counts"] == by_label["B"]["op_counts"]
    assert by_label["B~"]["cell_params"] == by_label["B"]["cell_params"]
    assert study["compute"]["ratio"]["images"] == 1.0  # one separate search, the same epochs and data
    separate = load_family(next((tmp_path / "runs" / "smoke").glob("exp1-separateB-*")))
    assert isinstance(separate.hypernet, PlainLogits) and separate.config.fixed_s == (0.15, 0.15, 0.7)
    again = run_baseline_study("exp1", "smoke", **kw)
    assert again == study
    assert run_baseline_study("exp1", "smoke", part=(1, 2), **kw)["measurements"] == []  # nothing left
    assert json.loads((tmp_path / "results" / "exp1-baselines.json").read_text()) == study
    assert study["retrain_protocol"]["images"] == 256 and study["provenance"]["val_images"] == 128


@pytest.mark.slow
def test_a_genotype_scores_as_the_s_it_was_derived_at(smoke_run, data_root):
    from hypernas.api import load_run

    run = load_run(smoke_run)
    s = [0.2, 0.3, 0.5]
    g = run.derive(s)
    assert run.describe(g.key())["cell_params"] == run.describe(s)["cell_params"]
    assert run.evaluate(g, "inherited", data_root=data_root) == run.evaluate(
        s, "inherited", data_root=data_root
    )
    with pytest.raises(HyperNASError, match="relaxed protocol"):
        run.evaluate(g.to_dict(), "relaxed", data_root=data_root)


def test_the_report_of_a_stored_study_states_its_own_numbers():
    """The chapter's report of the committed quick exp1 study: the study and its three seeds are
    found by their configs, every verdict follows its interval and threshold, and every table and
    sentence carries the numbers the comparison computed."""
    import matplotlib

    matplotlib.use("Agg")
    from pathlib import Path

    from hypernas.report import baselines as report
    from hypernas.report.seeds import seed_flags

    stored = Path(__file__).resolve().parents[1] / "results" / "quick"
    studies = report.profile_studies(stored, "quick", ("exp1",))
    study, seeds = studies["exp1"]
    assert [r.config.seed for r in seeds] == [0, 1, 2]
    numbers = report.comparison(study, n=200)
    for key in ("family_vs_random", "family_vs_separate"):
        d = numbers[key]
        expected = "better" if d["low"] > 0 else "worse" if d["high"] < 0 else "not distinguishable"
        assert d["low"] <= d["mean"] <= d["high"] and report.difference_verdict(d) == expected
    verdict = report.study_verdict(study, seeds, numbers)
    fr, rank = numbers["family_vs_random"], numbers["ranking"]
    assert f"{fr['mean']:+.3f} [{fr['low']:+.3f}, {fr['high']:+.3f}]" in verdict["beats_random"]
    ranks = "yes" if rank["tau_low"] > report.RANKING_TAU else "partly" if rank["tau_low"] > 0 else "no"
    assert verdict["ranking"].startswith(f"{ranks}: Kendall's tau {rank['kendall_tau']:.2f}")
    assert rank["n"] == len({a["genotype"] for a in study["architectures"]})
    from hypernas.report.provenance import best_accuracy
    from hypernas.report.seeds import seed_verdict_text

    for protocol, word in (("inherited", "inherited"), ("retrain", "retrained")):
        letters = ", ".join(best_accuracy(r, protocol)[0] for r in seeds)
        assert f"{word} {letters}" in seed_verdict_text(seeds)
    from hypernas.space.genotype import Genotype as G

    stored = {
        n: G(tuple(a.ops), tuple(a.normal), tuple(a.reduce)).key() for n, a in seeds[0].architectures.items()
    }
    differ = [a["label"] for a in compare.members(study, ("paper",)) if stored[a["label"]] != a["genotype"]]
    text = report.same_search_text(study, seeds[0])
    assert (f"in {', '.join(differ)}" in text) if differ else ("the same main search" in text)
    assert report.same_search_text(study, None) == ""
    flags = seed_flags(seeds)
    held = sum(all(f[i] for f in flags.values()) for i in range(3))
    assert verdict["seeds"].startswith("no, in none" if held == 0 else f"yes in {held} of 3")
    table = report.hypervolume_table(study, numbers["hypervolume"])
    sizes = [len(compare.members(study, groups)) for groups in compare.SETS.values()]
    assert table["architectures"].tolist() == sizes and sum(sizes) == len(study["architectures"])
    text = report.comparison_text(study, numbers)
    assert f"{numbers['compute']['ratio']['images']:.2f} times the images" in text
    p = study["retrain_protocol"]
    assert f"{p['images']:,} images in all" in report.protocol_text(study)
    fig = report.plot_study(study)
    assert len(fig.axes) >= 1 and len(fig.axes[0].collections) >= len(compare.SETS)
