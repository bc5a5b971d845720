"""Fashion-MNIST and CIFAR-10 as in-memory uint8 tensors, with offline fallbacks.

Where the data is looked for, in order:

1. the data root (``--data-root``, else ``$HYPERNAS_DATA``, else ``./data``) in torchvision's
   layout (``FashionMNIST/raw``, ``cifar-10-batches-py``) or as an already extracted CIFAR-10
   JPEG copy (``cifar10-jpeg/{train,test}/<class>/*.jpg``);
2. torchvision's download into the data root (skipped when ``HYPERNAS_OFFLINE=1``);
3. offline copies: Fashion-MNIST IDX ``.gz`` files in ``fashion-mnist/`` and the CIFAR-10 JPEG
   tarball ``cifar10-jpeg.tar.gz``, in the data root, in the folders listed in
   ``$HYPERNAS_OFFLINE_DIRS`` (separated by ``os.pathsep``) or in Debian's ``/usr/share/datasets``
   (package ``dataset-fashion-mnist``); they are unpacked into the data root.

Each dataset is decoded once; every result records ``source``, a label that names no path
(e.g. "Fashion-MNIST (offline IDX copy)", "CIFAR-10 (JPEG copy)").
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import socket
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hypernas.data import custom
from hypernas.errors import DataError
from hypernas.io import load_torch, remove_orphans, temporary_beside, write_text

log = logging.getLogger(__name__)

FMNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_SOURCE_FILE = "HYPERNAS_SOURCE.txt"
DEBIAN_DATASETS = Path("/usr/share/datasets")
FMNIST_OFFLINE = "Fashion-MNIST (offline IDX copy)"
FMNIST_DOWNLOAD = "Fashion-MNIST (torchvision download)"
FMNIST_IN_ROOT = "Fashion-MNIST (torchvision files in the data root)"
CIFAR_TORCHVISION = "CIFAR-10 (torchvision)"
CIFAR_JPEG = "CIFAR-10 (JPEG copy)"


@dataclass(frozen=True)
class DatasetSpec:
    """What the networks need to know about a dataset: image channels and side, classes, and the
    zero padding of the random-crop augmentation (1/14 of the side, as DARTS pads CIFAR-10 by 4)."""

    name: str
    channels: int
    size: int
    classes: int
    crop_padding: int


SPECS = {
    "fashion_mnist": DatasetSpec("fashion_mnist", channels=1, size=28, classes=10, crop_padding=2),
    "cifar10": DatasetSpec("cifar10", channels=3, size=32, classes=10, crop_padding=4),
}
DATASETS = tuple(SPECS)


def spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``fashion_mnist``, ``cifar10`` or a prepared dataset
    (:mod:`hypernas.data.custom`: its name holds its channels, side and classes)."""
    if custom.is_custom(name):
        c = custom.parse_name(name)
        return DatasetSpec(name, c.channels, c.size, c.classes, custom.crop_padding(c.size, c.channels))
    try:
        return SPECS[name]
    except KeyError:
        raise DataError(
            f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}, imagefolder:PATH or PATH.npz"
        ) from None


@dataclass
class ImageData:
    """uint8 images ``(N, C, H, W)`` and int64 labels for the official train and test splits."""

    name: str
    source: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    @property
    def in_channels(self) -> int:
        return self.train_x.shape[1]

    @property
    def num_classes(self) -> int:
        return int(self.train_y.max()) + 1

    def mean_std(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and standard deviation of the training images in [0, 1]."""
        x = self.train_x.float().div_(255)
        return x.mean(dim=(0, 2, 3)).tolist(), x.std(dim=(0, 2, 3)).tolist()


def resolve_root(data_root: str | os.PathLike | None = None) -> Path:
    """``data_root``, else ``$HYPERNAS_DATA``, else ``./data``."""
    if data_root:
        return Path(data_root).expanduser()
    env = os.environ.get("HYPERNAS_DATA")
    return Path(env).expanduser() if env else Path("data")


def offline_dirs() -> list[Path]:
    """Folders searched for offline copies besides the data root: those listed in
    ``$HYPERNAS_OFFLINE_DIRS`` (separated by ``os.pathsep``), then Debian's ``/usr/share/datasets``."""
    extra = os.environ.get("HYPERNAS_OFFLINE_DIRS", "")
    dirs = [Path(p).expanduser() for p in extra.split(os.pathsep) if p] + [DEBIAN_DATASETS]
    seen, out = set(), []
    for d in dirs:
        key = str(d.resolve()) if d.exists() else str(d)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def load(name: str, data_root: str | os.PathLike | None = None, download: bool | None = None) -> ImageData:
    """Load ``fashion_mnist`` or ``cifar10`` (see the module docstring for where it is looked for)."""
    root = resolve_root(data_root)
    if root.exists() and not root.is_dir():
        raise DataError(
            f"data root {root} is a file, not a folder; pass --data-root with a folder (or set $HYPERNAS_DATA)"
        )
    if download is None:
        download = os.environ.get("HYPERNAS_OFFLINE", "") not in ("1", "true", "yes")
    if name == "fashion_mnist":
        return _load_fmnist(root, download)
    if name == "cifar10":
        return _load_cifar(root, download)
    if custom.is_custom(name):
        d = custom.load_cached(name, root)
        n = len(d["train_y"]) + len(d["test_y"])
        source = f"{custom.parse_name(name).label} (own images, {n:,} in all, content hash {custom.parse_name(name).digest})"
        return ImageData(name, source, d["train_x"], d["train_y"], d["test_x"], d["test_y"])
    raise DataError(
        f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}, or prepare imagefolder:PATH or PATH.npz"
    )


# ----------------------------------------------------------------------------- Fashion-MNIST
def _fmnist_raw(root: Path) -> Path:
    return root / "FashionMNIST" / "raw"


def _fmnist_ready(root: Path) -> bool:
    return all((_fmnist_raw(root) / f).is_file() for f in FMNIST_FILES)


def _read_source(folder: Path, default: str) -> str:
    """The label stored beside a prepared dataset. A stored offline label that names the folder it
    came from is read as the plain offline label, so no machine path reaches a result."""
    f = folder / _SOURCE_FILE
    if not f.is_file():
        return default
    text = f.read_text().strip()
    return FMNIST_OFFLINE if text.startswith("Fashion-MNIST (offline IDX copy") else text


def _write_source(folder: Path, text: str) -> None:
    write_text(folder / _SOURCE_FILE, text + "\n")


def _load_fmnist(root: Path, download: bool) -> ImageData:
    looked = [str(_fmnist_raw(root))]
    if not _fmnist_ready(root) and download:
        looked.append("torchvision download")
        _try_download(lambda: _tv_fmnist(root, download=True))
        if _fmnist_ready(root):
            _write_source(root / "FashionMNIST", FMNIST_DOWNLOAD)
    if not _fmnist_ready(root):
        candidates = [root, root / "fashion-mnist"] + [d / "fashion-mnist" for d in offline_dirs()]
        for folder in candidates:
            looked.append(str(folder))
            if all((folder / (f + ".gz")).is_file() for f in FMNIST_FILES):
                _unpack_idx(folder, _fmnist_raw(root))
                _write_source(root / "FashionMNIST", FMNIST_OFFLINE)
                log.info("prepared Fashion-MNIST from the offline copy in %s", folder)
                break
    if not _fmnist_ready(root):
        raise DataError(
            "Fashion-MNIST not found; looked in: "
            + "; ".join(looked)
            + ". Fix: allow torchvision's download, `apt-get install dataset-fashion-mnist`, "
            "or put the four IDX .gz files in DATA_ROOT/fashion-mnist (--data-root or $HYPERNAS_DATA) "
            "or in DIR/fashion-mnist with DIR listed in $HYPERNAS_OFFLINE_DIRS"
        )
    ds_train = _tv_fmnist(root, download=False, train=True)
    ds_test = _tv_fmnist(root, download=False, train=False)
    return ImageData(
        name="fashion_mnist",
        source=_read_source(root / "FashionMNIST", FMNIST_IN_ROOT),
        train_x=ds_train.data.unsqueeze(1).contiguous(),
        train_y=ds_train.targets.long(),
        test_x=ds_test.data.unsqueeze(1).contiguous(),
        test_y=ds_test.targets.long(),
    )


def _tv_fmnist(root: Path, download: bool, train: bool = True):
    from torchvision.datasets import FashionMNIST

    return FashionMNIST(str(root), train=train, download=download)


def _unpack_idx(src: Path, dst: Path) -> None:
    """Gunzip the four IDX files into torchvision's raw folder (real copies, never symlinks). Each
    file is written under a name of this process's own and moved into place, so that processes
    preparing the same data root at once never read or clobber each other's half-written file."""
    for f in FMNIST_FILES:
        with temporary_beside(dst / f) as tmp:
            with gzip.open(src / (f + ".gz"), "rb") as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            os.replace(tmp, dst / f)


def _try_download(fn) -> None:
    """Run a torchvision download with a short socket timeout; log and continue on failure."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(15)
    try:
        fn()
    except Exception as exc:
        log.info("download failed (%s); looking for offline copies", type(exc).__name__)
    finally:
        socket.setdefaulttimeout(old)


# ----------------------------------------------------------------------------- CIFAR-10
def _cifar_tv_ready(root: Path) -> bool:
    return (root / "cifar-10-batches-py" / "data_batch_1").is_file()


def _cifar_jpeg_dir(root: Path) -> Path:
    return root / "cifar10-jpeg"


def _cifar_jpeg_ready(root: Path) -> bool:
    d = _cifar_jpeg_dir(root)
    return all((d / split / c).is_dir() for split in ("train", "test") for c in CIFAR_CLASSES)


def _load_cifar(root: Path, download: bool) -> ImageData:
    looked = [str(root / "cifar-10-batches-py"), str(_cifar_jpeg_dir(root))]
    if not _cifar_tv_ready(root) and not _cifar_jpeg_ready(root) and download:
        looked.append("torchvision download")
        _try_download(lambda: _tv_cifar(root, download=True))
    if _cifar_tv_ready(root):
        tr, te = _tv_cifar(root, False, True), _tv_cifar(root, False, False)
        to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))  # noqa: E731
        return ImageData(
            "cifar10",
            CIFAR_TORCHVISION,
            to_t(tr.data),
            torch.tensor(tr.targets),
            to_t(te.data),
            torch.tensor(te.targets),
        )
    if not _cifar_jpeg_ready(root):
        candidates = [root / "cifar10-jpeg.tar.gz"] + [d / "cifar10-jpeg.tar.gz" for d in offline_dirs()]
        for tarball in candidates:
            looked.append(str(tarball))
            if tarball.is_file():
                _extract_tar(tarball, root)
                log.info("extracted the CIFAR-10 JPEG copy from %s", tarball)
                break
    if not _cifar_jpeg_ready(root):
        raise DataError(
            "CIFAR-10 not found; looked in: "
            + "; ".join(looked)
            + ". Fix: allow torchvision's download or put cifar10-jpeg.tar.gz in DATA_ROOT "
            "(--data-root or $HYPERNAS_DATA) or in a folder listed in $HYPERNAS_OFFLINE_DIRS"
        )
    return _decode_jpeg_copy(_cifar_jpeg_dir(root))


def _tv_cifar(root: Path, download: bool, train: bool = True):
    from torchvision.datasets import CIFAR10

    return CIFAR10(str(root), train=train, download=download)


def _extract_tar(tarball: Path, root: Path) -> None:
    """Extract the JPEG copy into a folder of this process's own, then move it into place. When
    another process got there first, its complete copy is kept and this one discarded."""
    target = _cifar_jpeg_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    remove_orphans(target)  # folders of an extraction that was killed
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=root))
    try:
        with tarfile.open(tarball) as tf:
            tf.extractall(tmp, filter="data")
        inner = tmp / "cifar10-jpeg"
        if not inner.is_dir():
            raise DataError(f"{tarball} does not contain a cifar10-jpeg/ folder; re-fetch the tarball")
        try:
            os.replace(inner, target)
        except OSError:
            if not _cifar_jpeg_ready(root):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _decode_jpeg_copy(folder: Path) -> ImageData:
    """Decode the JPEG class folders once into uint8 tensors, cached in ``decoded.pt``."""
    cache = folder / "decoded.pt"
    if cache.is_file():
        d = load_torch(cache, "decoded image cache", "delete it; it is rebuilt from the JPEG folders")
    else:
        from PIL import Image

        from hypernas.io import save_torch

        d = {}
        for split in ("train", "test"):
            xs, ys = [], []
            for label, cls in enumerate(CIFAR_CLASSES):
                for f in sorted((folder / split / cls).glob("*.jpg")):
                    with Image.open(f) as im:
                        xs.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
                    ys.append(label)
            d[f"{split}_x"] = torch.from_numpy(np.stack(xs).transpose(0, 3, 1, 2).copy())
            d[f"{split}_y"] = torch.tensor(ys, dtype=torch.long)
        save_torch(cache, d)
    return ImageData("cifar10", CIFAR_JPEG, d["train_x"], d["train_y"], d["test_x"], d["test_y"])
