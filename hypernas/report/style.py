"""The look shared by every figure of the book."""

from __future__ import annotations

import seaborn as sns

BOOK_DPI = 110


def use_book_style() -> None:
    """Seaborn's white grid at notebook scale, 110 dpi: set before a chapter or a figure draws."""
    sns.set_theme(style="whitegrid", context="notebook", rc={"figure.dpi": BOOK_DPI})
