"""The search's config as a frozen dataclass: its fields, their ranges, validation, ``key=value``
overrides and the hash that names a run (the presets and profiles: :mod:`hypernas.train.presets`)."""

from __future__ import annotations

import difflib
import hashlib
import json
import math
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
# Keys added after results were stored, hashed only when set, so the hash of every earlier config stays.
HASHED_WHEN_SET = {"fixed_s": None}


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
    # None: the method (s ~ U(simplex), alpha = u_a(s)). A point of the simplex: an ordinary search at that
    # fixed s with plain learned logits alpha and no hypernetwork (the separate-search baseline).
    fixed_s: tuple[float, ...] | None = None
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
        """The search space of this config (input channels and classes from the dataset)."""
        dataset = data.spec(self.dataset)
        return SearchSpace(
            ops=tuple(self.ops),
            in_channels=dataset.channels,
            num_classes=dataset.classes,
            init_channels=self.init_channels,
            layers=self.layers,
            nodes=self.nodes,
            stem_multiplier=self.stem_multiplier,
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ops"] = list(self.ops)
        if d["fixed_s"] is not None:
            d["fixed_s"] = list(d["fixed_s"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SearchConfig:
        """A stored config back (every key of :meth:`to_dict`; keys of no setting are ignored).

        A config that lacks a key was stored by another version: ``ConfigError`` names the keys, since
        filling them with today's defaults could describe a run that was not made."""
        known = {f.name for f in fields(cls)}
        missing = sorted(known - set(d) - set(HASHED_WHEN_SET))
        if missing:
            raise ConfigError(f"the stored config lacks {', '.join(missing)} (written by another version)")
        d = {k: v for k, v in d.items() if k in known}
        if "ops" in d:
            d["ops"] = tuple(d["ops"])
        if d.get("fixed_s") is not None:
            d["fixed_s"] = tuple(float(v) for v in d["fixed_s"])
        return cls(**d)

    def hash(self) -> str:
        """sha256 of the resolved config, every key included (profile and seed too; the keys of
        ``HASHED_WHEN_SET`` only when they differ from their default), 12 hex digits."""
        d = {k: v for k, v in self.to_dict().items() if k not in HASHED_WHEN_SET or v != HASHED_WHEN_SET[k]}
        blob = json.dumps(d, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def validate(self) -> SearchConfig:
        """Check every setting: known names, finite numbers in their ranges (see ``RANGES``)."""
        op_registry.check_ops(self.ops)
        if self.dataset not in data.DATASETS and not data.custom.is_custom(self.dataset):
            raise ConfigError(
                f"unknown dataset {self.dataset!r}; choose one of {', '.join(data.DATASETS)}, "
                "imagefolder:PATH or PATH.npz"
            )
        if data.custom.is_custom(self.dataset):
            data.custom.parse_name(self.dataset)
        choices = {
            "cost_relaxation": RELAXATIONS,
            "path_sampling": PATH_SAMPLING,
            "optimizer": OPTIMIZERS,
            "ref_layout": REF_LAYOUTS,
        }
        for key, options in choices.items():
            value = getattr(self, key)
            if value not in options:
                raise ConfigError(f"unknown {key} {value!r}; choose one of {', '.join(options)}")
        for key, (low, high, open_low, text) in RANGES.items():
            value = getattr(self, key)
            if value is None and key in OPTIONAL:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"{key}={value!r} is not a finite number; {key} must be {text}")
            if (value <= low if open_low else value < low) or value > high:
                raise ConfigError(f"{key}={value!r} is out of range; {key} must be {text}")
        for key in INTEGERS:
            value = getattr(self, key)
            if value is not None and not isinstance(value, int):
                raise ConfigError(f"{key}={value!r} must be a whole number")
        if self.val_fraction >= 1:
            raise ConfigError(
                f"val_fraction={self.val_fraction!r} leaves no training image; it must be below 1"
            )
        if self.t_end > self.t_start:
            raise ConfigError(
                f"t_end={self.t_end:g} exceeds t_start={self.t_start:g}; the temperature falls, so t_end <= t_start"
            )
        if not isinstance(self.gumbel_hard, bool) or not isinstance(self.learnable_refs, bool):
            raise ConfigError("gumbel_hard and learnable_refs must be true or false")
        if self.rbf_sign not in (-1.0, 1.0):
            raise ConfigError("rbf_sign must be -1 (paper) or 1 (authors' code)")
        if self.fixed_s is not None:
            from hypernas.method import simplex

            if len(self.fixed_s) != len(self.ops):
                raise ConfigError(
                    f"fixed_s has {len(self.fixed_s)} entries but there are {len(self.ops)} ops; "
                    "give one penalty per op, in the order of ops"
                )
            try:
                simplex.validate(list(self.fixed_s), len(self.ops))
            except ValueError:
                raise ConfigError(
                    f"fixed_s={','.join(f'{v:g}' for v in self.fixed_s)} is not a point of the simplex; "
                    "give non-negative penalties that sum to 1"
                ) from None
        return self


_BIG = 2**31 - 1
# key: (low, high, low bound excluded, the range in words); OPTIONAL keys may also be None (no subset)
RANGES: dict[str, tuple[float, float, bool, str]] = {
    "epochs": (1, 100_000, False, "a whole number >= 1"),
    "batch_size": (2, 1_000_000, False, "a whole number >= 2 (BatchNorm needs more than one example)"),
    "init_channels": (1, 4096, False, "a whole number from 1 to 4096"),
    "layers": (3, 1000, False, "a whole number >= 3 (two reduction cells)"),
    "nodes": (1, 64, False, "a whole number from 1 to 64"),
    "stem_multiplier": (1, 64, False, "a whole number from 1 to 64"),
    "kappa": (0.0, 1e6, False, "a number from 0 to 1e6"),
    "t_start": (0.0, 1e3, True, "a number in (0, 1000]"),
    "t_end": (0.0, 1e3, True, "a number in (0, 1000]"),
    "sigma": (0.0, 1e6, True, "a positive number up to 1e6"),
    "lr_weights": (0.0, 1e3, True, "a positive number up to 1000"),
    "lr_hypernet": (0.0, 1e3, True, "a positive number up to 1000"),
    "weight_decay": (0.0, 1e3, False, "a number from 0 to 1000"),
    "grad_clip": (0.0, 1e9, False, "a number >= 0 (0 turns clipping off)"),
    "val_fraction": (0.0, 1.0, True, "a fraction in (0, 1) that leaves at least one batch on each side"),
    "train_subset": (1, _BIG, False, "a whole number >= 1, or none for the whole split"),
    "val_subset": (1, _BIG, False, "a whole number >= 1, or none for the whole split"),
    "test_subset": (1, _BIG, False, "a whole number >= 1, or none for the whole split"),
    "eval_batch_size": (1, 1_000_000, False, "a whole number >= 1"),
    "bn_recalibration_batches": (0, 1_000_000, False, "a whole number >= 0 (0: keep the running statistics)"),
    "retrain_epochs": (1, 100_000, False, "a whole number >= 1"),
    "seed": (0, 2**63 - 1, False, "a whole number from 0 to 2**63 - 1"),
}
OPTIONAL = ("train_subset", "val_subset", "test_subset")
INTEGERS = tuple(
    key
    for key in RANGES
    if key
    not in (
        "kappa",
        "t_start",
        "t_end",
        "sigma",
        "lr_weights",
        "lr_hypernet",
        "weight_decay",
        "grad_clip",
        "val_fraction",
    )
)


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
            item = typing.get_args(typ)[0]
            return tuple(item(p.strip()) for p in text.split(",") if p.strip())
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
        if isinstance(value, str):
            value = _convert(key, value, hints[key])
        elif hints[key] is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)  # kappa=1 and kappa=1.0 are one config (and one hash)
        changes[key] = value
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


__all__ = [
    "OPS_3",
    "OPS_5",
    "SearchConfig",
    "apply_overrides",
    "nearest",
    "parse_set",
]
