"""Registry of primitive operations by name (the candidate set O = {o^(1), ..., o^(k)}).

Every primitive maps ``(C, stride, affine)`` to a module that keeps the number of channels C
and divides the spatial size by ``stride``. Inside the supernet every BatchNorm is
``affine=False`` (as in DARTS search), which is also what the paper's parameter counts assume.

>>> sorted(PRIMITIVES)[:3]
['avg_pool_3x3', 'conv_3x3', 'max_pool_3x3']
>>> op = build("sep_conv_3x3", C=16, stride=1)
>>> sum(p.numel() for p in op.parameters())
800
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from hypernas.errors import ConfigError


class ReLUConvBN(nn.Sequential):
    """ReLU -> k x k convolution -> BatchNorm."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU -> depthwise k x k (stride, dilation) -> pointwise 1 x 1 -> BatchNorm."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, dilation: int, affine: bool
    ):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, stride, padding, dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """DARTS separable convolution: two depthwise-separable blocks, the first with the stride."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool):
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel, 1, padding, 1, affine),
        )


class FactorizedReduce(nn.Module):
    """Halve the spatial size with two offset 1 x 1 stride-2 convolutions, concatenated (C^2 weights)."""

    def __init__(self, c_in: int, c_out: int, affine: bool):
        super().__init__()
        if c_out % 2:
            raise ConfigError(f"FactorizedReduce needs an even channel count, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = x[:, :, 1:, 1:]
        if shifted.shape[-1] < x.shape[-1]:  # keep both branches the same size for odd inputs
            shifted = nn.functional.pad(shifted, (0, 1, 0, 1))
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


class PoolBN(nn.Sequential):
    """3 x 3 pooling (padding 1) followed by a BatchNorm without affine parameters (DARTS search)."""

    def __init__(self, kind: str, C: int, stride: int, affine: bool):
        pool = (
            nn.MaxPool2d(3, stride=stride, padding=1)
            if kind == "max"
            else nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
        )
        super().__init__(pool, nn.BatchNorm2d(C, affine=affine))


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _skip(C: int, stride: int, affine: bool) -> nn.Module:
    return Identity() if stride == 1 else FactorizedReduce(C, C, affine)


OpFactory = Callable[[int, int, bool], nn.Module]

PRIMITIVES: dict[str, OpFactory] = {
    "sep_conv_3x3": lambda C, stride, affine: SepConv(C, C, 3, stride, 1, affine),
    "sep_conv_5x5": lambda C, stride, affine: SepConv(C, C, 5, stride, 2, affine),
    "conv_3x3": lambda C, stride, affine: ReLUConvBN(C, C, 3, stride, 1, affine),
    "max_pool_3x3": lambda C, stride, affine: PoolBN("max", C, stride, affine),
    "avg_pool_3x3": lambda C, stride, affine: PoolBN("avg", C, stride, affine),
    "skip_connect": _skip,
}

#: The op group each primitive belongs to, used for the paper's op counts (pool / conv / identity).
OP_GROUP: dict[str, str] = {
    "sep_conv_3x3": "conv",
    "sep_conv_5x5": "conv",
    "conv_3x3": "conv",
    "max_pool_3x3": "pool",
    "avg_pool_3x3": "pool",
    "skip_connect": "identity",
}


def _check_known(names) -> None:
    import difflib

    for name in names:
        if name not in PRIMITIVES:
            near = difflib.get_close_matches(name, list(PRIMITIVES), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ConfigError(f"unknown operation {name!r}{hint} (known: {', '.join(sorted(PRIMITIVES))})")


def check_ops(names: list[str] | tuple[str, ...]) -> None:
    """Raise :class:`ConfigError` for an unknown or repeated primitive name, or fewer than two ops."""
    _check_known(names)
    if len(set(names)) != len(names):
        raise ConfigError(f"operation list {list(names)} repeats a name; each op may appear once")
    if len(names) < 2:
        raise ConfigError("the search needs at least two operations")


def build(name: str, C: int, stride: int, affine: bool = False) -> nn.Module:
    """Instantiate the primitive ``name`` for C channels and the given stride."""
    _check_known([name])
    return PRIMITIVES[name](C, stride, affine)
