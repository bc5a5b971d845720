"""Sentences about how a result was made: its run, configuration, times, machines and segments."""

from __future__ import annotations

import re

from hypernas.pipeline.results import Result
from hypernas.train.checkpoint import Segment
from hypernas.train.config import SearchConfig

_HYPERNET_KEYS = ("ref_layout", "learnable_refs", "sigma", "rbf_sign")


def same_hypernet(config: SearchConfig, other: SearchConfig) -> bool:
    """True when two runs used the same hypernetwork (reference-point layout, learnability, sigma, sign)."""
    return all(getattr(config, k) == getattr(other, k) for k in _HYPERNET_KEYS)


def hypernet_text(cfg: SearchConfig) -> str:
    """The hypernetwork of a run in words (reference-point layout, learnable or not, sign of the RBF)."""
    layout = (
        "one set of 5 reference points per intermediate node, drawn from N(0, I)"
        if cfg.ref_layout == "random_per_node"
        else "one lattice of reference points on the simplex shared by all edges"
    )
    sign = "-" if cfg.rbf_sign < 0 else "+"
    return (
        f"{layout}, {'learnable' if cfg.learnable_refs else 'fixed'}, sigma = {cfg.sigma:g}, "
        f"sign {sign} (w_r ~ exp({sign}||s - s_ref,r||^2 / sigma^2))"
    )


def run_description(result: Result) -> str:
    """One paragraph (Markdown) naming the run: profile, hash, data, epochs, kappa, relaxation, temperature."""
    cfg, prov = result.config, result.provenance
    ops_text = ", ".join(f"`{o}`" for o in cfg.ops)
    return (
        f"**Run.** profile `{result.profile}`, config hash `{result.config_hash}`, seed {cfg.seed}; "
        f"data: {prov.data_source}, {prov.train_images:,} training images, {prov.test_images:,} test images; "
        f"{cfg.epochs} epochs at batch {cfg.batch_size}, kappa = {cfg.kappa:g}, Cost relaxation "
        f"`{cfg.cost_relaxation}`, temperature {cfg.t_start:g} to {cfg.t_end:g}; retraining "
        f"{cfg.retrain_epochs} epochs. Operations, in the order of s: {ops_text}. Hypernetwork: "
        f"{hypernet_text(cfg)}."
    )


def duration_text(seconds: float) -> str:
    """A duration for a reader: "415 s", "50 min", "4.4 h (15,725 s)"."""
    if seconds < 600:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h ({seconds:,.0f} s)"


def hardware_text(hardware: str) -> str:
    """A provenance's hardware string in good English ("1 threads" becomes "1 thread")."""
    return re.sub(r"\b1 threads\b", "1 thread", hardware)


def run_times(result: Result) -> str:
    """Search and evaluation wall times (pauses of a campaign included), hardware and commit of a result.

    A result made on more than one machine names the machines of its search and of its evaluation."""
    prov = result.provenance
    resumed = prov.evaluation_seconds > prov.evaluation_time_s + 1
    machines, evaluated_on = search_hardware(result), evaluation_hardware(result)
    where = (
        f" The search ran on {' and '.join(machines)}; the evaluation on {' and '.join(evaluated_on)}."
        if machines != [hardware_text(prov.hardware)] or evaluated_on != machines
        else ""
    )
    return (
        f"Wall time: search {duration_text(prov.search_time_s)}, evaluation "
        f"{duration_text(prov.evaluation_seconds)}"
        + (
            f" (summed over the measurements, some made before a resume; the last pass took "
            f"{duration_text(prov.evaluation_time_s)})"
            if resumed
            else ""
        )
        + (
            f" (commit `{prov.commit}`)."
            if where
            else f" on {hardware_text(prov.hardware)} (commit `{prov.commit}`)."
        )
        + where
        + (" " + segments_text(result)).rstrip()
        + (" " + uncommitted_text(result)).rstrip()
    )


def uncommitted_records_text(results: list[Result], what: str = "records") -> str:
    """How many of ``results`` were made with uncommitted changes (a commit marked ``-dirty``), ''
    when none were."""
    dirty = [r for r in results if uncommitted_text(r)]
    if not dirty:
        return ""
    commits = sorted({r.provenance.commit for r in dirty})
    which = (
        f"The {what[:-1]} was" if len(results) == 1 else f"{len(dirty)} of these {len(results)} {what} were"
    )
    return (
        f"{which} made with uncommitted changes beside {'commit' if len(commits) == 1 else 'the commits'} "
        f"{', '.join(f'`{c}`' for c in commits)} (marked dirty): the numbers are what that code gave, "
        "but the commit alone need not reproduce them exactly."
    )


def uncommitted_text(result: Result) -> str:
    """A warning when a commit of the result is marked ``-dirty`` (made with uncommitted changes
    beside it), '' otherwise."""
    prov = result.provenance
    commits = [prov.commit, *(s.commit for s in prov.search_segments)]
    dirty = sorted({c for c in commits if c.endswith("-dirty")})
    if not dirty:
        return ""
    return (
        f"Commit {', '.join(f'`{c}`' for c in dirty)} is marked dirty: the code that made these numbers "
        "had uncommitted changes, so that commit alone need not reproduce them exactly."
    )


def search_hardware(result: Result) -> list[str]:
    """The machines the search's segments ran on, in order of first use (the result's own hardware
    for a result without segments)."""
    prov = result.provenance
    found = [hardware_text(s.hardware) for s in prov.search_segments]
    return list(dict.fromkeys(found)) or [hardware_text(prov.hardware)]


def evaluation_hardware(result: Result) -> list[str]:
    """The machines the evaluation's measurements ran on, in the order measured (the result's own
    hardware for a result that does not record them)."""
    prov = result.provenance
    return [hardware_text(h) for h in prov.evaluation_hardware] or [hardware_text(prov.hardware)]


def best_accuracy(result: Result, protocol: str = "inherited") -> tuple[str, float]:
    """The letter of the most accurate of A-D under ``protocol``, and its test accuracy (%)."""
    accs = result.accuracies(protocol)
    best = max(accs, key=accs.get)
    return best, accs[best]


def segments_text(result: Result) -> str:
    """Which commits ran which part of a resumed search ('' for a search run in one go); when the
    segments ran on several machines, each segment's machine and speed."""
    segments = result.provenance.search_segments
    if len(segments) < 2:
        return ""
    mixed = len(search_hardware(result)) > 1
    parts = [
        f"`{s.commit}` from epoch {s.start[0]} step {s.start[1]} to epoch {s.end[0]} step {s.end[1]}"
        + (_machine_and_speed(s) if mixed else f" ({s.threads} thread{'s' if s.threads > 1 else ''})")
        for s in segments
    ]
    speeds = " (images per second of wall time, pauses included)" if mixed else ""
    return f"The search ran in {len(segments)} segments{speeds}: " + "; ".join(parts) + "."


def _machine_and_speed(segment: Segment) -> str:
    """' on <machine> (torch <version>), <n> images/s' for one search segment (the speed where it
    was recorded)."""
    text = f" on {hardware_text(segment.hardware)} (torch {segment.torch})"
    if segment.images and segment.seconds:
        text += f", {segment.images / segment.seconds:,.0f} images/s"
    return text


def collapsed(title: str, markdown: str) -> str:
    """HTML of a block folded behind ``title`` (a ``<details>`` element) holding ``markdown`` rendered:
    the chapters put a run's provenance there, so that its results come first on the screen."""
    from markdown_it import MarkdownIt

    return collapsed_html(title, MarkdownIt("commonmark").render(markdown))


def collapsed_html(title: str, html: str) -> str:
    """HTML of a block folded behind ``title`` holding ``html`` as it is (a long table, for example)."""
    return f"<details><summary>{title}</summary>\n{html}</details>"
