"""The public Python API: train a family of architectures, load it back, and use it.

>>> run = search("exp1", profile="smoke", out="runs/try")     # doctest: +SKIP
>>> run = load_run("runs/try")                                 # doctest: +SKIP
>>> run.derive([0.2, 0.3, 0.5]).op_counts()                    # doctest: +SKIP
>>> run.evaluate([0.2, 0.3, 0.5], "inherited")                 # doctest: +SKIP
>>> g = random_genotypes(run.config.ops, 14, 1)[0]             # doctest: +SKIP
>>> run.evaluate(g, "retrain")                                 # doctest: +SKIP

:func:`search` and :func:`load_run` give a :class:`Run`: the trained family of one run directory
(its ``family`` is the loaded :class:`~hypernas.train.run.TrainedFamily`: supernet + hypernetwork).
Its methods take a complexity vector ``s`` as a sequence, a 1-D tensor or a ``"a,b,c"`` string, in
the order of ``run.config.ops``; an ``s`` off the simplex raises :class:`~hypernas.errors.SimplexError`
(``normalize=True`` rescales any non-negative vector). ``describe``, ``evaluate`` and ``export`` also
take an architecture itself: a :class:`~hypernas.space.genotype.Genotype`, its dict or JSON (a file
too), or its key (``"0120...|2201..."``, op indices in the order of the run's ops), so that any
architecture of the space (a random one, one of another search) is scored the way the family is. Every error a user can cause is a
:class:`~hypernas.errors.HyperNASError` with a one-line message; the command line (``hypernas.cli``)
is a thin layer over this module.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import torch

from hypernas import data as data_mod
from hypernas.api.latency import check_threads, measure_lut, s_device
from hypernas.api.run import Architecture, ComplexityVector, Run
from hypernas.data.custom import from_tensors
from hypernas.errors import ConfigError, OutputError
from hypernas.io import check_writable, finite
from hypernas.space.genotype import Genotype
from hypernas.space.network import parameter_counts
from hypernas.space.ops import register_op, unregister_op
from hypernas.space.sample import random_genotypes
from hypernas.train import search as searching
from hypernas.train.build import torch_device
from hypernas.train.presets import resolve

__all__ = [
    "Architecture",
    "ComplexityVector",
    "Genotype",
    "Run",
    "check_threads",
    "from_tensors",
    "load_run",
    "measure_lut",
    "parameter_counts",
    "random_genotypes",
    "register_op",
    "s_device",
    "search",
    "unregister_op",
]


def search(
    experiment: str,
    profile: str = "quick",
    out: str | Path | None = None,
    *,
    seed: int | None = 0,
    overrides: dict | None = None,
    dataset: str | None = None,
    data_root: str | Path | None = None,
    resume: bool = False,
    device: torch.device | str | None = None,
    progress: bool = True,
    checkpoint_every_s: float = 600.0,
    max_epochs: int | None = None,
    stop: threading.Event | None = None,
) -> Run:
    """Train the family of ``experiment`` (exp1, exp2, exp3) at ``profile`` (smoke, quick, paper).

    ``overrides`` maps config keys to values (or to strings, read as ``--set key=value`` is);
    ``seed`` applies unless ``overrides`` has a ``seed``; None keeps the preset's. ``dataset`` replaces
    the preset's: ``fashion_mnist``, ``cifar10``, ``imagefolder:PATH``, ``PATH.npz`` or the name
    :func:`~hypernas.data.custom.from_tensors` returns for tensors (a user's images are decoded once
    into the data root's cache; the config records their name and content hash, not their path). ``out`` is the run
    directory (default: a new temporary folder, kept); ``resume`` continues the search there exactly.
    ``device`` None takes cuda when available. A checkpoint is written after every epoch and every
    ``checkpoint_every_s`` seconds of compute; ``max_epochs`` stops after that many epochs in this
    call, and setting ``stop`` ends the search after a checkpoint with
    :class:`~hypernas.train.stopping.Interrupted`. Returns the :class:`Run` (its ``summary`` holds
    the final metrics).
    """
    overrides = dict(overrides or {})
    if seed is not None:
        overrides.setdefault("seed", seed)
    if dataset is not None:
        overrides["dataset"] = data_mod.custom.prepare(dataset, data_mod.resolve_root(data_root), progress)
    cfg = resolve(experiment, profile, overrides)
    if max_epochs is not None and max_epochs < 1:
        raise ConfigError("--max-epochs must be >= 1")
    if not finite(checkpoint_every_s) or checkpoint_every_s < 0:
        raise ConfigError("--checkpoint-every must be a finite number of seconds >= 0")
    if out is None:
        out = tempfile.mkdtemp(prefix=f"hypernas-{experiment}-{profile}-")
    if Path(out).exists() and not Path(out).is_dir():
        raise OutputError(
            f"--out {out} is a file, not a directory; choose another --out for the run directory"
        )
    dev = torch_device(device)
    if not resume:
        check_writable(Path(out) / "config.json")  # before the data is loaded
    summary = searching.run_search(
        cfg,
        out,
        data_root=data_root,
        resume=resume,
        device=dev,
        progress=progress,
        max_epochs=max_epochs,
        checkpoint_every_s=checkpoint_every_s,
        stop=stop,
    )
    return Run(out, dev, summary=summary)


def load_run(path: str | Path, device: torch.device | str | None = "cpu") -> Run:
    """The trained family in run directory ``path``, loaded on ``device`` (None: cuda when available).

    Raises :class:`~hypernas.errors.RunDirError` when ``path`` holds no checkpoint.
    """
    run = Run(path, device)
    run.family  # noqa: B018  (load now, so that a missing run fails here)
    return run
