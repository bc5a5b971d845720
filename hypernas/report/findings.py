"""Paragraphs the chapters show, written from results: what a sweep, a run's last epoch, a
paper-scale family and the theorem check say (each in one place, however many chapters show it)."""

from __future__ import annotations

import dataclasses

from hypernas.method.theorem import agrees, limit_verdict
from hypernas.pipeline.results import Result
from hypernas.report.claims import (
    collapses_onto_identity,
    counts_text,
    epochs_holding_all_effects,
    holds_all_effects,
    penalised_counts,
    penalised_counts_text,
    uses_every_family,
)
from hypernas.report.provenance import best_accuracy, hypernet_text, same_hypernet
from hypernas.report.tables import same_setting, setting_label


def collapse_text(result: Result) -> str | None:
    """The last-epoch collapse of architecture A onto skip connections in words, or None without one."""
    if not collapses_onto_identity(result):
        return None
    before, last = (c["group_counts"]["A"]["identity"] for c in result.curves[-2:])
    return (
        f"In this run architecture A goes from {before} to {last} identity edges in the last epoch "
        f"(t = {result.curves[-1]['t']:.2f}): the family collapses onto skip connections when the temperature is "
        "lowest. The section on kappa, the Cost relaxation and the seed below, and the summary chapter, follow this up."
    )


def final_family_text(label: str, result: Result) -> str:
    """One paragraph on a finished run: final counts of A-D, the epochs holding all three penalty
    effects, and the most accurate of A-D with inherited weights."""
    fam = {n: a.group_counts for n, a in result.architectures.items()}
    best, acc = best_accuracy(result, "inherited")
    held = epochs_holding_all_effects(result)
    return (
        f"**{label}.** Final family (pool/conv/identity): "
        + ", ".join(f"{n} {counts_text(c)}" for n, c in fam.items())
        + "; all three penalty effects held after "
        + (f"epochs {', '.join(map(str, held))}" if held else "no epoch")
        + f" of the {len(result.curves)}; "
        + f"best of A-D with inherited weights: {best}, {acc:.2f} %."
    )


def _outcome(rs: list[Result]) -> str:
    rs = sorted(rs, key=lambda r: r.config.seed)
    return (
        f"A uses every family in {sum(map(uses_every_family, rs))} "
        f"of {len(rs)} runs, all three effects hold in {sum(map(holds_all_effects, rs))} "
        f"of {len(rs)}, the last epoch collapses in {sum(collapses_onto_identity(r) for r in rs)} of {len(rs)} "
        f"(A per seed: {', '.join(counts_text(r.architectures['A'].group_counts) for r in rs)}; "
        f"B conv / C pool / D identity per seed: {', '.join(penalised_counts_text(r) for r in rs)})"
    )


def sweep_findings(sweep: list[Result], main: Result) -> str:
    """What a sweep (``main`` first, then the runs of other settings) says about the last-epoch
    collapse, the penalty effects per setting, the hypernetwork's layout and its width, as a
    Markdown list."""
    collapsed = [r for r in sweep if collapses_onto_identity(r)]
    by_setting: dict[str, list[Result]] = {}
    for r in sweep:
        by_setting.setdefault(setting_label(r, main.config), []).append(r)
    lines = [
        f"{len(collapsed)} of {len(sweep)} runs end with architecture A on at least 20 identity edges "
        "after holding at most 5 one epoch earlier (a collapse onto skip connections in the "
        f"last, coldest epoch, t = {sweep[0].curves[-1]['t']:.2f})."
    ]
    for setting, rs in sorted(by_setting.items()):
        n_collapse = sum(r in collapsed for r in rs)
        n_all = sum(map(holds_all_effects, rs))
        lines.append(
            f"`{setting}` (all kappa and seeds): {n_collapse} of {len(rs)} runs collapse, "
            f"{n_all} of {len(rs)} hold all three penalty effects."
        )
    at_end = sum(map(holds_all_effects, sweep))
    some_epoch = sum(bool(epochs_holding_all_effects(r)) for r in sweep)
    a_lacks = sum(not uses_every_family(r) for r in sweep)
    lines.append(
        f"All three effects hold at the end of the search in {at_end} of {len(sweep)} runs, and after at "
        f"least one epoch in {some_epoch} of {len(sweep)}: the family read off the hypernetwork changes "
        f"from epoch to epoch. In {a_lacks} of {len(sweep)} final families architecture A (uniform s) "
        "uses no edge at all of some operation group, and then the effect on that group cannot show."
    )
    removed = sum(not any(penalised_counts(r)) for r in sweep)
    lines.append(
        f"In {removed} of {len(sweep)} runs B, C and D give no edge at all to the operation each one "
        "penalises; where the comparison with A fails in such a run, A has none of that operation either."
    )
    main_cfg = main.config
    layout_runs = [r for r in sweep if same_setting(r, main_cfg)]
    lattice_cfg = dataclasses.replace(main_cfg, ref_layout="lattice", learnable_refs=False)
    lattice_runs = [r for r in sweep if same_setting(r, lattice_cfg)]
    if lattice_runs and not same_hypernet(main_cfg, lattice_cfg):
        lines.append(
            f"The layout of the hypernetwork's reference points, everything else as in this chapter's run: "
            f"with {hypernet_text(main_cfg)} (this profile's setting, as in the authors' code), "
            f"{_outcome(layout_runs)}; with {hypernet_text(lattice_cfg)} (this project's first default), "
            f"{_outcome(lattice_runs)}."
        )
    narrow = [r for r in sweep if r.config.sigma != main_cfg.sigma]
    if narrow:
        wide = [r for r in sweep if r not in narrow and same_setting(r, narrow[0].config, ("seed", "sigma"))]
        lines.append(
            f"The width of the RBF hypernetwork: with sigma = {narrow[0].config.sigma:g} instead of the "
            f"paper's {main_cfg.sigma:g} (`{setting_label(narrow[0], main_cfg)}`), {_outcome(narrow)}; "
            f"with sigma = {main_cfg.sigma:g}, all else equal, {_outcome(wide)}."
        )
    lines.append(
        "A possible reading of the collapse: with `softmax_t` the Cost is taken at Softmax(alpha/t), "
        "whose gradient (1/t) p (s - <p, s>) vanishes as p saturates at small t, while the "
        "cross-entropy's gradient through the Gumbel-Softmax sample does not; `softmax` does not depend on t, "
        "and `sample` takes the Cost at the Gumbel-Softmax sample, like the cross-entropy. The counts above are the evidence for and against it; the runs that "
        "differ only in the seed show how much of the pattern is chance."
    )
    return "\n".join(f"* {line}" for line in lines)


def theorem_text(theorem: dict) -> str:
    """The theorem check at the coldest temperature, for the alpha of the paper's digest, in words;
    the verdict is the data's (:func:`~hypernas.method.theorem.limit_verdict`)."""
    c = theorem["alphas"]["k3_paper"]
    mean, ci = c["mc_mean"][-1], c["mc_ci"][-1]
    identified = all(agrees(m, v, h) for m, v, h in zip(mean, c["softmax_t"][-1], ci))
    v = limit_verdict(theorem)
    head = (
        f"At t = {theorem['t'][-1]} the Monte Carlo mean of the Gumbel-Softmax sample for alpha = {c['alpha']} is "
        f"({', '.join(f'{x:.3f}' for x in mean)}), against Softmax(alpha) = "
        f"({', '.join(f'{x:.3f}' for x in c['softmax'])}) and the paper's Softmax(alpha/t) = "
        f"({', '.join(f'{x:.3f}' for x in c['softmax_t'][-1])}): "
    )
    if not identified and v["fails"] == v["holds"] == v["total"]:
        verdict = (
            "the theorem's identification of E[gamma] with Softmax(alpha/t), and its limit, do not hold; "
            "the corrected limit (the categorical expectation under Softmax(alpha)) does."
        )
    else:
        verdict = (
            f"E[gamma] {'agrees with' if identified else 'differs from'} Softmax(alpha/t); over every alpha "
            f"and f the paper's limit is rejected in {v['fails']} of {v['total']} cases and the corrected "
            f"limit (the categorical expectation under Softmax(alpha)) agrees in {v['holds']} of {v['total']}."
        )
    return head + verdict + " See the theorem chapter."
