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
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from hypernas import data as data_mod
from hypernas.errors import ConfigError
from hypernas.io import save_torch
from hypernas.method.gumbel import gumbel_softmax
from hypernas.space.genotype import Genotype
from hypernas.space.network import build_discrete, discrete_from_supernet, recalibrate_bn
from hypernas.train.build import memory_format
from hypernas.train.config import SearchConfig
from hypernas.train.loop import LOOP_KEYS, LoopState, Progress, Trainer, read_training_checkpoint
from hypernas.train.run import TrainedFamily
from hypernas.train.stopping import Interrupted

log = logging.getLogger(__name__)

PROTOCOLS = ("inherited", "retrain", "relaxed")
REPORT_EVERY_S = 15.0  # how often a retraining reports where it stands


def _batches(
    x, y, splits: data_mod.Splits, batch_size: int, device, channels_last: bool = False, **kw
) -> data_mod.Batches:
    return data_mod.Batches(
        x, y, batch_size, splits.mean, splits.std, device=device, channels_last=channels_last, **kw
    )


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


def inherited(run: TrainedFamily, genotype: Genotype, splits: data_mod.Splits, split: str = "test") -> float:
    """Accuracy of the argmax network with inherited weights on ``split`` ('test' or 'val')."""
    net = inherited_net(run, genotype, splits)
    return _split_accuracy(net, run.config, splits, split)


def _split_accuracy(net: torch.nn.Module, cfg: SearchConfig, splits: data_mod.Splits, split: str) -> float:
    device = next(net.parameters()).device
    x, y = (splits.test_x, splits.test_y) if split == "test" else (splits.val_x, splits.val_y)
    return accuracy(net, _batches(x, y, splits, cfg.eval_batch_size, device, cfg.channels_last))


def inherited_net(run: TrainedFamily, genotype: Genotype, splits: data_mod.Splits) -> torch.nn.Module:
    """The argmax network with the supernet's weights, BatchNorm re-estimated on training batches."""
    cfg = run.config
    device = next(run.supernet.parameters()).device
    net = discrete_from_supernet(genotype, run.supernet).to(memory_format=memory_format(cfg))
    cl = cfg.channels_last
    calib = _batches(
        splits.train_x,
        splits.train_y,
        splits,
        cfg.batch_size,
        device,
        cl,
        shuffle=True,
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    recalibrate_bn(net, calib, cfg.bn_recalibration_batches)
    return net


def relaxed(run: TrainedFamily, s, splits: data_mod.Splits, t: float = 1.0, seed: int = 0) -> float:
    """The supernet at s with per-example relaxed gamma ~ GS(alpha(s), t) (the authors' protocol)."""
    device = next(run.supernet.parameters()).device
    alpha = run.hypernet(torch.as_tensor(s, dtype=torch.float32, device=device)).detach()
    gen = torch.Generator().manual_seed(seed)
    batches = _batches(
        splits.test_x, splits.test_y, splits, run.config.eval_batch_size, device, run.config.channels_last
    )
    return accuracy(run.supernet, batches, lambda b: gumbel_softmax(alpha, t, batch=b, generator=gen))


def retrain(
    genotype: Genotype,
    cfg: SearchConfig,
    splits: data_mod.Splits,
    epochs: int,
    device: torch.device | str = "cpu",
    progress: bool = False,
    stop: threading.Event | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every_s: float = 600.0,
    report: Callable[[dict], None] | None = None,
) -> tuple[float, torch.nn.Module]:
    """Train the discrete network from scratch (Adam, lr_weights, cosine) and return (test accuracy, net).

    The loop is the search's (:class:`~hypernas.train.loop.Trainer`). With ``checkpoint`` (a file
    path) the training state is saved there after every epoch and every ``checkpoint_every_s``
    seconds, and resumed from it, with the same result as an uninterrupted training; the file is
    removed at the end; it also keeps the training time and the machines of the segments so far
    (:func:`retrain_history`). When ``stop`` is set the training saves its state (if it has a
    checkpoint file) and ends with :class:`~hypernas.train.stopping.Interrupted`. ``report`` receives
    where the training stands when it starts and then every :data:`REPORT_EVERY_S` seconds: epoch,
    epochs, step, steps_per_epoch, images_per_s and eta_s (the campaign's status shows them).
    """
    device = torch.device(device)
    torch.manual_seed(cfg.seed)
    net = build_discrete(genotype, cfg.space()).to(device, memory_format=memory_format(cfg))
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    cl = cfg.channels_last
    train = _batches(
        splits.train_x,
        splits.train_y,
        splits,
        cfg.batch_size,
        device,
        cl,
        shuffle=True,
        augment=cfg.augment,
        pad=data_mod.spec(cfg.dataset).crop_padding,
        generator=gen,
        drop_last=True,
    )
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr_weights)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs * len(train), 1))
    state = LoopState()
    if checkpoint is not None and Path(checkpoint).is_file():
        # on the CPU: the data generator's state must stay there; the state dicts move on load
        ck = _read_retrain_checkpoint(checkpoint)
        net.load_state_dict(ck["net"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        gen.set_state(ck["data_rng"])
        state = LoopState.from_checkpoint(ck)
        log.info("resuming the retraining in %s at epoch %d, step %d", checkpoint, state.epoch, state.step)

    def step(x: torch.Tensor, y: torch.Tensor, epoch: int) -> dict[str, float]:
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        return {"n": int(y.numel())}  # no loss read back: that would wait for the device every step

    def epoch_metrics(epoch: int, sums: dict, elapsed: float) -> dict:
        return {"epoch": epoch + 1, "images": sums["n"], "epoch_time_s": elapsed}

    def save(state: LoopState) -> None:
        if checkpoint is not None:
            save_torch(
                checkpoint,
                {
                    **state.to_checkpoint(),
                    "net": net.state_dict(),
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "data_rng": gen.get_state(),
                },
            )

    sink = None if report is None else (lambda info: report({k: v for k, v in info.items() if k != "state"}))
    trainer = Trainer(
        train,
        epochs,
        state,
        step=step,
        epoch_metrics=epoch_metrics,
        save=save,
        device=device,
        progress=Progress(sink, epochs, len(train), cfg.batch_size, every_s=REPORT_EVERY_S),
        begin_epoch=lambda epoch: net.train(),
        bar=progress,
        stop=stop,
        checkpoint_every_s=checkpoint_every_s,
        name="retraining",
    )
    try:
        trainer.run()
    except Interrupted as exc:
        kept = "its state is kept" if checkpoint is not None else "it restarts from scratch"
        raise Interrupted(f"{exc}; {kept}") from None
    test = _batches(splits.test_x, splits.test_y, splits, cfg.eval_batch_size, device, cl)
    acc = accuracy(net, test)
    if checkpoint is not None and Path(checkpoint).is_file():
        Path(checkpoint).unlink()
    return acc, net


def retrain_history(checkpoint: str | Path | None) -> dict:
    """``{"seconds", "hardware"}`` of a partial retraining: its training time up to its last
    checkpoint and the machines it ran on (0 and [] without a checkpoint file)."""
    if checkpoint is None or not Path(checkpoint).is_file():
        return {"seconds": 0.0, "hardware": []}
    return LoopState.from_checkpoint(_read_retrain_checkpoint(checkpoint)).seconds_and_machines()


RETRAIN_FIX = "delete it to retrain this architecture from the start"
_RETRAIN_KEYS = (*LOOP_KEYS, "net", "opt", "sched", "data_rng")


def _read_retrain_checkpoint(checkpoint: str | Path) -> dict:
    """A partial retraining's checkpoint; :class:`~hypernas.errors.ArtefactError` (one line) when it
    is damaged or lacks one of its parts."""
    return read_training_checkpoint(checkpoint, "retraining checkpoint", RETRAIN_FIX, _RETRAIN_KEYS)


def _retrain_run(
    run: TrainedFamily, genotype: Genotype, splits, epochs, *args
) -> tuple[float, torch.nn.Module]:
    """:func:`retrain` with the run's config and device, for ``epochs`` (None: the profile's)."""
    device = next(run.supernet.parameters()).device
    n = run.config.retrain_epochs if epochs is None else epochs
    return retrain(genotype, run.config, splits, n, device, *args)


def evaluate(
    run: TrainedFamily,
    genotype: Genotype,
    s,
    protocol: str,
    splits: data_mod.Splits,
    epochs: int | None = None,
    progress: bool = False,
    stop: threading.Event | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every_s: float = 600.0,
    report: Callable[[dict], None] | None = None,
) -> float:
    """Test accuracy (%) of the architecture at s under ``protocol`` (``report``: see :func:`retrain`)."""
    if protocol == "inherited":
        return inherited(run, genotype, splits)
    if protocol == "relaxed":
        return relaxed(run, s, splits, seed=run.config.seed)
    if protocol == "retrain":
        return _retrain_run(
            run, genotype, splits, epochs, progress, stop, checkpoint, checkpoint_every_s, report
        )[0]
    raise ConfigError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")


def split_scores(
    run: TrainedFamily,
    genotype: Genotype,
    protocol: str,
    splits: data_mod.Splits,
    epochs: int | None = None,
    progress: bool = False,
    stop: threading.Event | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every_s: float = 600.0,
    report: Callable[[dict], None] | None = None,
) -> dict[str, float]:
    """``{"val": %, "test": %}`` of one network of ``genotype``: inherited from ``run``'s supernet, or
    retrained once (as :func:`retrain`) and scored on both splits. Validation picks, test reports."""
    if protocol == "inherited":
        net = inherited_net(run, genotype, splits)
    elif protocol == "retrain":
        net = _retrain_run(
            run, genotype, splits, epochs, progress, stop, checkpoint, checkpoint_every_s, report
        )[1]
    else:
        raise ConfigError(f"split_scores takes the inherited or retrain protocol, not {protocol!r}")
    return {split: _split_accuracy(net, run.config, splits, split) for split in ("val", "test")}
