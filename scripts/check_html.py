"""Check a built book for what Sphinx does not warn about: every local image and link of its pages
must point to a file that exists.

    python scripts/check_html.py book/_build/html

A glued figure pasted into another page, for example, can link to an image file that was never
written; the build succeeds and the page shows a broken image. Exits 1 and names each broken
reference.
"""

from __future__ import annotations

import argparse
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _References(HTMLParser):
    """The ``src`` of images and the ``href`` of links of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"img": "src", "a": "href"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.refs.append((tag, value))


def broken_references(html_dir: Path) -> list[str]:
    """``page: tag -> target`` for each local reference whose file is missing."""
    broken = []
    for page in sorted(html_dir.rglob("*.html")):
        parser = _References()
        parser.feed(page.read_text(encoding="utf-8"))
        for tag, ref in parser.refs:
            url = urlsplit(ref)
            if url.scheme or url.netloc or not url.path:  # external, mail or a link within the page
                continue
            target = (page.parent / unquote(url.path)).resolve()
            if not target.exists():
                broken.append(f"{page.relative_to(html_dir)}: <{tag}> -> {ref}")
    return broken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", type=Path)
    args = parser.parse_args(argv)
    if not args.html_dir.is_dir():
        print(f"check_html: {args.html_dir} is not a folder; build the book first", file=sys.stderr)
        return 2
    broken = broken_references(args.html_dir)
    for line in broken:
        print(f"broken reference: {line}", file=sys.stderr)
    pages = sum(1 for _ in args.html_dir.rglob("*.html"))
    print(f"check_html: {pages} pages, {len(broken)} broken local references")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
