"""Genotypes: the discrete architecture read off the family at a complexity vector s.

derive(s) takes alpha(s) from the hypernetwork and keeps the argmax op on every one of the
28 edges (14 normal + 14 reduction; no top-2 pruning, as in the paper). Parameter counts:

* ``cell_params``: the paper's convention: parameters of the chosen ops in the cell instances
  only (normal genotype at C=16, reduction genotype at C=32 and C=64), BatchNorm without affine,
  stem, preprocessing and classifier excluded;
* ``total_params``: every trainable parameter of the discrete network.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from hypernas.errors import ConfigError
from hypernas.space.ops import OP_GROUP

_KEY = re.compile(r"^\d+\|\d+$")


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

    def group_counts(self) -> dict[str, int]:
        """The paper's op counts: pool / conv / identity over the 28 edges."""
        out = {"pool": 0, "conv": 0, "identity": 0}
        for name, n in self.op_counts().items():
            out[OP_GROUP[name]] += n
        return out

    def key(self) -> str:
        """A short string that identifies the genotype (for de-duplication)."""
        index = {name: str(i) for i, name in enumerate(self.ops)}
        return "".join(index[n] for n in self.normal) + "|" + "".join(index[n] for n in self.reduce)

    def to_dict(self) -> dict:
        return {"ops": list(self.ops), "normal": list(self.normal), "reduce": list(self.reduce)}

    @classmethod
    def from_dict(cls, d: dict, ops: Sequence[str] | None = None) -> Genotype:
        """A genotype from ``{"ops", "normal", "reduce"}`` (``ops`` fills a missing ``"ops"``)."""
        if not isinstance(d, dict) or not {"normal", "reduce"} <= set(d):
            raise ConfigError(
                'a genotype as JSON needs "normal" and "reduce" (lists of op names, one per edge)'
            )
        names = d.get("ops", ops)
        if names is None:
            raise ConfigError('a genotype as JSON needs "ops" (the op names in the order of s)')
        return cls(tuple(names), tuple(d["normal"]), tuple(d["reduce"]))

    @classmethod
    def from_key(cls, key: str, ops: Sequence[str]) -> Genotype:
        """The genotype of a :meth:`key` (``"0120...|2201..."``: op indices into ``ops``, normal|reduce)."""
        if not _KEY.match(key):
            raise ConfigError(
                f"cannot read genotype {key!r}: expected op indices, normal|reduce, as 0120|2201"
            )
        normal, reduce = key.split("|")
        try:
            return cls(tuple(ops), tuple(ops[int(c)] for c in normal), tuple(ops[int(c)] for c in reduce))
        except IndexError:
            raise ConfigError(
                f"genotype {key!r} names op index {max(map(int, normal + reduce))}, but there are {len(ops)} ops"
            ) from None

    @classmethod
    def parse(cls, text: str | dict | Genotype, ops: Sequence[str]) -> Genotype:
        """A genotype from what a user writes: a :class:`Genotype`, a dict or JSON text, a JSON file,
        or a :meth:`key` (op indices into ``ops``)."""
        if isinstance(text, Genotype):
            return text
        if isinstance(text, dict):
            return cls.from_dict(text, ops)
        text = str(text).strip()
        if _KEY.match(text):
            return cls.from_key(text, ops)
        if not text.startswith("{") and Path(text).is_file():
            text = Path(text).read_text()
        try:
            return cls.from_dict(json.loads(text), ops)
        except json.JSONDecodeError:
            raise ConfigError(
                f"cannot read genotype {text[:60]!r}: give a key such as 0120...|2201..., "
                'JSON with "normal" and "reduce", or a JSON file'
            ) from None

    def check(self, ops: Sequence[str], n_edges: int) -> Genotype:
        """This genotype, checked to fit a space of ``ops`` and ``n_edges`` edges per cell."""
        if tuple(self.ops) != tuple(ops):
            raise ConfigError(f"the genotype's ops {list(self.ops)} differ from the run's {list(ops)}")
        unknown = sorted(set(self.normal + self.reduce) - set(ops))
        if unknown:
            raise ConfigError(
                f"the genotype uses {', '.join(unknown)}, which is not among the ops {list(ops)}"
            )
        if len(self.normal) != n_edges or len(self.reduce) != n_edges:
            raise ConfigError(
                f"the genotype has {len(self.normal)} normal and {len(self.reduce)} reduction edges; "
                f"the run's cells have {n_edges} each"
            )
        return self


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
