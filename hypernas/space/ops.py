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

import re
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


BUILT_IN = frozenset(PRIMITIVES)
GROUPS = ("pool", "conv", "identity")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def register_op(name: str, factory: OpFactory, group: str = "conv") -> None:
    """Add a user's primitive ``name``: ``factory(C, stride, affine)`` returns a module that keeps C
    channels and divides the spatial size by ``stride`` (1 or 2); ``group`` is its op group for the
    paper's op counts (pool, conv or identity).

    The factory is tried once at C = 8 on a 6 x 6 input with both strides; a factory that fails or
    changes the shape is refused with a one-line :class:`ConfigError`, and so is a name that is
    built in or taken by another definition (the same definition registered again changes nothing).
    Registration lasts for this process: a run that uses the op is loaded back
    after registering it again (on the command line: ``hypernas --import MODULE``).

    >>> register_op("conv_1x1", lambda C, stride, affine: ReLUConvBN(C, C, 1, stride, 0, affine))
    >>> sum(p.numel() for p in build("conv_1x1", C=16, stride=1).parameters())
    256
    >>> unregister_op("conv_1x1")
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"op name {name!r} must be lower-case letters, digits and _ (e.g. 'conv_5x5')")
    if name in PRIMITIVES and name not in BUILT_IN and _same_source(PRIMITIVES[name], factory):
        OP_GROUP[name] = group
        return  # the same definition run again (a module imported twice)
    if name in PRIMITIVES:
        raise ConfigError(
            f"operation {name!r} is {'built in' if name in BUILT_IN else 'already registered'}; "
            "choose another name (or unregister_op it first)"
        )
    if group not in GROUPS:
        raise ConfigError(f"op group {group!r} is not one of {', '.join(GROUPS)}")
    if not callable(factory):
        raise ConfigError(
            f"the factory of {name!r} is not callable; give a function (C, stride, affine) -> Module"
        )
    _try_factory(name, factory)
    PRIMITIVES[name] = factory
    OP_GROUP[name] = group


def _same_source(a: OpFactory, b: OpFactory) -> bool:
    """True when two factories are the same code: one file, line and name."""

    def where(f):
        code = getattr(f, "__code__", None)
        return (getattr(f, "__qualname__", None), code and code.co_filename, code and code.co_firstlineno)

    return where(a) == where(b) and where(a)[1] is not None


def unregister_op(name: str) -> None:
    """Remove a primitive added by :func:`register_op` (a built-in one cannot be removed)."""
    if name in BUILT_IN:
        raise ConfigError(f"operation {name!r} is built in and cannot be removed")
    PRIMITIVES.pop(name, None)
    OP_GROUP.pop(name, None)


def _try_factory(name: str, factory: OpFactory) -> None:
    C, side = 8, 6
    x = torch.randn(2, C, side, side)
    for stride in (1, 2):
        try:
            op = factory(C, stride, False)
            if not isinstance(op, nn.Module):
                raise TypeError(f"it returned {type(op).__name__}, not an nn.Module")
            with torch.no_grad():
                y = op.eval()(x)
        except Exception as exc:  # the user's code: report it in one line
            raise ConfigError(
                f"op {name!r} fails at C={C}, stride {stride}: {exc.__class__.__name__}: {exc}"
            ) from None
        want = (2, C, side // stride, side // stride)
        if tuple(y.shape) != want:
            raise ConfigError(
                f"op {name!r} maps a {tuple(x.shape)} input to {tuple(y.shape)} at stride {stride}; "
                f"it must give {want} (keep C channels, divide the side by the stride)"
            )


def _check_known(names) -> None:
    import difflib

    for name in names:
        if name not in PRIMITIVES:
            near = difflib.get_close_matches(name, list(PRIMITIVES), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ConfigError(
                f"unknown operation {name!r}{hint} (known: {', '.join(sorted(PRIMITIVES))}; "
                "add your own with hypernas.register_op, or hypernas --import MODULE)"
            )


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
