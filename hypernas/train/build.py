"""What a search config builds: its data splits, the supernet and hypernetwork, and their optimisers."""

from __future__ import annotations

import torch

from hypernas import data as data_mod
from hypernas.errors import ConfigError
from hypernas.method.hypernet import PlainLogits, RBFHypernet, random_node_references
from hypernas.space.cells import SearchSpace
from hypernas.space.supernet import Supernet, build_supernet
from hypernas.train.config import SearchConfig


def load_splits(cfg: SearchConfig, data_root=None) -> data_mod.Splits:
    """The dataset of ``cfg``, split into train / validation / test subsets of the profile."""
    raw = data_mod.load(cfg.dataset, data_root)
    splits = data_mod.make_splits(raw, cfg.val_fraction, cfg.train_subset, cfg.val_subset, cfg.test_subset)
    if len(splits.val_y) == 0:
        raise ConfigError(
            f"val_fraction={cfg.val_fraction:g} leaves no validation image of {len(raw.train_y)}; "
            f"val_fraction must be at least {1 / len(raw.train_y):.2g}"
        )
    if len(splits.train_y) < cfg.batch_size:
        raise ConfigError(
            f"the training split has {len(splits.train_y)} images, fewer than one batch of {cfg.batch_size}; "
            "lower val_fraction or batch_size, or raise train_subset"
        )
    return splits


def torch_device(name: torch.device | str | None) -> torch.device:
    """The device to train on: ``None`` is cuda when available, else cpu; a name is checked (an
    unknown device, or cuda without a GPU, raises :class:`ConfigError`)."""
    if isinstance(name, torch.device):
        return name
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name} requested but no CUDA GPU is available; use --device cpu")
    return dev


def memory_format(cfg: SearchConfig) -> torch.memory_format:
    return torch.channels_last if cfg.channels_last else torch.contiguous_format


def build_hypernet(cfg: SearchConfig, space: SearchSpace) -> RBFHypernet | PlainLogits:
    """The hypernetwork of ``cfg``: the shared lattice, or the authors' random references per intermediate
    node; with ``cfg.fixed_s`` plain logits instead (one ordinary search at that s)."""
    if cfg.fixed_s is not None:
        return PlainLogits(space.k, space.n_arch_edges)
    if cfg.ref_layout == "lattice":
        return RBFHypernet(
            space.k, space.n_arch_edges, learnable_refs=cfg.learnable_refs, sigma=cfg.sigma, sign=cfg.rbf_sign
        )
    # edge e of cell type c (0 normal, 1 reduction) belongs to node c * nodes + e.dst
    groups = torch.tensor([c * space.nodes + e.dst for c in (0, 1) for e in space.edges])
    refs = random_node_references(space.k, 2 * space.nodes)
    return RBFHypernet(
        space.k,
        space.n_arch_edges,
        ref_points=refs,
        learnable_refs=cfg.learnable_refs,
        sigma=cfg.sigma,
        edge_groups=groups,
        sign=cfg.rbf_sign,
    )


def build_models(cfg: SearchConfig, device: torch.device | str = "cpu") -> tuple[Supernet, RBFHypernet]:
    """Supernet and hypernetwork, initialised from ``cfg.seed``."""
    torch.manual_seed(cfg.seed)
    space = cfg.space()
    supernet = build_supernet(space).to(device, memory_format=memory_format(cfg))
    hypernet = build_hypernet(cfg, space).to(device)
    return supernet, hypernet


def make_optimizers(cfg: SearchConfig, supernet: Supernet, hypernet: RBFHypernet, steps_per_epoch: int):
    """``(opt_w, opt_a, scheduler_w or None)`` for the chosen optimiser option."""
    if cfg.optimizer == "adam":
        opt_w = torch.optim.Adam(supernet.parameters(), lr=cfg.lr_weights, weight_decay=cfg.weight_decay)
        sched = None
    else:  # sgd_cosine, the authors' code (they used lr_weights=0.025, weight_decay=3e-4)
        opt_w = torch.optim.SGD(
            supernet.parameters(), lr=cfg.lr_weights, momentum=0.9, weight_decay=cfg.weight_decay or 3e-4
        )
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            opt_w, T_max=cfg.epochs, eta_min=min(1e-3, cfg.lr_weights)
        )
    opt_a = torch.optim.Adam(hypernet.parameters(), lr=cfg.lr_hypernet)
    return opt_w, opt_a, sched
