"""A user's own images as a dataset: an image folder, an ``.npz`` file or tensors, decoded once into
the data root's cache and named in configs and results by a description that holds no path.

What a user passes (``--dataset``, ``dataset=``):

* ``imagefolder:PATH``: ``PATH/<class>/<image>`` (torchvision's layout), or ``PATH/train/<class>``
  beside ``PATH/test/<class>``; without ``test/``, a seeded split keeps :data:`TEST_FRACTION` of
  every class for testing;
* ``PATH.npz``: arrays ``images`` (N x C x H x W or N x H x W, uint8, or float in [0, 1]) and
  ``labels`` (0 .. K-1), optionally ``test_images`` and ``test_labels``;
* tensors from Python (:func:`from_tensors`).

:func:`prepare` decodes the data (images of other sizes are resized to the most common side,
greyscale and palette images are converted to RGB when the folder mixes them), stores it in
``<data root>/custom/<hash>.pt`` and returns the dataset's name,
``custom:<label>:<hash>:<C>x<S>:<K>`` (label, content hash, channels, side, classes), which is what
a config and a result record. :func:`spec` reads a name back without the data; :func:`load` finds
the cached images by their hash.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from hypernas.data.decode import Decoded, decode_arrays, decode_folder, decode_npz
from hypernas.errors import DataError

PREFIX = "custom:"
BUILT_IN = ("fashion_mnist", "cifar10")  # the names datasets.py knows; passed through as they are
_NAME = re.compile(
    r"^custom:(?P<label>[A-Za-z0-9_.-]+):(?P<hash>[0-9a-f]{12}):(?P<c>\d+)x(?P<s>\d+):(?P<k>\d+)$"
)


@dataclass(frozen=True)
class CustomName:
    """The parts of a prepared dataset's name: its label, content hash, channels, side, classes."""

    label: str
    digest: str
    channels: int
    size: int
    classes: int

    def __str__(self) -> str:
        return f"{PREFIX}{self.label}:{self.digest}:{self.channels}x{self.size}:{self.classes}"


def is_custom(name: str) -> bool:
    return name.startswith(PREFIX)


def parse_name(name: str) -> CustomName:
    """A prepared dataset's name back as its parts (:class:`DataError` for a malformed one)."""
    m = _NAME.match(name)
    if m is None:
        raise DataError(
            f"{name!r} is not a prepared dataset name (custom:LABEL:HASH:CxS:K); pass the data itself, "
            "as --dataset imagefolder:PATH or PATH.npz"
        )
    return CustomName(m["label"], m["hash"], int(m["c"]), int(m["s"]), int(m["k"]))


def crop_padding(size: int, channels: int) -> int:
    """The zero padding of the random-crop augmentation, by the built-in datasets' rule: a 14th of
    the side for greyscale images (Fashion-MNIST: 2 of 28), an 8th for colour (CIFAR-10: 4 of 32, as
    DARTS pads it); at least 1."""
    return max(1, size // (14 if channels == 1 else 8))


# ----------------------------------------------------------------------------- the cache
def digest(d: Decoded) -> str:
    """sha256 of the decoded images and labels of both splits, 12 hex digits."""
    h = hashlib.sha256()
    for t in (d.train_x, d.train_y, d.test_x, d.test_y):
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def cache_file(root: Path, name: CustomName) -> Path:
    return root / "custom" / f"{name.label}-{name.digest}.pt"


def store(d: Decoded, label: str, root: Path, min_train: int = 1) -> CustomName:
    """Write a decoded dataset to the data root's cache (once) and return its name."""
    from hypernas.io import save_torch

    if len(d.classes) < 2:
        raise DataError(f"the dataset has {len(d.classes)} class; a classifier needs at least two")
    if len(d.train_y) < min_train:
        raise DataError(f"the training split holds {len(d.train_y)} images; give at least {min_train}")
    label = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "data"
    name = CustomName(label, digest(d), int(d.train_x.shape[1]), int(d.train_x.shape[2]), len(d.classes))
    path = cache_file(root, name)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        save_torch(
            path,
            {
                "train_x": d.train_x,
                "train_y": d.train_y,
                "test_x": d.test_x,
                "test_y": d.test_y,
                "classes": list(d.classes),
                "notes": list(d.notes),
            },
        )
    return name


def prepare(description: str, root: Path, progress: bool = True) -> str:
    """The dataset name of ``description`` (``imagefolder:PATH``, ``PATH.npz`` or a prepared name),
    its images decoded into the cache of ``root`` if they are not there yet."""
    if description in BUILT_IN:
        return description
    if is_custom(description):
        parse_name(description)
        return description
    if description.startswith("imagefolder:"):
        folder = Path(description[len("imagefolder:") :]).expanduser()
        return _prepare_folder(folder, root, progress)
    if description.endswith(".npz"):
        path = Path(description).expanduser()
        if not path.is_file():
            raise DataError(f"{path} does not exist; pass an .npz file of images and labels")
        return str(store(decode_npz(path), path.stem, root))
    raise DataError(
        f"unknown dataset {description!r}; give fashion_mnist, cifar10, imagefolder:PATH or PATH.npz"
    )


def _fingerprint(folder: Path) -> str:
    """sha256 of every file's path (relative to ``folder``), size and modification time: what says,
    without decoding, that a folder is unchanged since it was prepared."""
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            st = f.stat()
            h.update(f"{f.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _prepare_folder(folder: Path, root: Path, progress: bool) -> str:
    """An image folder's name: from the cache's index when the folder is unchanged (no decoding),
    else decoded, stored and entered in the index (``<root>/custom/index.json``)."""
    from hypernas.errors import ArtefactError
    from hypernas.io import read_record, write_json

    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; pass imagefolder:PATH with one sub-folder per class")
    index_path = root / "custom" / "index.json"
    try:  # a cache: a missing or damaged index is only rebuilt
        index = read_record(index_path, "dataset index", "it is rebuilt") if index_path.is_file() else {}
    except ArtefactError:
        index = {}
    key = _fingerprint(folder.resolve())
    known = index.get(key)
    if isinstance(known, str) and _NAME.match(known) and cache_file(root, parse_name(known)).is_file():
        return known
    name = str(store(decode_folder(folder, progress), folder.resolve().name, root))
    write_json(index_path, {**index, key: name})
    return name


def from_tensors(
    images, labels, test_images=None, test_labels=None, label: str = "tensors", root=None
) -> str:
    """Images and labels from Python as a dataset: returns the name to pass as ``dataset=``."""
    root = Path(root or os.environ.get("HYPERNAS_DATA") or "data").expanduser()  # as datasets.resolve_root
    return str(store(decode_arrays(images, labels, test_images, test_labels), label, root))


def load_cached(name: str, root: Path) -> dict:
    """The cached tensors of a prepared dataset (:class:`DataError` when this data root lacks them)."""
    from hypernas.io import load_torch

    parsed = parse_name(name)
    path = cache_file(root, parsed)
    if not path.is_file():
        raise DataError(
            f"dataset {name} is not in {root / 'custom'}; prepare it here once with --dataset "
            "imagefolder:PATH or PATH.npz (the same images give the same name)"
        )
    return load_torch(path, "prepared dataset", "delete it and prepare the dataset again")
