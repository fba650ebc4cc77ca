"""Hard-negative references: H-UCL, SCL, H-SCL and their threshold forms (Jiang et al. 2022, official code semantics).

``hard_ucl_loss`` and ``scl_loss`` take the (2N, 2N) cosine similarity of a two-view batch (see
``core.training.views``); ``contrastive_loss`` in ``core.training.loss`` calls them for the
``hard_ucl``/``scl``/``hard_scl`` modes and ``threshold_loss`` for ``hard_ucl_thr``/``hard_scl_thr``;
``monitor_losses`` evaluates all four on one batch, ``assumption1_share`` the H-SCL paper's Fig. 4 quantity.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from core.errors import HardpairsError
from core.training.lossmodes import LABEL_MODES, LOSS_MODES
from core.training.views import check_views, cosine, exclude_mask

UNLABELLED_MODES: tuple[str, ...] = tuple(m for m in LOSS_MODES if m not in LABEL_MODES)


def weighted_log_mean(x: Tensor, beta: float, mask: Tensor) -> Tensor:
    """Per row: log( sum_j w_j e^{x_j} / sum_j w_j ) over ``mask``, ``w_j = e^{beta x_j}``.

    Rows with an empty mask give ``-inf`` (no negatives -> that term vanishes) without NaN grads.
    """
    has = mask.any(dim=1)
    safe = mask | ~has.unsqueeze(1)
    a = torch.logsumexp(((1.0 + beta) * x).masked_fill(~safe, float("-inf")), dim=1)
    b = torch.logsumexp((beta * x).masked_fill(~safe, float("-inf")), dim=1)
    return torch.where(has, a - b, torch.full_like(a, float("-inf")))


def hard_ucl_loss(s: Tensor, tau: float, beta: float, tau_plus: float) -> Tensor:
    """HCL estimator (Robinson et al. 2021) as in the H-SCL code's ``criterion(..., 'hard')``."""
    n2 = s.shape[0]
    ex = exclude_mask(n2, s.device)
    idx = torch.arange(n2, device=s.device)
    x = s / tau
    lpos = x[idx, (idx + n2 // 2) % n2]
    m = n2 - 2
    log_r = math.log(m) + weighted_log_mean(x, beta, ~ex)  # log sum_j w neg_j / mean_j w
    floor = torch.full_like(log_r, math.log(m) - 1.0 / tau)  # N e^{-1/tau}
    if tau_plus > 0:
        ratio = tau_plus * m * torch.exp(lpos - log_r)
        deb = log_r + torch.log((1.0 - ratio).clamp_min(1e-30)) - math.log1p(-tau_plus)
        log_ng = torch.where(ratio < 1.0, deb, floor)
    else:
        log_ng = log_r
    log_ng = torch.maximum(log_ng, floor)
    return (torch.logaddexp(lpos, log_ng) - lpos).mean()


def scl_loss(s: Tensor, tau: float, labels: Tensor, beta: float, twin_only: bool) -> Tensor:
    """SCL / H-SCL of the H-SCL code (``nce_supervised_easy/hard``); ``beta=0`` gives SCL."""
    n2 = s.shape[0]
    x = s / tau
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    posm = _twins(n2, s.device) if twin_only else same & ~torch.eye(n2, dtype=torch.bool, device=s.device)
    lneg = math.log(n2 - 2) + weighted_log_mean(x, beta, ~same)  # (2N-2) * weighted mean
    terms = torch.logaddexp(x, lneg.unsqueeze(1)) - x  # -log(pos / (pos + (2N-2) mean))
    return terms[posm].mean()


def _twins(n2: int, device: torch.device) -> Tensor:
    """(2N, 2N) bool: True at (i, (i + N) mod 2N), each view's positive twin."""
    idx = torch.arange(n2, device=device)
    out = torch.zeros(n2, n2, dtype=torch.bool, device=device)
    out[idx, (idx + n2 // 2) % n2] = True
    return out


def threshold_loss(s: Tensor, tau: float, threshold: float, labels: Tensor | None) -> Tensor:
    """Threshold H-UCL (``labels`` None) or threshold H-SCL: Jiang et al.'s ``H(x, f, t) = {x- : e^{g(x,x-)} >= t}``.

    ``g = s/tau`` and ``threshold = log t`` (so ``t = e^-0.5`` is ``threshold=-0.5``). The negatives of
    anchor i are the views in H (H-UCL: every view but i and its twin; H-SCL: the other-label views),
    each weighted 1 (the hardening function is the indicator, no exponential tilt); per positive pair
    ``-log(e^{x_ip} / (e^{x_ip} + (2N-2) mean_{j in H} e^{x_ij}))`` as the official code's
    ``(batch - 2) * neg_exp_sum``. Positives: H-UCL the twin; H-SCL every other same-label view.
    An anchor with an empty H contributes 0.
    """
    n2 = s.shape[0]
    x = s / tau
    hard = x >= threshold
    if labels is None:
        posm = _twins(n2, s.device)
        negm = hard & ~exclude_mask(n2, s.device)
    else:
        same = labels.unsqueeze(0) == labels.unsqueeze(1)
        posm = same & ~torch.eye(n2, dtype=torch.bool, device=s.device)
        negm = hard & ~same
    lneg = math.log(n2 - 2) + weighted_log_mean(x, 0.0, negm)
    terms = torch.logaddexp(x, lneg.unsqueeze(1)) - x
    return terms[posm].mean()


def assumption1_share(z: Tensor, labels: Tensor, tau: float, threshold: float) -> float:
    """Share of anchors satisfying Assumption 1 of Jiang et al. (our reading), no gradient.

    Anchor i satisfies it when the mean of ``e^{g(x_i, x-)}`` (``g = s/tau``) over its same-label hard
    negatives (in H, twin and self excluded) is >= that mean over its other-label hard negatives: then
    the H-UCL term of i is >= its H-SCL term in the infinite-negative limit (the inequality the
    assumption serves). An anchor with either set empty satisfies it (the two terms coincide or the
    H-SCL term has no negatives).

    Args:
        z: (2N, P) projector outputs. labels: (2N,) int labels per view. tau: temperature.
        threshold: ``log t`` of ``H(x, f, t)`` (``TrainConfig.hard_threshold``).

    Returns:
        A float in [0, 1].
    """
    n2 = check_views(z, "projector outputs z")
    with torch.no_grad():
        x = cosine(z.detach()).double() / tau
        lab = check_labels(labels, n2, "assumption1_share", x.device)
        same = lab.unsqueeze(0) == lab.unsqueeze(1)
        hard = (x >= threshold) & ~exclude_mask(n2, x.device)
        ex = torch.exp(x - x.max())  # a common shift keeps the comparison and avoids overflow
        sm, om = hard & same, hard & ~same
        mean_same = (ex * sm).sum(1) / sm.sum(1).clamp_min(1)
        mean_other = (ex * om).sum(1) / om.sum(1).clamp_min(1)
        ok = (mean_same >= mean_other) | ~sm.any(1) | ~om.any(1)
        return float(ok.float().mean())


def check_labels(labels: Tensor | None, n2: int, mode: str, device: torch.device) -> Tensor:
    if labels is None:
        raise HardpairsError(
            f"--loss-mode {mode} needs labelled data (a label per view); use one of "
            f"{', '.join(UNLABELLED_MODES)} for unlabelled data"
        )
    labels = torch.as_tensor(labels, device=device).reshape(-1)
    if labels.numel() != n2 or not torch.equal(labels[: n2 // 2], labels[n2 // 2 :]):
        raise HardpairsError(
            f"labels must have shape ({n2},) with both views of an image sharing a label, got "
            f"{labels.numel()} values; pass torch.cat([y, y]) for the batch labels y"
        )
    return labels


def monitor_losses(z: Tensor, labels: Tensor, tau: float, beta: float = 1.0) -> dict[str, float]:
    """UCL, H-UCL, SCL and H-SCL of one batch, no gradient (the H-SCL paper's Fig. 5 view).

    As in the official ``main_loss.py`` monitor, all four share the anchor/twin positive pair and
    differ only in the negatives, so ``scl``/``hard_scl`` here use the twin as the only positive
    (``contrastive_loss(mode="scl")`` uses every same-label view, as the training script does).

    Args:
        z: (2N, P) projector outputs. labels: (2N,) int labels per view. tau: temperature.
        beta: hardening strength for ``hard_ucl`` and ``hard_scl``.

    Returns:
        ``{"ucl", "hard_ucl", "scl", "hard_scl"}`` -> float.
    """
    n2 = check_views(z, "projector outputs z")
    with torch.no_grad():
        s = cosine(z.detach())
        lab = check_labels(labels, n2, "scl", s.device)
        idx = torch.arange(n2, device=s.device)
        ucl = F.cross_entropy((s / tau).fill_diagonal_(float("-inf")), (idx + n2 // 2) % n2)
        return {
            "ucl": float(ucl),
            "hard_ucl": float(hard_ucl_loss(s, tau, beta, 0.0)),
            "scl": float(scl_loss(s, tau, lab, 0.0, twin_only=True)),
            "hard_scl": float(scl_loss(s, tau, lab, beta, twin_only=True)),
        }
