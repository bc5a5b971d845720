"""Points on the probability simplex Delta^{k-1}: the complexity vectors s.

A complexity vector s has one non-negative penalty per primitive operation and sums to one.
This module samples s uniformly (Dirichlet(1, ..., 1)), validates and parses user input, and
builds lattices on the simplex (used for the hypernetwork's reference points and for scanning
the family of architectures).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch

from hypernas.errors import SimplexError

SIMPLEX_TOL = 1e-4
"""How far from 1 the sum of a given s may be; vectors stored or typed with four to six decimals
sum to 1 only up to rounding, and are rescaled exactly onto the simplex."""


def sample_uniform(k: int, n: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw s ~ U(Delta^{k-1}) = Dirichlet(1, ..., 1) by normalising i.i.d. Exponential(1) draws.

    Returns a tensor of shape ``(k,)`` when ``n`` is None, else ``(n, k)``.
    """
    shape = (k,) if n is None else (n, k)
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    e = -torch.log1p(-u)  # Exponential(1); log1p(-u) is finite because u < 1
    return (e / e.sum(dim=-1, keepdim=True)).float()


def validate(s: Sequence[float], k: int, normalize: bool = False) -> list[float]:
    """Check that ``s`` has k non-negative entries summing to 1 and return it on the simplex.

    A sum within ``SIMPLEX_TOL`` of 1 (rounding in stored or typed values) is rescaled to exactly 1.
    With ``normalize=True`` any non-negative vector with a finite positive sum is rescaled.
    """
    values = [float(v) for v in s]
    if len(values) != k:
        raise SimplexError(
            f"s has {len(values)} entries but this run has k={k} operations; give {k} comma-separated numbers"
        )
    if any(v != v or v in (float("inf"), float("-inf")) for v in values):
        raise SimplexError("s contains NaN or infinity; give finite non-negative numbers")
    if any(v < 0 for v in values):
        raise SimplexError(
            f"s has a negative entry ({','.join(f'{v:g}' for v in values)}); every penalty s_m must be >= 0"
        )
    total = sum(values)
    if normalize:
        if total <= 0:
            raise SimplexError("s sums to 0 and cannot be normalised; give at least one positive entry")
        if total == float("inf"):
            raise SimplexError("s is too large to normalise (its sum overflows); give smaller numbers")
        return [v / total for v in values]
    if abs(total - 1.0) > SIMPLEX_TOL:
        raise SimplexError(
            f"s sums to {total:.6g}, not 1: it must lie on the simplex; pass --normalize to rescale it"
        )
    return [v / total for v in values]


def parse(text: str, k: int, normalize: bool = False) -> list[float]:
    """Parse ``"a,b,c"`` into a validated complexity vector of length k."""
    parts = [p.strip() for p in text.split(",") if p.strip() != ""]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise SimplexError(
            f"cannot read s={text!r}: give {k} comma-separated numbers such as "
            + ",".join(["%.2f" % (1 / k)] * k)
        ) from None
    return validate(values, k, normalize=normalize)


def lattice(k: int, divisions: int) -> torch.Tensor:
    """All points of the simplex whose coordinates are multiples of 1/divisions, shape (n, k).

    ``n = C(divisions + k - 1, k - 1)``; ``divisions=1`` gives the k vertices.
    """
    if divisions < 1:
        raise SimplexError("lattice divisions must be >= 1")
    points = [[c / divisions for c in combo] for combo in _compositions(divisions, k)]
    return torch.tensor(points, dtype=torch.float32)


def _compositions(total: int, parts: int):
    """Yield every tuple of ``parts`` non-negative integers summing to ``total`` (lexicographic, descending)."""
    for cuts in itertools.combinations(range(total + parts - 1), parts - 1):
        prev = -1
        combo = []
        for c in cuts:
            combo.append(c - prev - 1)
            prev = c
        combo.append(total + parts - 1 - prev - 1)
        yield tuple(combo)


def reference_points(k: int) -> torch.Tensor:
    """Default hypernetwork reference points: the k vertices, the C(k,2) edge midpoints and the centre."""
    eye = torch.eye(k)
    mids = [(eye[i] + eye[j]) / 2 for i, j in itertools.combinations(range(k), 2)]
    centre = torch.full((1, k), 1.0 / k)
    return torch.cat([eye, torch.stack(mids), centre], dim=0)
