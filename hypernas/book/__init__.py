"""What the book's chapters call, by one name each: the pipelines that make results
(:mod:`hypernas.pipeline`) and the tables, figures, verdicts and sentences that show them
(:mod:`hypernas.report`). Nothing is defined here."""

from hypernas.method.theorem import AGREE_HALF_WIDTHS, limit_verdict
from hypernas.pipeline.experiment import ensure_search, family_grid, run_experiment, run_sweep, sweep_results
from hypernas.pipeline.latency_study import run_latency_study
from hypernas.pipeline.results import (
    paper_result,
    paper_results,
    profile_results,
    read_if_present,
    read_record_if_present,
)
from hypernas.pipeline.theorem_study import run_theorem_study
from hypernas.report.claims import (
    REMOVED_MAX_EDGES,
    WIDE_FACTOR,
    c_gap_within_chance,
    chance_text,
    claim_verdicts,
    collapses_onto_identity,
    counts_text,
    epochs_holding_all_effects,
    holds_all_effects,
    penalised_counts,
    penalised_counts_text,
    penalty_effects,
    penalty_effects_text,
    uses_every_family,
)
from hypernas.report.figures import (
    plot_cells,
    plot_counts_over_epochs,
    plot_curves,
    plot_family_map,
    plot_front,
    plot_op_stats,
)
from hypernas.report.findings import collapse_text, final_family_text, sweep_findings, theorem_text
from hypernas.report.headline import HEADLINE_CLAIMS, headline, verdict_grid
from hypernas.report.latency import accuracy_table as latency_accuracy_table
from hypernas.report.latency import budget_as_read_text as latency_budget_as_read
from hypernas.report.latency import budget_table as latency_budget_table
from hypernas.report.latency import prediction_figure as latency_prediction_figure
from hypernas.report.latency import repetition_table as latency_repetition_table
from hypernas.report.latency import runtime_contrast_text as latency_runtime_contrast
from hypernas.report.latency import s_device_table as latency_s_device_table
from hypernas.report.latency import verdict as latency_verdict
from hypernas.report.paper import ARCH_NAMES, CELL_PARAMS_ROW, PAPER_TABLES, SETTING_TITLES
from hypernas.report.provenance import (
    best_accuracy,
    collapsed,
    collapsed_html,
    evaluation_hardware,
    hypernet_text,
    run_description,
    run_times,
    same_hypernet,
    search_hardware,
    uncommitted_records_text,
)
from hypernas.report.style import use_book_style
from hypernas.report.tables import (
    accuracy_table,
    comparison_table,
    family_frame,
    kappa_sweep_frame,
    profile_table,
    provenance_table,
    same_setting,
    setting_label,
    sweep_by_setting,
)

__all__ = [
    "AGREE_HALF_WIDTHS",
    "ARCH_NAMES",
    "CELL_PARAMS_ROW",
    "HEADLINE_CLAIMS",
    "PAPER_TABLES",
    "REMOVED_MAX_EDGES",
    "SETTING_TITLES",
    "WIDE_FACTOR",
    "accuracy_table",
    "best_accuracy",
    "c_gap_within_chance",
    "chance_text",
    "claim_verdicts",
    "collapse_text",
    "collapsed",
    "collapsed_html",
    "collapses_onto_identity",
    "comparison_table",
    "counts_text",
    "ensure_search",
    "epochs_holding_all_effects",
    "evaluation_hardware",
    "family_frame",
    "family_grid",
    "final_family_text",
    "headline",
    "holds_all_effects",
    "hypernet_text",
    "kappa_sweep_frame",
    "latency_accuracy_table",
    "latency_budget_as_read",
    "latency_budget_table",
    "latency_prediction_figure",
    "latency_repetition_table",
    "latency_runtime_contrast",
    "latency_s_device_table",
    "latency_verdict",
    "limit_verdict",
    "paper_result",
    "paper_results",
    "penalised_counts",
    "penalised_counts_text",
    "penalty_effects",
    "penalty_effects_text",
    "plot_cells",
    "plot_counts_over_epochs",
    "plot_curves",
    "plot_family_map",
    "plot_front",
    "plot_op_stats",
    "profile_results",
    "profile_table",
    "provenance_table",
    "read_if_present",
    "read_record_if_present",
    "run_description",
    "run_experiment",
    "run_latency_study",
    "run_sweep",
    "run_theorem_study",
    "run_times",
    "same_hypernet",
    "same_setting",
    "search_hardware",
    "setting_label",
    "sweep_by_setting",
    "sweep_findings",
    "sweep_results",
    "theorem_text",
    "uncommitted_records_text",
    "use_book_style",
    "uses_every_family",
    "verdict_grid",
]
