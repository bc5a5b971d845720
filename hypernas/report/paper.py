"""The paper's own numbers (Tables 1-3) and the names the book gives its architectures A-D."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hypernas.pipeline.results import Architecture

# The paper's Tables 1-3 (Firsov & Bakhteev, 2025): test accuracy %, "parameters" (cell-op convention), op counts.
PAPER_TABLES: dict[str, dict[str, dict]] = {
    "exp1": {
        "A": dict(acc=82.5, params=38_304, pool=12, conv=6, identity=10),
        "B": dict(acc=79.2, params=5_120, pool=17, conv=0, identity=11),
        "C": dict(acc=85.0, params=143_488, pool=0, conv=13, identity=15),
        "D": dict(acc=81.4, params=12_320, pool=18, conv=9, identity=1),
    },
    "exp2": {
        "A": dict(acc=85.62, params=93_888, pool=16, conv=8, identity=4),
        "B": dict(acc=82.37, params=25_280, pool=22, conv=1, identity=5),
        "C": dict(acc=85.63, params=137_632, pool=4, conv=13, identity=11),
        "D": dict(acc=85.60, params=72_928, pool=22, conv=6, identity=0),
    },
    "exp3": {
        "A": dict(acc=71.02, params=113_984, pool=4, conv=18, identity=6),
        "B": dict(acc=52.37, params=10_240, pool=12, conv=0, identity=16),
        "C": dict(acc=73.77, params=159_456, pool=0, conv=9, identity=19),
        "D": dict(acc=68.43, params=8_800, pool=17, conv=11, identity=0),
    },
}


ARCH_NAMES = {"A": "A uniform", "B": "B conv pen.", "C": "C pool pen.", "D": "D ident. pen."}


GROUPS = ("pool", "conv", "identity")


def pool_counts(arch: Architecture) -> dict[str, int]:
    """Counts of each pooling op separately (exp2 lists both pools)."""
    return {op: n for op, n in arch.op_counts.items() if "pool" in op}


CELL_PARAMS_ROW = "parameters, cell ops (paper's count)"


SETTING_TITLES = {
    "printed": "Setting (a), the paper as printed: kappa = 50, hypernetwork learning rate 1e-3",
    "rebalanced": "Setting (b), rebalanced: kappa = 0.3, hypernetwork learning rate 0.01",
}


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
    "fixed_s": "this project (none: the method; a fixed s: the separate-search baseline)",
}
