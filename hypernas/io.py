"""Reading and writing this project's files, with one-line errors.

Writes are atomic: a temporary file ``.<name>.<pid>.<random>.tmp`` in the same directory, fsync,
then ``os.replace``. A crash, a kill or a full disk never leaves a half-written checkpoint or result
behind, and never replaces a good file with a partial one; a temporary file orphaned by a kill is
removed at the next write of the same file (its process is gone). A write that fails raises
:class:`~hypernas.errors.OutputError` naming the file and the cause.

Reads (:func:`read_json`, :func:`load_torch`) raise :class:`~hypernas.errors.ArtefactError` naming
the file, what is wrong with it and what to do; the modules that own a kind of file check its shape.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from hypernas.errors import ArtefactError, OutputError

_WRITE_HINTS = {
    errno.ENOSPC: "no space left on the device; free some space (the previous file is kept)",
    errno.EDQUOT: "disk quota exceeded; free some space (the previous file is kept)",
    errno.EROFS: "read-only file system; choose a writable place",
    errno.EACCES: "permission denied; choose a writable place",
    errno.EPERM: "permission denied; choose a writable place",
    errno.ENOTDIR: "a part of the path is a file, not a directory; choose another path",
    errno.EEXIST: "a part of the path is a file, not a directory; choose another path",
    errno.EISDIR: "it is a directory; give a file name",
}


def write_problem(exc: OSError) -> str:
    """What an ``OSError`` of a write means for the user, in a few words with the fix."""
    return _WRITE_HINTS.get(exc.errno, exc.strerror or exc.__class__.__name__)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphans(path: Path) -> list[Path]:
    """Delete the temporary files (or folders) ``.<name>.<pid>.*.tmp`` of ``path`` left by writers
    that no longer run; return them."""
    removed = []
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        pid_text = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            try:
                shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


@contextlib.contextmanager
def temporary_beside(path: Path | str) -> Iterator[Path]:
    """A temporary path next to ``path`` for writers that need a file name (exporters); the caller
    moves it onto ``path`` with ``replace``. Removed on failure; an ``OSError`` becomes :class:`OutputError`."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_orphans(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        yield Path(tmp)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {write_problem(exc)}") from None
    finally:
        _discard(tmp)


def _atomic(path: Path, data: bytes) -> None:
    with temporary_beside(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)


def check_writable(path: Path | str) -> None:
    """Fail now, with :class:`OutputError`, when ``path`` could not be written (before long work).

    Creates nothing: the nearest existing folder on the way to ``path`` must be a writable directory.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory; give a file name")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: {folder} is a file, not a directory; choose another path")
    if not os.access(folder, os.W_OK):
        read_only = os.statvfs(folder).f_flag & os.ST_RDONLY if hasattr(os, "statvfs") else False
        problem = _WRITE_HINTS[errno.EROFS if read_only else errno.EACCES]
        raise OutputError(f"cannot write {path}: {problem}")


def _discard(tmp: str | None) -> None:
    if tmp is not None and os.path.exists(tmp):
        os.unlink(tmp)


def json_text(obj: Any, indent: int | None = 2) -> str:
    """``obj`` as JSON text; NaN and infinity are refused (they are not JSON)."""
    try:
        return json.dumps(obj, indent=indent, allow_nan=False)
    except ValueError:
        raise OutputError(
            "refusing to write JSON that holds NaN or infinity (a non-finite number reached the output)"
        ) from None


def write_json(path: Path | str, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically (NaN and infinity are refused)."""
    try:
        text = json_text(obj)
    except OutputError:
        raise OutputError(f"refusing to write {path}: it would hold NaN or infinity") from None
    _atomic(Path(path), (text + "\n").encode())


def write_text(path: Path | str, text: str) -> None:
    """Write text atomically."""
    _atomic(Path(path), text.encode())


def save_torch(path: Path | str, obj: Any) -> None:
    """``torch.save`` atomically (serialised in memory first, so that a full disk is an ``OSError``)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    _atomic(Path(path), buffer.getbuffer())


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def read_json(path: Path | str, kind: str = "JSON file", fix: str = "write it again") -> Any:
    """The JSON value in ``path``; :class:`ArtefactError` when it is missing, unreadable, not JSON
    or holds NaN / infinity. ``kind`` names the file for the user, ``fix`` says what to do."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ArtefactError(f"{kind} {path} does not exist; {fix}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not text"
        raise ArtefactError(f"cannot read {kind} {path} ({reason}); {fix}") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError:
        raise ArtefactError(
            f"{kind} {path} is not valid JSON (damaged or not written by hypernas); {fix}"
        ) from None


def read_record(path: Path | str, kind: str, fix: str) -> dict:
    """A JSON object (a record) from ``path``, checked like :func:`read_json`."""
    value = read_json(path, kind, fix)
    if not isinstance(value, dict):
        raise ArtefactError(f"{kind} {path} holds a JSON {type(value).__name__}, not a record; {fix}")
    return value


def read_jsonl(path: Path | str, kind: str = "JSON-lines file", fix: str = "write it again") -> list:
    """The records of a JSON-lines file (one JSON value per non-empty line), checked like :func:`read_json`."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise ArtefactError(f"{kind} {path} does not exist; {fix}") from None
    except (OSError, UnicodeDecodeError):
        raise ArtefactError(f"cannot read {kind} {path}; {fix}") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line, parse_constant=_refuse_constant))
        except ValueError:
            raise ArtefactError(f"line {number} of {kind} {path} is not valid JSON; {fix}") from None
    return records


def load_torch(
    path: Path | str,
    kind: str,
    fix: str,
    map_location: torch.device | str = "cpu",
    weights_only: bool = False,
) -> Any:
    """``torch.load`` of ``path``; :class:`ArtefactError` when the file is missing, truncated, empty
    or not a PyTorch file (``torch.load`` raises many different exceptions for those)."""
    path = Path(path)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise ArtefactError(f"{kind} {path} {what}; {fix}")
    if path.stat().st_size == 0:
        raise ArtefactError(f"{kind} {path} is empty; {fix}")
    try:
        return torch.load(path, map_location=map_location, weights_only=weights_only)
    except Exception as exc:  # UnpicklingError, RuntimeError, EOFError, ...: all mean "damaged"
        raise ArtefactError(
            f"cannot read {kind} {path} ({exc.__class__.__name__}: damaged, truncated or not a PyTorch file); {fix}"
        ) from None


def finite(value: Any) -> bool:
    """True when ``value`` is a finite int or float (bools excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
