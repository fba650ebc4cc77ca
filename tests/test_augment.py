"""Batched SimCLR augmentations: shapes, seeding, and exact reference cases."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from core.data.augment import AugmentConfig, augment_batch, prepare_eval, shift_hue
from core.errors import HardpairsError

MEAN3, STD3 = torch.tensor([0.5, 0.4, 0.3]), torch.tensor([0.2, 0.25, 0.3])
PLAIN = AugmentConfig(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip=False, jitter_p=0.0, gray_p=0.0)


def _images(b=8, c=3, h=32, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, c, h, w), generator=g, dtype=torch.uint8)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_shape_dtype_and_finite():
    out = augment_batch(_images(), AugmentConfig(out_size=16), MEAN3, STD3, _gen())
    assert out.shape == (8, 3, 16, 16) and out.dtype == torch.float32 and torch.isfinite(out).all()
    half = augment_batch(_images(), AugmentConfig(), MEAN3.double(), STD3.double(), _gen())
    assert half.dtype == torch.float64


def test_same_seed_same_views_other_seed_different():
    x = _images()
    a = augment_batch(x, AugmentConfig(), MEAN3, STD3, _gen(5))
    b = augment_batch(x, AugmentConfig(), MEAN3, STD3, _gen(5))
    c = augment_batch(x, AugmentConfig(), MEAN3, STD3, _gen(6))
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_full_crop_without_jitter_is_prepare_eval_and_identity():
    x = _images()
    out = augment_batch(x, PLAIN, MEAN3, STD3, _gen())
    ref = prepare_eval(x, 32, MEAN3, STD3)
    by_hand = (x.float() / 255 - MEAN3.view(1, 3, 1, 1)) / STD3.view(1, 3, 1, 1)
    torch.testing.assert_close(ref, by_hand)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


def test_flip_with_probability_one_is_torch_flip():
    x = _images()
    cfg = AugmentConfig(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=1.0, jitter_p=0.0, gray_p=0.0)
    out = augment_batch(x, cfg, MEAN3, STD3, _gen())
    torch.testing.assert_close(out, torch.flip(prepare_eval(x, 32, MEAN3, STD3), dims=[3]), atol=1e-5, rtol=0)


def test_default_flip_happens_for_some_samples_only():
    x = _images(b=64)
    cfg = AugmentConfig(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), jitter_p=0.0, gray_p=0.0)
    out, plain = augment_batch(x, cfg, MEAN3, STD3, _gen()), prepare_eval(x, 32, MEAN3, STD3)
    flipped = (out - torch.flip(plain, dims=[3])).abs().amax(dim=(1, 2, 3)) < 1e-5
    kept = (out - plain).abs().amax(dim=(1, 2, 3)) < 1e-5
    assert (flipped ^ kept).all() and 10 < int(flipped.sum()) < 54


def test_grayscale_p1_gives_equal_channels_equal_to_luma():
    x = _images()
    cfg = AugmentConfig(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip=False, jitter_p=0.0, gray_p=1.0)
    out = augment_batch(x, cfg, torch.zeros(3), torch.ones(3), _gen())
    xf = x.float() / 255
    luma = 0.299 * xf[:, 0] + 0.587 * xf[:, 1] + 0.114 * xf[:, 2]
    for ch in range(3):
        torch.testing.assert_close(out[:, ch], luma, atol=1e-5, rtol=0)


def test_crop_of_a_ramp_is_a_unit_step_ramp():
    # Column value = column index: a 16x16 crop sampled to 16x16 is again a ramp with step 1,
    # starting at the crop's (sub-pixel) offset, which differs across samples.
    ramp = torch.arange(32, dtype=torch.uint8).view(1, 1, 1, 32).expand(16, 1, 32, 32).contiguous()
    cfg = AugmentConfig(out_size=16, crop_scale=(0.25, 0.25), crop_ratio=(1.0, 1.0), flip=False, jitter_p=0.0)
    out = augment_batch(ramp, cfg, torch.zeros(1), torch.ones(1) / 255, _gen())
    steps = out[:, 0, :, 1:] - out[:, 0, :, :-1]
    torch.testing.assert_close(steps, torch.ones_like(steps), atol=1e-3, rtol=0)
    start = out[:, 0, 0, 0]
    assert (start >= 0).all() and (start <= 16).all() and start.unique().numel() == 16
    torch.testing.assert_close(out[:, 0], out[:, 0, :1].expand(-1, 16, -1), atol=1e-4, rtol=0)  # rows alike


def test_brightness_only_scales_each_sample_by_one_factor():
    x = _images(b=16)
    x = (x // 2 + 40).to(torch.uint8)  # 40..167: no clamping for factors in [0.6, 1.4]
    cfg = AugmentConfig(
        crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip=False, jitter=(0.4, 0, 0, 0), jitter_p=1.0, gray_p=0.0
    )
    out = augment_batch(x, cfg, torch.zeros(3), torch.ones(3), _gen())
    ratio = out / (x.float() / 255)
    per_sample = ratio.flatten(1)
    torch.testing.assert_close(per_sample, per_sample[:, :1].expand_as(per_sample), atol=1e-4, rtol=0)
    assert (per_sample[:, 0] >= 0.6 - 1e-5).all() and (per_sample[:, 0] <= 1.4 + 1e-5).all()
    assert per_sample[:, 0].unique().numel() == 16


def test_shift_hue_matches_torchvision_per_sample():
    x = _images(b=4, h=8, w=8).float() / 255
    shifts = torch.tensor([-0.1, 0.03, 0.25, 0.5])
    out = shift_hue(x, shifts)
    for i, s in enumerate(shifts.tolist()):
        torch.testing.assert_close(out[i], TF.adjust_hue(x[i], s), atol=1e-5, rtol=0)


def test_one_channel_input_with_default_config():
    x = _images(b=6, c=1, h=8, w=8)
    out = augment_batch(x, AugmentConfig(out_size=16), torch.tensor([0.3]), torch.tensor([0.4]), _gen())
    assert out.shape == (6, 1, 16, 16) and torch.isfinite(out).all()
    ev = prepare_eval(x, 16, torch.tensor([0.3]), torch.tensor([0.4]))
    assert ev.shape == (6, 1, 16, 16)


def test_views_differ_across_samples_of_one_image():
    x = _images(b=1).expand(8, -1, -1, -1).contiguous()
    out = augment_batch(x, AugmentConfig(), MEAN3, STD3, _gen())
    flat = out.flatten(1)
    dist = torch.cdist(flat, flat)
    assert (dist + torch.eye(8) * 1e9).min() > 1e-3


def test_empty_batch_and_bad_input():
    out = augment_batch(_images(b=0), AugmentConfig(out_size=16), MEAN3, STD3, _gen())
    assert out.shape == (0, 3, 16, 16)
    assert prepare_eval(_images(b=0), 16, MEAN3, STD3).shape == (0, 3, 16, 16)
    with pytest.raises(HardpairsError, match="uint8"):
        augment_batch(_images().float(), AugmentConfig(), MEAN3, STD3)
    with pytest.raises(HardpairsError, match="mean/std have 1/1 entries but images have 3 channels"):
        prepare_eval(_images(), 32, torch.zeros(1), torch.ones(1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_generator_on_another_device_is_refused_and_cuda_matches_shapes():
    x = _images().cuda()
    with pytest.raises(HardpairsError, match="torch.Generator\\(device=images.device\\)"):
        augment_batch(x, AugmentConfig(), MEAN3, STD3, _gen())
    g1, g2 = (torch.Generator(device="cuda").manual_seed(1) for _ in range(2))
    a, b = augment_batch(x, AugmentConfig(), MEAN3, STD3, g1), augment_batch(x, AugmentConfig(), MEAN3, STD3, g2)
    assert a.device.type == "cuda" and a.shape == (8, 3, 32, 32) and torch.equal(a, b)
