"""The searched splits (a seeded held-out part of the official training set) and the mini-batch
iterator with on-the-fly augmentation, both on uint8 tensors kept in memory."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hypernas.data.datasets import ImageData


@dataclass
class Splits:
    """Train / validation (held out from the official train split) / test tensors, uint8."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    mean: list[float]
    std: list[float]
    source: str


def make_splits(
    data: ImageData,
    val_fraction: float = 0.1,
    train_subset: int | None = None,
    val_subset: int | None = None,
    test_subset: int | None = None,
    split_seed: int = 0,
) -> Splits:
    """Hold out ``val_fraction`` of the official train split (shuffled with ``split_seed``), then subsample.

    The subsets are the first N of fixed random permutations, so they are the same for every run.
    """
    g = torch.Generator().manual_seed(split_seed)
    perm = torch.randperm(len(data.train_y), generator=g)
    n_val = round(val_fraction * len(perm))
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    if train_subset:
        train_idx = train_idx[:train_subset]
    if val_subset:
        val_idx = val_idx[:val_subset]
    test_idx = torch.randperm(len(data.test_y), generator=g)
    if test_subset:
        test_idx = test_idx[:test_subset]
    test_idx = test_idx.sort().values
    mean, std = data.mean_std()
    return Splits(
        data.train_x[train_idx],
        data.train_y[train_idx],
        data.train_x[val_idx],
        data.train_y[val_idx],
        data.test_x[test_idx],
        data.test_y[test_idx],
        mean,
        std,
        data.source,
    )


class Batches:
    """Mini-batches of normalised float images from uint8 tensors held in memory.

    With ``shuffle`` the order comes from ``generator`` (saved in checkpoints for exact resume);
    with ``augment`` each image gets a random crop (zero padding ``pad``) and horizontal flip.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        mean: list[float],
        std: list[float],
        shuffle: bool = False,
        augment: bool = False,
        pad: int = 4,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
        drop_last: bool = False,
        channels_last: bool = False,
    ):
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)
        self.shuffle, self.augment, self.pad = shuffle, augment, pad
        self.generator = generator
        self.device = torch.device(device)
        self.drop_last = drop_last
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def __len__(self) -> int:
        n = len(self.y)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        return self.iterate(self.draw_order())

    def draw_order(self) -> torch.Tensor:
        """The order of one epoch: a permutation drawn from ``generator`` with ``shuffle``."""
        n = len(self.y)
        return torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)

    def iterate(self, order: torch.Tensor, start: int = 0):
        """The batches of an epoch in ``order``, from batch index ``start`` on.

        Augmentation draws from ``generator`` batch by batch, when each batch is produced; so an
        epoch interrupted after batch ``b`` continues exactly with ``iterate(order, b + 1)`` once
        the generator's state of that moment is restored.
        """
        for b in range(start, len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            xb = self.x[idx].float().div_(255)
            if self.augment:
                xb = self._augment(xb)
            xb = ((xb - self.mean) / self.std).contiguous(memory_format=self.memory_format)
            yield xb.to(self.device, non_blocking=True), self.y[idx].to(self.device, non_blocking=True)

    def _augment(self, xb: torch.Tensor) -> torch.Tensor:
        """Vectorised random crop (rows, then columns, gathered at random offsets) and flip."""
        B, C, H, W = xb.shape
        p = self.pad
        padded = torch.nn.functional.pad(xb, (p, p, p, p))
        off = torch.randint(0, 2 * p + 1, (B, 2), generator=self.generator)
        rows = (off[:, 0:1] + torch.arange(H)).view(B, 1, H, 1).expand(B, C, H, W + 2 * p)
        cols = (off[:, 1:2] + torch.arange(W)).view(B, 1, 1, W).expand(B, C, H, W)
        out = padded.gather(2, rows).gather(3, cols)
        flip = torch.rand(B, generator=self.generator) < 0.5
        out[flip] = out[flip].flip(-1)
        return out
