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
import threading
from pathlib import Path

import torch

from hypernas import data as data_mod
from hypernas.errors import ArtefactError, ConfigError, DivergedError
from hypernas.io import save_torch, write_json, write_text
from hypernas.method.gumbel import linear_temperature
from hypernas.provenance import provenance
from hypernas.space import genotype as genotype_mod
from hypernas.train import distributed as dist_mod
from hypernas.train.build import build_models, load_splits, make_optimizers
from hypernas.train.checkpoint import (
    CHECKPOINT,
    CONFIG,
    METRICS,
    PROGRESS,
    SUMMARY,
    Position,
    check_run_dir,
    progress_file,
    read_checkpoint,
    restore,
    rng_state,
    set_rng_state,
)
from hypernas.train.config import SearchConfig
from hypernas.train.loop import LoopState, Progress, Trainer
from hypernas.train.presets import paper_s
from hypernas.train.step import NonFiniteStep, all_finite, supernet_accuracy, train_step

log = logging.getLogger(__name__)


def diverged(exc: NonFiniteStep, where: str, saved: Position | None) -> DivergedError:
    """The one-line error of a search that turned non-finite ``where``; ``saved``: its last checkpoint."""
    if saved is None:
        kept = "no checkpoint was written; search again with a smaller kappa or learning rate"
    else:
        at = f"epoch {saved.epoch}" if saved.step == 0 else f"step {saved.step} of epoch {saved.epoch + 1}"
        kept = f"the checkpoint after {at} is kept and --resume continues from it"
    return DivergedError(
        f"the search diverged: {exc} at {where}; likely cause: kappa or the learning rates "
        f"(lr_weights, lr_hypernet) too large; {kept}"
    )


def run_search(
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
    cfg = check_run_dir(run_dir, cfg, resume)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    ctx, device = dist_mod.init_from_env(device)
    progress = progress and ctx.is_main
    splits = splits or load_splits(cfg, data_root)
    supernet, hypernet = build_models(cfg, device)
    data_gen = torch.Generator().manual_seed(cfg.seed + 1)
    noise_gen = torch.Generator().manual_seed(cfg.seed + 2)
    pad = data_mod.spec(cfg.dataset).crop_padding
    train_batches = data_mod.Batches(
        splits.train_x,
        splits.train_y,
        cfg.batch_size,
        splits.mean,
        splits.std,
        shuffle=True,
        augment=cfg.augment,
        pad=pad,
        generator=data_gen,
        device=device,
        drop_last=True,
        channels_last=cfg.channels_last,
    )
    if len(train_batches) == 0:
        raise ConfigError(f"train_subset={len(splits.train_y)} is smaller than one batch of {cfg.batch_size}")
    val_batches = data_mod.Batches(
        splits.val_x,
        splits.val_y,
        cfg.eval_batch_size,
        splits.mean,
        splits.std,
        device=device,
        channels_last=cfg.channels_last,
    )
    opt_w, opt_a, sched = make_optimizers(cfg, supernet, hypernet, len(train_batches))

    state = LoopState()
    if resume:
        ck = read_checkpoint(run_dir)  # on the CPU: generator states must stay there; weights move on load
        ckpt = run_dir / CHECKPOINT
        restore(supernet, ck["supernet"], "supernet", ckpt)
        restore(hypernet, ck["hypernet"], "hypernetwork", ckpt)
        restore(opt_w, ck.get("opt_w"), "optimiser state of w", ckpt)
        restore(opt_a, ck.get("opt_a"), "optimiser state of the hypernetwork", ckpt)
        if sched is not None:
            restore(sched, ck.get("sched_w"), "learning-rate schedule", ckpt)
        try:
            set_rng_state(ck["rng"], data_gen, noise_gen)
        except (KeyError, TypeError, RuntimeError):
            raise ArtefactError(
                f"the random-generator states in {ckpt} are missing or damaged; "
                "delete the run directory and search again"
            ) from None
        state = LoopState.from_checkpoint(ck)
        log.info("resuming %s at epoch %d/%d, step %d", run_dir, state.epoch, cfg.epochs, state.step)
    elif ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / CONFIG, {**cfg.to_dict(), "config_hash": cfg.hash()})

    saved = state.position if resume else None  # where the last checkpoint stands
    steps_per_epoch = len(train_batches)
    status = Progress(
        progress_file(run_dir / PROGRESS) if ctx.is_main else None,
        cfg.epochs,
        steps_per_epoch,
        cfg.batch_size,
    )

    def save_checkpoint(state: LoopState) -> None:
        nonlocal saved
        if not all_finite(supernet, hypernet):  # never store NaN weights
            status.tell(state.position, "diverged")
            at = state.position
            where = f"step {at.step} of epoch {at.epoch + 1}" if at.step else f"the end of epoch {at.epoch}"
            raise diverged(NonFiniteStep("a weight became NaN or infinite"), where, saved)
        if not ctx.is_main:
            return
        save_torch(
            run_dir / CHECKPOINT,
            {
                **state.to_checkpoint(),
                "config": cfg.to_dict(),
                "supernet": supernet.state_dict(),
                "hypernet": hypernet.state_dict(),
                "opt_w": opt_w.state_dict(),
                "opt_a": opt_a.state_dict(),
                "sched_w": sched.state_dict() if sched is not None else None,
                "rng": rng_state(data_gen, noise_gen),
                "data_source": splits.source,
            },
        )
        saved = state.position
        if state.partial is None:  # an epoch ended
            write_text(run_dir / METRICS, "".join(json.dumps(m) + "\n" for m in state.history))

    arch_s = paper_s(len(cfg.ops)) if len(cfg.ops) in (3, 5) else {}
    centre = list(cfg.fixed_s) if cfg.fixed_s is not None else [1.0 / len(cfg.ops)] * len(cfg.ops)
    temperature = lambda epoch: linear_temperature(epoch, cfg.epochs, cfg.t_start, cfg.t_end)  # noqa: E731

    def step(x: torch.Tensor, y: torch.Tensor, epoch: int) -> dict[str, float]:
        try:
            r = train_step(supernet, hypernet, x, y, temperature(epoch), cfg, opt_w, opt_a, noise_gen, ctx)
        except NonFiniteStep as exc:
            status.tell(state.position, "diverged")
            where = f"step {state.step + 1}/{steps_per_epoch} of epoch {state.epoch + 1}"
            raise diverged(exc, where, saved) from None
        return {"loss": r.loss, "ce": r.ce, "cost": r.cost, "correct": r.correct, "n": r.n}

    def after_steps(epoch: int) -> None:
        if sched is not None:
            sched.step()
        dist_mod.broadcast_buffers(supernet, ctx)

    def epoch_metrics(epoch: int, sums: dict, elapsed: float) -> dict:
        metrics = {
            "epoch": epoch + 1,
            "t": temperature(epoch),
            "loss": sums["loss"] / sums["steps"],
            "ce": sums["ce"] / sums["steps"],
            "cost": sums["cost"] / sums["steps"],
            "train_acc": 100.0 * sums["correct"] / sums["n"],
            "val_acc_centre": supernet_accuracy(supernet, hypernet, centre, val_batches),
            "group_counts": {
                name: genotype_mod.derive(hypernet, s, cfg.ops).group_counts() for name, s in arch_s.items()
            },
            "epoch_time_s": elapsed,
            "images_per_s": sums["n"] / elapsed,
        }
        if ctx.is_main:
            log.info(
                "epoch %d/%d t=%.3f loss=%.4f ce=%.4f cost=%.3f val_acc(centre)=%.2f (%.1fs)",
                epoch + 1,
                cfg.epochs,
                metrics["t"],
                metrics["loss"],
                metrics["ce"],
                metrics["cost"],
                metrics["val_acc_centre"],
                elapsed,
            )
        return metrics

    trainer = Trainer(
        train_batches,
        cfg.epochs,
        state,
        step=step,
        epoch_metrics=epoch_metrics,
        save=save_checkpoint,
        device=device,
        progress=status,
        begin_epoch=lambda epoch: supernet.train(),
        after_steps=after_steps,
        describe=lambda epoch: f"{cfg.experiment} epoch {epoch + 1}/{cfg.epochs} t={temperature(epoch):.2f}",
        bar=progress,
        stop=stop,
        checkpoint_every_s=checkpoint_every_s,
        name="search",
    )
    trainer.run(None if max_epochs is None else state.epoch + max_epochs)
    history, wall, segments, pos = state.history, state.wall_time_s, state.segments, state.position

    finished = len(history) >= cfg.epochs
    status.tell(pos, "searched" if finished else "paused")
    summary = {
        "experiment": cfg.experiment,
        "profile": cfg.profile,
        "config_hash": cfg.hash(),
        "config": cfg.to_dict(),
        "epochs_done": len(history),
        "finished": finished,
        "final": history[-1] if history else None,
        "wall_time_s": wall,
        "provenance": {
            **provenance(device),
            "data_source": splits.source,
            "wall_time_s": wall,
            "segments": [seg.to_dict() for seg in segments],
        },
    }
    if ctx.enabled:
        d = dist_mod.digest(supernet, hypernet)
        summary["distributed"] = {
            "world_size": ctx.world,
            "ranks_agree": dist_mod.ranks_agree(d, ctx),
            "digest": d,
        }
    if summary["finished"] and ctx.is_main:
        write_json(run_dir / SUMMARY, summary)
    dist_mod.barrier(ctx)
    return summary
