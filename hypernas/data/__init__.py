"""Fashion-MNIST and CIFAR-10 as in-memory uint8 tensors: what each dataset is (``DatasetSpec``),
where it is found, with offline fallbacks (``datasets``), and the searched splits and mini-batches
(``batches``)."""

from hypernas.data.batches import Batches, Splits, make_splits
from hypernas.data.datasets import (
    DATASETS,
    SPECS,
    DatasetSpec,
    ImageData,
    load,
    offline_dirs,
    resolve_root,
    spec,
)
from hypernas.errors import DataError

__all__ = [
    "DATASETS",
    "SPECS",
    "Batches",
    "DataError",
    "DatasetSpec",
    "ImageData",
    "Splits",
    "load",
    "make_splits",
    "offline_dirs",
    "resolve_root",
    "spec",
]
