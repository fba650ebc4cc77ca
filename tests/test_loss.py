"""core.training.loss against hand-written loop references (math.exp/log over i, k) on tiny batches."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.errors import HardpairsError
from core.training.hardneg import assumption1_share, monitor_losses
from core.training.loss import contrastive_loss, pair_stats, select_difficult_pairs
from core.training.lossmodes import LABEL_MODES, LOSS_MODES, PAPER_MODES, THRESHOLD_MODES


# ----------------------------------------------------------------------------- references
def _sim(z: torch.Tensor) -> np.ndarray:
    a = z.detach().double().numpy()
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    return a @ a.T


def ref_paper(z, tau, pairs, mode, sigma=0.0, rho=1.0, removal="zero") -> float:
    s, n2 = _sim(z), z.shape[0]
    P = np.zeros((n2, n2), bool) if pairs is None else pairs.numpy()
    total = 0.0
    for i in range(n2):
        j = (i + n2 // 2) % n2

        def flag(k, i=i, j=j):  # bind this row (B023)
            return mode != "baseline" and bool(P[i, k]) and k not in (i, j)

        def logit(k, i=i):
            p = 1.0 if flag(k) else 0.0
            if mode == "removal":
                return s[i, k] * (1 - p) / tau
            sg = sigma if mode in ("margin", "combined") else 0.0
            rh = rho if mode in ("temperature", "combined") else 1.0
            return (s[i, k] + sg * p) / ((rh * p + (1 - p)) * tau)

        denom = 0.0
        for k in range(n2):
            if k == i or (mode == "removal" and removal == "mask" and flag(k)):
                continue
            denom += math.exp(logit(k))
        total += -(logit(j) - math.log(denom))
    return total / n2


def ref_hard_ucl(z, tau, beta, tau_plus=0.0) -> float:
    s, n2 = _sim(z), z.shape[0]
    m, total = n2 - 2, 0.0
    for i in range(n2):
        j = (i + n2 // 2) % n2
        pos = math.exp(s[i, j] / tau)
        negs = [math.exp(s[i, k] / tau) for k in range(n2) if k not in (i, j)]
        ws = [math.exp(beta * s[i, k] / tau) for k in range(n2) if k not in (i, j)]
        r = sum(w * e for w, e in zip(ws, negs, strict=True)) / (sum(ws) / m)
        ng = max((r - tau_plus * m * pos) / (1 - tau_plus), m * math.exp(-1 / tau))
        total += -math.log(pos / (pos + ng))
    return total / n2


def ref_scl(z, tau, labels, beta, twin_only=False) -> float:
    s, n2 = _sim(z), z.shape[0]
    y = [int(v) for v in labels]
    terms = []
    for i in range(n2):
        negs = [k for k in range(n2) if y[k] != y[i]]
        wm = sum(math.exp(beta * s[i, k] / tau) * math.exp(s[i, k] / tau) for k in negs) / sum(
            math.exp(beta * s[i, k] / tau) for k in negs
        )
        poss = [(i + n2 // 2) % n2] if twin_only else [k for k in range(n2) if k != i and y[k] == y[i]]
        for p in poss:
            e = math.exp(s[i, p] / tau)
            terms.append(-math.log(e / (e + (n2 - 2) * wm)))
    return sum(terms) / len(terms)


def ref_select(h, pos_high, pos_low, per_row=True) -> np.ndarray:
    s, n2 = _sim(h), h.shape[0]
    ex = np.eye(n2, dtype=bool)
    for i in range(n2):
        ex[i, (i + n2 // 2) % n2] = True
    out = np.zeros((n2, n2), bool)
    pool = s[~ex]
    for i in range(n2):
        vals = s[i][~ex[i]] if per_row else pool
        hi = np.percentile(vals, 100 * (1 - pos_high))
        lo = np.percentile(vals, 100 * (1 - pos_low))
        for k in range(n2):
            out[i, k] = (not ex[i, k]) and lo <= s[i, k] < hi
    return out


def _batch(n2=12, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n2, d, generator=g, dtype=torch.float64)
    pairs = torch.rand(n2, n2, generator=g) < 0.4
    labels = torch.randint(0, 3, (n2 // 2,), generator=g).repeat(2)
    return z, pairs, labels


# ----------------------------------------------------------------------------- loss values
def test_mode_lists():
    assert LOSS_MODES[:5] == PAPER_MODES == ("baseline", "removal", "margin", "temperature", "combined")
    assert set(LOSS_MODES) == set(PAPER_MODES) | {"hard_ucl", "hard_ucl_thr"} | set(LABEL_MODES)
    assert len(LOSS_MODES) == 10 and THRESHOLD_MODES == ("hard_scl_thr", "hard_ucl_thr")


@pytest.mark.parametrize("mode", PAPER_MODES)
@pytest.mark.parametrize("tau,sigma,rho", [(0.5, 0.03, 0.6), (0.1, 0.1, 0.7), (0.2, -0.2, 2.0)])
def test_paper_modes_match_loop_reference(mode, tau, sigma, rho):
    for seed, n2 in ((0, 8), (1, 12)):
        z, pairs, _ = _batch(n2, seed=seed)
        got = contrastive_loss(z, tau, pairs, mode=mode, sigma=sigma, rho=rho)
        assert float(got) == pytest.approx(ref_paper(z, tau, pairs, mode, sigma, rho), rel=1e-10)


@pytest.mark.parametrize("removal", ["zero", "mask"])
def test_removal_variants_match_reference(removal):
    z, pairs, _ = _batch(12, seed=3)
    got = float(contrastive_loss(z, 0.3, pairs, mode="removal", removal=removal))
    assert got == pytest.approx(ref_paper(z, 0.3, pairs, "removal", removal=removal), rel=1e-10)
    other = "mask" if removal == "zero" else "zero"
    assert got != pytest.approx(ref_paper(z, 0.3, pairs, "removal", removal=other), rel=1e-6)


@pytest.mark.parametrize(
    "beta,tau,tau_plus", [(0.0, 0.5, 0.0), (1.0, 0.5, 0.0), (5.0, 0.2, 0.0), (1.0, 0.5, 0.1), (2.0, 0.5, 0.5)]
)
def test_hard_ucl_matches_reference(beta, tau, tau_plus):
    z, _, _ = _batch(12, seed=4)
    got = float(contrastive_loss(z, tau, mode="hard_ucl", beta=beta, tau_plus=tau_plus))
    assert got == pytest.approx(ref_hard_ucl(z, tau, beta, tau_plus), rel=1e-10)


def test_hard_ucl_debias_clamp_is_active():
    z, _, _ = _batch(8, seed=5)
    z[4:] = z[:4]  # identical twins: pos = e^{1/tau} dominates, debiased term goes negative
    tau, tp = 0.5, 0.5
    s = _sim(z)
    r0 = sum(math.exp(s[0, k] / tau) for k in (1, 2, 3, 5, 6, 7))
    assert r0 - tp * 6 * math.exp(1 / tau) < 0  # the clamp decides anchor 0
    got = float(contrastive_loss(z, tau, mode="hard_ucl", beta=0.0, tau_plus=tp))
    assert got == pytest.approx(ref_hard_ucl(z, tau, 0.0, tp), rel=1e-10)
    assert got == pytest.approx(-math.log(math.e**2 / (math.e**2 + 6 * math.e**-2)), rel=1e-10)
    # a prior where anchor 0's debiased term is positive but below the floor 6 e^{-2}: still clamped
    a, f = 6 * math.exp(1 / tau), 6 * math.exp(-1 / tau)
    tp = (r0 - f / 2) / (a - f / 2)
    got = float(contrastive_loss(z, tau, mode="hard_ucl", beta=0.0, tau_plus=tp))
    assert got == pytest.approx(ref_hard_ucl(z, tau, 0.0, tp), rel=1e-10)


@pytest.mark.parametrize("mode,beta", [("scl", 1.0), ("hard_scl", 0.5), ("hard_scl", 1.0), ("hard_scl", 5.0)])
@pytest.mark.parametrize("tau", [0.5, 0.2])
def test_scl_modes_match_reference(mode, beta, tau):
    z, _, labels = _batch(12, seed=6)
    got = float(contrastive_loss(z, tau, mode=mode, labels=labels, beta=beta))
    want = ref_scl(z, tau, labels, beta if mode == "hard_scl" else 0.0)
    assert got == pytest.approx(want, rel=1e-10)


def test_beta_zero_reductions():
    z, _, labels = _batch(12, seed=7)
    base = float(contrastive_loss(z, 0.5))
    assert float(contrastive_loss(z, 0.5, mode="hard_ucl", beta=0.0)) == pytest.approx(base, rel=1e-12)
    scl = float(contrastive_loss(z, 0.5, mode="scl", labels=labels))
    assert float(contrastive_loss(z, 0.5, mode="hard_scl", labels=labels, beta=0.0)) == pytest.approx(scl, rel=1e-12)
    # with a distinct label per image the twin is the only positive and SCL is NT-Xent
    unique = torch.arange(6).repeat(2)
    assert float(contrastive_loss(z, 0.5, mode="scl", labels=unique)) == pytest.approx(base, rel=1e-12)


@pytest.mark.parametrize("mode", PAPER_MODES)
def test_no_flags_equals_baseline(mode):
    z, _, _ = _batch(12, seed=8)
    base = contrastive_loss(z, 0.2)
    none_flagged = torch.zeros(12, 12, dtype=torch.bool)
    only_self_pos = torch.eye(12, dtype=torch.bool) | torch.eye(12, dtype=torch.bool).roll(6, dims=1)
    for pairs in (None, none_flagged, only_self_pos):
        for removal in ("zero", "mask"):
            got = contrastive_loss(z, 0.2, pairs, mode=mode, sigma=0.1, rho=0.7, removal=removal)
            assert torch.equal(got, base)


def test_removal_equals_huge_temperature_table9():
    z, pairs, _ = _batch(12, seed=9)
    removal = float(contrastive_loss(z, 0.1, pairs, mode="removal"))
    huge = float(contrastive_loss(z, 0.1, pairs, mode="temperature", rho=1e9))
    assert huge == pytest.approx(removal, abs=1e-7)
    assert float(contrastive_loss(z, 0.1, pairs)) != pytest.approx(removal, abs=1e-3)


def test_identical_vectors_known_values():
    z = torch.ones(8, 5)
    for mode in ("baseline", "hard_ucl"):
        assert float(contrastive_loss(z, 0.5, mode=mode, beta=3.0)) == pytest.approx(math.log(7), rel=1e-6)
    labels = torch.tensor([0, 0, 1, 1] * 2)
    assert float(contrastive_loss(z, 0.5, mode="scl", labels=labels)) == pytest.approx(math.log(7), rel=1e-6)


def test_removal_cuts_gradient_of_flagged_logits():
    """Rotate views 2 and 5 (a positive pair) together: only their flagged logits change."""
    z, _, _ = _batch(6, seed=10)
    flags = torch.zeros(6, 6, dtype=torch.bool)
    for a in (2, 5):
        for k in (0, 1, 3, 4):
            flags[a, k] = flags[k, a] = True
    grads = {}
    for mode, removal in (("removal", "zero"), ("removal", "mask"), ("baseline", "zero")):
        theta = torch.zeros((), dtype=torch.float64, requires_grad=True)
        c, s = torch.cos(theta), torch.sin(theta)
        rot = torch.stack([torch.stack([c, -s]), torch.stack([s, c])])
        rows = [torch.cat([rot @ z[i, :2], z[i, 2:]]) if i in (2, 5) else z[i] for i in range(6)]
        loss = contrastive_loss(torch.stack(rows), 0.5, flags, mode=mode, removal=removal)
        (grads[(mode, removal)],) = torch.autograd.grad(loss, theta)
    assert abs(float(grads[("removal", "zero")])) < 1e-12
    assert abs(float(grads[("removal", "mask")])) < 1e-12
    assert abs(float(grads[("baseline", "zero")])) > 1e-3


def test_bf16_input_is_computed_in_float32():
    z, pairs, _ = _batch(12, seed=11)
    zb = z.to(torch.bfloat16)
    got = contrastive_loss(zb, 0.2, pairs, mode="combined", sigma=0.1, rho=0.7)
    assert got.dtype == torch.float32
    assert float(got) == pytest.approx(ref_paper(zb.double(), 0.2, pairs, "combined", 0.1, 0.7), rel=1e-5)


def test_hard_modes_stable_for_extreme_beta_over_tau():
    z, _, labels = _batch(12, seed=12)
    z = z.float()
    for mode in ("hard_ucl", "hard_scl"):
        loss = contrastive_loss(z, 0.05, mode=mode, labels=labels, beta=20.0)
        assert torch.isfinite(loss)


def test_combined_loss_decreases_under_optimisation():
    z, _, _ = _batch(16, d=8, seed=13)
    z = z.float().requires_grad_(True)
    opt = torch.optim.SGD([z], lr=0.5)
    losses = []
    for _ in range(15):
        pairs = select_difficult_pairs(z.detach(), 0.15, 0.5)
        loss = contrastive_loss(z, 0.5, pairs, mode="combined", sigma=0.1, rho=0.7)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.05


# ----------------------------------------------------------------------------- errors
def test_errors_name_problem_and_fix():
    z, pairs, _ = _batch(8)
    with pytest.raises(HardpairsError, match="needs labelled data.*baseline"):
        contrastive_loss(z, 0.5, mode="scl")
    with pytest.raises(HardpairsError, match="hard_scl needs labelled data"):
        contrastive_loss(z, 0.5, mode="hard_scl")
    with pytest.raises(HardpairsError, match="unknown loss mode 'simclr'.*baseline, removal.*hard_scl"):
        contrastive_loss(z, 0.5, mode="simclr")
    with pytest.raises(HardpairsError, match="removal variant"):
        contrastive_loss(z, 0.5, pairs, mode="removal", removal="drop")
    with pytest.raises(HardpairsError, match=r"labels must have shape \(8,\)"):
        contrastive_loss(z, 0.5, mode="scl", labels=torch.arange(4))
    with pytest.raises(HardpairsError, match="pairs must have shape"):
        contrastive_loss(z, 0.5, pairs[:4, :4], mode="margin")
    with pytest.raises(HardpairsError, match="even 2N >= 4"):
        contrastive_loss(z[:7], 0.5)
    for ph, pl in ((0.3, 0.2), (0.2, 0.2), (-0.1, 0.5), (0.1, 1.5)):
        with pytest.raises(HardpairsError, match="0 <= pos_high < pos_low <= 1"):
            select_difficult_pairs(z, ph, pl)


# ----------------------------------------------------------------------------- selection
@pytest.mark.parametrize("per_row", [True, False])
@pytest.mark.parametrize("n2,ph,pl", [(8, 0.15, 0.22), (12, 0.2, 0.7), (12, 0.0, 1.0), (24, 0.013, 0.5)])
def test_select_matches_numpy_percentile(per_row, n2, ph, pl):
    h = _batch(n2, d=5, seed=n2)[0]
    got = select_difficult_pairs(h, ph, pl, per_row=per_row)
    assert got.dtype == torch.bool and got.shape == (n2, n2)
    assert np.array_equal(got.numpy(), ref_select(h, ph, pl, per_row))
    if not per_row:
        assert torch.equal(got, got.T)


def test_select_share_per_row_and_self_positive_never_flagged():
    n2, ph, pl = 64, 0.15, 0.5
    h = _batch(n2, d=16, seed=14)[0].float()
    got = select_difficult_pairs(h, ph, pl)
    idx = torch.arange(n2)
    assert not got[idx, idx].any() and not got[idx, (idx + n2 // 2) % n2].any()
    counts = got.sum(1).double()
    assert torch.all((counts - (pl - ph) * (n2 - 2)).abs() <= 1.0)
    h12 = _batch(12, seed=15)[0]
    assert torch.all(select_difficult_pairs(h12, 0.2, 0.7).sum(1) == 5)  # 0.5 * 10 candidates
    big = torch.randn(1024, 32, generator=torch.Generator().manual_seed(17))
    share = pair_stats(select_difficult_pairs(big, 0.15, 0.22), None)["flagged_share"]
    assert share == pytest.approx(0.07, abs=0.002)


def test_select_has_no_gradient_and_identical_features_flag_nothing():
    h = torch.randn(8, 4, generator=torch.Generator().manual_seed(18)).requires_grad_(True)
    assert not select_difficult_pairs(h, 0.1, 0.9).requires_grad
    assert not select_difficult_pairs(torch.ones(8, 4), 0.1, 0.9).any()


# ----------------------------------------------------------------------------- monitors
def test_monitor_losses_values():
    z, _, labels = _batch(12, seed=16)
    got = monitor_losses(z, labels, 0.5, beta=2.0)
    assert set(got) == {"ucl", "hard_ucl", "scl", "hard_scl"}
    assert got["ucl"] == pytest.approx(ref_paper(z, 0.5, None, "baseline"), rel=1e-10)
    assert got["hard_ucl"] == pytest.approx(ref_hard_ucl(z, 0.5, 2.0), rel=1e-10)
    assert got["scl"] == pytest.approx(ref_scl(z, 0.5, labels, 0.0, twin_only=True), rel=1e-10)
    assert got["hard_scl"] == pytest.approx(ref_scl(z, 0.5, labels, 2.0, twin_only=True), rel=1e-10)
    unique = monitor_losses(z, torch.arange(6).repeat(2), 0.5, beta=2.0)
    assert unique["scl"] == pytest.approx(unique["ucl"], rel=1e-12)
    assert unique["hard_scl"] == pytest.approx(unique["hard_ucl"], rel=1e-12)


def test_pair_stats():
    flags = torch.zeros(8, 8, dtype=torch.bool)
    flags[0, 1] = flags[0, 2] = flags[3, 6] = True
    flags[0, 0] = flags[1, 5] = True  # self / positive: never counted
    labels = torch.tensor([0, 0, 1, 1] * 2)
    got = pair_stats(flags, labels)
    assert got["flagged_share"] == pytest.approx(3 / 48)
    assert got["flagged_cross_class"] == pytest.approx(1 / 3)  # only (0, 2) crosses classes
    assert math.isnan(pair_stats(flags, None)["flagged_cross_class"])
    assert math.isnan(pair_stats(torch.zeros(8, 8, dtype=torch.bool), labels)["flagged_cross_class"])


# ----------------------------------------------------------------------------- threshold modes (Jiang et al.)
def ref_threshold(z, tau, log_t, labels=None) -> float:
    """H(x, f, t) = {x- : e^(s/tau) >= t}, each hard negative weighted 1; empty H gives 0 (per positive pair)."""
    s, n2 = _sim(z), z.shape[0]
    terms = []
    for i in range(n2):
        j = (i + n2 // 2) % n2
        if labels is None:
            cands, poss = [k for k in range(n2) if k not in (i, j)], [j]
        else:
            y = [int(v) for v in labels]
            cands = [k for k in range(n2) if y[k] != y[i]]
            poss = [k for k in range(n2) if k != i and y[k] == y[i]]
        hard = [k for k in cands if math.exp(s[i, k] / tau) >= math.exp(log_t)]
        for p in poss:
            if not hard:
                terms.append(0.0)
                continue
            e = math.exp(s[i, p] / tau)
            mean = sum(math.exp(s[i, k] / tau) for k in hard) / len(hard)
            terms.append(-math.log(e / (e + (n2 - 2) * mean)))
    return sum(terms) / len(terms)


@pytest.mark.parametrize("mode", THRESHOLD_MODES)
@pytest.mark.parametrize("tau,log_t", [(0.5, -0.5), (0.5, -0.1), (0.2, 0.0), (0.5, 0.8)])
def test_threshold_modes_match_loop_reference(mode, tau, log_t):
    z, _, labels = _batch(16, d=5, seed=21)
    lab = labels if mode == "hard_scl_thr" else None
    got = float(contrastive_loss(z, tau, mode=mode, labels=lab, hard_threshold=log_t))
    assert got == pytest.approx(ref_threshold(z, tau, log_t, lab), rel=1e-10, abs=1e-12)


def test_threshold_below_every_logit_is_scl_and_ucl():
    z, _, labels = _batch(12, seed=22)
    low = -1 / 0.5  # s/tau >= -1/tau always: every candidate is in H
    scl = float(contrastive_loss(z, 0.5, mode="hard_scl_thr", labels=labels, hard_threshold=low))
    assert scl == pytest.approx(ref_scl(z, 0.5, labels, 0.0), rel=1e-10)
    ucl = float(contrastive_loss(z, 0.5, mode="hard_ucl_thr", hard_threshold=low))
    assert ucl == pytest.approx(ref_paper(z, 0.5, None, "baseline"), rel=1e-10)
    high = float(contrastive_loss(z, 0.5, mode="hard_ucl_thr", hard_threshold=2.0))  # H empty for every anchor
    assert high == 0.0


def test_threshold_config_is_log_t():
    from core.training.config import make_config

    cfg = make_config("digits", loss_mode="hard_ucl_thr", hard_threshold=-0.5, temperature=0.5)
    assert cfg.hard_threshold == -0.5 and cfg.loss_mode in THRESHOLD_MODES
    with pytest.raises(HardpairsError, match=r"--hard-threshold is log t .*\[-2, 2\]"):
        make_config("digits", loss_mode="hard_scl_thr", hard_threshold=2.5, temperature=0.5)


def ref_assumption1(z, labels, tau, log_t) -> float:
    s, n2 = _sim(z), z.shape[0]
    y = [int(v) for v in labels]
    ok = 0
    for i in range(n2):
        j = (i + n2 // 2) % n2
        hard = [k for k in range(n2) if k not in (i, j) and s[i, k] / tau >= log_t]
        same = [math.exp(s[i, k] / tau) for k in hard if y[k] == y[i]]
        other = [math.exp(s[i, k] / tau) for k in hard if y[k] != y[i]]
        ok += not same or not other or sum(same) / len(same) >= sum(other) / len(other)
    return ok / n2


@pytest.mark.parametrize("log_t", [-2.0, -0.5, 0.3])
def test_assumption1_share_matches_loop_reference(log_t):
    for seed in (23, 24):
        z, _, labels = _batch(16, d=3, seed=seed)
        assert assumption1_share(z, labels, 0.5, log_t) == pytest.approx(ref_assumption1(z, labels, 0.5, log_t))
    z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [-1.0, 0.0], [0.0, 1.0]]).repeat(2, 1)
    labels = torch.tensor([0, 0, 1, 1]).repeat(2)
    # anchor 0: same-label 1 and 5 (cos ~0.99) beat other-label 3, 7 (cos 0) and 2, 6 (cos -1): satisfied
    assert assumption1_share(z, labels, 0.5, -2.0) == pytest.approx(ref_assumption1(z, labels, 0.5, -2.0))
    assert 0.0 < assumption1_share(z, labels, 0.5, -2.0) <= 1.0


def test_pair_stats_flagged_similarity():
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    flags = torch.zeros(4, 4, dtype=torch.bool)
    flags[0, 1] = flags[0, 3] = True  # (0, 2) would be the positive: never counted; (0, 3) is a negative
    flags[0, 2] = True
    got = pair_stats(flags, None, z)
    assert got["flagged_similarity"] == pytest.approx((0.0 + 1.0) / 2)
    assert math.isnan(pair_stats(flags, None)["flagged_similarity"])


@pytest.mark.parametrize("mode", THRESHOLD_MODES)
def test_threshold_gradients_stay_finite_when_some_or_all_sets_are_empty(mode):
    z, _, labels = _batch(16, d=5, seed=25)
    for log_t in (2.0, 0.8, -0.5):  # 2.0: every H empty (loss 0); 0.8: some empty
        zz = z.clone().requires_grad_(True)
        loss = contrastive_loss(
            zz, 0.5, mode=mode, labels=labels if mode == "hard_scl_thr" else None, hard_threshold=log_t
        )
        loss.backward()
        assert zz.grad is not None and torch.isfinite(zz.grad).all(), log_t
