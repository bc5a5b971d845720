"""Multi-process data parallelism through torch.distributed (``torchrun``), gloo on CPU, nccl on GPU.

Every rank draws the same global mini-batch, the same s and the same Gumbel noise from generators
seeded identically (so a checkpoint's RNG state does not depend on the world size), keeps its own
contiguous slice of the batch, and averages gradients with an all-reduce before the optimiser
steps. Weights and hypernetwork therefore stay identical on all ranks; BatchNorm buffers, which
see only the local slice, are broadcast from rank 0 after every epoch. Only rank 0 writes files.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, n: int) -> slice:
        """This rank's contiguous part of a global batch of n examples."""
        if not self.enabled:
            return slice(0, n)
        per = -(-n // self.world)
        return slice(self.rank * per, min(n, (self.rank + 1) * per))


def init_from_env(device: torch.device) -> tuple[DistContext, torch.device]:
    """Join the process group described by torchrun's environment (no-op for a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(), device
    rank = int(os.environ["RANK"])
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return DistContext(rank, world), device


def average_gradients(params, ctx: DistContext) -> None:
    if not ctx.enabled:
        return
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(ctx.world)


def all_sum(values: list[float], ctx: DistContext, device: torch.device) -> list[float]:
    if not ctx.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def broadcast_buffers(module: torch.nn.Module, ctx: DistContext) -> None:
    if ctx.enabled:
        for b in module.buffers():
            dist.broadcast(b, src=0)


def digest(*modules: torch.nn.Module) -> str:
    """A hash of all parameters (to check that ranks agree)."""
    h = hashlib.sha256()
    for m in modules:
        for p in m.parameters():
            h.update(p.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def ranks_agree(value: str, ctx: DistContext) -> bool:
    if not ctx.enabled:
        return True
    gathered: list = [None] * ctx.world
    dist.all_gather_object(gathered, value)
    return len(set(gathered)) == 1


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
