"""The paper's four headline claims over scales, experiments and seeds: the grid of verdicts that
the summary and the landing page show, and the numbers behind each verdict."""

from __future__ import annotations

import pandas as pd

from hypernas.pipeline.results import Result
from hypernas.report.claims import (
    REMOVED_MAX_EDGES,
    WIDE_FACTOR,
    c_gap_within_chance,
    c_margin_text,
    family_span,
    fold_text,
    is_wide,
    penalised_counts,
)
from hypernas.report.paper import PAPER_TABLES
from hypernas.report.provenance import best_accuracy

PROTOCOL_WORDS = {"inherited": "with inherited weights", "relaxed": "relaxed", "retrain": "retrained"}


def _by_experiment(flags: dict[str, bool]) -> str:
    """``{"exp1": True, "exp2": False}`` as "**yes** in exp1, **no** in exp2" (or "**yes**" alone
    when every experiment agrees and there is one)."""
    yes = [e for e, ok in flags.items() if ok]
    no = [e for e, ok in flags.items() if not ok]
    if len(flags) == 1:
        return f"**{'yes' if yes else 'no'}**"
    parts = [f"**{word}** in {', '.join(es)}" for word, es in (("yes", yes), ("no", no)) if es]
    return ", ".join(parts)


def _most_accurate(result: Result) -> str:
    """Which of A-D is the most accurate under each protocol that was measured, e.g.
    "A with inherited weights (87.50 %), C retrained (89.84 %)"."""
    protocols = [p for p in PROTOCOL_WORDS if p in next(iter(result.architectures.values())).test_accuracy]
    parts = []
    for protocol in protocols:
        name, acc = best_accuracy(result, protocol)
        parts.append(f"{name} {PROTOCOL_WORDS[protocol]} ({acc:.2f} %)")
    return ", ".join(parts)


def _best_c_text(flags: dict[str, bool], results: dict[str, Result]) -> str:
    """:func:`_by_experiment` of the best-C flags, saying where C's lead or lag is within chance."""
    close = [e for e, r in results.items() if c_gap_within_chance(r)]
    if not close:
        return _by_experiment(flags)
    where = "" if len(results) == 1 else f" in {', '.join(close)}"
    return _by_experiment(flags) + f" (the gap is within chance{where})"


HEADLINE_CLAIMS = {
    "removes": "Raising a penalty removes its operation",
    "best_c": "The pool penalty (C) gives the most accurate model",
    "smallest_b": "The conv penalty (B) gives the smallest model",
    "wide": "One search gives a family from small to large models",
}


def _smallest(result: Result) -> str:
    archs = result.architectures
    return min(archs, key=lambda n: archs[n].cell_params)


def headline_flags(results: dict[str, Result]) -> dict[str, dict[str, bool]]:
    """For each claim of :data:`HEADLINE_CLAIMS`, whether it holds in each experiment's result:
    at most :data:`REMOVED_MAX_EDGES` of 28 edges left on the penalised operation at B, C and D; C the most accurate with
    inherited weights; B the smallest in cell parameters; the family at least :data:`WIDE_FACTOR`-fold in size."""
    return {
        "removes": {e: max(penalised_counts(r)) <= REMOVED_MAX_EDGES for e, r in results.items()},
        "best_c": {e: best_accuracy(r, "inherited")[0] == "C" for e, r in results.items()},
        "smallest_b": {e: _smallest(r) == "B" for e, r in results.items()},
        "wide": {e: is_wide(family_span(r)) for e, r in results.items()},
    }


def seed_count_text(held: list[bool]) -> str:
    """In how many of the seeds a claim holds: "yes in 2 of 3 seeds", "no, in none of 3 seeds"."""
    k, n = sum(held), len(held)
    seeds = f"seed{'s' if n > 1 else ''}"
    return f"no, in none of {n} {seeds}" if k == 0 else f"yes in {k} of {n} {seeds}"


def _seed_texts(runs: dict[str, list[Result]]) -> dict[str, str]:
    """Per headline claim, in how many seeds it holds: "yes in 2 of 3 seeds" for one experiment;
    for several, "yes in exp1 (3 of 3 seeds), exp3 (1 of 3 seeds); no in exp2 (0 of 3 seeds)"."""
    held = {e: [headline_flags({e: r}) for r in rs] for e, rs in runs.items()}
    texts = {}
    for key in HEADLINE_CLAIMS:
        counts = {e: [f[key][e] for f in flags] for e, flags in held.items()}
        if len(counts) == 1:
            texts[key] = seed_count_text(next(iter(counts.values())))
            continue
        named = {e: f"{e} ({sum(h)} of {len(h)} seed{'s' if len(h) > 1 else ''})" for e, h in counts.items()}
        yes = [named[e] for e, h in counts.items() if any(h)]
        no = [named[e] for e, h in counts.items() if not any(h)]
        texts[key] = "; ".join(f"{word} in {', '.join(es)}" for word, es in (("yes", yes), ("no", no)) if es)
    close = [
        f"{e} seed{'s' if len(seeds) > 1 else ''} {', '.join(seeds)}"
        for e, rs in runs.items()
        if (seeds := [str(r.config.seed) for r in rs if c_gap_within_chance(r)])
    ]
    if close:
        texts["best_c"] += f" (the gap is within chance in {'; '.join(close)})"
    return texts


def verdict_grid(
    scales: dict[str, dict[str, Result]], seeds: dict[str, dict[str, list[Result]]] | None = None
) -> pd.DataFrame:
    """Whether each headline claim holds, one column per scale, headed by the scale's label and its
    experiments: "yes", "no", or "yes in exp1, no in exp2" where the experiments disagree (a C that
    leads or trails by less than chance is named); "not finished" for a scale without results.

    ``seeds`` gives a scale's results of every seed by experiment (seed 0 first); where an
    experiment of the scale has more than one, the column counts the seeds in which each claim
    holds ("yes in 2 of 3 seeds")."""
    columns = {}
    for label, results in scales.items():
        if not results:
            columns[f"{label} (no run finished)"] = {key: "not finished" for key in HEADLINE_CLAIMS}
            continue
        runs = {e: (seeds or {}).get(label, {}).get(e) or [r] for e, r in results.items()}
        if any(len(rs) > 1 for rs in runs.values()):
            n = sorted({len(rs) for rs in runs.values()})
            count = (
                f"{n[0]} seeds" + (" each" if len(runs) > 1 else "")
                if len(n) == 1
                else "seeds: " + ", ".join(f"{e} {len(rs)}" for e, rs in runs.items())
            )
            columns[f"{label} ({', '.join(results)}; {count})"] = _seed_texts(runs)
            continue
        flags = headline_flags(results)
        texts = {key: _by_experiment(flags[key]) for key in HEADLINE_CLAIMS}
        texts["best_c"] = _best_c_text(flags["best_c"], results)
        columns[f"{label} ({', '.join(results)})"] = {
            key: text.replace("**", "") for key, text in texts.items()
        }
    return (
        pd.DataFrame(columns, index=list(HEADLINE_CLAIMS)).rename(index=HEADLINE_CLAIMS).rename_axis("claim")
    )


def headline(scales: dict[str, dict[str, Result]]) -> str:
    """The numbers behind :func:`verdict_grid` (Markdown): per scale, whether each of the paper's
    main claims holds, with the numbers that decide it.

    ``scales`` maps a label (e.g. "Paper scale, setting (a)") to its results by experiment; a scale
    without results is named as not finished.
    """
    blocks = []
    for label, results in scales.items():
        title = label[:1].upper() + label[1:]
        if not results:
            blocks.append(f"**{title}**: no run has finished yet, so nothing is claimed at this scale.")
            continue
        flags = headline_flags(results)
        spans = {e: family_span(r) for e, r in results.items()}
        left = "; ".join(
            f"{e}: {'/'.join(map(str, penalised_counts(r)))}, paper "
            f"{PAPER_TABLES[e]['B']['conv']}/{PAPER_TABLES[e]['C']['pool']}/{PAPER_TABLES[e]['D']['identity']}"
            for e, r in results.items()
        )
        lines = [
            f"*{HEADLINE_CLAIMS['removes']}* (at most {REMOVED_MAX_EDGES} of 28 edges left): {_by_experiment(flags['removes'])}. "
            f"Edges left on convolution at B, pooling at C, identity at D: {left}.",
            f"*{HEADLINE_CLAIMS['best_c']}* (judged with inherited weights): "
            f"{_best_c_text(flags['best_c'], results)}. Most accurate: "
            + "; ".join(f"{e}: {_most_accurate(r)} ({c_margin_text(r)})" for e, r in results.items())
            + ".",
            f"*{HEADLINE_CLAIMS['smallest_b']}*: {_by_experiment(flags['smallest_b'])}. Smallest: "
            + "; ".join(
                f"{e}: {n}, {results[e].architectures[n].cell_params:,} cell parameters"
                for e, n in ((e, _smallest(r)) for e, r in results.items())
            )
            + ".",
            f"*{HEADLINE_CLAIMS['wide']}* (at least {fold_text(WIDE_FACTOR)} in size): "
            f"{_by_experiment(flags['wide'])}. Cell parameters over the family: "
            + "; ".join(f"{e}: {lo:,} to {hi:,}" for e, (lo, hi) in spans.items())
            + " (the paper: about 5,000 to 150,000).",
        ]
        blocks.append(f"**{title}** ({', '.join(results)}):\n\n" + "\n".join(f"* {line}" for line in lines))
    return "\n\n".join(blocks)
