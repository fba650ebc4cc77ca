"""Pre-projector feature extraction of a backbone (the device comes from ``core.device.pick_device``).

A run's features, in either format (``features.npz`` or the sharded ``features/`` that
``torchrun ... -m core extract`` writes), are read back by ``core.rundir.featurefile.open_features``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from core.data.augment import prepare_eval
from core.models.models import input_channels


@torch.no_grad()
def extract_features(
    backbone: nn.Module,
    images: np.ndarray,
    out_size: int,
    mean: np.ndarray,
    std: np.ndarray,
    device: torch.device,
    batch_size: int = 1024,
) -> np.ndarray:
    """Backbone features of un-augmented images.

    Args:
        backbone: maps (B, C, out_size, out_size) float to (B, D).
        images: (N, C, H, W) uint8.
        out_size: the training resolution (images are resized to it).
        mean, std: (C,) per-channel statistics of x/255 used in training.

    Grayscale images (C = 1) into a backbone that takes 3 channels are normalised, then the channel
    is repeated (torchvision's answer for grayscale data); the importer records it in the run's log
    and manifest (``channel_repeat``).

    Returns:
        (N, D) float32 features, in input order.
    """
    was_training = backbone.training
    backbone.eval()
    m = torch.as_tensor(mean, dtype=torch.float32, device=device)
    s = torch.as_tensor(std, dtype=torch.float32, device=device)
    repeat = input_channels(backbone) if images.ndim == 4 and images.shape[1] == 1 else 1
    chunks = []
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else _null()
    for start in range(0, len(images), batch_size):
        xb = torch.from_numpy(images[start : start + batch_size]).to(device)
        with autocast:
            x = prepare_eval(xb, out_size, m, s)
            h = backbone(x.expand(-1, repeat, -1, -1) if repeat > 1 else x)
        chunks.append(h.float().cpu().numpy())
    backbone.train(was_training)
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
