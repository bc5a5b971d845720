"""A small image-folder dataset drawn on the spot: coloured shapes on a noisy background, for trying
the method on "your own data" without a download (the README's example and the book's chapter).

>>> folder = write_shapes("data/shapes", per_class=50)     # doctest: +SKIP
>>> sorted(p.name for p in folder.iterdir())               # doctest: +SKIP
['circle', 'cross', 'square', 'triangle']
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

CLASSES = ("circle", "cross", "square", "triangle")


def _draw(kind: str, size: int, rng: np.random.Generator):
    from PIL import Image, ImageDraw

    background = rng.integers(0, 90, size=3)
    noise = rng.normal(0, 12, size=(size, size, 3))
    pixels = np.clip(background + noise, 0, 255).astype(np.uint8)
    im = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(im)
    colour = tuple(int(v) for v in rng.integers(120, 256, size=3))
    r = rng.uniform(0.22, 0.4) * size
    cx, cy = rng.uniform(r, size - r, size=2)
    box = (cx - r, cy - r, cx + r, cy + r)
    if kind == "circle":
        draw.ellipse(box, fill=colour)
    elif kind == "square":
        draw.rectangle(box, fill=colour)
    elif kind == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    else:
        w = max(1, round(r / 2.5))
        draw.line((cx - r, cy - r, cx + r, cy + r), fill=colour, width=w)
        draw.line((cx - r, cy + r, cx + r, cy - r), fill=colour, width=w)
    return im


def write_shapes(folder: str | os.PathLike, per_class: int = 200, size: int = 24, seed: int = 0) -> Path:
    """Write ``per_class`` PNG images of each of :data:`CLASSES` to ``folder/<class>/`` (torchvision's
    image-folder layout, no test split) and return the folder. The same seed draws the same images."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    for kind in CLASSES:
        (folder / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            _draw(kind, size, rng).save(folder / kind / f"{i:04d}.png")
    return folder
