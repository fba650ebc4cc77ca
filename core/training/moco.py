"""MoCo v2 (Table 5 of the paper): a momentum key encoder and a queue of negatives, with the paper's modes.

``--method moco``: the query encoder is the run's model (backbone + projector, trained by SGD);
the key encoder is its exponential moving average (``--moco-momentum``); the queue holds the
last :func:`queue_length` normalised keys. For a batch of N images with views ``v1`` (queries)
and ``v2`` (keys), query ``i`` has logits ``[s(q_i, k_i)/tau, L(s(q_i, queue_j))]`` and target 0
(MoCo's InfoNCE), where ``L`` is the paper mode's logit edit (``core.training.loss.paper_logits``:
removal / margin / temperature / combined) applied to the **queue negatives** flagged by the
Eq. 12 band. The band is taken per query row over its K queue similarities (the spec's best
reading, paper-method.md sec. 6.11), computed on backbone features ``h`` (default) or projector
outputs (``--select-on projector``); the queue keeps the keys' ``h`` as well for that purpose.

MoCo v2's own defaults (``core.training.presets.MOCO_V2``, applied by ``make_config`` when
``--method moco`` and the flag is not given): SGD momentum 0.9, lr 0.03 x batch/256, weight
decay 1e-4, cosine without warm-up, tau 0.2, queue 65536, key momentum 0.999. The queue is
clipped to a multiple of the batch (MoCo's ``K % batch == 0``) that fits the dataset: at most
the other batches of one epoch (:func:`queue_length`; the log line says so).

Shuffled BatchNorm, one-process equivalent: MoCo shuffles the key batch across GPUs so each
key's BN statistics come from another subset than its query's (else the model can find its
positive through batch statistics). Here the key batch is permuted with the run's MoCo generator,
split into :func:`bn_groups` groups (``KEYS_PER_BN_GROUP`` = 32 keys each, as MoCo's 256 batch
on 8 GPUs), each group forwarded on its own (BN statistics per group), and the keys put back in
order. Queries see the whole batch's statistics. One group is the unshuffled forward.

Exact resume: :meth:`MoCoState.state_dict` (key encoder, both queues, pointer, the generator of
the shuffles) is stored in every checkpoint (``"moco"``) and loaded on ``--resume``, so a resumed
run ends with the weights and queue of an uninterrupted one. A checkpoint without it (written
before) restarts the key encoder from the query weights and the queue from random vectors.

Our choices where MoCo v2 or the paper is silent (docs/paper-fidelity.md): the loss is
asymmetric (queries from the first view only, as in MoCo v2); the queue starts as random unit
vectors; ``--method moco`` refuses torchrun (the shuffle across ranks is not implemented).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from core.errors import HardpairsError
from core.training.loss import _sorted_quantile, paper_logits

#: keys per shuffled-BatchNorm group (MoCo v2: 256 images on 8 GPUs)
KEYS_PER_BN_GROUP = 32


def bn_groups(n: int, groups: int | None = None) -> int:
    """Shuffled-BN groups for ``n`` keys: ``groups`` (None: ``n // KEYS_PER_BN_GROUP``), between 1 and ``n``."""
    return max(1, min(n, groups if groups is not None else n // KEYS_PER_BN_GROUP))


def queue_length(queue_size: int, batch: int, n_train: int) -> int:
    """The queue a run uses: ``queue_size`` rounded down to a multiple of ``batch`` (MoCo's ``K % batch == 0``)
    and at most one epoch's other batches (``(n_train // batch - 1) * batch``, at least one batch).

    A queue shorter than one batch is kept as given (a ring buffer; tests and tiny runs).
    """
    if queue_size < batch:
        return queue_size
    fits = max(1, n_train // batch - 1) * batch
    return min(queue_size // batch * batch, fits)


class MoCoState:
    """The key encoder, the queues, the ring pointer and the shuffle generator of one MoCo run.

    ``groups``: shuffled-BN groups of the keys (None: :func:`bn_groups` of each key batch).
    """

    def __init__(self, model: torch.nn.Module, queue_size: int, momentum: float, seed: int, groups: int | None = None):
        self.key_model = copy.deepcopy(model)
        for p in self.key_model.parameters():
            p.requires_grad_(False)
        self.queue_size, self.momentum, self.seed, self.groups = queue_size, momentum, seed, groups
        self.queue_z: Tensor | None = None  # (K, P) normalised key projections
        self.queue_h: Tensor | None = None  # (K, D) normalised key backbone features
        self.ptr = 0
        self.generator = torch.Generator().manual_seed(seed + 7_919)  # the key shuffles (CPU, saved)

    def _init_queues(self, kz: Tensor, kh: Tensor) -> None:
        g = torch.Generator().manual_seed(self.seed)
        k = self.queue_size
        self.queue_z = F.normalize(torch.randn(k, kz.shape[1], generator=g), dim=1).to(kz.device)
        self.queue_h = F.normalize(torch.randn(k, kh.shape[1], generator=g), dim=1).to(kh.device)

    @torch.no_grad()
    def keys(self, views: Tensor) -> tuple[Tensor, Tensor]:
        """(N, C, S, S) key views -> normalised ``(kh (N, D), kz (N, P))`` float32 from the key encoder,
        with shuffled BatchNorm: a random permutation, :func:`bn_groups` groups forwarded one by one,
        the keys put back in the order of ``views``."""
        groups = bn_groups(views.shape[0], self.groups)
        if groups == 1:
            kh, kz = self.key_model(views)
        else:
            perm = torch.randperm(views.shape[0], generator=self.generator).to(views.device)
            outs = [self.key_model(part) for part in views[perm].tensor_split(groups)]
            inv = torch.empty_like(perm)
            inv[perm] = torch.arange(len(perm), device=perm.device)
            kh, kz = torch.cat([o[0] for o in outs])[inv], torch.cat([o[1] for o in outs])[inv]
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

    def state_dict(self) -> dict[str, Any]:
        """Key encoder, queues, pointer and shuffle-generator state: tensors and plain values only
        (a checkpoint's ``"moco"`` entry; loads with ``weights_only=True``)."""
        return {
            "key_model": self.key_model.state_dict(),
            "queue_z": self.queue_z,
            "queue_h": self.queue_h,
            "ptr": self.ptr,
            "queue_size": self.queue_size,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (the queues on the key encoder's device).

        Raises:
            HardpairsError: the saved queue has another length than this run's.
        """
        if int(state["queue_size"]) != self.queue_size:
            raise HardpairsError(
                f"cannot resume: the checkpoint's MoCo queue holds {state['queue_size']} keys, this run "
                f"{self.queue_size}; resume with the run's own config.json and data"
            )
        self.key_model.load_state_dict(state["key_model"])
        device = next(self.key_model.parameters()).device
        self.queue_z = None if state["queue_z"] is None else state["queue_z"].to(device)
        self.queue_h = None if state["queue_h"] is None else state["queue_h"].to(device)
        self.ptr = int(state["ptr"])
        self.generator.set_state(state["generator"])


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
