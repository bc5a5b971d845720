"""Gumbel-Softmax sampling of the edge weights gamma and the temperature schedule t.

gamma = Softmax((alpha + G) / t) with G_m i.i.d. standard Gumbel, drawn independently for every
example and every edge. ``hard=True`` returns the one-hot of the argmax in the forward pass with
the soft sample's gradient (straight-through estimator).
"""

from __future__ import annotations

import torch


def sample_gumbel(
    shape: torch.Size | tuple[int, ...], device=None, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Standard Gumbel noise G = -log(-log U), U ~ U(0, 1)."""
    # Draw on the generator's device (CPU generators keep runs reproducible across devices).
    gen_device = generator.device if generator is not None else device
    u = torch.rand(shape, device=gen_device, generator=generator).to(device)
    u = u.clamp_(min=torch.finfo(u.dtype).tiny, max=1.0 - torch.finfo(u.dtype).eps)
    return -torch.log(-torch.log(u))


def gumbel_softmax(
    alpha: torch.Tensor,
    t: float,
    batch: int | None = None,
    hard: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw gamma ~ GS(alpha, t).

    ``alpha`` has shape ``(..., k)``; with ``batch`` an independent sample is drawn for each of
    ``batch`` examples, giving shape ``(batch, ..., k)``.
    """
    if t <= 0:
        raise ValueError(f"Gumbel-Softmax temperature must be positive, got {t}")
    logits = alpha if batch is None else alpha.unsqueeze(0).expand(batch, *alpha.shape)
    g = sample_gumbel(logits.shape, device=logits.device, generator=generator)
    soft = torch.softmax((logits + g) / t, dim=-1)
    if not hard:
        return soft
    index = soft.argmax(dim=-1, keepdim=True)
    one_hot = torch.zeros_like(soft).scatter_(-1, index, 1.0)
    return one_hot - soft.detach() + soft


def linear_temperature(epoch: int, epochs: int, t_start: float = 1.0, t_end: float = 0.2) -> float:
    """Temperature t of ``epoch`` (0-based): linear from t_start at the first epoch to t_end at the last.

    Never below t_end (the authors' code let t go negative in exp 2; this schedule cannot).
    """
    if epochs <= 1:
        return t_start
    frac = min(max(epoch / (epochs - 1), 0.0), 1.0)
    t = t_start + (t_end - t_start) * frac
    return max(t, min(t_start, t_end))
