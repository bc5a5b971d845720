"""Configs as dataclasses: presets exp1/exp2/exp3, profiles smoke/quick/paper, overrides, hashing.

>>> cfg = resolve("exp1", "smoke", {"kappa": "10"})
>>> cfg.kappa, cfg.ops
(10.0, ('max_pool_3x3', 'skip_connect', 'sep_conv_3x3'))
"""

from __future__ import annotations

import difflib
import hashlib
import json
import typing
from dataclasses import asdict, dataclass, fields, replace

from hypernas import data
from hypernas.errors import ConfigError
from hypernas.method.cost import RELAXATIONS
from hypernas.method.hypernet import REF_LAYOUTS
from hypernas.space import ops as op_registry
from hypernas.space.cells import SearchSpace

OPS_3 = ("max_pool_3x3", "skip_connect", "sep_conv_3x3")  # paper's order (pool, ident, conv)
OPS_5 = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5")
OPTIMIZERS = ("adam", "sgd_cosine")
PATH_SAMPLING = ("none", "one")
# Reading an old format: configs stored before these keys existed (checkpoints and run directories
# of this project's first hypernetwork) lack them, and every such run was made with these values.
# ``from_dict`` fills them in; ``hash`` covers every key like any other.
ADDED_KEYS = {"ref_layout": "lattice", "rbf_sign": -1.0}


@dataclass(frozen=True)
class SearchConfig:
    """Everything that determines a search run (and therefore its result hash)."""

    experiment: str = "exp1"
    profile: str = "custom"
    dataset: str = "fashion_mnist"
    ops: tuple[str, ...] = OPS_3
    epochs: int = 10
    batch_size: int = 64
    # search space
    init_channels: int = 16
    layers: int = 3
    nodes: int = 4
    stem_multiplier: int = 3
    # objective: L = CE(GS sample) + kappa * Cost
    kappa: float = 50.0
    cost_relaxation: str = "softmax_t"
    gumbel_hard: bool = False
    path_sampling: str = (
        "none"  # "none": all k ops per edge (paper); "one": one sampled op per edge and batch
    )
    t_start: float = 1.0
    t_end: float = 0.2
    # hypernetwork
    # The paper does not say where the reference points lie; as in the authors' code each intermediate
    # node has its own 5 learnable N(0, I) points ("random_per_node"); "lattice" shares one fixed lattice
    # on the simplex among all edges (this project's first default; exp1 then collapsed onto one family).
    sigma: float = 1.0
    learnable_refs: bool = True
    ref_layout: str = "random_per_node"
    rbf_sign: float = -1.0  # -1: w_r ~ exp(-||s - s_ref,r||^2) as in the paper; +1: the authors' code
    # optimisation
    optimizer: str = "adam"
    lr_weights: float = 1e-3
    lr_hypernet: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 5.0
    channels_last: bool = True  # NHWC memory layout: ~10x faster max-pooling and faster convolutions on CPU
    # data
    augment: bool = True
    val_fraction: float = 0.1
    train_subset: int | None = None
    val_subset: int | None = None
    test_subset: int | None = None
    # evaluation
    eval_batch_size: int = 256
    bn_recalibration_batches: int = 20
    retrain_epochs: int = 1
    seed: int = 0

    def space(self) -> SearchSpace:
        """The search space of this config (input channels from the dataset, 10 classes)."""
        return SearchSpace(
            ops=tuple(self.ops),
            in_channels=data.spec(self.dataset).channels,
            num_classes=10,
            init_channels=self.init_channels,
            layers=self.layers,
            nodes=self.nodes,
            stem_multiplier=self.stem_multiplier,
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ops"] = list(self.ops)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SearchConfig:
        """A stored config back; keys it lacks because it predates them take ``ADDED_KEYS``."""
        known = {f.name for f in fields(cls)}
        d = {**ADDED_KEYS, **{k: v for k, v in d.items() if k in known}}
        if "ops" in d:
            d["ops"] = tuple(d["ops"])
        return cls(**d)

    def hash(self) -> str:
        """sha256 of the resolved config, every key included (profile and seed too), 12 hex digits."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def validate(self) -> SearchConfig:
        op_registry.check_ops(self.ops)
        checks = [
            (
                self.dataset in ("fashion_mnist", "cifar10"),
                f"unknown dataset {self.dataset!r}; choose fashion_mnist or cifar10",
            ),
            (
                self.cost_relaxation in RELAXATIONS,
                f"unknown cost_relaxation {self.cost_relaxation!r}; choose one of {', '.join(RELAXATIONS)}",
            ),
            (
                self.path_sampling in PATH_SAMPLING,
                f"unknown path_sampling {self.path_sampling!r}; choose one of {', '.join(PATH_SAMPLING)}",
            ),
            (
                self.optimizer in OPTIMIZERS,
                f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}",
            ),
            (self.epochs >= 1, "epochs must be >= 1"),
            (self.batch_size >= 2, "batch_size must be >= 2 (BatchNorm needs more than one example)"),
            (self.t_start > 0 and self.t_end > 0, "temperatures t_start and t_end must be positive"),
            (self.sigma > 0, "sigma must be positive"),
            (
                self.ref_layout in REF_LAYOUTS,
                f"unknown ref_layout {self.ref_layout!r}; choose one of {', '.join(REF_LAYOUTS)}",
            ),
            (self.rbf_sign in (-1.0, 1.0), "rbf_sign must be -1 (paper) or 1 (authors' code)"),
            (self.kappa >= 0, "kappa must be >= 0"),
            (0 < self.val_fraction < 1, "val_fraction must lie in (0, 1)"),
            (self.layers >= 3, "layers must be >= 3 (two reduction cells)"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)
        return self


# The paper's experiments (section 3). batch 64 and kappa 50 come from the authors' code.
PRESETS: dict[str, dict] = {
    "exp1": dict(experiment="exp1", dataset="fashion_mnist", ops=OPS_3, epochs=10),
    "exp2": dict(experiment="exp2", dataset="fashion_mnist", ops=OPS_5, epochs=20),
    "exp3": dict(experiment="exp3", dataset="cifar10", ops=OPS_3, epochs=50),
}

# Profiles scale the data and epochs; `paper` keeps the preset's epochs, kappa and the full data.
# smoke and quick also rebalance the objective: with kappa = 50 the Cost term (about 50 * 9.3 = 466
# at the start) outweighs the cross-entropy (about 2.3) so much that in a few hundred steps the task
# loss cannot move the logits at all and every edge picks the same op (measured on exp1 quick with the
# first, lattice hypernetwork: A, B and D all-pool). kappa = 0.3 puts kappa * Cost at the uniform point (2.8) on the scale of the
# initial cross-entropy (ln 10 = 2.3), and lr_hypernet = 0.01 lets the hypernetwork move within the
# short budget. Both are recorded in every result's config.
_SHORT = dict(kappa=0.3, lr_hypernet=0.01)
PROFILES: dict[str, dict[str, dict]] = {
    "smoke": {
        "*": dict(
            epochs=2,
            train_subset=512,
            val_subset=256,
            test_subset=512,
            bn_recalibration_batches=4,
            retrain_epochs=1,
            eval_batch_size=256,
            **_SHORT,
        ),
    },
    "quick": {
        "*": dict(
            epochs=4,
            train_subset=5000,
            val_subset=1000,
            test_subset=2000,
            bn_recalibration_batches=10,
            retrain_epochs=2,
            **_SHORT,
        ),
        "exp2": dict(train_subset=3000),
        "exp3": dict(train_subset=4000),
    },
    # The paper's data and epochs. The authors searched on one half of the training set and
    # validated on the other; here a seeded random half (make_splits, split_seed 0) trains, and 2,000
    # images of the other half give the per-epoch validation curve. Test: the official 10,000 images.
    # Retraining (not in the paper, which reports the supernet itself) gets 10 epochs, 5 for exp1, so
    # that evaluating A-D costs no more than exp1's 10-epoch search.
    "paper": {
        "*": dict(val_fraction=0.5, val_subset=2000, retrain_epochs=10),
        "exp1": dict(retrain_epochs=5),
    },
}

# Named settings of a profile, as config overrides: "printed" is the paper as printed (kappa 50,
# Adam 1e-3 for both parameter sets); "rebalanced" is the objective of the short profiles.
SETTINGS: dict[str, dict] = {"printed": dict(kappa=50.0, lr_hypernet=1e-3), "rebalanced": dict(_SHORT)}


# Where each setting of the paper profile comes from: the paper's text where it speaks, the
# authors' code where it is silent, this project where neither decides. Shown as one table in the book.
PROFILE_SOURCES: dict[str, str] = {
    "epochs": "paper, section 3 (10 / 20 / 50 search epochs)",
    "ops": "paper, section 3 (3x3 conv as DARTS' separable conv, max-pooling as the text says)",
    "batch_size": "authors' code",
    "init_channels": "authors' code",
    "layers": "paper (n = 3 cells) and authors' code",
    "nodes": "paper (4 intermediate nodes per cell)",
    "stem_multiplier": "authors' code",
    "t_start": "paper (t falls linearly from 1.0 ...)",
    "t_end": "paper (... to 0.2)",
    "kappa": "authors' code (kappa = 50 in all experiments; the paper gives no value)",
    "cost_relaxation": "paper's text (Softmax(alpha / t); the code uses Softmax(alpha))",
    "optimizer": "paper (Adam for w and a; the code uses SGD + cosine for w)",
    "lr_weights": "this project (Adam's default; the paper gives no rate)",
    "lr_hypernet": "authors' code (Adam 1e-3 for the hypernetwork)",
    "weight_decay": "this project (none; the code uses 3e-4 with SGD)",
    "grad_clip": "authors' code (gradient-norm clip 5)",
    "ref_layout": "authors' code (5 reference points per intermediate node; the paper does not say)",
    "learnable_refs": "authors' code",
    "rbf_sign": "paper (w_r proportional to exp(-||s - s_r||^2); the code's sign is +)",
    "sigma": "paper (no width in the formula, i.e. 1)",
    "gumbel_hard": "paper (relaxed Gumbel-Softmax samples)",
    "path_sampling": "paper (all k operations on every edge)",
    "val_fraction": "authors' code (one half of the training set searches; here a seeded random half)",
    "val_subset": "this project (2,000 images of the other half for the per-epoch validation curve)",
    "test_subset": "paper (the official test split, all of it)",
    "augment": "this project (random crop and horizontal flip; the code adds a vertical flip on Fashion-MNIST)",
    "retrain_epochs": "this project (the paper does not retrain; 5 for exp1 keeps evaluation within the search's cost)",
    "seed": "authors' code (seed 0 only)",
}


def result_name(experiment: str, setting: str = "printed") -> str:
    """File stem of a result: ``exp1`` for the printed setting, ``exp1-rebalanced`` for another."""
    if setting not in SETTINGS:
        raise ConfigError(
            f"unknown setting {setting!r}{nearest(setting, SETTINGS)} (choose {', '.join(SETTINGS)})"
        )
    return experiment if setting == "printed" else f"{experiment}-{setting}"


# The four architectures the paper reads off each family (section 3), in the order of `ops`,
# exactly as printed; the 5-op vectors sum to 0.991 and 0.99 and are normalised by `paper_s`.
PAPER_S: dict[int, dict[str, tuple[float, ...]]] = {
    3: {
        "A": (1 / 3, 1 / 3, 1 / 3),
        "B": (0.15, 0.15, 0.70),
        "C": (0.70, 0.15, 0.15),
        "D": (0.15, 0.70, 0.15),
    },
    5: {
        "A": (0.2, 0.2, 0.2, 0.2, 0.2),
        "B": (0.077, 0.077, 0.077, 0.38, 0.38),
        "C": (0.38, 0.38, 0.077, 0.077, 0.077),
        "D": (0.11, 0.11, 0.55, 0.11, 0.11),
    },
}
ARCH_LABELS = {"A": "uniform", "B": "conv penalty", "C": "pool penalty", "D": "identity penalty"}


def nearest(name: str, options) -> str:
    near = difflib.get_close_matches(name, list(options), n=1)
    return f"; did you mean {near[0]!r}?" if near else ""


def _convert(name: str, text: str, typ) -> object:
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and type(None) in args:
        if text.lower() in ("none", "null", ""):
            return None
        typ = next(a for a in args if a is not type(None))
        origin = typing.get_origin(typ)
    try:
        if typ is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if origin is tuple:
            return tuple(p.strip() for p in text.split(",") if p.strip())
        return typ(text)
    except ValueError:
        tname = getattr(typ, "__name__", str(typ))
        raise ConfigError(f"cannot read {name}={text!r} as {tname}") from None


def apply_overrides(cfg: SearchConfig, overrides: dict[str, str | object]) -> SearchConfig:
    """Apply ``key=value`` overrides (strings are converted to the field's type)."""
    hints = typing.get_type_hints(SearchConfig)
    names = [f.name for f in fields(SearchConfig)]
    changes = {}
    for key, value in overrides.items():
        if key not in names:
            raise ConfigError(
                f"unknown config key {key!r}{nearest(key, names)} (see `hypernas search --help`)"
            )
        changes[key] = _convert(key, value, hints[key]) if isinstance(value, str) else value
    return replace(cfg, **changes)


def parse_set(items: list[str] | None) -> dict[str, str]:
    """``["kappa=10", "epochs=3"]`` -> ``{"kappa": "10", "epochs": "3"}``."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def resolve(experiment: str, profile: str = "quick", overrides: dict | None = None) -> SearchConfig:
    """Preset + profile + overrides -> a validated :class:`SearchConfig`."""
    if experiment not in PRESETS:
        raise ConfigError(
            f"unknown experiment {experiment!r}{nearest(experiment, PRESETS)} (choose {', '.join(PRESETS)})"
        )
    if profile not in PROFILES:
        raise ConfigError(
            f"unknown profile {profile!r}{nearest(profile, PROFILES)} (choose {', '.join(PROFILES)})"
        )
    prof = PROFILES[profile]
    cfg = replace(SearchConfig(), **PRESETS[experiment], profile=profile)
    cfg = replace(cfg, **prof.get("*", {}))
    cfg = replace(cfg, **prof.get(experiment, {}))
    cfg = apply_overrides(cfg, overrides or {})
    return cfg.validate()


def paper_s(k: int) -> dict[str, tuple[float, ...]]:
    """The paper's four s vectors A-D for k = 3 or 5 ops (normalised onto the simplex)."""
    if k not in PAPER_S:
        raise ConfigError(f"the paper gives architectures A-D only for 3 or 5 ops, not {k}")
    return {name: tuple(v / sum(s) for v in s) for name, s in PAPER_S[k].items()}


__all__ = [
    "ARCH_LABELS",
    "OPS_3",
    "OPS_5",
    "PAPER_S",
    "PRESETS",
    "PROFILES",
    "PROFILE_SOURCES",
    "SETTINGS",
    "SearchConfig",
    "apply_overrides",
    "paper_s",
    "parse_set",
    "resolve",
    "result_name",
]
