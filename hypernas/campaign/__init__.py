"""The background queue of long runs on a workflow engine: its items (``queue``), one item's worker
(``work``), the engine that runs them (``engine``: Snakemake on ``workflow/Snakefile``) and where it
stands (``status``)."""
