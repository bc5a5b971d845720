"""The resumable training loop that the search and the retraining share.

A :class:`Trainer` runs epochs of mini-batches and owns what makes a resume exact and a run
accountable: the position (epochs finished, steps into the next), the interrupted epoch (its batch
order, running sums and elapsed time), the history of per-epoch metrics, the segments (one per
process that ran part of the training: code, machine, positions covered, images, seconds) and the
clocks. What is trained and how a step goes are the caller's: a ``step`` function, an
``epoch_metrics`` function that turns the epoch's sums into its metrics, and a ``save`` function that
writes a checkpoint whose loop part is :meth:`LoopState.to_checkpoint` (read back with
:meth:`LoopState.from_checkpoint`). One :class:`Progress` reporter tells where the loop stands.

A checkpoint is saved after every epoch and, within an epoch, after the first step that ends
``checkpoint_every_s`` seconds of compute after the last one; when ``stop`` is set the loop saves
after the current step and raises :class:`~hypernas.train.stopping.Interrupted`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from hypernas.data import Batches
from hypernas.errors import ArtefactError
from hypernas.io import load_torch
from hypernas.train.checkpoint import Position, RunState, Segment
from hypernas.train.stopping import Interrupted

# The loop's part of every checkpoint, the search's and the retraining's alike.
LOOP_KEYS = ("epoch", "step", "partial_epoch", "history", "segments", "wall_time_s")


@dataclass
class LoopState:
    """Where a training stands: ``epoch`` epochs finished plus ``step`` batches of the next; the
    interrupted epoch (``partial``: order, sums, elapsed_s) when ``step`` > 0; the per-epoch
    ``history``; the ``segments`` that ran it; its compute time ``wall_time_s``."""

    epoch: int = 0
    step: int = 0
    partial: dict | None = None
    history: list[dict] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    wall_time_s: float = 0.0

    @property
    def position(self) -> Position:
        return Position(self.epoch, self.step)

    def to_checkpoint(self) -> dict:
        return {
            "epoch": self.epoch,
            "step": self.step,
            "partial_epoch": self.partial,
            "history": self.history,
            "segments": [seg.to_dict() for seg in self.segments],
            "wall_time_s": self.wall_time_s,
        }

    @classmethod
    def from_checkpoint(cls, ck: dict) -> LoopState:
        step = int(ck.get("step", 0))
        return cls(
            epoch=int(ck["epoch"]),
            step=step,
            partial=ck.get("partial_epoch") if step else None,
            history=list(ck["history"]),
            segments=[Segment.from_dict(seg) for seg in ck.get("segments", [])],
            wall_time_s=float(ck["wall_time_s"]),
        )

    def seconds_and_machines(self) -> dict:
        """``{"seconds", "hardware"}``: the training time of its segments and the machines they ran on."""
        return {
            "seconds": sum(seg.seconds for seg in self.segments),
            "hardware": list(dict.fromkeys(seg.hardware for seg in self.segments)),
        }


def read_training_checkpoint(
    path: str | Path, kind: str, fix: str, keys: tuple[str, ...], map_location: torch.device | str = "cpu"
) -> dict:
    """A checkpoint as a dict holding ``keys``; :class:`ArtefactError` (one line naming the file and
    ``fix``) when it is missing, damaged, empty or lacks one of them."""
    ck = load_torch(path, kind, fix, map_location=map_location)
    if not isinstance(ck, dict):
        raise ArtefactError(f"{kind} {path} holds a {type(ck).__name__}, not a checkpoint; {fix}")
    missing = [key for key in keys if key not in ck]
    if missing:
        raise ArtefactError(f"{kind} {path} lacks {', '.join(missing)}; {fix}")
    return ck


class Progress:
    """Where a loop stands, told to ``sink`` when it starts and then at most every ``every_s``
    seconds: epoch, epochs, step, steps_per_epoch, images_per_s (over the last interval) and eta_s;
    ``state`` too when one is given (searching, stopped, diverged, ...)."""

    def __init__(
        self,
        sink: Callable[[dict], None] | None,
        epochs: int,
        steps_per_epoch: int,
        batch_size: int,
        every_s: float = 15.0,
    ):
        self.sink, self.epochs, self.steps_per_epoch = sink, epochs, steps_per_epoch
        self.batch_size, self.every_s = batch_size, every_s
        self.mark: tuple[float, int] | None = None  # (time, global step) of the last rate measurement
        self.rate = 0.0  # steps per second over the last interval

    def _done(self, pos: Position) -> int:
        return pos.epoch * self.steps_per_epoch + pos.step

    def start(self, pos: Position, now: float, state: str | None = None) -> None:
        self.mark = (now, self._done(pos))
        self.tell(pos, state)

    def update(self, pos: Position, now: float, state: str | None = None) -> None:
        if self.mark is None:
            self.start(pos, now, state)
        elif now - self.mark[0] >= self.every_s:
            done = self._done(pos)
            self.rate = (done - self.mark[1]) / (now - self.mark[0])
            self.mark = (now, done)
            self.tell(pos, state)

    def tell(self, pos: Position, state: str | None = None) -> None:
        if self.sink is None:
            return
        remaining = self.epochs * self.steps_per_epoch - self._done(pos)
        info = {} if state is None else {"state": state}
        info.update(
            epoch=pos.epoch,
            epochs=self.epochs,
            step=pos.step,
            steps_per_epoch=self.steps_per_epoch,
            images_per_s=round(self.rate * self.batch_size, 2),
            eta_s=round(remaining / self.rate) if self.rate > 0 else None,
        )
        self.sink(info)


StepFn = Callable[[torch.Tensor, torch.Tensor, int], dict[str, float]]


class Trainer:
    """The loop over epochs: ``step(x, y, epoch)`` trains on one batch and returns the amounts to
    add to the epoch's sums (``n``: the batch's images); ``begin_epoch(epoch)`` runs before an
    epoch's first batch (also a resumed one); ``after_steps(epoch)`` after its last, within the
    epoch's time; ``epoch_metrics(epoch, sums, elapsed_s)`` then returns the epoch's metrics (its
    own time not counted); ``save(state)`` writes a checkpoint (``state.partial`` is set within an
    epoch, None after one)."""

    def __init__(
        self,
        batches: Batches,
        epochs: int,
        state: LoopState,
        *,
        step: StepFn,
        epoch_metrics: Callable[[int, dict, float], dict],
        save: Callable[[LoopState], None],
        device: torch.device,
        progress: Progress,
        begin_epoch: Callable[[int], None] | None = None,
        after_steps: Callable[[int], None] | None = None,
        describe: Callable[[int], str] | None = None,
        bar: bool = False,
        stop: threading.Event | None = None,
        checkpoint_every_s: float = 600.0,
        name: str = "training",
    ):
        self.batches, self.epochs, self.state = batches, epochs, state
        self.step_fn, self.epoch_metrics, self.save = step, epoch_metrics, save
        self.begin_epoch, self.after_steps, self.describe = begin_epoch, after_steps, describe
        self.device, self.progress, self.bar = device, progress, bar
        self.stop, self.checkpoint_every_s, self.name = stop, checkpoint_every_s, name

    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def run(self, until: int | None = None) -> LoopState:
        """Train up to epoch ``until`` (default: all epochs) and return the state."""
        state = self.state
        end = self.epochs if until is None else min(self.epochs, until)
        steps_per_epoch = len(self.batches)
        segment = Segment.begin(state.position, self.device)
        state.segments.append(segment)
        self.progress.start(state.position, time.perf_counter())
        last_checkpoint = time.perf_counter()
        while state.epoch < end:
            epoch = state.epoch
            if self.begin_epoch is not None:
                self.begin_epoch(epoch)
            if state.partial is not None:
                order, sums, elapsed = (
                    state.partial["order"],
                    dict(state.partial["sums"]),
                    state.partial["elapsed_s"],
                )
                state.partial = None
            else:
                order, sums, elapsed = self.batches.draw_order(), {"steps": 0}, 0.0
            tic = time.perf_counter()
            batches = tqdm(
                self.batches.iterate(order, state.step),
                total=steps_per_epoch,
                initial=state.step,
                desc=self.describe(epoch) if self.describe else f"{self.name} {epoch + 1}/{self.epochs}",
                disable=not self.bar,
                leave=False,
            )
            for x, y in batches:
                amounts = self.step_fn(x, y, epoch)
                for key, value in amounts.items():
                    sums[key] = sums.get(key, 0) + value
                sums["steps"] += 1
                state.step += 1
                segment.images += amounts.get("n", 0)
                now = time.perf_counter()
                self.progress.update(state.position, now)
                stopping = self._stopping()
                if state.step < steps_per_epoch and (
                    stopping or now - last_checkpoint >= self.checkpoint_every_s
                ):
                    segment.reach(state.position, now - tic)
                    state.wall_time_s += now - tic
                    elapsed += now - tic
                    tic = now
                    state.partial = {"order": order, "sums": sums, "elapsed_s": elapsed}
                    self.save(state)
                    state.partial = None
                    last_checkpoint = time.perf_counter()
                    if stopping:
                        self.progress.tell(state.position, RunState.STOPPED)
                        raise Interrupted(
                            f"{self.name} stopped at epoch {epoch + 1}, step {state.step}/{steps_per_epoch}"
                        )
            if self.after_steps is not None:
                self.after_steps(epoch)
            now = time.perf_counter()
            elapsed += now - tic
            state.wall_time_s += now - tic
            segment.seconds += now - tic
            metrics = self.epoch_metrics(epoch, sums, elapsed)  # not timed: it may evaluate the model
            state.history.append(metrics)
            state.epoch, state.step = epoch + 1, 0
            segment.reach(state.position, 0.0)
            self.save(state)
            last_checkpoint = time.perf_counter()
            if self._stopping() and state.epoch < end:
                self.progress.tell(state.position, RunState.STOPPED)
                raise Interrupted(f"{self.name} stopped after epoch {state.epoch}")
        return state
