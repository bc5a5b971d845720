"""Training and evaluating a family: the search config with its presets and profiles (``config``),
the single-level search loop with checkpoints and exact resume (``search``, ``checkpoint``), a
finished run loaded back (``run``), the three evaluation protocols (``evaluate``) and their cache
(``eval_cache``), torchrun support (``distributed``) and clean stops on SIGTERM (``stopping``)."""
