"""Worked examples on the public API (:mod:`hypernas.api`), as a user would write them, that the
book executes and records: :mod:`hypernas.examples.own_data` (your own images and operation)."""
