"""The paper's claims checked against our results: verdicts and the sentences that state them."""

from __future__ import annotations

import math

import pandas as pd

from hypernas.pipeline.results import Result
from hypernas.report.latency import verdict as latency_verdict

# The thresholds of the verdicts, used by the tables, the prose and the tests alike.
REMOVED_MAX_EDGES = 2  # a penalised op counts as removed when at most this many of the 28 edges keep it
WIDE_FACTOR = 10  # a family is "from small to large" when its largest cell is this many times its smallest


# ----------------------------------------------------------------------------- claims
def counts_text(counts: dict[str, int]) -> str:
    """Op-group counts as ``pool/conv/identity``."""
    return f"{counts['pool']}/{counts['conv']}/{counts['identity']}"


def penalty_effects(result: Result) -> dict[str, bool]:
    """Whether B, C, D hold fewer convolutions, poolings, identities respectively than A."""
    return counts_effects({n: a.group_counts for n, a in result.architectures.items()})


def counts_effects(fam: dict[str, dict[str, int]]) -> dict[str, bool]:
    """:func:`penalty_effects` from the op-group counts of A-D (``{"A": {"pool": .., ...}, ...}``)."""
    return {
        "B: fewer conv than A": fam["B"]["conv"] < fam["A"]["conv"],
        "C: fewer pool than A": fam["C"]["pool"] < fam["A"]["pool"],
        "D: fewer identity than A": fam["D"]["identity"] < fam["A"]["identity"],
    }


def epochs_holding_all_effects(result: Result) -> list[int]:
    """The epochs after which the family read off the hypernetwork held all three penalty effects."""
    return [c["epoch"] for c in result.curves if all(counts_effects(c["group_counts"]).values())]


def penalty_effects_text(result: Result) -> str:
    """The three penalty effects of ``result`` in one sentence, with the counts they compare."""
    fam = {n: a.group_counts for n, a in result.architectures.items()}
    held = counts_effects(fam).values()
    parts = [
        f"{name} holds fewer {label} than A: {_yes_no(ok)} ({fam[name][f]} vs {fam['A'][f]})"
        for (name, f, label), ok in zip(
            (("B", "conv", "convolutions"), ("C", "pool", "poolings"), ("D", "identity", "identities")), held
        )
    ]
    return "Penalty effects in this run: " + "; ".join(parts) + "."


def collapses_onto_identity(result: Result, at_least: int = 20, before_at_most: int = 5) -> bool:
    """Architecture A ends on at least ``at_least`` identity edges after holding at most
    ``before_at_most`` one epoch earlier (the last-epoch collapse onto skip connections)."""
    curves = result.curves
    if len(curves) < 2:
        return False
    last, before = (c["group_counts"]["A"]["identity"] for c in (curves[-1], curves[-2]))
    return last >= at_least and before <= before_at_most


def holds_all_effects(result: Result) -> bool:
    """All three penalty effects of :func:`penalty_effects` hold at the end of the search."""
    return all(penalty_effects(result).values())


def uses_every_family(result: Result, arch: str = "A") -> bool:
    """Architecture ``arch`` gives at least one edge to every operation group."""
    return min(result.architectures[arch].group_counts.values()) > 0


def penalised_counts(result: Result) -> tuple[int, int, int]:
    """How many edges B, C, D give to the operation group each penalises: (conv, pool, identity)."""
    fam = {n: a.group_counts for n, a in result.architectures.items()}
    return fam["B"]["conv"], fam["C"]["pool"], fam["D"]["identity"]


def family_span(result: Result) -> tuple[int, int]:
    """The smallest and largest cell-parameter count over the family grid of ``result``."""
    params = [g.cell_params for g in result.family_grid]
    return min(params), max(params)


def fold_text(n: int) -> str:
    return {10: "tenfold"}.get(n, f"{n}-fold")


def is_wide(span: tuple[int, int]) -> bool:
    """Whether a family span (:func:`family_span`) covers at least a :data:`WIDE_FACTOR`-fold range of sizes."""
    lo, hi = span
    return hi >= WIDE_FACTOR * max(lo, 1)


def penalised_counts_text(result: Result) -> str:
    """:func:`penalised_counts` as ``conv/pool/identity``."""
    return "/".join(map(str, penalised_counts(result)))


def claim_verdicts(results: dict[str, Result], latency: dict | None = None) -> pd.DataFrame:
    """The paper's claims, each judged from our numbers."""
    rows = []

    def fam(r, name):
        return r.architectures[name].group_counts

    def acc(r, name, protocol="inherited"):
        return r.architectures[name].test_accuracy[protocol]

    def params(r, name):
        return r.architectures[name].cell_params

    exps = [e for e in ("exp1", "exp2", "exp3") if e in results]

    # 1. uniform uses all ops; raised penalty removes (almost) all of that op
    details, ok_all, ok_some = [], True, False
    for e in exps:
        r = results[e]
        uses_all = uses_every_family(r)
        removed = dict(zip("BCD", penalised_counts(r)))
        good = uses_all and all(v <= REMOVED_MAX_EDGES for v in removed.values())
        ok_all &= good
        ok_some |= good or any(v <= REMOVED_MAX_EDGES for v in removed.values())
        details.append(
            f"{e}: A uses all = {_yes_no(uses_all)}; conv at B = {removed['B']}, pool at C = {removed['C']}, identity at D = {removed['D']}"
        )
    rows.append(
        (
            "1. Uniform s uses every op; raising one op's penalty removes (almost) all of it",
            _verdict(ok_all, ok_some),
            "; ".join(details),
        )
    )

    # 2. conv penalty -> fewest params and lowest accuracy; pool penalty -> most conv, params, best accuracy
    details, oks = [], []
    for e in exps:
        r = results[e]
        names = list(r.architectures)
        p = {n: params(r, n) for n in names}
        a = {n: acc(r, n) for n in names}
        conv = {n: fam(r, n)["conv"] for n in names}
        checks = [
            min(p, key=p.get) == "B",
            min(a, key=a.get) == "B",
            max(conv, key=conv.get) == "C",
            max(p, key=p.get) == "C",
            max(a, key=a.get) == "C",
            fam(r, "D")["identity"] <= REMOVED_MAX_EDGES,
        ]
        oks.append(checks)
        details.append(
            f"{e}: fewest params B {_yes_no(checks[0])}, lowest acc B {_yes_no(checks[1])}, most conv C "
            f"{_yes_no(checks[2])}, most params C {_yes_no(checks[3])}, best acc C {_yes_no(checks[4])}, "
            f"identity gone at D {_yes_no(checks[5])}"
        )
    flat = [c for cs in oks for c in cs]
    rows.append(
        (
            "2. Conv penalty: fewest params, lowest accuracy; pool penalty: most conv, params, best accuracy; identity penalty removes identity",
            _verdict(all(flat), sum(flat) >= len(flat) / 2),
            "; ".join(details),
        )
    )

    # 3. front of about 5k to 150k parameters
    details, spans = [], []
    for e in exps:
        r = results[e]
        lo, hi = family_span(r)
        spans.append((lo, hi))
        details.append(
            f"{e}: family spans {lo:,} to {hi:,} cell parameters over {r.n_unique_genotypes} genotypes"
        )
    wide = all(is_wide(span) for span in spans)
    rows.append(
        (
            "3. Moving s moves along an accuracy/complexity front (about 5k to 150k parameters)",
            _verdict(wide, any(hi > lo for lo, hi in spans)),
            "; ".join(details),
        )
    )

    claim4 = "4. Mapping ops to measured device latency picks an architecture for a budget without retraining"
    if latency and "runtimes" in latency:
        good, detail = latency_verdict(latency)
        met = any(b["all_within"] for r in latency["runtimes"].values() for b in r["budgets"])
        rows.append(
            (claim4, _verdict(good, met), detail + " (the paper itself does not run this experiment)")
        )
    else:
        rows.append(
            (claim4, "not tested here", "the paper does not run this experiment; see the latency chapter")
        )

    # 5. one run per experiment (true by construction: A-D and the grid are read off one search), and
    # the trends of claims 1-2 hold in every experiment
    effects = {e: sum(penalty_effects(results[e]).values()) for e in exps}
    held = {e: sum(cs) for e, cs in zip(exps, oks)}
    details = [f"{e}: penalty effects {effects[e]} of 3, claim-2 checks {held[e]} of 6" for e in exps]
    rows.append(
        (
            "5. All architectures of an experiment come from one training run; trends hold on both datasets and op sets",
            _verdict(
                bool(exps) and all(effects[e] == 3 and held[e] == 6 for e in exps),
                any(effects[e] >= 2 for e in exps),
            ),
            "each experiment's A-D and family grid are read off one search run (see provenance); "
            + "; ".join(details),
        )
    )
    return pd.DataFrame(rows, columns=["claim", "verdict", "our numbers"])


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def _verdict(all_ok: bool, some_ok: bool) -> str:
    return "reproduced" if all_ok else ("partly" if some_ok else "not reproduced")


def chance_gap(acc_a: float, acc_b: float, n_test: int) -> float:
    """The half-width, in percentage points, of a 95 % interval for the difference of two test
    accuracies (in %) measured on ``n_test`` images each, as if the two were independent. The two
    networks see the same images, so the true (paired) spread is smaller: a gap above this bound is
    not the test set's chance."""
    pa, pb = acc_a / 100, acc_b / 100
    return 196 * math.sqrt((pa * (1 - pa) + pb * (1 - pb)) / n_test)


def chance_text(result: Result) -> str:
    """One sentence on the test set's chance: how far two test accuracies of A-D (inherited weights)
    may differ by chance alone on this result's test images (:func:`chance_gap`)."""
    accs = [a.test_accuracy["inherited"] for a in result.architectures.values()]
    mean = sum(accs) / len(accs)
    n_test = result.provenance.test_images
    return (
        f"Each test accuracy is measured on {n_test:,} images: two accuracies near {mean:.0f} % "
        f"differ by up to ±{chance_gap(mean, mean, n_test):.1f} points by chance alone (95 %), "
        "before any seed-to-seed spread of the search."
    )


def _c_gap(result: Result) -> tuple[str, float, float]:
    """(rival, gap, chance): the best of A, B, D with inherited weights, C's accuracy minus the
    rival's in points, and the gap the test set's size allows by chance (:func:`chance_gap`)."""
    accs = result.accuracies("inherited")
    rival = max((n for n in accs if n != "C"), key=accs.get)
    noise = chance_gap(accs["C"], accs[rival], result.provenance.test_images)
    return rival, accs["C"] - accs[rival], noise


def c_margin_text(result: Result) -> str:
    """How far C leads or trails the best of A, B, D with inherited weights, against the gap that the
    test set's size allows by chance (:func:`chance_gap`)."""
    rival, gap, noise = _c_gap(result)
    return (
        f"C {'leads' if gap >= 0 else 'trails'} {rival} by {abs(gap):.2f} points with inherited "
        f"weights; chance on {result.provenance.test_images:,} test images allows ±{noise:.2f}"
    )


def c_gap_within_chance(result: Result) -> bool:
    """True when C and the best of A, B, D (inherited weights) differ by less than the gap the test
    set's size allows by chance (:func:`chance_gap`): C's lead, or its lag, decides nothing."""
    _, gap, noise = _c_gap(result)
    return abs(gap) < noise
