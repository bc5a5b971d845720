"""The committed book builds as `make book` builds it (strict: warnings are errors), and its pages
hold no broken local image or link (scripts/check_html.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_committed_book_builds_with_no_broken_references(tmp_path):
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    build = subprocess.run(
        [str(jupyter_book), "build", "book", "-W", "-n", "--keep-going", "--path-output", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, (build.stdout + build.stderr)[-3000:]
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from check_html import broken_references
    finally:
        sys.path.remove(str(REPO / "scripts"))
    html = tmp_path / "_build" / "html"
    assert (html / "intro.html").is_file() and (html / "own_data.html").is_file()
    assert broken_references(html) == []
