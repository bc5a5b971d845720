"""One optimisation step of the single-level objective L = CE + kappa * Cost at a freshly drawn s,
and the supernet's accuracy at a given s."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from hypernas.method import simplex
from hypernas.method.cost import relaxed_cost
from hypernas.method.gumbel import gumbel_softmax
from hypernas.method.hypernet import RBFHypernet
from hypernas.space.supernet import Supernet
from hypernas.train import distributed as dist_mod
from hypernas.train.config import SearchConfig


@dataclass
class StepResult:
    loss: float
    ce: float
    cost: float
    correct: int
    n: int


class NonFiniteStep(FloatingPointError):
    """The loss or a gradient of this step is NaN or infinite (raised before any weight changes)."""


def check_finite(loss: torch.Tensor, grad_norm: torch.Tensor | None) -> None:
    """Raise :class:`NonFiniteStep` when the loss or the (clipped) gradient norm is not finite.

    Both are scalars the step computes anyway, so the check costs nothing; the gradient norm is
    taken after averaging across ranks, so every rank decides alike.
    """
    if not torch.isfinite(loss):
        raise NonFiniteStep(f"the loss became {loss.item()}")
    if grad_norm is not None and not torch.isfinite(grad_norm):
        raise NonFiniteStep(f"the gradient norm became {grad_norm.item()}")


def all_finite(*modules: torch.nn.Module) -> bool:
    """True when every parameter and buffer of ``modules`` is finite (checked before a checkpoint)."""
    return all(
        bool(torch.isfinite(tensor).all())
        for module in modules
        for tensor in (*module.parameters(), *module.buffers())
        if tensor.is_floating_point()
    )


def train_step(
    supernet: Supernet,
    hypernet: RBFHypernet,
    x: torch.Tensor,
    y: torch.Tensor,
    t: float,
    cfg: SearchConfig,
    opt_w: torch.optim.Optimizer,
    opt_a: torch.optim.Optimizer,
    noise: torch.Generator,
    ctx: dist_mod.DistContext | None = None,
) -> StepResult:
    """One optimisation step of the single-level objective at a freshly drawn s (``cfg.fixed_s``: at that s).

    ``x, y`` is the global mini-batch; under torchrun each rank computes on its own slice. A loss or
    gradient that is not finite raises :class:`NonFiniteStep` before the optimisers step. With
    ``cfg.path_sampling == "one"`` a single Gumbel-Softmax sample per edge is drawn for the whole
    batch, only its arg-max op is computed, and the straight-through estimator carries the gradient
    to alpha (as in GDAS; ProxylessNAS samples paths similarly).
    """
    ctx = ctx or dist_mod.DistContext()
    k = len(cfg.ops)
    if cfg.fixed_s is None:
        s = simplex.sample_uniform(k, generator=noise).to(x.device)
    else:  # one ordinary search at a fixed s (the separate-search baseline)
        s = torch.tensor(cfg.fixed_s, dtype=torch.float32, device=x.device)
    alpha = hypernet(s)
    active = None
    if cfg.path_sampling == "one":
        gamma = gumbel_softmax(alpha, t, batch=1, hard=True, generator=noise)
        active = gamma[0].detach().argmax(-1).tolist()
    else:
        gamma = gumbel_softmax(alpha, t, batch=x.shape[0], hard=cfg.gumbel_hard, generator=noise)
    part = ctx.shard(x.shape[0])
    x, y = x[part], y[part]
    if active is None:
        gamma = gamma[part]
    logits = supernet(x, gamma, active)
    ce = F.cross_entropy(logits, y)
    c = relaxed_cost(alpha, s, t, cfg.cost_relaxation, gamma)
    loss = ce + cfg.kappa * c
    opt_w.zero_grad(set_to_none=True)
    opt_a.zero_grad(set_to_none=True)
    loss.backward()
    dist_mod.average_gradients(list(supernet.parameters()) + list(hypernet.parameters()), ctx)
    grad_norm = None
    if cfg.grad_clip > 0:
        grad_norm = torch.nn.utils.clip_grad_norm_(supernet.parameters(), cfg.grad_clip)
    check_finite(loss, grad_norm)
    opt_w.step()
    opt_a.step()
    n = int(y.numel())
    correct = int((logits.argmax(1) == y).sum())
    if not ctx.enabled:
        return StepResult(loss.item(), ce.item(), c.item(), correct, n)
    sums = dist_mod.all_sum([loss.item() * n, ce.item() * n, c.item() * n, correct, n], ctx, x.device)
    n_all = sums[4]
    return StepResult(sums[0] / n_all, sums[1] / n_all, sums[2] / n_all, int(sums[3]), int(n_all))


@torch.no_grad()
def supernet_accuracy(supernet: Supernet, hypernet: RBFHypernet, s, batches) -> float:
    """Accuracy (%) of the supernet at s with the deterministic weights Softmax(alpha(s))."""
    was = supernet.training
    supernet.eval()
    device = next(supernet.parameters()).device
    alpha = hypernet(torch.as_tensor(s, dtype=torch.float32, device=device))
    w = torch.softmax(alpha, dim=-1)
    correct = n = 0
    for x, y in batches:
        logits = supernet(x, w.unsqueeze(0).expand(x.shape[0], *w.shape))
        correct += int((logits.argmax(1) == y).sum())
        n += int(y.numel())
    supernet.train(was)
    return 100.0 * correct / max(n, 1)
