"""The paper's variants as flags, each against a hand-written reference (math.exp/log loops, numpy percentiles).

Inclusive "All samples" selection (Tables 2-3), selection on projector outputs (Table 7), MoCo v2
with the paper modes on queue negatives (Table 5), threshold-hardened H-SCL, oracle pruning by the
ground-truth ``mixed`` flag (Figs. 2 and 6).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from core.errors import HardpairsError
from core.training.config import make_config
from core.training.loss import contrastive_loss, select_difficult_pairs
from core.training.lossmodes import PAPER_MODES
from core.training.moco import MoCoState, moco_loss, select_queue_pairs
from tests.test_loss import _batch, _sim, ref_paper, ref_select


# ----------------------------------------------------------------------------- inclusive selection
def ref_select_inclusive(h, pos_high, pos_low) -> np.ndarray:
    s, n2 = _sim(h), h.shape[0]
    out = np.zeros((n2, n2), bool)
    for i in range(n2):
        cand = [k for k in range(n2) if k not in (i, (i + n2 // 2) % n2)]
        vals = s[i, cand]
        hi, lo = np.percentile(vals, 100 * (1 - pos_high)), np.percentile(vals, 100 * (1 - pos_low))
        for k in cand:
            out[i, k] = lo <= s[i, k] <= hi
    return out


@pytest.mark.parametrize("n2,ph,pl", [(8, 0.15, 0.22), (12, 0.2, 0.7), (24, 0.013, 0.5)])
def test_inclusive_selection_matches_reference(n2, ph, pl):
    h = _batch(n2, d=5, seed=n2 + 1)[0]
    got = select_difficult_pairs(h, ph, pl, inclusive=True)
    assert np.array_equal(got.numpy(), ref_select_inclusive(h, ph, pl))
    strict = select_difficult_pairs(h, ph, pl)
    assert np.array_equal(strict.numpy(), ref_select(h, ph, pl))
    assert bool((got | ~strict).all())  # inclusive flags a superset


def test_all_samples_flags_every_negative_only_when_inclusive():
    n2 = 16
    h = _batch(n2, d=6, seed=3)[0]
    allp = select_difficult_pairs(h, 0.0, 1.0, inclusive=True)
    assert int(allp.sum()) == n2 * (n2 - 2)  # every candidate of every row
    strict = select_difficult_pairs(h, 0.0, 1.0)
    assert int(strict.sum()) == n2 * (n2 - 3)  # the strict "<" leaves out each row's most similar pair
    z = _batch(n2, d=6, seed=4)[0]
    for mode, sigma, rho in (("margin", 0.1, 1.0), ("temperature", 0.0, 0.7)):
        got = float(contrastive_loss(z, 0.5, allp, mode, sigma=sigma, rho=rho))
        assert got == pytest.approx(ref_paper(z, 0.5, allp, mode, sigma, rho), abs=1e-10)
    # temperature on all pairs = the baseline at temperature rho * tau except the positive's logit
    s = _sim(z)
    ref = 0.0
    for i in range(n2):
        j = (i + n2 // 2) % n2
        logit = [s[i, k] / (0.35 if k != j else 0.5) for k in range(n2) if k != i]
        ref += -(s[i, j] / 0.5 - math.log(sum(math.exp(v) for v in logit)))
    assert float(contrastive_loss(z, 0.5, allp, "temperature", rho=0.7)) == pytest.approx(ref / n2, abs=1e-10)


# ----------------------------------------------------------------------------- projector selection
def test_select_on_projector_uses_z_in_the_training_step():
    from core.training.step import StepContext, augment_config, optimise_step, prepare_model

    torch.manual_seed(0)
    seen = {}
    import core.training.step as step_mod

    real = step_mod.select_difficult_pairs

    def spy(x, *a, **k):
        seen["dim"] = x.shape[1]
        return real(x, *a, **k)

    for where, dim in (("projector", 16), ("backbone", None)):
        cfg = make_config("digits", select_on=where, loss_mode="combined", proj_dim=16, out_size=8, batch_size=8)
        model, fwd, opt = prepare_model(cfg, 1, torch.device("cpu"))
        ctx = StepContext(cfg, fwd, opt, augment_config(cfg), torch.zeros(1), torch.ones(1), torch.device("cpu"))
        step_mod.select_difficult_pairs = spy
        try:
            optimise_step(ctx, torch.randn(16, 1, 8, 8), torch.zeros(16, dtype=torch.long), 0.01, False)
        finally:
            step_mod.select_difficult_pairs = real
        h_dim = model(torch.randn(2, 1, 8, 8))[0].shape[1]
        assert seen["dim"] == (dim or h_dim) and h_dim != 16


# ----------------------------------------------------------------------------- MoCo
def ref_moco(q, k, queue, tau, flags, mode, sigma=0.0, rho=1.0, removal="zero") -> float:
    qn = q.detach().double().numpy()
    qn = qn / np.linalg.norm(qn, axis=1, keepdims=True)
    kn = k.detach().double().numpy()
    kn = kn / np.linalg.norm(kn, axis=1, keepdims=True)
    qu = queue.double().numpy()
    total = 0.0
    for i in range(len(qn)):
        pos = float(qn[i] @ kn[i]) / tau
        terms = [pos]
        for j in range(len(qu)):
            s = float(qn[i] @ qu[j])
            p = 1.0 if (flags is not None and mode != "baseline" and flags[i, j]) else 0.0
            if mode == "removal":
                if p and removal == "mask":
                    continue
                terms.append(s * (1 - p) / tau)
                continue
            sg = sigma if mode in ("margin", "combined") else 0.0
            rh = rho if mode in ("temperature", "combined") else 1.0
            terms.append((s + sg * p) / ((rh * p + 1 - p) * tau))
        total += -(pos - math.log(sum(math.exp(t) for t in terms)))
    return total / len(qn)


def ref_queue_select(hq, qh, ph, pl) -> np.ndarray:
    a = hq.double().numpy()
    b = qh.double().numpy()
    s = (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T
    out = np.zeros(s.shape, bool)
    for i in range(len(s)):
        hi, lo = np.percentile(s[i], 100 * (1 - ph)), np.percentile(s[i], 100 * (1 - pl))
        out[i] = (s[i] >= lo) & (s[i] < hi)
    return out


@pytest.mark.parametrize("mode", PAPER_MODES)
@pytest.mark.parametrize("removal", ["zero", "mask"])
def test_moco_loss_over_queue_negatives_matches_reference(mode, removal):
    g = torch.Generator().manual_seed(11)
    q, k = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    queue = torch.nn.functional.normalize(torch.randn(9, 4, generator=g), dim=1)
    hq, qh = torch.randn(5, 6, generator=g), torch.randn(9, 6, generator=g)
    flags = select_queue_pairs(hq, qh, 0.2, 0.7)
    assert np.array_equal(flags.numpy(), ref_queue_select(hq, qh, 0.2, 0.7))
    assert int(flags.sum(1).max()) > 0
    got = float(moco_loss(q, k, queue, 0.2, flags, mode, sigma=0.1, rho=0.6, removal=removal))
    assert got == pytest.approx(ref_moco(q, k, queue, 0.2, flags.numpy(), mode, 0.1, 0.6, removal), rel=1e-5)
    if mode != "baseline":  # the flags change the value
        base = float(moco_loss(q, k, queue, 0.2, None, "baseline"))
        assert abs(got - base) > 1e-4


def test_moco_queue_momentum_and_a_real_training_step():
    from core.training.step import StepContext, augment_config, optimise_step, prepare_model

    torch.manual_seed(0)
    cfg = make_config("digits", method="moco", loss_mode="combined", queue_size=12, moco_momentum=0.5, out_size=8)
    model, fwd, opt = prepare_model(cfg, 1, torch.device("cpu"))
    state = MoCoState(model, cfg.queue_size, cfg.moco_momentum, seed=0)
    ctx = StepContext(
        cfg, fwd, opt, augment_config(cfg), torch.zeros(1), torch.ones(1), torch.device("cpu"), moco=state, model=model
    )
    before_key = [p.clone() for p in state.key_model.parameters()]
    views = torch.randn(16, 1, 8, 8)
    loss, pairs, z = optimise_step(ctx, views, torch.zeros(16, dtype=torch.long), 0.05, True)
    assert math.isfinite(float(loss)) and pairs is not None and pairs.shape == (16, 16) and z.shape[0] == 16
    # key = 0.5 * old key + 0.5 * updated query
    for pk, old, pq in zip(state.key_model.parameters(), before_key, model.parameters(), strict=True):
        assert torch.allclose(pk, 0.5 * old + 0.5 * pq.detach(), atol=1e-6)
    assert state.ptr == 8 and state.queue_z is not None
    kh, kz = state.keys(views[8:])  # the batch's keys (before this step's momentum update they differ)
    assert torch.allclose(state.queue_z.norm(dim=1), torch.ones(12), atol=1e-5)
    optimise_step(ctx, views, torch.zeros(16, dtype=torch.long), 0.05, False)
    assert state.ptr == 4  # a ring buffer of 12


def test_moco_refuses_label_modes():
    with pytest.raises(HardpairsError, match="--method moco supports the paper modes"):
        make_config("digits", method="moco", loss_mode="scl")


# ----------------------------------------------------------------------------- oracle removal
def test_oracle_prune_score_removes_exactly_the_mixed_samples():
    from core.analysis.prune import oracle_score, select_keep
    from core.analysis.scoretable import ORACLE_SCORES, score_label

    assert "mixed" in ORACLE_SCORES and "oracle" in score_label("mixed") and "oracle" not in score_label("band")
    mixed = np.zeros(50, bool)
    mixed[[3, 7, 11, 40, 41]] = True
    df = pd.DataFrame({"index": np.arange(50), "label": np.zeros(50, int), "mixed": mixed})
    kept, pruned = select_keep(oracle_score(df, "mixed"), 0.1)
    assert pruned.tolist() == [3, 7, 11, 40, 41]
    with pytest.raises(HardpairsError, match="oracle.*Mixed"):
        oracle_score(df.drop(columns="mixed"), "mixed")
