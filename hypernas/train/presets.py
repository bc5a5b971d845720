"""The paper's experiments as presets (exp1/exp2/exp3), the profiles that scale them (smoke/quick/
paper), the named settings of the objective, and the paper's four complexity vectors A-D.

>>> cfg = resolve("exp1", "smoke", {"kappa": "10"})
>>> cfg.kappa, cfg.ops
(10.0, ('max_pool_3x3', 'skip_connect', 'sep_conv_3x3'))
"""

from __future__ import annotations

from dataclasses import replace

from hypernas.errors import ConfigError
from hypernas.train.config import OPS_3, OPS_5, SearchConfig, apply_overrides, nearest

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
