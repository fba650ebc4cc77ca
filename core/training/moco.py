"""MoCo v2 (Table 5 of the paper): a momentum key encoder and a queue of negatives, with the paper's modes.

``--method moco``: the query encoder is the run's model (backbone + projector, trained by SGD);
the key encoder is its exponential moving average (``--moco-momentum``, MoCo v2: 0.99 at this
scale, 0.999 in the MoCo paper); the queue holds the last ``--queue-size`` normalised keys.
For a batch of N images with views ``v1`` (queries) and ``v2`` (keys), query ``i`` has logits
``[s(q_i, k_i)/tau, L(s(q_i, queue_j))]`` and target 0 (MoCo's InfoNCE), where ``L`` is the
paper mode's logit edit (``core.training.loss.paper_logits``: removal / margin / temperature /
combined) applied to the **queue negatives** flagged by the Eq. 12 band. The band is taken per
query row over its K queue similarities (the spec's best reading, paper-method.md sec. 6.11),
computed on backbone features ``h`` (default) or projector outputs (``--select-on projector``);
the queue keeps the keys' ``h`` as well for that purpose.

Our choices where MoCo v2 or the paper is silent (docs/paper-fidelity.md): the loss is
asymmetric (queries from the first view only, as in MoCo v2); no shuffled BatchNorm (one
process; ``--method moco`` refuses torchrun); the queue starts as random unit vectors; on
``--resume`` the key encoder restarts from the query weights and the queue from random vectors
(they are not in the checkpoint).
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import Tensor

from core.errors import HardpairsError
from core.training.loss import _sorted_quantile, paper_logits


class MoCoState:
    """The key encoder and the queues of one MoCo run (not saved in checkpoints)."""

    def __init__(self, model: torch.nn.Module, queue_size: int, momentum: float, seed: int):
        self.key_model = copy.deepcopy(model)
        for p in self.key_model.parameters():
            p.requires_grad_(False)
        self.queue_size, self.momentum, self.seed = queue_size, momentum, seed
        self.queue_z: Tensor | None = None  # (K, P) normalised key projections
        self.queue_h: Tensor | None = None  # (K, D) normalised key backbone features
        self.ptr = 0

    def _init_queues(self, kz: Tensor, kh: Tensor) -> None:
        g = torch.Generator().manual_seed(self.seed)
        k = self.queue_size
        self.queue_z = F.normalize(torch.randn(k, kz.shape[1], generator=g), dim=1).to(kz.device)
        self.queue_h = F.normalize(torch.randn(k, kh.shape[1], generator=g), dim=1).to(kh.device)

    @torch.no_grad()
    def keys(self, views: Tensor) -> tuple[Tensor, Tensor]:
        """(N, C, S, S) key views -> normalised ``(kh (N, D), kz (N, P))`` float32 from the key encoder."""
        kh, kz = self.key_model(views)
        kh, kz = F.normalize(kh.float(), dim=1), F.normalize(kz.float(), dim=1)
        if self.queue_z is None:
            self._init_queues(kz, kh)
        return kh, kz

    @torch.no_grad()
    def momentum_update(self, model: torch.nn.Module) -> None:
        """``key = m * key + (1 - m) * query`` for parameters; buffers (BN statistics) are copied."""
        for pk, pq in zip(self.key_model.parameters(), model.parameters(), strict=True):
            pk.mul_(self.momentum).add_(pq.detach(), alpha=1.0 - self.momentum)
        for bk, bq in zip(self.key_model.buffers(), model.buffers(), strict=True):
            bk.copy_(bq)

    @torch.no_grad()
    def enqueue(self, kh: Tensor, kz: Tensor) -> None:
        """Replace the oldest ``N`` queue rows by this batch's keys (a ring buffer)."""
        assert self.queue_z is not None and self.queue_h is not None
        n, k = kz.shape[0], self.queue_size
        rows = (torch.arange(n, device=kz.device) + self.ptr) % k
        self.queue_z[rows[-k:]] = kz[-k:]
        self.queue_h[rows[-k:]] = kh[-k:]
        self.ptr = (self.ptr + n) % k


def select_queue_pairs(hq: Tensor, queue_h: Tensor, pos_high: float, pos_low: float, inclusive: bool = False) -> Tensor:
    """Eq. 12 band of each query over the queue, without gradient.

    Args:
        hq: (N, D) query features. queue_h: (K, D) queue features (normalised here too).
        pos_high, pos_low: band edges as fractions of each row's descending ranking.
        inclusive: ``<=`` at ``Sim_posHigh`` (the "All samples" variant).

    Returns:
        (N, K) bool flags: ``Sim_posLow <= s < Sim_posHigh`` per row (linear-interpolation quantiles).
    """
    if not (0.0 <= pos_high < pos_low <= 1.0):
        raise HardpairsError(f"need 0 <= pos_high < pos_low <= 1, got {pos_high}, {pos_low}; e.g. 0.15 and 0.22")
    with torch.no_grad():
        s = F.normalize(hq.detach().float(), dim=1) @ F.normalize(queue_h.float(), dim=1).T
        srt = s.sort(dim=1).values
        k = s.shape[1]
        hi = _sorted_quantile(srt, 1.0 - pos_high, 0, k).unsqueeze(1)
        lo = _sorted_quantile(srt, 1.0 - pos_low, 0, k).unsqueeze(1)
        return (s >= lo) & ((s <= hi) if inclusive else (s < hi))


def moco_loss(
    q: Tensor,
    k: Tensor,
    queue: Tensor,
    tau: float,
    pairs: Tensor | None = None,
    mode: str = "baseline",
    sigma: float = 0.0,
    rho: float = 1.0,
    removal: str = "zero",
) -> Tensor:
    """MoCo InfoNCE with a paper mode applied to the queue negatives.

    Args:
        q: (N, P) query projections (normalised here). k: (N, P) key projections (no gradient).
        queue: (K, P) queue of normalised keys. tau: temperature > 0.
        pairs: (N, K) bool flags from :func:`select_queue_pairs`, or None (= baseline).
        mode, sigma, rho, removal: as in ``core.training.loss.contrastive_loss``.

    Returns:
        0-d float32 tensor: ``mean_i -log softmax([s_ii+/tau, L(s_ij)])[0]``.
    """
    if not tau > 0 or not math.isfinite(tau):
        raise HardpairsError(f"temperature tau must be > 0, got {tau}; e.g. --temperature 0.2")
    qn, kn = F.normalize(q.float(), dim=1), F.normalize(k.detach().float(), dim=1)
    pos = (qn * kn).sum(dim=1, keepdim=True) / tau
    neg = qn @ queue.detach().float().T
    neg_logits = paper_logits(neg, tau, None if pairs is None else pairs.to(neg.device), mode, sigma, rho, removal)
    logits = torch.cat([pos, neg_logits], dim=1)
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))
