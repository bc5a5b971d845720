"""Test accuracy of an architecture of the family under named protocols.

* ``inherited``: the discrete argmax network at s with the supernet's weights (BatchNorm
  statistics re-estimated on a few training batches, since the supernet's were gathered on
  mixtures of ops);
* ``retrain``: the discrete network trained from scratch for N epochs on the search's train split;
* ``relaxed``: the authors' protocol: the supernet itself at s, with a relaxed Gumbel-Softmax
  sample at t = 1 for every test example (random, so it is seeded).
"""
from __future__ import annotations

import logging
import threading

import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import data as data_mod
from .discrete import build_discrete, discrete_from_supernet, recalibrate_bn
from .errors import ConfigError
from .experiments import SearchConfig
from .genotype import Genotype
from .gumbel import gumbel_softmax
from .search import Interrupted, Run, memory_format

log = logging.getLogger(__name__)

PROTOCOLS = ("inherited", "retrain", "relaxed")


def _batches(x, y, splits: data_mod.Splits, batch_size: int, device, channels_last: bool = False, **kw) -> data_mod.Batches:
    return data_mod.Batches(x, y, batch_size, splits.mean, splits.std, device=device, channels_last=channels_last, **kw)


@torch.no_grad()
def accuracy(net: torch.nn.Module, batches, gamma_fn=None) -> float:
    """Top-1 accuracy in percent; ``gamma_fn(batch_size)`` supplies gamma for a supernet."""
    net.eval()
    correct = n = 0
    for x, y in batches:
        logits = net(x) if gamma_fn is None else net(x, gamma_fn(x.shape[0]))
        correct += int((logits.argmax(1) == y).sum())
        n += int(y.numel())
    return 100.0 * correct / max(n, 1)


def inherited(run: Run, genotype: Genotype, splits: data_mod.Splits, split: str = "test") -> float:
    """Accuracy of the argmax network with inherited weights on ``split`` ('test' or 'val')."""
    cfg = run.config
    device = next(run.supernet.parameters()).device
    net = discrete_from_supernet(genotype, run.supernet).to(memory_format=memory_format(cfg))
    cl = cfg.channels_last
    calib = _batches(splits.train_x, splits.train_y, splits, cfg.batch_size, device, cl,
                     shuffle=True, generator=torch.Generator().manual_seed(cfg.seed))
    recalibrate_bn(net, calib, cfg.bn_recalibration_batches)
    x, y = (splits.test_x, splits.test_y) if split == "test" else (splits.val_x, splits.val_y)
    return accuracy(net, _batches(x, y, splits, cfg.eval_batch_size, device, cl))


def relaxed(run: Run, s, splits: data_mod.Splits, t: float = 1.0, seed: int = 0) -> float:
    """The supernet at s with per-example relaxed gamma ~ GS(alpha(s), t) (the authors' protocol)."""
    device = next(run.supernet.parameters()).device
    alpha = run.hypernet(torch.as_tensor(s, dtype=torch.float32, device=device)).detach()
    gen = torch.Generator().manual_seed(seed)
    batches = _batches(splits.test_x, splits.test_y, splits, run.config.eval_batch_size, device, run.config.channels_last)
    return accuracy(run.supernet, batches, lambda b: gumbel_softmax(alpha, t, batch=b, generator=gen))


def retrain(
    genotype: Genotype,
    cfg: SearchConfig,
    splits: data_mod.Splits,
    epochs: int,
    device: torch.device | str = "cpu",
    progress: bool = False,
    stop: threading.Event | None = None,
) -> tuple[float, torch.nn.Module]:
    """Train the discrete network from scratch (Adam, lr_weights, cosine) and return (test accuracy, net).

    When ``stop`` is set the training ends at once with :class:`~hypernas.search.Interrupted`.
    """
    torch.manual_seed(cfg.seed)
    net = build_discrete(genotype, cfg.space()).to(device, memory_format=memory_format(cfg))
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    pad = 2 if cfg.dataset == "fashion_mnist" else 4
    cl = cfg.channels_last
    train = _batches(splits.train_x, splits.train_y, splits, cfg.batch_size, device, cl, shuffle=True,
                     augment=cfg.augment, pad=pad, generator=gen, drop_last=True)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr_weights)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs * len(train), 1))
    for epoch in range(epochs):
        net.train()
        for x, y in tqdm(train, desc=f"retrain {epoch + 1}/{epochs}", disable=not progress, leave=False):
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            if stop is not None and stop.is_set():
                raise Interrupted(f"retraining stopped in epoch {epoch + 1}/{epochs}; it restarts from scratch")
    test = _batches(splits.test_x, splits.test_y, splits, cfg.eval_batch_size, device, cl)
    return accuracy(net, test), net


def evaluate(run: Run, genotype: Genotype, s, protocol: str, splits: data_mod.Splits,
             epochs: int | None = None, progress: bool = False, stop: threading.Event | None = None) -> float:
    """Test accuracy (%) of the architecture at s under ``protocol``."""
    if protocol == "inherited":
        return inherited(run, genotype, splits)
    if protocol == "relaxed":
        return relaxed(run, s, splits, seed=run.config.seed)
    if protocol == "retrain":
        device = next(run.supernet.parameters()).device
        n = run.config.retrain_epochs if epochs is None else epochs
        return retrain(genotype, run.config, splits, n, device, progress, stop)[0]
    raise ConfigError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
