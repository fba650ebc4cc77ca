"""Training batches: one interface for device-resident images and images streamed from the store.

:func:`make_batches` picks the path from where the dataset's images live
(``core.data.residency.is_streamed``, THE rule ``core.data.residency.place_images``):

- :class:`ResidentBatches` -- in-memory images (small data): the kept rows are copied to the
  device once as uint8 ``(n, C, H, W)``; a batch is ``x[perm[...]]`` on the device (no host work).
- :class:`StreamedBatches` -- images in the on-disk store (a read-only ``np.memmap`` or a
  ``core.data.mixing.MixedImages`` view): each batch's rows are gathered on the host in sorted
  order (page-cache locality) then reordered, by a background thread that prepares the next
  ``depth`` batches while the current one trains; on CUDA the batch is pinned and copied with
  ``non_blocking=True``. The pages read are dropped from the resident set as it goes
  (``core.data.residency.release_pages``), so memory is bounded by the working set, not by N.

Both take the epoch's permutation drawn on the device with the epoch's generator (the same
``torch.randperm`` call), so the batches -- and so a CPU run's weights -- are identical on both
paths. Labels stay on the device on both paths (8 bytes per image).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from core.data.memory import check_memory, gib
from core.data.mixing import take_rows
from core.data.residency import STORE_ENV, is_streamed, release_pages
from core.models.speed import speed_settings

#: Batches prepared ahead of the one training (the prefetch depth of the streamed path).
PREFETCH = 2
#: Bytes gathered from the store between two drops of its mapped pages from the resident set.
RELEASE_BYTES = 64 * 2**20


class ResidentBatches:
    """The kept training images on the device; batches indexed there (see the module docstring)."""

    streamed = False

    def __init__(self, x_train: Any, idx: np.ndarray, y: torch.Tensor, device: torch.device) -> None:
        whole = len(idx) == len(x_train) and bool((idx == np.arange(len(idx))).all())
        rows = x_train if whole and x_train.flags.c_contiguous and x_train.flags.writeable else x_train[idx]
        self.x = torch.from_numpy(np.ascontiguousarray(rows)).to(device)  # shared, not copied, on the CPU
        self.y = y
        self.n = len(idx)

    @contextmanager
    def epoch(self, perm: torch.Tensor, batch: int) -> Iterator[Iterator[tuple[torch.Tensor, torch.Tensor]]]:
        """Context yielding an iterator of ``(xb (B, C, H, W) uint8, yb (B,) int64)`` on the device, in
        ``perm`` order, ``len(perm) // batch`` of them."""

        def gen() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            for s in range(len(perm) // batch):
                bidx = perm[s * batch : (s + 1) * batch]
                yield self.x[bidx], self.y[bidx]

        yield gen()


class StreamedBatches:
    """Batches gathered from the store by a prefetching thread (see the module docstring).

    Attributes:
        x_train: (N, C, H, W) uint8 store view (never read whole). idx: (n,) kept rows of it.
        y: (n,) int64 labels of the kept rows, on the device. depth: batches prepared ahead.
    """

    streamed = True

    def __init__(
        self, x_train: Any, idx: np.ndarray, y: torch.Tensor, device: torch.device, depth: int = PREFETCH
    ) -> None:
        self.x_train = x_train
        self.idx = np.asarray(idx, dtype=np.int64)
        self.y = y
        self.n = len(self.idx)
        self.device = device
        self.depth = max(1, int(depth))
        self._pin = speed_settings(device).pin_memory  # CUDA; HARDPAIRS_SPEED=pin on the CPU (core.models.speed)
        self._since_release = 0

    def _gather(self, rows: np.ndarray) -> torch.Tensor:
        """Host batch of store rows ``rows`` (sorted reads, then reordered), pinned on CUDA."""
        xb = torch.from_numpy(take_rows(self.x_train, rows))
        self._since_release += xb.numel()
        if self._since_release >= RELEASE_BYTES:
            release_pages(self.x_train)
            self._since_release = 0
        return xb.pin_memory() if self._pin and torch.cuda.is_available() else xb

    @contextmanager
    def epoch(self, perm: torch.Tensor, batch: int) -> Iterator[Iterator[tuple[torch.Tensor, torch.Tensor]]]:
        """Context yielding an iterator of ``(xb, yb)`` on the device in ``perm`` order (as
        :meth:`ResidentBatches.epoch`); the prefetch thread stops when the context ends."""
        order = perm.cpu().numpy()  # one host sync per epoch
        steps = len(order) // batch
        rows = [self.idx[order[s * batch : (s + 1) * batch]] for s in range(steps)]
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hardpairs-batches")
        pending: list[Future[torch.Tensor]] = [pool.submit(self._gather, r) for r in rows[: self.depth]]

        def gen() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            for s in range(steps):
                host = pending.pop(0).result()
                if s + self.depth < steps:
                    pending.append(pool.submit(self._gather, rows[s + self.depth]))
                bidx = perm[s * batch : (s + 1) * batch]
                yield host.to(self.device, non_blocking=self._pin), self.y[bidx]

        try:
            yield gen()
        finally:
            for fut in pending:
                fut.cancel()
            pool.shutdown(wait=True)
            release_pages(self.x_train)


Batches = ResidentBatches | StreamedBatches


def working_set_bytes(x_train: Any, batch: int, model: torch.nn.Module, depth: int = PREFETCH) -> int:
    """Host bytes a streamed run needs: ``depth + 2`` uint8 batches (prefetched, training, gathering)
    plus the model with its gradients and two optimizer moments (4 x float32 parameters)."""
    row = int(np.prod(x_train.shape[1:], dtype=np.int64))
    params = sum(int(p.numel()) for p in model.parameters())
    return (depth + 2) * batch * row + 16 * params


def make_batches(
    x_train: Any, idx: np.ndarray, y: torch.Tensor, device: torch.device, batch: int, model: torch.nn.Module
) -> Batches:
    """The batch source of a run: streamed when ``x_train`` is read from the store, else device-resident.

    Args:
        x_train: (N, C, H, W) uint8 train images of the dataset. idx: (n,) kept rows.
        y: (n,) int64 labels of the kept rows, on the device. batch: the global batch size.
        model: the model (its size counts in the streamed working set).

    Raises:
        HardpairsError: the streamed working set does not fit the memory limit (the dataset's size
            does not count: it stays on disk).
    """
    if not is_streamed(x_train):
        return ResidentBatches(x_train, idx, y, device)
    need = working_set_bytes(x_train, batch, model)
    check_memory(
        f"streaming training batches of {batch} images from the store (working set {gib(need)})",
        need,
        f"pass a smaller --batch-size (the dataset itself streams from disk; {STORE_ENV})",
    )
    return StreamedBatches(x_train, idx, y, device)
