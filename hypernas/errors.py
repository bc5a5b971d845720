"""User-facing errors: one line that names the problem and the fix.

The CLI catches :class:`HyperNASError`, prints its message to stderr and exits with code 2.
"""

from __future__ import annotations


class HyperNASError(Exception):
    """Base class of every error a user can cause (bad input, missing data or run, a faulty file)."""


class SimplexError(HyperNASError, ValueError):
    """A complexity vector s that is not a point of the probability simplex."""


class ConfigError(HyperNASError, ValueError):
    """Unknown preset, profile, op, protocol or config key, or a value of the wrong type or range."""


class DataError(HyperNASError, FileNotFoundError):
    """A dataset that cannot be found, downloaded or read."""


class RunDirError(HyperNASError, FileNotFoundError):
    """A run directory that is missing, incomplete or would be overwritten."""


class ArtefactError(HyperNASError, ValueError):
    """A file this project wrote or reads (checkpoint, config, LUT, model, result) that is missing,
    unreadable or not of the expected shape."""


class OutputError(HyperNASError):
    """A file that cannot be written (read-only place, not a directory, no space left); the file
    it would have replaced is kept."""


class DivergedError(HyperNASError, FloatingPointError):
    """The search's loss or gradients became NaN or infinite; the last good checkpoint is kept."""


class BudgetError(HyperNASError, ValueError):
    """No architecture of the family satisfies the requested budget."""
