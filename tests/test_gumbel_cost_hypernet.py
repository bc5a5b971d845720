import itertools
import math

import pytest
import torch

from hypernas.method.cost import relaxed_cost, relaxed_weights
from hypernas.method.gumbel import gumbel_softmax, linear_temperature
from hypernas.method.hypernet import RBFHypernet


def test_gumbel_argmax_follows_softmax():
    """Gumbel-max: argmax of a GS sample is distributed as Softmax(alpha), at any t."""
    alpha = torch.tensor([1.0, 0.0, -0.5])
    g = torch.Generator().manual_seed(0)
    n = 200_000
    sample = gumbel_softmax(alpha, 0.5, batch=n, generator=g)
    freq = torch.bincount(sample.argmax(-1), minlength=3).float() / n
    expected = torch.softmax(alpha, 0)
    se = (expected * (1 - expected) / n).sqrt()
    assert ((freq - expected).abs() < 5 * se).all(), (freq, expected)


def test_gumbel_mean_tends_to_softmax_alpha_not_softmax_alpha_over_t():
    """E[GS(alpha, t)] -> Softmax(alpha) as t -> 0 (the check recorded in PAPER.md)."""
    alpha = torch.tensor([1.0, 0.0, -0.5])
    g = torch.Generator().manual_seed(1)
    mean = gumbel_softmax(alpha, 0.01, batch=200_000, generator=g).mean(0)
    assert torch.allclose(mean, torch.softmax(alpha, 0), atol=0.005)
    assert not torch.allclose(mean, torch.softmax(alpha / 0.01, 0), atol=0.1)


def test_gumbel_sample_shape_simplex_and_per_example_independence():
    alpha = torch.zeros(28, 3)
    gamma = gumbel_softmax(alpha, 1.0, batch=8, generator=torch.Generator().manual_seed(0))
    assert gamma.shape == (8, 28, 3)
    assert torch.allclose(gamma.sum(-1), torch.ones(8, 28))
    assert not torch.allclose(gamma[0], gamma[1])


def test_straight_through_hard():
    alpha = torch.randn(5, 3, requires_grad=True)
    g1 = torch.Generator().manual_seed(3)
    hard = gumbel_softmax(alpha, 0.7, batch=4, hard=True, generator=g1)
    assert set(hard.detach().unique().tolist()) <= {0.0, 1.0}
    assert torch.allclose(hard.sum(-1), torch.ones(4, 5))
    w = torch.randn(3)
    (hard * w).sum().backward()
    grad_hard = alpha.grad.clone()
    alpha.grad = None
    soft = gumbel_softmax(alpha, 0.7, batch=4, generator=torch.Generator().manual_seed(3))
    (soft * w).sum().backward()
    assert torch.allclose(grad_hard, alpha.grad)


def test_temperature_schedule():
    ts = [linear_temperature(e, 10) for e in range(10)]
    assert ts[0] == 1.0 and ts[-1] == pytest.approx(0.2)
    assert all(a > b for a, b in itertools.pairwise(ts))
    assert linear_temperature(25, 10) == pytest.approx(0.2)  # never below the end value
    assert linear_temperature(0, 1) == 1.0


def test_hypernet_matches_hand_computation():
    refs = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    h = RBFHypernet(3, n_edges=2, ref_points=refs, sigma=1.0)
    with torch.no_grad():
        h.alpha_ref.copy_(
            torch.tensor([[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], [[-1.0, 0.0, 1.0], [4.0, 4.0, 4.0]]])
        )
    s = torch.tensor([0.5, 0.25, 0.25])
    d1 = 0.5**2 + 0.25**2 + 0.25**2  # ||s - e1||^2
    d2 = 0.5**2 + 0.25**2 + 0.75**2  # ||s - e3||^2
    w1 = math.exp(-d1) / (math.exp(-d1) + math.exp(-d2))
    w2 = 1 - w1
    expected = torch.tensor(
        [
            [w1 * 1 + w2 * -1, w1 * 2 + w2 * 0, w1 * 3 + w2 * 1],
            [w2 * 4, w2 * 4, w2 * 4],
        ]
    )
    assert torch.allclose(h(s), expected, atol=1e-6)
    assert h.rbf_weights(s)[0].item() == pytest.approx(w1)
    # nearer reference point gets the larger weight (negative sign of the paper)
    assert w1 > w2
    # a batch of s gives a batch of alpha
    assert h(torch.stack([s, s])).shape == (2, 2, 3)


def test_hypernet_sigma_and_learnable_refs():
    h = RBFHypernet(3, 28, sigma=0.1, learnable_refs=True)
    assert isinstance(h.ref_points, torch.nn.Parameter) and h.m == 7
    w = h.rbf_weights(torch.tensor([1.0, 0.0, 0.0]))
    assert w[0] > 0.99  # small sigma: nearly nearest-neighbour
    h2 = RBFHypernet(3, 28)
    assert "ref_points" not in dict(h2.named_parameters())


def test_hypernet_positive_sign_weights_the_farthest_reference():
    refs = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    s = torch.tensor([0.9, 0.05, 0.05])
    near = RBFHypernet(3, 1, ref_points=refs).rbf_weights(s)
    far = RBFHypernet(3, 1, ref_points=refs, sign=1.0).rbf_weights(s)
    assert near[0] > near[1] and far[1] > far[0]
    assert torch.allclose(far, near.flip(0), atol=1e-6)  # two points: the weights swap
    with pytest.raises(ValueError, match="sign"):
        RBFHypernet(3, 1, sign=0.5)


def test_grouped_hypernet_gives_each_group_its_own_references():
    refs = torch.tensor(
        [
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],  # group 0
            [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]],
        ]
    )  # group 1
    groups = torch.tensor([0, 1, 1])
    h = RBFHypernet(3, 3, ref_points=refs, edge_groups=groups)
    assert h.grouped and h.m == 2
    s = torch.tensor([0.6, 0.1, 0.3])
    w = h.rbf_weights(s)
    assert w.shape == (2, 2)
    for g in (0, 1):  # each group's weights are the plain RBF weights of its own points
        assert torch.allclose(w[g], RBFHypernet(3, 1, ref_points=refs[g]).rbf_weights(s), atol=1e-6)
    expected = torch.stack([w[groups[e]] @ h.alpha_ref[:, e, :] for e in range(3)])
    assert torch.allclose(h(s), expected, atol=1e-6)
    assert h(torch.stack([s, s, s, s])).shape == (4, 3, 3)
    with pytest.raises(ValueError, match="edge_groups"):
        RBFHypernet(3, 3, ref_points=refs)
    with pytest.raises(ValueError, match="edge_groups"):
        RBFHypernet(3, 3, ref_points=refs, edge_groups=torch.tensor([0, 1, 2]))


def test_hypernet_layouts_from_config():
    import hashlib
    import json

    from hypernas.errors import ConfigError
    from hypernas.train.build import build_hypernet
    from hypernas.train.config import SearchConfig
    from hypernas.train.presets import resolve

    default = resolve("exp1", "smoke")
    h = build_hypernet(default, default.space())
    # one group of 5 learnable N(0, I) points per intermediate node (4 normal + 4 reduction), paper's sign
    assert h.ref_points.shape == (8, 5, 3) and isinstance(h.ref_points, torch.nn.Parameter)
    assert h.edge_groups.tolist() == [0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3] + [
        4,
        4,
        5,
        5,
        5,
        6,
        6,
        6,
        6,
        7,
        7,
        7,
        7,
        7,
    ]
    assert h.sign == -1.0
    lattice = resolve("exp1", "smoke", {"ref_layout": "lattice", "learnable_refs": "false", "rbf_sign": "1"})
    h2 = build_hypernet(lattice, lattice.space())
    assert not h2.grouped and h2.m == 7 and h2.sign == 1.0 and "ref_points" not in dict(h2.named_parameters())
    # a stored config comes back as it was; one that lacks a key (stored by another version) is refused,
    # not completed with today's defaults; hash() covers every key (keys of HASHED_WHEN_SET, added
    # later, only when set: fixed_s left at None keeps every stored hash)
    made = resolve("exp1", "smoke", {"ref_layout": "lattice", "learnable_refs": "false"})
    restored = SearchConfig.from_dict(made.to_dict())
    assert restored == made and restored.hash() == made.hash()
    old = made.to_dict()
    del old["ref_layout"], old["rbf_sign"]
    with pytest.raises(ConfigError, match="lacks rbf_sign, ref_layout"):
        SearchConfig.from_dict(old)
    full = made.to_dict()
    assert full.pop("fixed_s") is None
    assert made.hash() == hashlib.sha256(json.dumps(full, sort_keys=True).encode()).hexdigest()[:12]
    assert len({default.hash(), lattice.hash(), restored.hash()}) == 3


def test_cost_matches_hand_computation():
    alpha = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]])
    s = torch.tensor([0.2, 0.3, 0.5])
    t = 0.5
    by_hand_t = sum(
        sum(math.exp(a / t) / sum(math.exp(b / t) for b in row) * s[m].item() for m, a in enumerate(row))
        for row in alpha.tolist()
    )
    assert relaxed_cost(alpha, s, t, "softmax_t").item() == pytest.approx(by_hand_t, rel=1e-6)
    by_hand = sum(
        sum(math.exp(a) / sum(math.exp(b) for b in row) * s[m].item() for m, a in enumerate(row))
        for row in alpha.tolist()
    )
    assert relaxed_cost(alpha, s, t, "softmax").item() == pytest.approx(by_hand, rel=1e-6)
    gamma = torch.tensor([[[1.0, 0, 0], [0, 0, 1.0]], [[0, 1.0, 0], [0, 0, 1.0]]])  # 2 examples
    assert relaxed_cost(alpha, s, t, "sample", gamma).item() == pytest.approx((0.2 + 0.3) / 2 + 0.5)
    # uniform edge weights: Cost = n_edges / k ... with s on the simplex, = n_edges * mean(s)
    assert relaxed_cost(torch.zeros(28, 3), s, 1.0, "softmax").item() == pytest.approx(28 / 3)
    with pytest.raises(ValueError):
        relaxed_weights(alpha, t, "nope")
