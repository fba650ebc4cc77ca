"""Contrastive losses with in-batch difficult-pair selection (paper Eq. 12-16) and H-SCL references.

Views are ordered ``[x_1..x_N, x'_1..x'_N]`` (2N rows); the positive of view ``i`` is
``(i + N) mod 2N``. Similarities are cosine similarities (inputs are L2-normalised here).
Computation runs in float32 (float64 inputs stay float64); bf16/fp16 inputs are cast up.

Paper modes (``PAPER_MODES``), anchor ``i``, positive ``j``, logits ``L_ik`` over ``k != i``,
loss ``-log softmax_k(L_i)[j]`` averaged over the 2N anchors; ``p_ik`` is the selection flag:

* ``baseline``    ``L = s/tau`` (SimCLR NT-Xent; the denominator includes the positive).
* ``removal``     Eq. 13: ``L = s(1-p)/tau``; a flagged logit is 0 (``exp(0)=1`` stays in the
  denominator, no gradient). ``removal="mask"`` instead drops flagged ``k`` from the denominator.
* ``margin``      Eq. 14: ``L = (s + sigma p)/tau`` (``rho`` ignored).
* ``temperature`` Eq. 15: ``L = s/((rho p + 1 - p) tau)`` (``sigma`` ignored).
* ``combined``    Eq. 16: ``L = (s + sigma p)/((rho p + 1 - p) tau)``.

Self and positive are never flagged (forced False here even if ``pairs`` says otherwise), so with
``pairs`` None or all False every paper mode equals ``baseline`` exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from core.errors import HardpairsError
from core.training.lossmodes import LABEL_MODES, LOSS_MODES, PAPER_MODES

REMOVAL_VARIANTS: tuple[str, ...] = ("zero", "mask")


def _check_views(x: Tensor, what: str) -> int:
    """Validate a (2N, D) view matrix; return 2N."""
    if x.dim() != 2 or x.shape[0] < 4 or x.shape[0] % 2:
        raise HardpairsError(
            f"{what} must have shape (2N, D) with an even 2N >= 4 (two views of N >= 2 images), "
            f"got {tuple(x.shape)}; pass both views stacked as [x_1..x_N, x'_1..x'_N]"
        )
    return x.shape[0]


def _exclude_mask(n2: int, device: torch.device) -> Tensor:
    """(2N, 2N) bool, True on self (i, i) and positive (i, (i+N) mod 2N) entries."""
    idx = torch.arange(n2, device=device)
    ex = torch.zeros(n2, n2, dtype=torch.bool, device=device)
    ex[idx, idx] = True
    ex[idx, (idx + n2 // 2) % n2] = True
    return ex


def _cosine(x: Tensor) -> Tensor:
    """(2N, D) -> (2N, 2N) cosine similarity, float32 (float64 kept)."""
    x = x if x.dtype == torch.float64 else x.float()
    x = F.normalize(x, dim=1)
    return x @ x.T


def _sorted_quantile(vals: Tensor, q: float, start: int, count: int) -> Tensor:
    """Linear-interpolation quantile (numpy's default) of ``vals[..., start:start+count]``.

    ``vals`` is sorted ascending along the last axis; returns shape ``vals.shape[:-1]``.
    """
    pos = q * (count - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, count - 1)
    frac = pos - lo
    v_lo, v_hi = vals[..., start + lo], vals[..., start + hi]
    return v_lo + frac * (v_hi - v_lo)


def select_difficult_pairs(h: Tensor, pos_high: float, pos_low: float, per_row: bool = True) -> Tensor:
    """Flag difficult pairs from pre-projector features (paper Eq. 12), without gradient.

    Similarities are ranked in descending order; ``pos_high < pos_low`` are positions in that
    list as fractions, giving ``Sim_posHigh`` = quantile at ``1 - pos_high`` and ``Sim_posLow`` =
    quantile at ``1 - pos_low`` (linear interpolation, as ``numpy.percentile``). A pair is flagged
    when ``Sim_posLow <= s < Sim_posHigh``. Self and positive pairs are left out of the ranking
    population and never flagged.

    Args:
        h: (2N, D) float features, views ordered ``[x_1..x_N, x'_1..x'_N]``.
        pos_high: upper band edge as a fraction of the ranking, e.g. 0.15 (CIFAR-10).
        pos_low: lower band edge, e.g. 0.22; ``0 <= pos_high < pos_low <= 1``.
        per_row: thresholds per anchor row over its 2N-2 candidates (default), or one pair of
            thresholds over all 2N(2N-2) off-diagonal non-positive entries.

    Returns:
        (2N, 2N) bool tensor on ``h.device``; not necessarily symmetric when ``per_row``.
    """
    if not (0.0 <= pos_high < pos_low <= 1.0):
        raise HardpairsError(
            f"pos_high={pos_high} and pos_low={pos_low} must satisfy 0 <= pos_high < pos_low <= 1 "
            "(fractions of the descending similarity ranking); e.g. --pos-high 0.15 --pos-low 0.22"
        )
    n2 = _check_views(h, "features h")
    with torch.no_grad():
        s = _cosine(h.detach())
        ex = _exclude_mask(n2, s.device)
        m = n2 - 2  # candidates per row
        if per_row:
            srt = s.masked_fill(ex, float("-inf")).sort(dim=1).values  # 2 x -inf first per row
            hi = _sorted_quantile(srt, 1.0 - pos_high, 2, m).unsqueeze(1)
            lo = _sorted_quantile(srt, 1.0 - pos_low, 2, m).unsqueeze(1)
        else:
            srt = s[~ex].sort().values
            hi = _sorted_quantile(srt, 1.0 - pos_high, 0, srt.numel())
            lo = _sorted_quantile(srt, 1.0 - pos_low, 0, srt.numel())
        return (s >= lo) & (s < hi) & ~ex


def _paper_logits(s: Tensor, tau: float, p: Tensor | None, mode: str, sigma: float, rho: float, removal: str) -> Tensor:
    """(2N, 2N) logits of a paper mode; ``p`` is a bool flag matrix or None."""
    if p is None or mode == "baseline":
        return s / tau
    pf = p.to(s.dtype)
    if mode == "removal":
        return s.masked_fill(p, float("-inf") if removal == "mask" else 0.0) / tau
    if mode == "margin":
        return (s + sigma * pf) / tau
    if mode == "temperature":
        return s / ((rho * pf + (1.0 - pf)) * tau)
    return (s + sigma * pf) / ((rho * pf + (1.0 - pf)) * tau)  # combined


def _weighted_log_mean(x: Tensor, beta: float, mask: Tensor) -> Tensor:
    """Per row: log( sum_j w_j e^{x_j} / sum_j w_j ) over ``mask``, ``w_j = e^{beta x_j}``.

    Rows with an empty mask give ``-inf`` (no negatives -> that term vanishes) without NaN grads.
    """
    has = mask.any(dim=1)
    safe = mask | ~has.unsqueeze(1)
    a = torch.logsumexp(((1.0 + beta) * x).masked_fill(~safe, float("-inf")), dim=1)
    b = torch.logsumexp((beta * x).masked_fill(~safe, float("-inf")), dim=1)
    return torch.where(has, a - b, torch.full_like(a, float("-inf")))


def _hard_ucl(s: Tensor, tau: float, beta: float, tau_plus: float) -> Tensor:
    """HCL estimator (Robinson et al. 2021) as in the H-SCL code's ``criterion(..., 'hard')``."""
    n2 = s.shape[0]
    ex = _exclude_mask(n2, s.device)
    idx = torch.arange(n2, device=s.device)
    x = s / tau
    lpos = x[idx, (idx + n2 // 2) % n2]
    m = n2 - 2
    log_r = math.log(m) + _weighted_log_mean(x, beta, ~ex)  # log sum_j w neg_j / mean_j w
    floor = torch.full_like(log_r, math.log(m) - 1.0 / tau)  # N e^{-1/tau}
    if tau_plus > 0:
        ratio = tau_plus * m * torch.exp(lpos - log_r)
        deb = log_r + torch.log((1.0 - ratio).clamp_min(1e-30)) - math.log1p(-tau_plus)
        log_ng = torch.where(ratio < 1.0, deb, floor)
    else:
        log_ng = log_r
    log_ng = torch.maximum(log_ng, floor)
    return (torch.logaddexp(lpos, log_ng) - lpos).mean()


def _scl(s: Tensor, tau: float, labels: Tensor, beta: float, twin_only: bool) -> Tensor:
    """SCL / H-SCL of the H-SCL code (``nce_supervised_easy/hard``); ``beta=0`` gives SCL."""
    n2 = s.shape[0]
    idx = torch.arange(n2, device=s.device)
    x = s / tau
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    if twin_only:
        posm = torch.zeros_like(same)
        posm[idx, (idx + n2 // 2) % n2] = True
    else:
        posm = same & ~torch.eye(n2, dtype=torch.bool, device=s.device)
    lneg = math.log(n2 - 2) + _weighted_log_mean(x, beta, ~same)  # (2N-2) * weighted mean
    terms = torch.logaddexp(x, lneg.unsqueeze(1)) - x  # -log(pos / (pos + (2N-2) mean))
    return terms[posm].mean()


def _check_labels(labels: Tensor | None, n2: int, mode: str, device: torch.device) -> Tensor:
    if labels is None:
        raise HardpairsError(
            f"--loss-mode {mode} needs labelled data (a label per view); use one of "
            f"{', '.join(PAPER_MODES + ('hard_ucl',))} for unlabelled data"
        )
    labels = torch.as_tensor(labels, device=device).reshape(-1)
    if labels.numel() != n2 or not torch.equal(labels[: n2 // 2], labels[n2 // 2 :]):
        raise HardpairsError(
            f"labels must have shape ({n2},) with both views of an image sharing a label, got "
            f"{labels.numel()} values; pass torch.cat([y, y]) for the batch labels y"
        )
    return labels


def contrastive_loss(
    z: Tensor,
    tau: float,
    pairs: Tensor | None = None,
    mode: str = "baseline",
    sigma: float = 0.0,
    rho: float = 1.0,
    labels: Tensor | None = None,
    beta: float = 1.0,
    tau_plus: float = 0.0,
    removal: str = "zero",
) -> Tensor:
    """Scalar batch loss of one of ``LOSS_MODES`` (paper modes: see the module docstring).

    H-SCL modes (Jiang et al. 2022, official code semantics), ``x_ij = s_ij/tau``, ``M = 2N-2``:

    * ``hard_ucl``: ``R_i = sum_j w_ij e^{x_ij} / mean_j w_ij`` over the M negatives (self and
      positive excluded), ``w_ij = e^{beta x_ij}``; debiased ``Ng_i = (R_i - tau_plus M e^{x_ip})
      / (1 - tau_plus)`` clamped below at ``M e^{-1/tau}`` (Robinson et al.'s HCL code);
      loss ``mean_i -log(e^{x_ip} / (e^{x_ip} + Ng_i))``. ``beta = tau_plus = 0`` is ``baseline``.
    * ``scl``/``hard_scl``: positives are all other views with the anchor's label (twin included),
      negatives all views with another label; per positive pair
      ``-log(e^{x_ip} / (e^{x_ip} + M * sum_j w_ij e^{x_ij} / sum_j w_ij))``, averaged over all
      positive pairs; ``scl`` is ``w = 1``, ``hard_scl`` uses ``w_ij = e^{beta x_ij}``.

    Differences from the official code: everything is computed in log space (no overflow for
    large ``beta/tau``); gradients always flow through the hardening weights (the code detaches
    them for ``beta < 1`` in H-SCL, a guard against ``pow(0, beta)``; the values are identical);
    an anchor with no other-label view contributes 0 instead of NaN.

    Args:
        z: (2N, P) projector outputs, any float dtype; normalised here.
        tau: base temperature > 0.
        pairs: (2N, 2N) bool flags from ``select_difficult_pairs`` (paper modes), or None.
        mode: one of ``LOSS_MODES``.
        sigma: margin factor (margin, combined). rho: temperature factor > 0 (temperature, combined).
        labels: (2N,) int labels per view, required by ``LABEL_MODES``.
        beta: hardening strength >= 0 (hard_ucl, hard_scl). tau_plus: class prior in [0, 1) (hard_ucl).
        removal: ``"zero"`` (Eq. 13, default) or ``"mask"`` (drop from the denominator).

    Returns:
        0-d float32 (float64 for float64 input) tensor.
    """
    if mode not in LOSS_MODES:
        raise HardpairsError(f"unknown loss mode {mode!r}; choose one of {', '.join(LOSS_MODES)}")
    if removal not in REMOVAL_VARIANTS:
        raise HardpairsError(f"unknown removal variant {removal!r}; choose 'zero' or 'mask'")
    if not tau > 0:
        raise HardpairsError(f"temperature tau must be > 0, got {tau}; e.g. --tau 0.5")
    if mode in ("temperature", "combined") and not rho > 0:
        raise HardpairsError(f"temperature factor rho must be > 0, got {rho}; e.g. --rho 0.7")
    if mode in ("hard_ucl", "hard_scl") and beta < 0:
        raise HardpairsError(f"hardening beta must be >= 0, got {beta}; beta=0 means no tilt")
    if not 0.0 <= tau_plus < 1.0:
        raise HardpairsError(f"tau_plus must be in [0, 1), got {tau_plus}; 0 disables debiasing")
    n2 = _check_views(z, "projector outputs z")
    s = _cosine(z)
    if mode == "hard_ucl":
        return _hard_ucl(s, tau, beta, tau_plus)
    if mode in LABEL_MODES:
        lab = _check_labels(labels, n2, mode, s.device)
        return _scl(s, tau, lab, beta if mode == "hard_scl" else 0.0, twin_only=False)
    p = None
    if pairs is not None and mode != "baseline":
        if tuple(pairs.shape) != (n2, n2):
            raise HardpairsError(
                f"pairs must have shape ({n2}, {n2}) to match z, got {tuple(pairs.shape)}; "
                "compute them with select_difficult_pairs on the same batch"
            )
        p = (pairs.to(s.device) != 0) & ~_exclude_mask(n2, s.device)
    logits = _paper_logits(s, tau, p, mode, sigma, rho, removal)
    logits = logits.masked_fill(torch.eye(n2, dtype=torch.bool, device=s.device), float("-inf"))
    target = (torch.arange(n2, device=s.device) + n2 // 2) % n2
    return F.cross_entropy(logits, target)


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
    n2 = _check_views(z, "projector outputs z")
    with torch.no_grad():
        s = _cosine(z.detach())
        lab = _check_labels(labels, n2, "scl", s.device)
        idx = torch.arange(n2, device=s.device)
        ucl = F.cross_entropy((s / tau).fill_diagonal_(float("-inf")), (idx + n2 // 2) % n2)
        return {
            "ucl": float(ucl),
            "hard_ucl": float(_hard_ucl(s, tau, beta, 0.0)),
            "scl": float(_scl(s, tau, lab, 0.0, twin_only=True)),
            "hard_scl": float(_scl(s, tau, lab, beta, twin_only=True)),
        }


def pair_stats(pairs: Tensor, labels: Tensor | None) -> dict[str, float]:
    """Share of flagged pairs and how many of them are cross-class (the paper's Fig. 4c check).

    Args:
        pairs: (2N, 2N) bool flags. labels: (2N,) int labels per view, or None.

    Returns:
        ``flagged_share``: flagged / all non-self, non-positive pairs; ``flagged_cross_class``:
        share of those flagged pairs whose labels differ (NaN without labels or flags).
    """
    n2 = pairs.shape[0]
    p = (pairs != 0) & ~_exclude_mask(n2, pairs.device)
    n_flag = int(p.sum())
    out = {"flagged_share": n_flag / (n2 * (n2 - 2)), "flagged_cross_class": float("nan")}
    if labels is not None and n_flag:
        lab = torch.as_tensor(labels, device=pairs.device).reshape(-1)
        out["flagged_cross_class"] = float((lab.unsqueeze(0) != lab.unsqueeze(1))[p].float().mean())
    return out
