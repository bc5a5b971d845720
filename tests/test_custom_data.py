"""A user's own images: image folders, .npz files and tensors, decoded once, named without a path,
and every kind of bad data refused with one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from hypernas.data import custom, datasets
from hypernas.errors import DataError
from hypernas.train.presets import resolve


def _folder(root, classes=("a", "b"), n=6, size=12, mode="L", seed=0):
    rng = np.random.default_rng(seed)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            shape = (size, size) if mode == "L" else (size, size, 3)
            Image.fromarray((rng.random(shape) * 255).astype(np.uint8), mode).save(root / c / f"{i}.png")
    return root


def test_an_image_folder_is_decoded_split_and_named_by_its_content(tmp_path):
    folder = _folder(tmp_path / "imgs", classes=("cat", "dog", "eel"), n=12)
    name = custom.prepare(f"imagefolder:{folder}", tmp_path / "root")
    parsed = custom.parse_name(name)
    assert (parsed.label, parsed.channels, parsed.size, parsed.classes) == ("imgs", 1, 12, 3)
    assert str(tmp_path) not in name  # no path in what configs and results record
    sp = datasets.spec(name)
    assert (sp.channels, sp.size, sp.classes, sp.crop_padding) == (1, 12, 3, 1)  # 12 // 14, at least 1
    data = datasets.load(name, tmp_path / "root")
    assert data.train_x.dtype == torch.uint8 and data.train_x.shape[1:] == (1, 12, 12)
    # no test/ folder: a seeded sixth of every class is held out
    assert data.test_y.bincount().tolist() == [2, 2, 2] and data.train_y.bincount().tolist() == [10, 10, 10]
    assert parsed.digest in data.source and str(tmp_path) not in data.source
    # the same images give the same name; one changed pixel gives another
    assert custom.prepare(f"imagefolder:{folder}", tmp_path / "other-root") == name
    img = np.asarray(Image.open(folder / "cat" / "0.png")).copy()
    img[0, 0] ^= 1
    Image.fromarray(img).save(folder / "cat" / "0.png")
    assert (
        custom.parse_name(custom.prepare(f"imagefolder:{folder}", tmp_path / "root")).digest != parsed.digest
    )
    # a config of the preset with this dataset has its channels and classes
    space = resolve("exp1", "smoke", {"dataset": name}).validate().space()
    assert (space.in_channels, space.num_classes) == (1, 3)


def test_train_and_test_folders_mixed_modes_and_sizes(tmp_path):
    _folder(tmp_path / "d" / "train", n=4, mode="RGB")
    _folder(tmp_path / "d" / "test", n=2, mode="RGB")
    Image.fromarray(np.zeros((16, 16), np.uint8), "L").save(tmp_path / "d" / "train" / "a" / "grey.png")
    d = custom.decode_folder(tmp_path / "d")
    assert d.train_x.shape == (9, 3, 12, 12) and d.test_x.shape == (4, 3, 12, 12)
    assert d.classes == ("a", "b") and d.test_y.tolist() == [0, 0, 1, 1]
    assert any("1 greyscale images converted to RGB" in n for n in d.notes)
    assert any("1 of 13 images resized to 12 x 12" in n for n in d.notes)


def test_arrays_and_tensors(tmp_path):
    rng = np.random.default_rng(1)
    images, labels = (rng.random((24, 10, 10)) * 255).astype(np.uint8), np.arange(24) % 4
    np.savez(tmp_path / "set.npz", images=images, labels=labels)
    name = custom.prepare(str(tmp_path / "set.npz"), tmp_path / "root")
    assert custom.parse_name(name).channels == 1 and custom.parse_name(name).classes == 4
    as_float = custom.from_tensors(
        torch.from_numpy(images).float() / 255, torch.from_numpy(labels), root=tmp_path / "root"
    )
    assert custom.parse_name(as_float).digest == custom.parse_name(name).digest  # same pixels, same data
    data = datasets.load(as_float, tmp_path / "root")
    assert len(data.train_y) + len(data.test_y) == 24
    with pytest.raises(DataError, match=r"is not in .*custom; prepare it here once"):
        datasets.load(as_float, tmp_path / "empty-root")


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: p.mkdir(), "holds no class folders"),
        (lambda p: (p / "a").mkdir(parents=True), r"class folder .*a holds no images"),
        (
            lambda p: (_folder(p), (p / "a" / "9.png").write_bytes(b"not a png")),
            r"9.png cannot be read as an image",
        ),
        (
            lambda p: (_folder(p), Image.new("RGBA", (12, 12), (0, 0, 0, 10)).save(p / "a" / "t.png")),
            "has transparent pixels",
        ),
        (
            lambda p: (
                _folder(p),
                Image.fromarray(np.full((12, 12), 300, np.uint16)).save(p / "a" / "deep.png"),
            ),
            "more than 8 bits per pixel",
        ),
        (
            lambda p: (_folder(p / "train"), _folder(p / "test", classes=("a", "c"))),
            "hold different class folders",
        ),
    ],
)
def test_bad_image_folders_get_one_line(tmp_path, make, words):
    folder = tmp_path / "bad"
    make(folder)
    with pytest.raises(DataError, match=words) as err:
        custom.prepare(f"imagefolder:{folder}", tmp_path / "root")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "arrays, words",
    [
        ({"images": np.zeros((4, 8, 8), np.uint8)}, "has no array 'labels'"),
        ({"images": np.full((4, 8, 8), 2.0), "labels": np.zeros(4, int)}, "float images must lie in"),
        ({"images": np.zeros((4, 8, 8), np.uint8), "labels": np.array([0, 1, -1, 0])}, "label -1"),
        (
            {"images": np.zeros((4, 8, 8), np.uint8), "labels": np.zeros(3, int)},
            "one integer label per image",
        ),
        ({"images": np.zeros((4, 2, 8, 8), np.uint8), "labels": np.zeros(4, int)}, r"give N x C x S x S"),
        ({"images": np.zeros((4, 8, 8), np.uint8), "labels": np.zeros(4)}, "integer labels"),
    ],
)
def test_bad_arrays_get_one_line(tmp_path, arrays, words):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=words):
        custom.prepare(str(tmp_path / "bad.npz"), tmp_path / "root")


def test_unknown_descriptions_and_names(tmp_path):
    for text, words in (
        ("mnist", "unknown dataset 'mnist'; give fashion_mnist, cifar10, imagefolder:PATH or PATH.npz"),
        (str(tmp_path / "none.npz"), "does not exist"),
        ("custom:x:123:1x8:2", "not a prepared dataset name"),
    ):
        with pytest.raises(DataError, match=words):
            custom.prepare(text, tmp_path)
    assert custom.prepare("cifar10", tmp_path) == "cifar10"


@pytest.mark.slow
def test_fashion_mnist_as_npz_searches_as_the_built_in_name(tmp_path, data_root, fmnist):
    """The same images under another name give the same search: same metrics, same genotypes."""
    import hypernas

    np.savez(
        tmp_path / "fmnist.npz",
        images=fmnist.train_x.numpy(),
        labels=fmnist.train_y.numpy(),
        test_images=fmnist.test_x.numpy(),
        test_labels=fmnist.test_y.numpy(),
    )
    common = dict(
        profile="smoke",
        data_root=data_root,
        progress=False,
        overrides={"train_subset": "256", "val_subset": "64", "test_subset": "64", "epochs": "1"},
    )
    builtin = hypernas.search("exp1", out=tmp_path / "builtin", **common)
    own = hypernas.search("exp1", out=tmp_path / "own", dataset=str(tmp_path / "fmnist.npz"), **common)
    assert own.config.dataset.startswith("custom:fmnist:") and own.config.dataset.endswith(":1x28:10")
    timing = ("epoch_time_s", "images_per_s")
    untimed = [{k: v for k, v in r.summary["final"].items() if k not in timing} for r in (own, builtin)]
    assert untimed[0] == untimed[1] and "ce" in untimed[0]
    for s in ((1 / 3, 1 / 3, 1 / 3), (0.7, 0.15, 0.15)):
        assert own.derive(s) == builtin.derive(s)
