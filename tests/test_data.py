"""Preparing a data root from the offline copies: several processes at once, and leftovers of a
killed extraction."""

import gzip
import os
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from hypernas.data import datasets

N_IMAGES = 60_000  # as large as the real training set, so that the writers overlap in time


def _idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _fake_fashion_mnist(folder):
    folder.mkdir(parents=True)
    for prefix, n in (("train", N_IMAGES), ("t10k", 1_000)):
        images = np.arange(n * 28 * 28, dtype=np.int64).reshape(n, 28, 28) % 251
        _idx(folder / f"{prefix}-images-idx3-ubyte.gz", images, 2051)
        _idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10, 2049)


@pytest.mark.slow
def test_processes_prepare_one_data_root_at_once(tmp_path):
    """Four processes unpack the same offline copy into one empty data root at the same moment;
    each loads the whole, identical dataset."""
    _fake_fashion_mnist(tmp_path / "offline" / "fashion-mnist")
    code = (
        "from hypernas import data; d = data.load('fashion_mnist'); "
        "print(len(d.train_y), int(d.train_x.sum()), d.source)"
    )
    env = {
        **os.environ,
        "HYPERNAS_DATA": str(tmp_path / "root"),
        "HYPERNAS_OFFLINE": "1",
        "HYPERNAS_OFFLINE_DIRS": str(tmp_path / "offline"),
        "OMP_NUM_THREADS": "1",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-1500:] for _, err in outs]
    expected = int((np.arange(N_IMAGES * 28 * 28) % 251).sum())
    assert {out for out, _ in outs} == {f"{N_IMAGES} {expected} Fashion-MNIST (offline IDX copy)\n"}
    raw = tmp_path / "root" / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(datasets.FMNIST_FILES)  # no temporary left


def test_cifar_extraction_keeps_a_finished_copy_and_clears_a_killed_one(tmp_path):
    src = tmp_path / "src" / "cifar10-jpeg"
    for split in ("train", "test"):
        for cls in datasets.CIFAR_CLASSES:
            (src / split / cls).mkdir(parents=True)
            (src / split / cls / "0.jpg").write_bytes(b"new")
    tarball = tmp_path / "cifar10-jpeg.tar.gz"
    with tarfile.open(tarball, "w:gz") as tf:
        tf.add(src, arcname="cifar10-jpeg")
    root = tmp_path / "root"
    killed = root / ".cifar10-jpeg.999999999.abc.tmp"  # no process has this pid
    (killed / "cifar10-jpeg").mkdir(parents=True)
    datasets._extract_tar(tarball, root)
    assert datasets._cifar_jpeg_ready(root) and sorted(p.name for p in root.iterdir()) == ["cifar10-jpeg"]
    marker = root / "cifar10-jpeg" / "train" / "cat" / "0.jpg"
    marker.write_bytes(b"first")  # another process's copy, finished first: kept as it is
    datasets._extract_tar(tarball, root)
    assert marker.read_bytes() == b"first" and sorted(p.name for p in root.iterdir()) == ["cifar10-jpeg"]
