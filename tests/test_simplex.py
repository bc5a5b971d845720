import math

import pytest
import torch
from scipy import stats

from hypernas.errors import SimplexError
from hypernas.method import simplex


@pytest.mark.parametrize("k", [3, 5])
def test_uniform_marginal_is_beta(k):
    """Under U(simplex) = Dirichlet(1,...,1) each coordinate is Beta(1, k-1)."""
    g = torch.Generator().manual_seed(0)
    s = simplex.sample_uniform(k, 20000, generator=g)
    assert s.shape == (20000, k)
    assert torch.allclose(s.sum(1), torch.ones(20000), atol=1e-5)
    assert (s >= 0).all()
    for m in range(k):
        p = stats.kstest(s[:, m].numpy(), stats.beta(1, k - 1).cdf).pvalue
        assert p > 1e-3, f"component {m} is not Beta(1, {k - 1}) (KS p={p:.2g})"


def test_uniform_is_not_symmetric_dirichlet_with_other_concentration():
    """The KS check has power: Dirichlet(2,2,2) marginals are rejected."""
    d = torch.distributions.Dirichlet(torch.full((3,), 2.0)).sample((20000,))
    assert stats.kstest(d[:, 0].numpy(), stats.beta(1, 2).cdf).pvalue < 1e-6


def test_validate_and_parse():
    assert simplex.parse("0.2,0.3,0.5", 3) == pytest.approx([0.2, 0.3, 0.5])
    assert simplex.parse("1,1,2", 3, normalize=True) == pytest.approx([0.25, 0.25, 0.5])
    with pytest.raises(SimplexError, match="--normalize"):
        simplex.parse("1,1,5", 3)
    with pytest.raises(SimplexError, match="k=3"):
        simplex.parse("0.5,0.5", 3)
    with pytest.raises(SimplexError, match="negative"):
        simplex.parse("-0.1,0.6,0.5", 3)
    with pytest.raises(SimplexError, match="comma-separated"):
        simplex.parse("a,b,c", 3)
    with pytest.raises(SimplexError, match="sums to 0"):
        simplex.parse("0,0,0", 3, normalize=True)
    with pytest.raises(SimplexError, match="overflows"):
        simplex.parse("1e308,1e308,1e308", 3, normalize=True)
    # rounding (six decimals, as results store s) is accepted and rescaled exactly onto the simplex
    rounded = simplex.validate([0.333333, 0.333333, 0.333333], 3)
    assert sum(rounded) == pytest.approx(1.0, abs=1e-15)
    assert rounded == pytest.approx([1 / 3] * 3, abs=1e-12)
    with pytest.raises(SimplexError, match=r"sums to 0\.999"):
        simplex.validate([0.333, 0.333, 0.333], 3)


def test_lattice_counts_and_membership():
    for k, n in [(3, 4), (5, 3), (3, 10)]:
        pts = simplex.lattice(k, n)
        assert len(pts) == math.comb(n + k - 1, k - 1)
        assert torch.allclose(pts.sum(1), torch.ones(len(pts)))
        assert len({tuple(p.tolist()) for p in pts}) == len(pts)


def test_reference_points():
    r = simplex.reference_points(3)
    assert r.shape == (7, 3)  # 3 vertices, 3 midpoints, centre
    assert torch.allclose(r[-1], torch.full((3,), 1 / 3))
    assert simplex.reference_points(5).shape == (16, 5)
