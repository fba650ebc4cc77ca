"""Multi-process training (DDP, gloo on the CPU) equals one process on the same global batch.

Also: the view ordering of the gather, the global-batch check, GlobalBatchNorm outside a process
group, the torchrun environment parsing, and the torch.compile fallback of the trainer.
"""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from core.errors import HardpairsError
from core.io import read_jsonl
from core.models.checkpoints import load_checkpoint_file
from core.training.distributed import (
    DistEnv,
    GlobalBatchNorm,
    convert_batchnorm,
    env_from_environ,
    interleave_views,
    local_batch,
    rank_rows,
)

# 128 digits, global batch 64 (32 per rank), 2 epochs = 4 SGD steps, baseline mode. The whole-trainer
# comparison runs the model in float64 (``_float64_trainer``). In float32 the two runs differ by
# 3e-4 to 7e-3 after 4 steps although the distributed path is exact: float32 training is this
# sensitive here (a one-process run whose initial weights are perturbed by 1e-7 relative moves
# 3e-3 too; presumably ReLUs of near-zero activations switch), so the 1e-7 rounding differences
# of the reordered sums (global BatchNorm statistics, gathered loss, DDP averaging) grow as far.
# In float64 the same reorderings leave <= 5e-15 (measured), see ``_TOL``. The paper modes'
# selection over the gathered batch is checked exactly, in float32, in ``_check_step``.
_SETTINGS = dict(
    epochs=2,
    batch_size=64,
    optimizer="sgd",
    lr=0.05,
    loss_mode="baseline",
    log_every=1,
    checkpoint_every=1,
    monitor=True,
)
_KEEP = np.arange(128)
_B, _D, _P = 16, 12, 6  # _check_step: global batch, feature dim, projection dim

# Tolerance of the float64 whole-trainer comparison, per tensor: |got - want| <= _TOL * max(1, max|want|).
# One process and two sum the same numbers in a different order. A sum of n float64 terms is off
# by at most n * eps64 relative (Higham's bound); the longest reduction of a step is a BatchNorm
# statistic or a conv weight gradient over 2B * S * S = 128 * 16 * 16 = 32768 terms (first layer,
# 16 px views), and the 4 steps add their errors: 4 * 32768 * 2.2e-16 = 2.9e-11. The bound is
# worst-case (typical rounding is ~sqrt(n) * eps), which leaves room for the mild amplification
# over 4 steps: measured differences are <= 5e-15. A broken distributed path moves weights by
# >= 1e-2 (checked by hand: no all_reduce in the gather's backward 0.059, per-rank BatchNorm 0.035).
_STEPS = 4
_TOL = _STEPS * (2 * 64 * 16 * 16) * torch.finfo(torch.float64).eps


def _cfg(**over):
    from core.training.config import make_config

    return make_config("digits", **{**_SETTINGS, **over})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _IdentityBackbone(nn.Module):
    """``h`` = the flattened input (bit-exact on every rank), ``z`` = a linear projection of it."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.lin = nn.Linear(_D, _P)

    def forward(self, x):
        h = x.flatten(1)
        return h, self.lin(h)


def _check_step(env: DistEnv) -> dict:
    """Two ``optimise_step`` calls (combined loss, pair selection) on fixed views; under torchrun
    the model is DDP-wrapped and each rank feeds its rows of the same global views."""
    from torch.nn.parallel import DistributedDataParallel

    from core.data.augment import AugmentConfig
    from core.training.step import StepContext, make_views, optimise_step

    model = _IdentityBackbone()
    net = DistributedDataParallel(model) if env.enabled else model
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    cfg = _cfg(loss_mode="combined", pos_high=0.1, pos_low=0.4, sigma=0.1, rho=0.7)
    mean, std = torch.zeros(1), torch.ones(1)
    ctx = StepContext(
        cfg, net, opt, AugmentConfig(out_size=4, crop_scale=(0.5, 1.0)), mean, std, torch.device("cpu"), env
    )
    g = torch.Generator().manual_seed(5)
    xb = torch.randint(0, 256, (_B, 1, 6, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    views = make_views(ctx, xb, g)  # (2m, 1, 4, 4): this rank's rows of both views
    out = {"views": views}
    losses, pairs_all = [], []
    gen = torch.Generator().manual_seed(7)
    for _ in range(2):
        glob = torch.randn(2 * _B, 1, 3, 4, generator=gen)  # fixed global features, [v; v'] order
        m, r = _B // env.world_size, env.rank
        local = torch.cat([glob[r * m : (r + 1) * m], glob[_B + r * m : _B + (r + 1) * m]])
        loss, pairs, z = optimise_step(ctx, local, torch.zeros(2 * _B, dtype=torch.long), 0.5, log_step=True)
        losses.append(loss)
        pairs_all.append(pairs)
    out.update(
        losses=torch.stack(losses),
        pairs=torch.stack(pairs_all),
        z=z,
        weight=model.lin.weight.detach().clone(),
        bias=model.lin.bias.detach().clone(),
    )
    return out


def _rank_worker(rank: int, world: int, port: int, root: str) -> None:
    """One torchrun-like rank: env variables as torchrun sets them, then the real trainer."""
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    torch.set_num_threads(1)
    from core.data.sources import load_dataset
    from core.training.distributed import cleanup_distributed, setup_distributed
    from core.training.loop import train

    try:
        env, _ = setup_distributed("cpu")
        torch.save(_check_step(env), os.path.join(root, f"step{rank}.pt"))
        _float64_trainer(setattr)
        train(_cfg(), load_dataset("digits"), os.path.join(root, f"rank{rank}"), keep=_KEEP)
    finally:
        cleanup_distributed()


def _float64_trainer(set_attr) -> None:
    """Make the trainer build float64 models and views (``set_attr``: ``setattr`` or ``monkeypatch.setattr``).

    The augmentation still runs in float32 (same random stream, same pixels on every rank); the
    loss still casts ``z`` to float32 (``optimise_step``), which both runs do on equal inputs.
    """
    import core.training.step as step

    build, augment = step.build_model, step.augment_batch
    set_attr(step, "build_model", lambda *a, **k: build(*a, **k).double())
    set_attr(step, "augment_batch", lambda *a, **k: augment(*a, **k).double())


def _assert_state_close(got: dict, want: dict) -> None:
    """Every float tensor within ``_TOL`` relative to its scale, others equal; the message names the
    key, the max difference and the tolerance."""
    for key, w in want.items():
        g = got[key]
        if not w.is_floating_point():
            assert torch.equal(g, w), key
            continue
        assert g.dtype == w.dtype == torch.float64, (key, g.dtype, w.dtype)
        diff = (g - w).abs().max().item()
        tol = _TOL * max(1.0, w.abs().max().item())
        assert diff <= tol, f"{key}: max |ddp - one process| = {diff:.3g} > tolerance {tol:.3g}"


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path, monkeypatch):
    from core.data.sources import load_dataset
    from core.training.loop import train

    mp.spawn(_rank_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    torch.set_num_threads(1)

    # one step, exactly: rank views are the rows of the one-process views; the selection over the
    # gathered batch, the loss and the DDP-averaged gradient equal the one-process ones
    one = _check_step(DistEnv())
    r0, r1 = torch.load(tmp_path / "step0.pt"), torch.load(tmp_path / "step1.pt")
    m = _B // 2
    for r, got in enumerate((r0, r1)):
        want = torch.cat([one["views"][r * m : (r + 1) * m], one["views"][_B + r * m : _B + (r + 1) * m]])
        assert torch.equal(got["views"], want)
        assert torch.equal(got["pairs"], one["pairs"])
        torch.testing.assert_close(got["losses"], one["losses"], rtol=1e-6, atol=0)
        torch.testing.assert_close(got["z"], one["z"], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(got["weight"], one["weight"], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(got["bias"], one["bias"], rtol=1e-5, atol=1e-6)
    assert one["pairs"].any() and (one["weight"] - _IdentityBackbone().lin.weight).abs().max() > 1e-2

    # the whole trainer: permutation shards, global-batch BatchNorm, gathered negatives
    _float64_trainer(monkeypatch.setattr)
    train(_cfg(), load_dataset("digits"), tmp_path / "single", keep=_KEEP)
    assert not (tmp_path / "rank1").exists()  # only rank 0 writes run files
    ddp = load_checkpoint_file(tmp_path / "rank0" / "checkpoints" / "last.pt")
    ref = load_checkpoint_file(tmp_path / "single" / "checkpoints" / "last.pt")
    assert ddp["epoch"] == ref["epoch"] == 2
    assert set(ddp["model"]) == set(ref["model"])  # plain BatchNorm keys, no DDP "module." prefix
    init = _init_state()
    _assert_state_close(ddp["model"], ref["model"])
    assert max((ref["model"][k] - init[k]).abs().max().item() for k in init if "weight" in k) > 5e-2
    p_ddp, p_one = read_jsonl(tmp_path / "rank0" / "progress.jsonl"), read_jsonl(tmp_path / "single" / "progress.jsonl")
    assert [r["epoch"] for r in p_ddp] == [1, 2]
    np.testing.assert_allclose([r["loss"] for r in p_ddp], [r["loss"] for r in p_one], rtol=1e-6)
    # flagged share on the gathered batch: equal up to a near-tie at a band edge (one pair = 1/16128)
    np.testing.assert_allclose([r["flagged_share"] for r in p_ddp], [r["flagged_share"] for r in p_one], atol=1e-4)
    for a, b in zip(p_ddp, p_one, strict=True):
        np.testing.assert_allclose(
            [a["monitor"][k] for k in sorted(b["monitor"])], [b["monitor"][k] for k in sorted(b["monitor"])], rtol=1e-5
        )


def _init_state() -> dict:
    from core.training.step import build_model

    torch.manual_seed(_cfg().seed)
    return build_model(_cfg(), 1).state_dict()


def test_interleave_views_restores_the_single_process_order():
    # global batch of 6 images, 3 ranks: rank r holds views [v_r; v'_r] of images 2r, 2r+1
    b, world = 6, 3
    v, vp = torch.arange(b) * 10, torch.arange(b) * 10 + 1  # view i of image k: 10k, 10k+1
    parts = []
    for r in range(world):
        rows = rank_rows(b, DistEnv(r, world, r))
        parts.append(torch.cat([v[rows], vp[rows]]).unsqueeze(1))
    out = interleave_views(parts).squeeze(1)
    assert out.tolist() == [0, 10, 20, 30, 40, 50, 1, 11, 21, 31, 41, 51]
    assert all(out[i] + 1 == out[(i + b) % (2 * b)] for i in range(b))  # positive of i is (i + N) mod 2N


def test_global_batch_must_divide_among_processes():
    assert local_batch(512, 4) == 128
    assert rank_rows(512, DistEnv(3, 4, 3)) == slice(384, 512)
    with pytest.raises(HardpairsError, match=r"--batch-size 510 .* not divisible by the 4 processes.*508 or 512"):
        local_batch(510, 4)


def test_env_from_torchrun_variables():
    assert env_from_environ({}) == DistEnv(0, 1, 0) and not DistEnv().enabled
    env = env_from_environ({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert env == DistEnv(3, 4, 1) and env.enabled and not env.is_main
    with pytest.raises(HardpairsError, match="RANK=4 is not in"):
        env_from_environ({"RANK": "4", "WORLD_SIZE": "4"})


def test_global_batchnorm_is_batchnorm_without_a_process_group():
    torch.manual_seed(0)
    ref = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 36, 5), nn.BatchNorm1d(5))
    with torch.no_grad():
        ref[1].weight.uniform_(0.5, 1.5)
    conv = convert_batchnorm(ref, torch.device("cpu"))
    assert isinstance(conv[1], GlobalBatchNorm) and isinstance(conv[4], GlobalBatchNorm)
    assert conv[1].weight is ref[1].weight  # parameters are shared, not copied
    plain = nn.BatchNorm2d(4)
    plain.load_state_dict(conv[1].state_dict())
    x = torch.randn(8, 4, 6, 6)
    torch.testing.assert_close(conv[1](x), plain(x), rtol=0, atol=0)
    torch.testing.assert_close(conv[1].running_var, plain.running_var, rtol=0, atol=0)


@pytest.mark.slow
def test_compile_failure_falls_back_to_eager_with_identical_training(tmp_path, monkeypatch):
    from core.data.sources import load_dataset
    from core.training.config import make_config
    from core.training.loop import train

    def broken_compile(module, *args, **kwargs):
        def call(*a, **k):
            raise RuntimeError("inductor: no C++ compiler found\nmore details")

        return call

    data = load_dataset("digits")
    keep = np.arange(256)
    settings = dict(epochs=1, batch_size=64, checkpoint_every=1, monitor=False)
    eager = train(make_config("digits", **settings), data, tmp_path / "eager", keep=keep)
    monkeypatch.setattr(torch, "compile", broken_compile)
    fallback = train(make_config("digits", compile=True, **settings), data, tmp_path / "compiled", keep=keep)
    a, b = eager.model.state_dict(), fallback.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert fallback.final_loss == eager.final_loss
    log = (tmp_path / "compiled" / "log.txt").read_text()
    assert "torch.compile failed (RuntimeError: inductor: no C++ compiler found); continuing without compilation" in log
