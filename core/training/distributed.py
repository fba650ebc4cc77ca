"""Multi-process training helpers for ``torchrun`` (DDP), on one node or several.

Launch: ``python -m torch.distributed.run --nproc_per_node G -m core train ...``; torchrun sets
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` and
:func:`setup_distributed` joins the process group (NCCL on CUDA, gloo on the CPU).

The contract that makes a W-process run equal a one-process run on the same global batch:

* Every rank draws the same global permutation and the same augmentations of the whole global
  batch (same generator), then keeps its rows: rank ``r`` of ``W`` takes images
  ``[r*m, (r+1)*m)`` of each global batch of ``B = W*m`` (:func:`local_batch`, :func:`rank_rows`).
* A rank's local views are ``[v_r; v'_r]`` (2m rows). :func:`gather_views` all-gathers them (with
  gradient for ``z``, without for ``h``) and reorders them to the single-process layout
  ``[v_0..v_{W-1}; v'_0..v'_{W-1}]``, so view ``i``'s positive is ``(i + B) mod 2B`` over the
  global batch and the pair selection and loss see exactly the one-process tensors.
* Every rank computes the full global loss. The gather's backward sums the gradients of the W
  identical losses, so each rank's gradient is W times its share; DDP's averaging divides by W,
  giving the one-process gradient with no extra scaling.
* BatchNorm statistics span the global batch: ``torch.nn.SyncBatchNorm`` on CUDA,
  :class:`GlobalBatchNorm` (autograd through ``all_reduce``) elsewhere (SyncBatchNorm is GPU-only).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from core.device import pick_device
from core.errors import HardpairsError


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in a torchrun job (``world_size == 1``: a plain single process)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_from_environ(environ: Mapping[str, str] | None = None) -> DistEnv:
    """Read ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (absent: a single process)."""
    environ = os.environ if environ is None else environ
    try:
        world = int(environ.get("WORLD_SIZE", "1"))
        rank = int(environ.get("RANK", "0"))
        local = int(environ.get("LOCAL_RANK", str(rank)))
    except ValueError as err:
        raise HardpairsError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers ({err}); launch with torchrun") from None
    if world < 1 or not 0 <= rank < world:
        raise HardpairsError(f"RANK={rank} is not in [0, WORLD_SIZE={world}); launch with torchrun")
    return DistEnv(rank, world, local)


def setup_distributed(device_name: str = "auto") -> tuple[DistEnv, torch.device]:
    """Join the torchrun process group (once) and choose this rank's device.

    Single process: ``(DistEnv(), pick_device(device_name))``. Under torchrun with CUDA the
    device is ``cuda:LOCAL_RANK`` (backend NCCL); with ``--device cpu`` or no GPU it is the CPU
    (backend gloo). Idempotent: once the group exists, its backend decides the device.
    """
    env = env_from_environ()
    if not env.enabled:
        return env, pick_device(device_name)
    if dist.is_initialized():  # joined earlier (e.g. by the CLI): the backend fixes the device
        if dist.get_world_size() != env.world_size:
            raise HardpairsError(f"the process group has {dist.get_world_size()} ranks but WORLD_SIZE={env.world_size}")
        nccl = dist.get_backend() == "nccl"
        return env, torch.device("cuda", env.local_rank) if nccl else torch.device("cpu")
    want_cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if want_cuda and torch.cuda.device_count() <= env.local_rank:
        raise HardpairsError(
            f"rank {env.rank} wants cuda:{env.local_rank} but this node has "
            f"{torch.cuda.device_count()} GPUs; lower --nproc_per_node or pass --device cpu"
        )
    device = torch.device("cuda", env.local_rank) if want_cuda else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    try:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    except (ValueError, RuntimeError) as err:
        raise HardpairsError(
            f"could not join the process group ({err}); launch with "
            "`python -m torch.distributed.run --nproc_per_node N -m core train ...`"
        ) from err
    return env, device


def local_batch(global_batch: int, world_size: int) -> int:
    """Images per rank of a global batch; raises unless ``world_size`` divides it."""
    if global_batch % world_size:
        lo = global_batch - global_batch % world_size
        raise HardpairsError(
            f"--batch-size {global_batch} (the global batch) is not divisible by the {world_size} "
            f"processes; use a multiple of {world_size}, e.g. {max(lo, world_size)} or {lo + world_size}"
        )
    return global_batch // world_size


def rank_rows(global_batch: int, env: DistEnv) -> slice:
    """Rows ``[r*m, (r+1)*m)`` of a global batch that rank ``r`` trains on."""
    m = local_batch(global_batch, env.world_size)
    return slice(env.rank * m, (env.rank + 1) * m)


def interleave_views(parts: Sequence[Tensor]) -> Tensor:
    """Per-rank ``[v_r; v'_r]`` blocks (each (2m, ...)) -> ``[v_0..v_{W-1}; v'_0..v'_{W-1}]`` (2Wm, ...)."""
    m = parts[0].shape[0] // 2
    return torch.cat([p[:m] for p in parts] + [p[m:] for p in parts])


class _GatherWithGrad(torch.autograd.Function):
    """all_gather along dim 0; backward sums every rank's gradient and keeps this rank's rows."""

    @staticmethod
    def forward(ctx: Any, t: Tensor) -> Tensor:
        t = t.contiguous()
        parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, t)
        ctx.rows = t.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        r = dist.get_rank()
        return grad[r * ctx.rows : (r + 1) * ctx.rows]


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the gradient of a sum over ranks is again a sum over ranks."""

    @staticmethod
    def forward(ctx: Any, t: Tensor) -> Tensor:
        out = t.contiguous().clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad


def gather_views(t: Tensor, env: DistEnv, grad: bool) -> Tensor:
    """(2m, D) local views -> (2B, D) global views in single-process order (identity for one process).

    ``grad=True`` keeps the autograd graph (for ``z``); ``False`` gathers a detached copy (for ``h``).
    """
    if not env.enabled:
        return t
    if grad:
        full = _GatherWithGrad.apply(t)
    else:
        t = t.detach().contiguous()
        parts = [torch.empty_like(t) for _ in range(env.world_size)]
        dist.all_gather(parts, t)
        full = torch.cat(parts)
    return interleave_views(full.chunk(env.world_size))


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm (any input rank >= 2, channels on dim 1) whose training statistics span all ranks.

    Two ``all_reduce`` calls per forward (mean, then the centred second moment) with gradients,
    so it runs on any device and backend, including gloo on the CPU. Outside training, or
    without an initialised process group, it is exactly ``BatchNorm``. State-dict keys are those
    of ``BatchNorm``.
    """

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise HardpairsError(f"GlobalBatchNorm expects (B, C, ...) input, got shape {tuple(x.shape)}")

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        self._check_input_dim(x)
        c = x.shape[1]
        dims = [0, *range(2, x.dim())]
        shape = [1, c] + [1] * (x.dim() - 2)
        local_n = torch.full((1,), x.numel() // c, dtype=x.dtype, device=x.device)
        sums = _AllReduceSum.apply(torch.cat([x.sum(dims), local_n]))
        count = sums[c]
        mean = sums[:c] / count
        xc = x - mean.view(shape)
        var = _AllReduceSum.apply((xc * xc).sum(dims)) / count
        y: Tensor = xc * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            # the buffers exist whenever track_running_stats is set (nn.BatchNorm creates them then)
            assert self.num_batches_tracked is not None and self.running_mean is not None
            assert self.running_var is not None
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                f = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - f).add_(mean.detach(), alpha=f)
                self.running_var.mul_(1 - f).add_(var.detach() * count / (count - 1), alpha=f)
        return y


def convert_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Replace every BatchNorm by a global-batch one: SyncBatchNorm on CUDA, GlobalBatchNorm elsewhere.

    Parameters and buffers are shared with (moved from) the originals, so an optimizer built
    before or after, and state-dict keys, are unchanged.
    """
    if device.type == "cuda":
        synced: nn.Module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
        return synced
    out = module
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(
        module, (GlobalBatchNorm, nn.SyncBatchNorm)
    ):
        out = GlobalBatchNorm(
            module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats
        )
        if module.affine:
            out.weight, out.bias = module.weight, module.bias
        if module.track_running_stats:
            out.running_mean, out.running_var = module.running_mean, module.running_var
            out.num_batches_tracked = module.num_batches_tracked
        out.train(module.training)
    for name, child in module.named_children():
        out.add_module(name, convert_batchnorm(child, device))
    return out


def any_rank(flag: bool, env: DistEnv, device: torch.device) -> bool:
    """True when ``flag`` is True on any rank (a collective: every rank must call it)."""
    if not env.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def broadcast_object(obj: Any, env: DistEnv) -> Any:
    """Rank 0's ``obj`` on every rank (pickled; for small things such as a checkpoint or a path)."""
    if not env.enabled:
        return obj
    box = [obj if env.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def cleanup_distributed() -> None:
    """Leave the process group (no-op when none was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
