"""The single-level search: one loop trains the supernet weights w and the hypernetwork a.

For each mini-batch: draw s ~ U(simplex); alpha = u_a(s) for all 28 edges; draw per-example,
per-edge gamma ~ GS(alpha, t); minimise

    L = CE(supernet(x; gamma), y) + kappa * Cost(gamma_tilde; s)

with one backward pass and two optimisers (Adam for both, as in the paper; the authors' SGD +
cosine schedule for w is an option). The temperature t falls linearly from t_start to t_end
over the epochs. The run directory receives, atomically:

* ``checkpoint.pt`` after every epoch and every ``checkpoint_every_s`` seconds of compute within
  one: weights, hypernetwork, optimisers, scheduler, every RNG state, the position (epoch, step),
  the interrupted epoch's batch order and running sums, and the list of segments (commit,
  hardware, threads, positions covered) that produced it; ``resume=True`` continues exactly;
* ``metrics.jsonl``: one line of metrics per finished epoch;
* ``progress.json``: where the search stands (epoch, step, images/s, ETA), every few seconds;
* ``search.json`` (at the end): config, hash, provenance and the final metrics.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import data as data_mod
from . import distributed as dist_mod
from . import genotype as genotype_mod
from . import simplex
from .cost import relaxed_cost
from .errors import ConfigError, RunDirError
from .experiments import SearchConfig, paper_s
from .gumbel import gumbel_softmax, linear_temperature
from .hypernet import RBFHypernet, random_node_references
from .io import save_torch, write_json, write_text
from .provenance import git_commit, hardware, provenance, utc_now
from .space import SearchSpace
from .supernet import Network, build_supernet

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"
METRICS = "metrics.jsonl"
SUMMARY = "search.json"
PROGRESS = "progress.json"


def load_splits(cfg: SearchConfig, data_root=None) -> data_mod.Splits:
    """The dataset of ``cfg``, split into train / validation / test subsets of the profile."""
    raw = data_mod.load(cfg.dataset, data_root)
    return data_mod.make_splits(raw, cfg.val_fraction, cfg.train_subset, cfg.val_subset, cfg.test_subset)


def memory_format(cfg: SearchConfig) -> torch.memory_format:
    return torch.channels_last if cfg.channels_last else torch.contiguous_format


def build_hypernet(cfg: SearchConfig, space: SearchSpace) -> RBFHypernet:
    """The hypernetwork of ``cfg``: the shared lattice, or the authors' random references per intermediate node."""
    if cfg.ref_layout == "lattice":
        return RBFHypernet(space.k, space.n_arch_edges, learnable_refs=cfg.learnable_refs, sigma=cfg.sigma,
                           sign=cfg.rbf_sign)
    # edge e of cell type c (0 normal, 1 reduction) belongs to node c * nodes + e.dst
    groups = torch.tensor([c * space.nodes + e.dst for c in (0, 1) for e in space.edges])
    refs = random_node_references(space.k, 2 * space.nodes)
    return RBFHypernet(space.k, space.n_arch_edges, ref_points=refs, learnable_refs=cfg.learnable_refs,
                       sigma=cfg.sigma, edge_groups=groups, sign=cfg.rbf_sign)


def build_models(cfg: SearchConfig, device: torch.device | str = "cpu") -> tuple[Network, RBFHypernet]:
    """Supernet and hypernetwork, initialised from ``cfg.seed``."""
    torch.manual_seed(cfg.seed)
    space = cfg.space()
    supernet = build_supernet(space).to(device, memory_format=memory_format(cfg))
    hypernet = build_hypernet(cfg, space).to(device)
    return supernet, hypernet


def make_optimizers(cfg: SearchConfig, supernet: Network, hypernet: RBFHypernet, steps_per_epoch: int):
    """``(opt_w, opt_a, scheduler_w or None)`` for the chosen optimiser option."""
    if cfg.optimizer == "adam":
        opt_w = torch.optim.Adam(supernet.parameters(), lr=cfg.lr_weights, weight_decay=cfg.weight_decay)
        sched = None
    else:  # sgd_cosine, the authors' code (they used lr_weights=0.025, weight_decay=3e-4)
        opt_w = torch.optim.SGD(supernet.parameters(), lr=cfg.lr_weights, momentum=0.9, weight_decay=cfg.weight_decay or 3e-4)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt_w, T_max=cfg.epochs, eta_min=min(1e-3, cfg.lr_weights))
    opt_a = torch.optim.Adam(hypernet.parameters(), lr=cfg.lr_hypernet)
    return opt_w, opt_a, sched


@dataclass
class StepResult:
    loss: float
    ce: float
    cost: float
    correct: int
    n: int


def train_step(
    supernet: Network,
    hypernet: RBFHypernet,
    x: torch.Tensor,
    y: torch.Tensor,
    t: float,
    cfg: SearchConfig,
    opt_w: torch.optim.Optimizer,
    opt_a: torch.optim.Optimizer,
    noise: torch.Generator,
    ctx: dist_mod.DistContext = dist_mod.DistContext(),
) -> StepResult:
    """One optimisation step of the single-level objective at a freshly drawn s.

    ``x, y`` is the global mini-batch; under torchrun each rank computes on its own slice. With
    ``cfg.path_sampling == "one"`` a single Gumbel-Softmax sample per edge is drawn for the whole
    batch, only its arg-max op is computed, and the straight-through estimator carries the gradient
    to alpha (as in GDAS; ProxylessNAS samples paths similarly).
    """
    k = len(cfg.ops)
    s = simplex.sample_uniform(k, generator=noise).to(x.device)
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
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(supernet.parameters(), cfg.grad_clip)
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
def supernet_accuracy(supernet: Network, hypernet: RBFHypernet, s, batches) -> float:
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


def _rng_state(data_gen: torch.Generator, noise_gen: torch.Generator) -> dict:
    return {"torch": torch.get_rng_state(), "data": data_gen.get_state(), "noise": noise_gen.get_state()}


def _set_rng_state(state: dict, data_gen: torch.Generator, noise_gen: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    data_gen.set_state(state["data"])
    noise_gen.set_state(state["noise"])


class Interrupted(Exception):
    """The search stopped on request (``stop`` was set) right after writing a checkpoint."""


def read_checkpoint(run_dir: str | Path, device: torch.device | str = "cpu") -> dict:
    """The checkpoint of ``run_dir`` as a dict (raises :class:`RunDirError` when it cannot be read)."""
    ckpt = Path(run_dir) / CHECKPOINT
    try:
        return torch.load(ckpt, map_location=device, weights_only=False)
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise RunDirError(f"cannot read {ckpt} ({exc.__class__.__name__}); delete the run directory and search again") from None


def _check_run_dir(run_dir: Path, cfg: SearchConfig, resume: bool) -> SearchConfig:
    ckpt = run_dir / CHECKPOINT
    if resume:
        if not ckpt.is_file():
            raise RunDirError(f"nothing to resume: {ckpt} does not exist; run without --resume to start a new search")
        stored = SearchConfig.from_dict(read_checkpoint(run_dir)["config"])
        if stored.hash() != cfg.hash():
            raise ConfigError(
                f"{run_dir} holds a search with another config (hash {stored.hash()} vs {cfg.hash()}); "
                "resume with the same experiment, profile, seed and --set values, or use another --out"
            )
        return stored
    if ckpt.exists():
        raise RunDirError(f"{run_dir} already holds a search; pass --resume to continue it or choose another --out")
    return cfg


@dataclass
class Position:
    """Where the search stands: ``epoch`` epochs finished, plus ``step`` batches of the next one."""

    epoch: int = 0
    step: int = 0

    def as_list(self) -> list[int]:
        return [self.epoch, self.step]


def _new_segment(start: Position, device: torch.device) -> dict:
    """One stretch of the search run by one process: its code, machine and the positions it covered."""
    return {"commit": git_commit(), "hardware": hardware(device), "threads": torch.get_num_threads(),
            "precision": "float32", "torch": torch.__version__, "started": utc_now(),
            "from": start.as_list(), "to": start.as_list(), "images": 0, "seconds": 0.0, "cpu_seconds": 0.0,
            "_cpu_start": time.process_time()}


def _public(segment: dict) -> dict:
    """A segment without its private bookkeeping (keys starting with an underscore)."""
    return {k: v for k, v in segment.items() if not k.startswith("_")}


def search(
    cfg: SearchConfig,
    run_dir: str | Path,
    data_root=None,
    resume: bool = False,
    device: torch.device | str | None = None,
    progress: bool = True,
    max_epochs: int | None = None,
    splits: data_mod.Splits | None = None,
    checkpoint_every_s: float = 600.0,
    stop: threading.Event | None = None,
) -> dict:
    """Run (or resume) the search of ``cfg`` in ``run_dir`` and return the summary dict.

    A checkpoint is written after every epoch and, within an epoch, after the first step that ends
    ``checkpoint_every_s`` seconds of compute after the last one (0: after every step). Resuming from
    a checkpoint written mid-epoch gives the same numbers as an uninterrupted run: it restores the
    epoch's batch order, every generator's state and the epoch's running sums. When ``stop`` is set
    the search writes a checkpoint after the current step and raises :class:`Interrupted`.
    ``max_epochs`` stops after that many (whole) epochs in this call (the run stays resumable).
    ``progress.json`` in the run directory tells where the search stands (epoch, step, images/s, ETA).
    """
    run_dir = Path(run_dir)
    cfg = _check_run_dir(run_dir, cfg, resume)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    ctx, device = dist_mod.init_from_env(device)
    progress = progress and ctx.is_main
    splits = splits or load_splits(cfg, data_root)
    supernet, hypernet = build_models(cfg, device)
    data_gen = torch.Generator().manual_seed(cfg.seed + 1)
    noise_gen = torch.Generator().manual_seed(cfg.seed + 2)
    pad = 2 if cfg.dataset == "fashion_mnist" else 4
    train_batches = data_mod.Batches(splits.train_x, splits.train_y, cfg.batch_size, splits.mean, splits.std,
                                     shuffle=True, augment=cfg.augment, pad=pad, generator=data_gen,
                                     device=device, drop_last=True, channels_last=cfg.channels_last)
    if len(train_batches) == 0:
        raise ConfigError(f"train_subset={len(splits.train_y)} is smaller than one batch of {cfg.batch_size}")
    val_batches = data_mod.Batches(splits.val_x, splits.val_y, cfg.eval_batch_size, splits.mean, splits.std, device=device,
                                   channels_last=cfg.channels_last)
    opt_w, opt_a, sched = make_optimizers(cfg, supernet, hypernet, len(train_batches))

    history: list[dict] = []
    segments: list[dict] = []
    pos, wall = Position(), 0.0
    partial = None  # the interrupted epoch's order, running sums and elapsed time
    if resume:
        ck = read_checkpoint(run_dir, device)
        supernet.load_state_dict(ck["supernet"])
        hypernet.load_state_dict(ck["hypernet"])
        opt_w.load_state_dict(ck["opt_w"])
        opt_a.load_state_dict(ck["opt_a"])
        if sched is not None:
            sched.load_state_dict(ck["sched_w"])
        _set_rng_state(ck["rng"], data_gen, noise_gen)
        history, wall = ck["history"], ck["wall_time_s"]
        segments = ck.get("segments", [])
        pos = Position(ck["epoch"], ck.get("step", 0))
        partial = ck.get("partial_epoch") if pos.step else None
        log.info("resuming %s at epoch %d/%d, step %d", run_dir, pos.epoch, cfg.epochs, pos.step)
    elif ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / CONFIG, {**cfg.to_dict(), "config_hash": cfg.hash()})
    segment = _new_segment(pos, device)
    segments.append(segment)

    def save_checkpoint(epoch_state: dict | None) -> None:
        # CPU time of this process (all threads): unlike the wall-clock seconds, it excludes pauses
        segment["cpu_seconds"] = round(time.process_time() - segment["_cpu_start"], 1)
        save_torch(run_dir / CHECKPOINT, {
            "epoch": pos.epoch,
            "step": pos.step,
            "config": cfg.to_dict(),
            "supernet": supernet.state_dict(),
            "hypernet": hypernet.state_dict(),
            "opt_w": opt_w.state_dict(),
            "opt_a": opt_a.state_dict(),
            "sched_w": sched.state_dict() if sched is not None else None,
            "rng": _rng_state(data_gen, noise_gen),
            "partial_epoch": epoch_state,
            "history": history,
            "segments": [_public(seg) for seg in segments],
            "wall_time_s": wall,
            "data_source": splits.source,
        })

    steps_per_epoch = len(train_batches)
    total_steps = cfg.epochs * steps_per_epoch
    status = _ProgressFile(run_dir / PROGRESS, cfg, steps_per_epoch, enabled=ctx.is_main)
    arch_s = paper_s(len(cfg.ops)) if len(cfg.ops) in (3, 5) else {}
    centre = [1.0 / len(cfg.ops)] * len(cfg.ops)
    end_epoch = cfg.epochs if max_epochs is None else min(cfg.epochs, pos.epoch + max_epochs)
    last_checkpoint = time.perf_counter()
    while pos.epoch < end_epoch:
        epoch = pos.epoch
        t = linear_temperature(epoch, cfg.epochs, cfg.t_start, cfg.t_end)
        supernet.train()
        if partial is not None:
            order, sums, elapsed = partial["order"], dict(partial["sums"]), partial["elapsed_s"]
            partial = None
        else:
            order = train_batches.draw_order()
            sums, elapsed = dict(loss=0.0, ce=0.0, cost=0.0, correct=0, n=0, steps=0), 0.0
        tic = time.perf_counter()
        bar = tqdm(train_batches.iterate(order, pos.step), total=steps_per_epoch, initial=pos.step,
                   desc=f"{cfg.experiment} epoch {epoch + 1}/{cfg.epochs} t={t:.2f}", disable=not progress, leave=False)
        for x, y in bar:
            r = train_step(supernet, hypernet, x, y, t, cfg, opt_w, opt_a, noise_gen, ctx)
            for key, value in (("loss", r.loss), ("ce", r.ce), ("cost", r.cost), ("correct", r.correct), ("n", r.n)):
                sums[key] += value
            sums["steps"] += 1
            pos.step += 1
            segment["images"] += r.n
            bar.set_postfix(ce=f"{r.ce:.3f}", cost=f"{r.cost:.2f}")
            now = time.perf_counter()
            status.update(pos, total_steps, now)
            stopping = stop is not None and stop.is_set()
            if pos.step < steps_per_epoch and (stopping or now - last_checkpoint >= checkpoint_every_s):
                segment["to"], segment["seconds"] = pos.as_list(), segment["seconds"] + now - tic
                wall += now - tic
                elapsed += now - tic
                tic = now
                if ctx.is_main:
                    save_checkpoint({"order": order, "sums": sums, "elapsed_s": elapsed})
                last_checkpoint = time.perf_counter()
                if stopping:
                    status.write(pos, total_steps, "stopped")
                    raise Interrupted(f"stopped at epoch {epoch + 1}, step {pos.step}/{steps_per_epoch}")
        if sched is not None:
            sched.step()
        dist_mod.broadcast_buffers(supernet, ctx)
        now = time.perf_counter()
        elapsed += now - tic
        wall += now - tic
        segment["seconds"] += now - tic
        metrics = {
            "epoch": epoch + 1,
            "t": t,
            "loss": sums["loss"] / sums["steps"],
            "ce": sums["ce"] / sums["steps"],
            "cost": sums["cost"] / sums["steps"],
            "train_acc": 100.0 * sums["correct"] / sums["n"],
            "val_acc_centre": supernet_accuracy(supernet, hypernet, centre, val_batches),
            "family_counts": {name: genotype_mod.derive(hypernet, s, cfg.ops).family_counts() for name, s in arch_s.items()},
            "epoch_time_s": elapsed,
            "images_per_s": sums["n"] / elapsed,
        }
        history.append(metrics)
        pos = Position(epoch + 1, 0)
        segment["to"] = pos.as_list()
        if ctx.is_main:
            log.info("epoch %d/%d t=%.3f loss=%.4f ce=%.4f cost=%.3f val_acc(centre)=%.2f (%.1fs)", epoch + 1,
                     cfg.epochs, t, metrics["loss"], metrics["ce"], metrics["cost"], metrics["val_acc_centre"], elapsed)
            save_checkpoint(None)
            write_text(run_dir / METRICS, "".join(json.dumps(m) + "\n" for m in history))
        last_checkpoint = time.perf_counter()
        if stop is not None and stop.is_set() and pos.epoch < end_epoch:
            status.write(pos, total_steps, "stopped")
            raise Interrupted(f"stopped after epoch {pos.epoch}")

    finished = len(history) >= cfg.epochs
    status.write(pos, total_steps, "searched" if finished else "paused")
    summary = {
        "experiment": cfg.experiment,
        "profile": cfg.profile,
        "config_hash": cfg.hash(),
        "config": cfg.to_dict(),
        "epochs_done": len(history),
        "finished": finished,
        "final": history[-1] if history else None,
        "wall_time_s": wall,
        "provenance": {**provenance(device), "data_source": splits.source, "wall_time_s": wall,
                       "segments": [_public(seg) for seg in segments]},
    }
    if ctx.enabled:
        d = dist_mod.digest(supernet, hypernet)
        summary["distributed"] = {"world_size": ctx.world, "ranks_agree": dist_mod.ranks_agree(d, ctx), "digest": d}
    if summary["finished"] and ctx.is_main:
        write_json(run_dir / SUMMARY, summary)
    dist_mod.barrier(ctx)
    return summary


class _ProgressFile:
    """``progress.json`` of a run directory, rewritten (atomically) at most every ``every_s`` seconds."""

    def __init__(self, path: Path, cfg: SearchConfig, steps_per_epoch: int, enabled: bool, every_s: float = 15.0):
        self.path, self.cfg, self.steps_per_epoch = path, cfg, steps_per_epoch
        self.enabled, self.every_s = enabled, every_s
        self.mark: tuple[float, int] | None = None  # (time, global step) of the last rate measurement
        self.rate = 0.0  # steps per second over the last interval

    def update(self, pos: Position, total_steps: int, now: float) -> None:
        done = pos.epoch * self.steps_per_epoch + pos.step
        if self.mark is None:
            self.mark = (now, done)
            self.write(pos, total_steps, "searching")
            return
        if now - self.mark[0] >= self.every_s:
            self.rate = (done - self.mark[1]) / (now - self.mark[0])
            self.mark = (now, done)
            self.write(pos, total_steps, "searching")

    def write(self, pos: Position, total_steps: int, state: str) -> None:
        if not self.enabled:
            return
        done = pos.epoch * self.steps_per_epoch + pos.step
        eta = (total_steps - done) / self.rate if self.rate > 0 else None
        write_json(self.path, {
            "state": state, "epoch": pos.epoch, "epochs": self.cfg.epochs, "step": pos.step,
            "steps_per_epoch": self.steps_per_epoch, "images_per_s": round(self.rate * self.cfg.batch_size, 2),
            "eta_s": None if eta is None else round(eta), "updated": utc_now(), "pid": os.getpid(),
        })


@dataclass
class Run:
    """A trained family loaded from a run directory."""

    run_dir: Path
    config: SearchConfig
    supernet: Network
    hypernet: RBFHypernet
    history: list[dict]
    data_source: str
    wall_time_s: float

    @property
    def space(self):
        return self.supernet.space


def load_run(run_dir: str | Path, device: torch.device | str = "cpu") -> Run:
    """Load the latest checkpoint of ``run_dir`` (raises :class:`RunDirError` when there is none)."""
    run_dir = Path(run_dir)
    ckpt = run_dir / CHECKPOINT
    if not run_dir.is_dir():
        raise RunDirError(f"run directory {run_dir} does not exist; run `hypernas search` with --out {run_dir} first")
    if not ckpt.is_file():
        raise RunDirError(f"{run_dir} has no {CHECKPOINT}; it is not a search run (or no epoch has finished yet)")
    ck = read_checkpoint(run_dir, device)
    cfg = SearchConfig.from_dict(ck["config"])
    supernet, hypernet = build_models(cfg, device)
    supernet.load_state_dict(ck["supernet"])
    hypernet.load_state_dict(ck["hypernet"])
    supernet.eval()
    return Run(run_dir, cfg, supernet, hypernet, ck["history"], ck.get("data_source", "unknown"), ck["wall_time_s"])
