"""Two-view batches: the row layout every contrastive loss and the pair selection share.

Views are ordered ``[x_1..x_N, x'_1..x'_N]`` (2N rows); the positive of view ``i`` is
``(i + N) mod 2N``. Similarities are cosine similarities computed in float32 (float64 kept).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from core.errors import HardpairsError


def check_views(x: Tensor, what: str) -> int:
    """Validate a (2N, D) view matrix; return 2N."""
    if x.dim() != 2 or x.shape[0] < 4 or x.shape[0] % 2:
        raise HardpairsError(
            f"{what} must have shape (2N, D) with an even 2N >= 4 (two views of N >= 2 images), "
            f"got {tuple(x.shape)}; pass both views stacked as [x_1..x_N, x'_1..x'_N]"
        )
    return x.shape[0]


def exclude_mask(n2: int, device: torch.device) -> Tensor:
    """(2N, 2N) bool, True on self (i, i) and positive (i, (i+N) mod 2N) entries."""
    idx = torch.arange(n2, device=device)
    ex = torch.zeros(n2, n2, dtype=torch.bool, device=device)
    ex[idx, idx] = True
    ex[idx, (idx + n2 // 2) % n2] = True
    return ex


def cosine(x: Tensor) -> Tensor:
    """(2N, D) -> (2N, 2N) cosine similarity, float32 (float64 kept)."""
    x = x if x.dtype == torch.float64 else x.float()
    x = F.normalize(x, dim=1)
    return x @ x.T
