"""MoCo v2 as published: its defaults, the queue length, shuffled BatchNorm, the checkpointed state (exact resume)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import HardpairsError
from core.models.checkpoints import load_checkpoint_file, save_checkpoint
from core.models.models import SimCLRModel
from core.training.config import make_config
from core.training.moco import MoCoState, bn_groups, queue_length
from core.training.presets import moco_note


def test_moco_v2_defaults_apply_when_no_flag_and_explicit_flags_win():
    cfg = make_config("digits", method="moco")
    got = (cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.warmup_epochs)
    assert got == ("sgd", 0.03, 0.9, 1e-4, 0)
    assert (cfg.temperature, cfg.queue_size, cfg.moco_momentum) == (0.2, 65536, 0.999)
    assert make_config("cifar10", method="moco").lr == pytest.approx(0.06)  # 0.03 x 512/256 (paper preset batch)
    assert make_config("digits", method="moco", batch_size=128).lr == pytest.approx(0.015)
    own = make_config("cifar10", method="moco", lr=0.1, temperature=0.5, queue_size=4096, moco_momentum=0.99)
    assert (own.lr, own.temperature, own.queue_size, own.moco_momentum) == (0.1, 0.5, 4096, 0.99)
    assert own.optimizer == "sgd" and own.warmup_epochs == 0  # the others still MoCo v2's
    simclr = make_config("cifar10")  # other methods keep their preset
    assert (simclr.lr, simclr.temperature, simclr.warmup_epochs) == (0.25, 0.5, 10)


def test_moco_note_names_defaults_and_explicit_values():
    note = moco_note(make_config("digits", method="moco").to_dict(), queue=1024, groups=8)
    assert note is not None and note.startswith(
        "MoCo v2 defaults: lr 0.03 (0.03 x 256/256), tau 0.2, queue 65536 -> 1024 (at most one epoch's other batches)"
        ", m 0.999, "
    )
    assert note.endswith("; shuffled BatchNorm: keys in 8 groups") and "set explicitly" not in note
    note = moco_note(make_config("digits", method="moco", lr=0.1, temperature=0.5).to_dict())
    assert note is not None and "; set explicitly: lr 0.1, tau 0.5" in note
    assert moco_note(make_config("digits").to_dict()) is None


@pytest.mark.parametrize(
    ("size", "batch", "n", "expected"),
    [
        (65536, 256, 1438, 1024),  # digits: 5 batches an epoch, the 4 others
        (65536, 512, 50000, 49152),  # CIFAR-10: 96 of 97 batches
        (65536, 256, 1_281_167, 65536),  # ImageNet: MoCo v2's own
        (1000, 256, 50000, 768),  # a multiple of the batch (MoCo's K % batch == 0)
        (600, 256, 300, 256),  # at least one batch
        (12, 16, 100, 12),  # shorter than a batch: kept (a ring buffer)
    ],
)
def test_queue_length(size, batch, n, expected):
    assert queue_length(size, batch, n) == expected


def test_bn_groups():
    assert [bn_groups(n) for n in (256, 512, 16, 31, 32)] == [8, 16, 1, 1, 1]
    assert bn_groups(16, 4) == 4 and bn_groups(3, 8) == 3 and bn_groups(5, 0) == 1


def _model() -> SimCLRModel:
    torch.manual_seed(0)
    return SimCLRModel("small_cnn", 1, 32, 16)


def _first_bn_means(model: torch.nn.Module, run) -> list[torch.Tensor]:
    """Per-channel means of the batches the first BatchNorm layer of ``model`` normalises during ``run()``."""
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    seen: list[torch.Tensor] = []
    handle = bn.register_forward_hook(lambda _m, inp, _out: seen.append(inp[0].mean(dim=(0, 2, 3)).detach()))
    try:
        run()
    finally:
        handle.remove()
    return seen


def test_shuffled_bn_keys_do_not_share_the_query_batch_statistics():
    model = _model()
    views = torch.randn(32, 1, 16, 16)
    (query_mean,) = _first_bn_means(model, lambda: model(views))
    # one group: the keys of the same views are normalised with the query batch's statistics (the cheating channel)
    one = MoCoState(model, 64, 0.999, seed=0, groups=1)
    (key_mean,) = _first_bn_means(one.key_model, lambda: one.keys(views))
    assert torch.allclose(key_mean, query_mean, atol=1e-6)
    # four shuffled groups: four other statistics, none the query batch's; together they cover every image once
    four = MoCoState(model, 64, 0.999, seed=0, groups=4)
    means = _first_bn_means(four.key_model, lambda: four.keys(views))
    assert len(means) == 4 and all((m - query_mean).abs().max() > 1e-3 for m in means)
    assert torch.allclose(torch.stack(means).mean(dim=0), query_mean, atol=1e-5)


def test_one_group_is_the_plain_forward_and_groups_keep_the_key_order():
    model = _model()
    views = torch.randn(32, 1, 16, 16)
    kh, kz = MoCoState(model, 64, 0.999, seed=0, groups=1).keys(views)
    ref_h, ref_z = model(views)
    assert torch.equal(kh, torch.nn.functional.normalize(ref_h, dim=1))
    assert torch.equal(kz, torch.nn.functional.normalize(ref_z, dim=1))
    # with BN in eval mode the grouping changes nothing: the un-shuffle puts key i back at row i
    model.eval()
    grouped = MoCoState(model, 64, 0.999, seed=0, groups=4)
    gh, gz = grouped.keys(views)
    eh, ez = MoCoState(model, 64, 0.999, seed=0, groups=1).keys(views)
    assert torch.allclose(gh, eh, atol=1e-5) and torch.allclose(gz, ez, atol=1e-5)


def test_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    model = _model()
    state = MoCoState(model, 48, 0.9, seed=3, groups=2)
    for _ in range(3):
        kh, kz = state.keys(torch.randn(32, 1, 16, 16))
        state.enqueue(kh, kz)
    save_checkpoint(tmp_path / "m.pt", {"moco": state.state_dict()})
    saved = load_checkpoint_file(tmp_path / "m.pt")["moco"]  # torch.load(weights_only=True)
    other = MoCoState(_model(), 48, 0.9, seed=99, groups=2)
    other.load_state_dict(saved)
    assert other.ptr == state.ptr == 96 % 48
    assert other.queue_z is not None and state.queue_z is not None and torch.equal(other.queue_z, state.queue_z)
    views = torch.randn(32, 1, 16, 16)
    assert all(torch.equal(a, b) for a, b in zip(other.keys(views), state.keys(views), strict=True))  # same shuffle
    with pytest.raises(HardpairsError, match="MoCo queue holds 48 keys, this run 96"):
        MoCoState(_model(), 96, 0.9, seed=3).load_state_dict(saved)


def _moco_ckpt(run_dir) -> dict:
    return load_checkpoint_file(run_dir / "checkpoints" / "last.pt")


@pytest.mark.slow
def test_resume_restores_key_encoder_and_queue_exactly(tmp_path):
    from core.data.sources import load_dataset
    from core.io import read_jsonl
    from core.training.loop import TrainingStopped, train

    data, keep = load_dataset("digits"), np.arange(256)
    cfg = make_config("digits", method="moco", epochs=2, batch_size=64, checkpoint_every=1, monitor=False)
    train(cfg, data, tmp_path / "whole", keep=keep)
    cut_dir = tmp_path / "cut"
    with pytest.raises(TrainingStopped):  # stopped in epoch 2, as SIGTERM would: last.pt holds epoch 1
        train(cfg, data, cut_dir, keep=keep, should_stop=lambda: len(read_jsonl(cut_dir / "progress.jsonl")) >= 1)
    assert _moco_ckpt(cut_dir)["epoch"] == 1 and _moco_ckpt(cut_dir)["moco"]["ptr"] == 64  # 256 keys, 192 slots
    train(cfg, data, tmp_path / "cut", keep=keep, resume=True)
    whole, cut = _moco_ckpt(tmp_path / "whole"), _moco_ckpt(tmp_path / "cut")
    assert cut["epoch"] == 2 and whole["moco"]["queue_size"] == 192
    assert all(torch.equal(whole["model"][k], cut["model"][k]) for k in whole["model"])
    w, c = whole["moco"], cut["moco"]
    assert all(torch.equal(w["key_model"][k], c["key_model"][k]) for k in w["key_model"])
    assert torch.equal(w["queue_z"], c["queue_z"]) and torch.equal(w["queue_h"], c["queue_h"])
    assert w["ptr"] == c["ptr"] and torch.equal(w["generator"], c["generator"])


def test_manifest_records_which_values_are_moco_v2s():
    from core.data.sources import load_dataset
    from core.runs.manifest import make_manifest

    data = load_dataset("digits")
    cfg = make_config("digits", method="moco", temperature=0.5)
    note = make_manifest("r", cfg.to_dict(), data, None, "cpu")["moco_note"]
    assert note.startswith("MoCo v2 defaults: lr 0.03 (0.03 x 256/256), queue 65536 -> 1024")
    assert "set explicitly: tau 0.5" in note and note.endswith("keys in 8 groups")
    assert make_manifest("r", make_config("digits").to_dict(), data, None, "cpu")["moco_note"] is None
