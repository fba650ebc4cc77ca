"""Pre-projector feature extraction of a backbone (the device comes from ``core.device.pick_device``).

A run's features, in either format (``features.npz`` or the sharded ``features/`` that
``torchrun ... -m core extract`` writes), are read back by ``core.rundir.featurefile.open_features``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from core.data.augment import prepare_eval
from core.data.residency import row_chunks
from core.models.models import input_channels
from core.models.speed import speed_settings

#: Float32 bytes of one CPU step's input at the source resolution: caps the rows per step for large
#: images in host memory (1024 rows of 224 px would be 616 MB of float before the resize to ``out_size``).
STEP_BYTES = 64 * 2**20


@torch.no_grad()
def extract_features(
    backbone: nn.Module,
    images: np.ndarray,
    out_size: int,
    mean: np.ndarray,
    std: np.ndarray,
    device: torch.device,
    batch_size: int = 1024,
    rows: slice | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Backbone features of un-augmented images.

    Args:
        backbone: maps (B, C, out_size, out_size) float to (B, D).
        images: (N, C, H, W) uint8: an array, or a read-only memmap / lazy view of the image store
            (read ``batch_size`` rows at a time, never whole: ``core.data.residency.row_chunks``).
        out_size: the training resolution (images are resized to it).
        mean, std: (C,) per-channel statistics of x/255 used in training.
        rows: only these contiguous rows (a torchrun rank's shard; default all).
        batch_size: rows per step (on the CPU fewer for large images: :data:`STEP_BYTES`).
        progress: called after each step with (rows done, rows in all).

    Grayscale images (C = 1) into a backbone that takes 3 channels are normalised, then the channel
    is repeated (torchvision's answer for grayscale data); the importer records it in the run's log
    and manifest (``channel_repeat``).

    Returns:
        (N, D) float32 features (N = the rows read), in input order.
    """
    was_training = backbone.training
    backbone.eval()
    m = torch.as_tensor(mean, dtype=torch.float32, device=device)
    s = torch.as_tensor(std, dtype=torch.float32, device=device)
    repeat = input_channels(backbone) if images.ndim == 4 and images.shape[1] == 1 else 1
    chunks = []
    autocast = speed_settings(device).autocast(device)  # bf16 on CUDA (HARDPAIRS_SPEED overrides)
    lo, hi, _ = (rows or slice(None)).indices(len(images))
    row_float = 4 * int(np.prod(images.shape[1:], dtype=np.int64))
    step = batch_size if device.type != "cpu" else max(1, min(batch_size, STEP_BYTES // max(row_float, 1)))
    for part in row_chunks(images, lo, hi, step):
        xb = torch.from_numpy(part).to(device)
        with autocast:
            x = prepare_eval(xb, out_size, m, s)
            h = backbone(x.expand(-1, repeat, -1, -1) if repeat > 1 else x)
        chunks.append(h.float().cpu().numpy())
        if progress is not None:
            progress(sum(len(c) for c in chunks), hi - lo)
    backbone.train(was_training)
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)
