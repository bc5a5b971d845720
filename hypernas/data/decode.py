"""A user's images decoded into uint8 tensors of both splits: an image folder, an ``.npz`` file or
arrays. Every problem with the data (no class folders, an empty class, an unreadable or transparent
image, a bad shape or label, too large for memory) is a one-line :class:`DataError`; what decoding
changed (modes converted, images resized, a test split held out) is kept in ``Decoded.notes``.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hypernas.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
TEST_FRACTION = 1 / 6  # Fashion-MNIST's 10,000 of 70,000
SPLIT_SEED = 0
MEMORY_SHARE = 0.5  # the decoded images may take at most this share of the machine's memory


@dataclass
class Decoded:
    """uint8 images (N, C, S, S) and int64 labels of both splits, with what decoding changed."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: tuple[str, ...]
    notes: tuple[str, ...] = ()


def _class_folders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; pass imagefolder:PATH with one sub-folder per class")
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(
            f"{folder} holds no class folders; put each class's images in a sub-folder (PATH/<class>/<image>)"
        )
    for c in classes:
        if not any(f.suffix.lower() in IMAGE_SUFFIXES for f in c.iterdir() if f.is_file()):
            raise DataError(
                f"class folder {c} holds no images ({', '.join(IMAGE_SUFFIXES)}); add images or remove it"
            )
    return classes


def _image_files(folder: Path) -> tuple[list[Path], list[int], list[str]]:
    classes = _class_folders(folder)
    files, labels = [], []
    for label, c in enumerate(classes):
        for f in sorted(c.iterdir()):
            if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
                files.append(f)
                labels.append(label)
    return files, labels, [c.name for c in classes]


def _open_images(files: list[Path], desc: str, progress: bool) -> list:
    """Each file as a PIL image in mode L or RGB; a file that is not an image, or whose conversion
    would lose information (transparency, more than 8 bits), is named in a one-line error."""
    from PIL import Image, UnidentifiedImageError
    from tqdm import tqdm

    out = []
    for f in tqdm(files, desc=desc, unit="image", leave=False, disable=not progress):
        try:
            with Image.open(f) as im:
                im.load()
                mode = im.mode
                if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
                    alpha = im.convert("RGBA").getchannel("A")
                    if alpha.getextrema()[0] < 255:
                        raise DataError(
                            f"{f} has transparent pixels; flatten it onto a background (or remove it)"
                        )
                    im = im.convert("RGB")
                elif mode in ("I;16", "I", "F", "I;16B", "I;16L"):
                    raise DataError(f"{f} has more than 8 bits per pixel ({mode}); save it as an 8-bit image")
                elif mode not in ("L", "RGB"):
                    im = im.convert("RGB")  # palette, CMYK, 1-bit: no information lost for a network
                out.append(im.copy())
        except DataError:
            raise
        except (UnidentifiedImageError, OSError) as exc:
            raise DataError(
                f"{f} cannot be read as an image ({exc.__class__.__name__}); remove or replace it"
            ) from None
    return out


def _to_tensor(images: list, files: list[Path], notes: list[str]) -> torch.Tensor:
    from PIL import Image

    modes = Counter(im.mode for im in images)
    if len(modes) > 1:
        notes.append(
            f"{modes['L']} greyscale images converted to RGB (the folder mixes greyscale and colour)"
        )
        images = [im.convert("RGB") for im in images]
    sizes = Counter(im.size for im in images)
    (w, h), _ = sizes.most_common(1)[0]
    side = min(w, h)
    resized = sum(1 for im in images if im.size != (side, side))
    if resized:
        notes.append(f"{resized} of {len(images)} images resized to {side} x {side} (the most common side)")
        images = [im if im.size == (side, side) else im.resize((side, side), Image.BILINEAR) for im in images]
    arrays = [np.asarray(im, dtype=np.uint8) for im in images]
    x = np.stack(arrays)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(x))


def _check_memory(n_bytes: int, what: str) -> None:
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if n_bytes > MEMORY_SHARE * total:
        raise DataError(
            f"{what} would take {n_bytes / 2**30:.1f} GiB decoded, more than {MEMORY_SHARE:.0%} of this "
            f"machine's {total / 2**30:.1f} GiB; resize the images or use a subset of them"
        )


def _estimated_bytes(files: list[Path]) -> int:
    """What the decoded images take, read from the first image's size (headers only)."""
    from PIL import Image

    with Image.open(files[0]) as im:
        w, h = im.size
        c = 1 if im.mode == "L" else 3
    return len(files) * c * min(w, h) ** 2


def _split(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of a seeded split that keeps :data:`TEST_FRACTION` of every class (at least one)."""
    gen = torch.Generator().manual_seed(SPLIT_SEED)
    train, test = [], []
    for k in labels.unique().tolist():
        idx = (labels == k).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_test = max(1, round(TEST_FRACTION * len(idx))) if len(idx) > 1 else 0
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def decode_folder(folder: str | os.PathLike, progress: bool = True) -> Decoded:
    """An image folder (``PATH/<class>`` or ``PATH/train`` + ``PATH/test``) as uint8 tensors."""
    folder = Path(folder).expanduser()
    notes: list[str] = []
    parts = {"train": folder / "train", "test": folder / "test"}
    has_test = parts["train"].is_dir() and parts["test"].is_dir()
    splits = parts if has_test else {"all": folder}
    listed = {name: _image_files(path) for name, path in splits.items()}
    names = [c for _, _, c in listed.values()]
    if has_test and names[0] != names[1]:
        raise DataError(
            f"{folder}/train and {folder}/test hold different class folders ({', '.join(names[0])} vs "
            f"{', '.join(names[1])}); give both the same classes"
        )
    all_files = [f for files, _, _ in listed.values() for f in files]
    _check_memory(_estimated_bytes(all_files), f"imagefolder:{folder}")
    images = _open_images(all_files, f"decoding {folder.name}", progress)
    x = _to_tensor(images, all_files, notes)
    y = torch.tensor([label for _, labels, _ in listed.values() for label in labels], dtype=torch.long)
    if has_test:
        n_train = len(listed["train"][0])
        return Decoded(x[:n_train], y[:n_train], x[n_train:], y[n_train:], tuple(names[0]), tuple(notes))
    train, test = _split(y)
    notes.append(
        f"no test/ folder: {len(test)} images ({TEST_FRACTION:.0%} of each class, seed {SPLIT_SEED}) held out"
    )
    return Decoded(x[train], y[train], x[test], y[test], tuple(names[0]), tuple(notes))


def _as_images(a, what: str) -> torch.Tensor:
    """N x C x H x W (or N x H x W) uint8 or float in [0, 1] as a uint8 tensor N x C x H x W."""
    t = torch.as_tensor(np.asarray(a))
    if t.ndim == 3:
        t = t[:, None]
    if t.ndim != 4 or t.shape[1] not in (1, 3) or t.shape[2] != t.shape[3]:
        raise DataError(
            f"{what} has shape {tuple(t.shape)}; give N x C x S x S (C = 1 or 3) or N x S x S images"
        )
    if t.dtype == torch.uint8:
        return t.contiguous()
    if not t.is_floating_point():
        raise DataError(f"{what} holds {t.dtype} values; give uint8 (0-255) or float (0-1) images")
    lo, hi = float(t.min()), float(t.max())
    if lo < 0.0 or hi > 1.0:
        raise DataError(f"{what} holds floats from {lo:g} to {hi:g}; float images must lie in [0, 1]")
    return t.mul(255).round().to(torch.uint8).contiguous()


def _as_labels(a, n: int, what: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(a))
    if t.ndim != 1 or len(t) != n:
        raise DataError(f"{what} have shape {tuple(t.shape)}; give one integer label per image ({n})")
    if t.is_floating_point() or t.dtype == torch.bool:
        raise DataError(
            f"{what} hold {str(t.dtype).removeprefix('torch.')} values; give integer labels 0 .. K-1"
        )
    if len(t) and int(t.min()) < 0:
        raise DataError(f"{what} hold the label {int(t.min())}; labels must be 0 .. K-1")
    return t.long()


def decode_arrays(images, labels, test_images=None, test_labels=None, what: str = "images") -> Decoded:
    """Arrays or tensors (see :func:`from_tensors`) as a :class:`Decoded` dataset."""
    x = _as_images(images, what)
    y = _as_labels(labels, len(x), f"the labels of {what}")
    notes = []
    if test_images is None:
        train, test = _split(y)
        notes.append(
            f"no test images: {len(test)} held out ({TEST_FRACTION:.0%} of each class, seed {SPLIT_SEED})"
        )
        tx, ty, x, y = x[test], y[test], x[train], y[train]
    else:
        tx = _as_images(test_images, f"the test images of {what}")
        ty = _as_labels(test_labels, len(tx), f"the test labels of {what}")
        if tx.shape[1:] != x.shape[1:]:
            raise DataError(
                f"the test images of {what} are {tuple(tx.shape[1:])}, the training images {tuple(x.shape[1:])}"
            )
    k = int(y.max()) + 1 if len(y) else 0
    empty = sorted(set(range(k)) - set(y.unique().tolist()))
    if empty:
        raise DataError(
            f"the labels of {what} skip {', '.join(map(str, empty[:5]))}: classes 0 .. {k - 1} need training "
            "images each; number the classes 0 .. K-1 without gaps"
        )
    if len(ty) and int(ty.max()) >= k:
        raise DataError(
            f"the test labels of {what} hold the label {int(ty.max())}, out of the training labels' range "
            f"0 .. {k - 1}; give every class training images"
        )
    return Decoded(x, y, tx, ty, tuple(str(i) for i in range(k)), tuple(notes))


def decode_npz(path: str | os.PathLike) -> Decoded:
    path = Path(path).expanduser()
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise DataError(
            f"{path} cannot be read as an .npz file ({exc.__class__.__name__}); write it with numpy.savez"
        ) from None
    for key in ("images", "labels"):
        if key not in arrays:
            raise DataError(
                f"{path} has no array {key!r} (it has {', '.join(arrays) or 'none'}); save images and labels"
            )
    _check_memory(arrays["images"].size, str(path))  # as uint8
    return decode_arrays(
        arrays["images"], arrays["labels"], arrays.get("test_images"), arrays.get("test_labels"), str(path)
    )
