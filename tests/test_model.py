"""Supernet, discrete networks, weight inheritance, gradient flow and the paper's parameter counts."""

import random

import pytest
import torch
import torch.nn.functional as F

from hypernas.method.cost import relaxed_cost
from hypernas.method.gumbel import gumbel_softmax
from hypernas.method.hypernet import RBFHypernet
from hypernas.space.cells import SearchSpace, cell_edges
from hypernas.space.genotype import Genotype, from_alpha
from hypernas.space.network import build_discrete, inherit_weights, parameter_counts
from hypernas.space.ops import build
from hypernas.space.supernet import build_supernet
from hypernas.train.config import OPS_3, OPS_5

SPACE3 = SearchSpace(ops=OPS_3)
POOL, SKIP, CONV = OPS_3


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_edge_order_and_count():
    edges = cell_edges(4)
    assert len(edges) == 14
    assert [(e.src, e.dst) for e in edges[:5]] == [(0, 0), (1, 0), (0, 1), (1, 1), (2, 1)]
    assert sum(e.stride(True) == 2 for e in edges) == 8
    assert SPACE3.cell_layout() == [(False, 16), (True, 32), (True, 64)]


def test_per_op_parameter_figures():
    assert n_params(build("sep_conv_3x3", 16, 1)) == 800
    assert n_params(build("sep_conv_3x3", 32, 2)) + n_params(build("sep_conv_3x3", 64, 2)) == 11_968
    assert n_params(build("skip_connect", 32, 2)) + n_params(build("skip_connect", 64, 2)) == 5_120
    assert n_params(build("skip_connect", 32, 1)) == 0
    assert n_params(build("max_pool_3x3", 32, 2)) == 0


def make_genotype(normal: dict, reduce_s2: dict, reduce_s1: dict) -> Genotype:
    """A genotype from op counts: normal cell, reduction edges of stride 2 (8), of stride 1 (6)."""
    edges = cell_edges(4)
    s2 = [i for i, e in enumerate(edges) if e.src < 2]
    s1 = [i for i, e in enumerate(edges) if e.src >= 2]
    expand = lambda d: [name for name, n in d.items() for _ in range(n)]  # noqa: E731
    reduce = [None] * 14
    for idx, names in ((s2, expand(reduce_s2)), (s1, expand(reduce_s1))):
        assert len(names) == len(idx)
        for i, name in zip(idx, names):
            reduce[i] = name
    n = expand(normal)
    assert len(n) == 14
    return Genotype(OPS_3, tuple(n), tuple(reduce))


# Each column of the paper's Table 1 (parameters; # pool, # conv, # identity) as a concrete genotype.
TABLE1 = {
    "A": (
        dict(sep_conv_3x3=3, skip_connect=10, max_pool_3x3=1),
        dict(sep_conv_3x3=3, max_pool_3x3=5),
        dict(max_pool_3x3=6),
        38_304,
        (12, 6, 10),
    ),
    "B": (
        dict(skip_connect=10, max_pool_3x3=4),
        dict(skip_connect=1, max_pool_3x3=7),
        dict(max_pool_3x3=6),
        5_120,
        (17, 0, 11),
    ),
    "C": (
        dict(sep_conv_3x3=2, skip_connect=12),
        dict(sep_conv_3x3=6, skip_connect=2),
        dict(sep_conv_3x3=5, skip_connect=1),
        143_488,
        (0, 13, 15),
    ),
    "D": (
        dict(sep_conv_3x3=9, max_pool_3x3=5),
        dict(skip_connect=1, max_pool_3x3=7),
        dict(max_pool_3x3=6),
        12_320,
        (18, 9, 1),
    ),
}


@pytest.mark.parametrize("column", sorted(TABLE1))
def test_cell_params_reproduce_table1(column):
    normal, r2, r1, params, (pool, conv, ident) = TABLE1[column]
    g = make_genotype(normal, r2, r1)
    assert g.group_counts() == {"pool": pool, "conv": conv, "identity": ident}
    assert parameter_counts(g, SPACE3)["cell_params"] == params


def test_cell_params_formula_on_random_genotypes():
    rng = random.Random(0)
    stride2 = {i for i, e in enumerate(cell_edges(4)) if e.src < 2}
    for _ in range(10):
        normal = [rng.choice(OPS_3) for _ in range(14)]
        reduce = [rng.choice(OPS_3) for _ in range(14)]
        g = Genotype(OPS_3, tuple(normal), tuple(reduce))
        expected = 800 * normal.count(CONV) + 11_968 * reduce.count(CONV)
        expected += 5_120 * sum(1 for i, o in enumerate(reduce) if o == SKIP and i in stride2)
        counts = parameter_counts(g, SPACE3)
        assert counts["cell_params"] == expected
        assert counts["total_params"] > counts["cell_params"]
        assert sum(g.op_counts().values()) == 28


@pytest.mark.parametrize("ops,in_ch,hw", [(OPS_3, 1, 28), (OPS_5, 3, 32)])
def test_supernet_shapes(ops, in_ch, hw):
    space = SearchSpace(ops=ops, in_channels=in_ch)
    net = build_supernet(space)
    gamma = torch.softmax(torch.randn(4, 28, len(ops)), -1)
    assert net(torch.randn(4, in_ch, hw, hw), gamma).shape == (4, 10)


def test_gradients_reach_weights_and_hypernet():
    torch.manual_seed(0)
    net = build_supernet(SPACE3)
    h = RBFHypernet(3, 28)
    s = torch.tensor([0.2, 0.3, 0.5])
    alpha = h(s)
    gamma = gumbel_softmax(alpha, 1.0, batch=4)
    ce = F.cross_entropy(net(torch.randn(4, 1, 28, 28), gamma), torch.tensor([0, 1, 2, 3]))
    ce.backward(retain_graph=True)
    assert h.alpha_ref.grad is not None and h.alpha_ref.grad.abs().sum() > 0, "CE does not reach the hypernet"
    assert all(p.grad is not None for p in net.parameters()), "CE does not reach every weight"
    h.alpha_ref.grad = None
    relaxed_cost(alpha, s, 0.5, "softmax_t").backward()
    g = h.alpha_ref.grad
    assert g is not None and g.abs().sum() > 0, "Cost does not reach the hypernet"
    # the cost pushes logits of the most penalised op (index 2) down
    assert (g[..., 2] > 0).all()


def test_inherited_discrete_net_equals_supernet_at_one_hot():
    """With one-hot gamma at the genotype, the supernet and the inherited discrete net agree."""
    torch.manual_seed(0)
    net = build_supernet(SPACE3)
    # give BN buffers non-trivial statistics
    with torch.no_grad():
        net.train()
        for _ in range(2):
            net(torch.randn(8, 1, 28, 28), torch.softmax(torch.randn(8, 28, 3), -1))
    net.eval()
    alpha = torch.randn(28, 3)
    g = from_alpha(alpha, OPS_3)
    one_hot = F.one_hot(alpha.argmax(-1), 3).float()
    disc = inherit_weights(build_discrete(g, SPACE3), net, g).eval()
    x = torch.randn(5, 1, 28, 28)
    with torch.no_grad():
        a = net(x, one_hot.expand(5, 28, 3))
        b = disc(x)
    assert torch.allclose(a, b, atol=1e-5)


def test_sampled_path_equals_full_mixture_at_the_sample():
    """path_sampling='one': computing only the sampled op equals the full mixed op at that one-hot gamma,
    and the straight-through estimator still gives alpha a gradient."""
    torch.manual_seed(0)
    net = build_supernet(SPACE3).eval()
    alpha = torch.randn(28, 3, requires_grad=True)
    gamma = gumbel_softmax(alpha, 0.5, batch=1, hard=True, generator=torch.Generator().manual_seed(1))
    active = gamma[0].detach().argmax(-1).tolist()
    x = torch.randn(4, 1, 28, 28)
    sampled = net(x, gamma, active)
    full = net(x, gamma.detach().expand(4, 28, 3))
    assert torch.allclose(sampled, full, atol=1e-5)
    sampled.sum().backward()
    assert alpha.grad is not None and alpha.grad.abs().sum() > 0
    # unsampled ops received no gradient and were never run
    edge = net.cells[0].edges[0]
    unused = [m for m in range(3) if m != active[0]]
    assert all(p.grad is None for m in unused for p in edge.ops[m].parameters())


@pytest.mark.parametrize(
    "ops,in_ch,hw",
    [
        (OPS_3, 1, 28),
        pytest.param(OPS_5, 1, 28, marks=pytest.mark.slow),
        pytest.param(OPS_3, 3, 32, marks=pytest.mark.slow),
    ],
)
def test_grouped_cell_equals_edge_by_edge(ops, in_ch, hw):
    """Training-mode forward grouped by source node (hypernas.space.fused_cell) = edge-by-edge forward:
    outputs, gradients of every weight and of gamma, and the BatchNorm running statistics.

    Compared in float64, where the two orders of summation agree to ~1e-14. In float32 on one
    thread the gradient of gamma (a sum over every activation of an edge) differs by up to ~4e-3
    between them, and each is as far from the float64 value: rounding, not a different result."""
    torch.manual_seed(0)
    grouped = build_supernet(SearchSpace(ops=ops, in_channels=in_ch)).train().double()
    edgewise = build_supernet(SearchSpace(ops=ops, in_channels=in_ch)).train().double()
    edgewise.load_state_dict(grouped.state_dict())
    for cell in edgewise.cells:
        cell.grouped = False
    x = torch.randn(6, in_ch, hw, hw, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    logits = torch.randn(6, 28, len(ops), dtype=torch.float64)
    outs, grads = [], []
    for net in (grouped, edgewise):
        gamma = torch.softmax(logits, -1).requires_grad_()
        out = net(x, gamma)
        out.square().sum().backward()
        outs.append(out)
        grads.append(gamma.grad)
    assert torch.allclose(outs[0], outs[1], atol=1e-10, rtol=1e-10)
    assert torch.allclose(grads[0], grads[1], atol=1e-9, rtol=1e-9)
    for (name, p), q in zip(grouped.named_parameters(), edgewise.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-9, rtol=1e-9), name
    for (name, b), c in zip(grouped.named_buffers(), edgewise.buffers()):
        assert torch.allclose(b.double(), c.double(), atol=1e-10), name
