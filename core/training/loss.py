"""Contrastive losses with in-batch difficult-pair selection (paper Eq. 12-16); H-UCL/SCL/H-SCL in hardneg.py.

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
from core.training.hardneg import check_labels, hard_ucl_loss, scl_loss, threshold_loss
from core.training.hardneg import monitor_losses as monitor_losses  # re-exported for core.training.loop
from core.training.lossmodes import LABEL_MODES, LOSS_MODES, THRESHOLD_MODES, get_mode
from core.training.views import check_views, cosine, exclude_mask

REMOVAL_VARIANTS: tuple[str, ...] = ("zero", "mask")


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


def select_difficult_pairs(
    h: Tensor, pos_high: float, pos_low: float, per_row: bool = True, inclusive: bool = False
) -> Tensor:
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
        inclusive: the upper edge is ``s <= Sim_posHigh`` instead of Eq. 12's strict ``<``, so
            ``pos_high=0, pos_low=1`` flags every candidate: the "All samples" rows of Tables 2-3.

    Returns:
        (2N, 2N) bool tensor on ``h.device``; not necessarily symmetric when ``per_row``.
    """
    if not (0.0 <= pos_high < pos_low <= 1.0):
        raise HardpairsError(
            f"pos_high={pos_high} and pos_low={pos_low} must satisfy 0 <= pos_high < pos_low <= 1 "
            "(fractions of the descending similarity ranking); e.g. --pos-high 0.15 --pos-low 0.22"
        )
    n2 = check_views(h, "features h")
    with torch.no_grad():
        s = cosine(h.detach())
        ex = exclude_mask(n2, s.device)
        m = n2 - 2  # candidates per row
        if per_row:
            srt = s.masked_fill(ex, float("-inf")).sort(dim=1).values  # 2 x -inf first per row
            hi = _sorted_quantile(srt, 1.0 - pos_high, 2, m).unsqueeze(1)
            lo = _sorted_quantile(srt, 1.0 - pos_low, 2, m).unsqueeze(1)
        else:
            srt = s[~ex].sort().values
            hi = _sorted_quantile(srt, 1.0 - pos_high, 0, srt.numel())
            lo = _sorted_quantile(srt, 1.0 - pos_low, 0, srt.numel())
        below = (s <= hi) if inclusive else (s < hi)
        return (s >= lo) & below & ~ex


def paper_logits(s: Tensor, tau: float, p: Tensor | None, mode: str, sigma: float, rho: float, removal: str) -> Tensor:
    """Logits of a paper mode, elementwise over any shape (e.g. (2N, 2N) or (N, K)); ``p`` is bool flags or None."""
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
    hard_threshold: float = 0.0,
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
    * ``hard_scl_thr``/``hard_ucl_thr``: ``scl``/``hard_ucl`` whose weights are Jiang et al.'s indicator
      ``w_ij = 1[x_ij >= hard_threshold]`` (``H(x, f, t)``, ``hard_threshold = log t``; no debiasing or clamp).

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
        removal: ``"zero"`` (Eq. 13, default) or ``"mask"``. hard_threshold: ``log t``, compared with ``s/tau``.

    Returns:
        0-d float32 (float64 for float64 input) tensor.
    """
    if mode not in LOSS_MODES:
        raise HardpairsError(f"unknown loss mode {mode!r}; choose one of {', '.join(LOSS_MODES)}")
    if removal not in REMOVAL_VARIANTS:
        raise HardpairsError(f"unknown removal variant {removal!r}; choose 'zero' or 'mask'")
    if not tau > 0:
        raise HardpairsError(f"temperature tau must be > 0, got {tau}; e.g. --tau 0.5")
    if "rho" in get_mode(mode).knobs and not rho > 0:
        raise HardpairsError(f"temperature factor rho must be > 0, got {rho}; e.g. --rho 0.7")
    if "beta" in get_mode(mode).knobs and beta < 0:
        raise HardpairsError(f"hardening beta must be >= 0, got {beta}; beta=0 means no tilt")
    if not 0.0 <= tau_plus < 1.0:
        raise HardpairsError(f"tau_plus must be in [0, 1), got {tau_plus}; 0 disables debiasing")
    n2 = check_views(z, "projector outputs z")
    s = cosine(z)
    if mode == "hard_ucl":
        return hard_ucl_loss(s, tau, beta, tau_plus)
    lab = check_labels(labels, n2, mode, s.device) if mode in LABEL_MODES else None
    if mode in THRESHOLD_MODES:
        return threshold_loss(s, tau, hard_threshold, lab)
    if lab is not None:
        return scl_loss(s, tau, lab, 0.0 if mode == "scl" else beta, twin_only=False)
    p = None
    if pairs is not None and mode != "baseline":
        if tuple(pairs.shape) != (n2, n2):
            raise HardpairsError(
                f"pairs must have shape ({n2}, {n2}) to match z, got {tuple(pairs.shape)}; "
                "compute them with select_difficult_pairs on the same batch"
            )
        p = (pairs.to(s.device) != 0) & ~exclude_mask(n2, s.device)
    logits = paper_logits(s, tau, p, mode, sigma, rho, removal)
    logits = logits.masked_fill(torch.eye(n2, dtype=torch.bool, device=s.device), float("-inf"))
    target = (torch.arange(n2, device=s.device) + n2 // 2) % n2
    return F.cross_entropy(logits, target)


def pair_stats(pairs: Tensor, labels: Tensor | None, z: Tensor | None = None) -> dict[str, float]:
    """Share of flagged pairs and how many of them are cross-class (the paper's Fig. 4c check).

    Args:
        pairs: (2N, 2N) bool flags. labels: (2N,) int labels per view, or None.
        z: (2N, P) projections of the same views, or None.

    Returns:
        ``flagged_share``: flagged / all non-self, non-positive pairs; ``flagged_cross_class``:
        share of those flagged pairs whose labels differ (NaN without labels or flags);
        ``flagged_similarity``: mean cosine similarity of ``z`` over the flagged pairs, the ``s_ij`` the
        margin of Eq. 14 is added to (NaN without ``z`` or flags).
    """
    n2 = pairs.shape[0]
    p = (pairs != 0) & ~exclude_mask(n2, pairs.device)
    n_flag = int(p.sum())
    out = {"flagged_share": n_flag / (n2 * (n2 - 2)), "flagged_cross_class": float("nan")}
    out["flagged_similarity"] = (
        float(cosine(z.detach())[p.to(z.device)].mean()) if z is not None and n_flag else float("nan")
    )
    if labels is not None and n_flag:
        lab = torch.as_tensor(labels, device=pairs.device).reshape(-1)
        out["flagged_cross_class"] = float((lab.unsqueeze(0) != lab.unsqueeze(1))[p].float().mean())
    return out
