"""Genotypes: the discrete architecture read off the family at a complexity vector s.

derive(s) takes alpha(s) from the hypernetwork and keeps the argmax op on every one of the
28 edges (14 normal + 14 reduction; no top-2 pruning, as in the paper). Parameter counts:

* ``cell_params``: the paper's convention: parameters of the chosen ops in the cell instances
  only (normal genotype at C=16, reduction genotype at C=32 and C=64), BatchNorm without affine,
  stem, preprocessing and classifier excluded;
* ``total_params``: every trainable parameter of the discrete network.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from hypernas.space.ops import OP_FAMILY


@dataclass(frozen=True)
class Genotype:
    """One op name per edge of the normal and of the reduction cell (DARTS edge order)."""

    ops: tuple[str, ...]
    normal: tuple[str, ...]
    reduce: tuple[str, ...]

    def op_counts(self) -> dict[str, int]:
        """Op name -> number of edges (over all 28) that chose it, in the order of ``ops``."""
        c = Counter(self.normal + self.reduce)
        return {name: c.get(name, 0) for name in self.ops}

    def family_counts(self) -> dict[str, int]:
        """The paper's op counts: pool / conv / identity over the 28 edges."""
        out = {"pool": 0, "conv": 0, "identity": 0}
        for name, n in self.op_counts().items():
            out[OP_FAMILY[name]] += n
        return out

    def key(self) -> str:
        """A short string that identifies the genotype (for de-duplication)."""
        index = {name: str(i) for i, name in enumerate(self.ops)}
        return "".join(index[n] for n in self.normal) + "|" + "".join(index[n] for n in self.reduce)

    def to_dict(self) -> dict:
        return {"ops": list(self.ops), "normal": list(self.normal), "reduce": list(self.reduce)}

    @classmethod
    def from_dict(cls, d: dict) -> Genotype:
        return cls(tuple(d["ops"]), tuple(d["normal"]), tuple(d["reduce"]))


def from_alpha(alpha: torch.Tensor, ops: Sequence[str]) -> Genotype:
    """Argmax on every edge of alpha (shape ``(2 * n_edges, k)``, normal edges first)."""
    idx = alpha.argmax(dim=-1).tolist()
    n = len(idx) // 2
    names = [ops[i] for i in idx]
    return Genotype(tuple(ops), tuple(names[:n]), tuple(names[n:]))


@torch.no_grad()
def derive(hypernet: torch.nn.Module, s: Sequence[float] | torch.Tensor, ops: Sequence[str]) -> Genotype:
    """The architecture at s: ``from_alpha(u_a(s))``."""
    s_t = torch.as_tensor(s, dtype=torch.float32, device=next(hypernet.parameters()).device)
    return from_alpha(hypernet(s_t).cpu(), ops)
