"""Atomic file writes: a temporary file in the same directory, then ``os.replace``.

A crash or a kill never leaves a half-written checkpoint or result behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch


def _atomic(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path | str, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    data = (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode()
    _atomic(Path(path), lambda fh: fh.write(data))


def write_text(path: Path | str, text: str) -> None:
    """Write text atomically."""
    _atomic(Path(path), lambda fh: fh.write(text.encode()))


def save_torch(path: Path | str, obj: Any) -> None:
    """``torch.save`` atomically."""
    _atomic(Path(path), lambda fh: torch.save(obj, fh))


def read_json(path: Path | str) -> Any:
    with open(path) as fh:
        return json.load(fh)
