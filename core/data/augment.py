"""SimCLR augmentations as batched tensor ops on the training device.

No per-image Python loop and no PIL: one ``affine_grid`` + ``grid_sample`` call does the
random resized crop and the horizontal flip for the whole batch, colour jitter and grayscale
are per-sample blends, and every random number comes from one ``torch.Generator``.

The ``generator`` must live on the same device as the images (``torch.Generator(device=x.device)``);
a mismatch raises :class:`HardpairsError`. ``None`` uses torch's default generator for that device.

Differences from torchvision's PIL/tensor transforms, all deliberate:
- Crop offsets and sizes are continuous (sub-pixel) and sampled bilinearly; when none of 10
  (scale, ratio) draws fits inside the image the whole image is used.
- Shrinking a large crop is plain bilinear sampling (no antialias filter).
- Jitter order is fixed: brightness, contrast, saturation, hue.
- Hue is the exact HSV shift of torchvision's ``adjust_hue`` (hue factor in turns), computed in
  closed form per pixel (:func:`shift_hue`) rather than by a YIQ rotation: a YIQ chroma rotation
  keeps luma instead of HSV value and differed from ``adjust_hue`` by more than the shift itself.
- For 1-channel images only brightness and contrast apply (no saturation, hue or grayscale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from core.errors import HardpairsError

_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class AugmentConfig:
    """SimCLR augmentation settings (CIFAR defaults).

    Attributes:
        out_size: side of the square output views, pixels.
        crop_scale: range of the crop's area as a fraction of the image area.
        crop_ratio: range of the crop's width/height ratio (sampled log-uniformly).
        flip: allow horizontal flips. flip_p: probability of a flip when ``flip`` is True.
        jitter: (brightness, contrast, saturation, hue) strengths; factors are drawn from
            [max(0, 1 - s), 1 + s] for the first three and [-hue, hue] turns for hue.
        jitter_p: probability that a sample gets colour jitter.
        gray_p: probability that a (3-channel) sample is turned grayscale.
    """

    out_size: int = 32
    crop_scale: tuple[float, float] = (0.2, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = True
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)
    jitter_p: float = 0.8
    gray_p: float = 0.2
    flip_p: float = 0.5


def _uniform(
    n: int, lo: float, hi: float, gen: torch.Generator | None, device: torch.device, shape: tuple[int, ...] = ()
) -> Tensor:
    return torch.rand((n, *shape), generator=gen, device=device) * (hi - lo) + lo


def _normalise(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    mean = torch.as_tensor(mean, device=x.device, dtype=x.dtype).reshape(1, -1, 1, 1)
    std = torch.as_tensor(std, device=x.device, dtype=x.dtype).reshape(1, -1, 1, 1)
    if mean.shape[1] != x.shape[1] or std.shape[1] != x.shape[1]:
        raise HardpairsError(
            f"mean/std have {mean.shape[1]}/{std.shape[1]} entries but images have {x.shape[1]} channels; "
            "pass the (C,) statistics of this dataset (ImageDataset.mean / .std)"
        )
    return (x - mean) / std


def _check(x: Tensor) -> None:
    if x.ndim != 4 or x.dtype != torch.uint8 or x.shape[1] not in (1, 3):
        raise HardpairsError(
            f"augment expects (B, C, H, W) uint8 images with C = 1 or 3, got {tuple(x.shape)} {x.dtype}"
        )


def _out_dtype(mean: Tensor) -> torch.dtype:
    return mean.dtype if isinstance(mean, Tensor) and mean.is_floating_point() else torch.float32


def _crop_theta(
    b: int, h: int, w: int, cfg: AugmentConfig, gen: torch.Generator | None, device: torch.device
) -> Tensor:
    """(B, 2, 3) affine maps from output to input coords for random resized crops + flips."""
    tries = 10
    area = _uniform(b, *cfg.crop_scale, gen, device, (tries,)) * (h * w)
    log_r = _uniform(b, math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1]), gen, device, (tries,))
    cw, ch = torch.sqrt(area * torch.exp(log_r)), torch.sqrt(area / torch.exp(log_r))
    fits = (cw <= w) & (ch <= h)
    first = fits.float().argmax(dim=1, keepdim=True)  # first fitting draw (0 when none fits)
    any_fit = fits.any(dim=1)
    cw = torch.where(any_fit, cw.gather(1, first)[:, 0], torch.full_like(any_fit, w, dtype=cw.dtype))
    ch = torch.where(any_fit, ch.gather(1, first)[:, 0], torch.full_like(any_fit, h, dtype=ch.dtype))
    x0 = torch.rand(b, generator=gen, device=device) * (w - cw)
    y0 = torch.rand(b, generator=gen, device=device) * (h - ch)
    flip_draw = torch.rand(b, generator=gen, device=device)
    sign = torch.where((flip_draw < cfg.flip_p) & cfg.flip, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3, device=device)
    theta[:, 0, 0] = sign * cw / w
    theta[:, 0, 2] = (2 * x0 + cw) / w - 1  # crop centre in [-1, 1] (align_corners=False)
    theta[:, 1, 1] = ch / h
    theta[:, 1, 2] = (2 * y0 + ch) / h - 1
    return theta


def _gray(x: Tensor) -> Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luma."""
    return x[:, 0:1] * _LUMA[0] + x[:, 1:2] * _LUMA[1] + x[:, 2:3] * _LUMA[2]


def shift_hue(x: Tensor, shift: Tensor) -> Tensor:
    """Exact HSV hue shift, per sample, without a full HSV round trip.

    Args:
        x: (B, 3, H, W) RGB floats in [0, 1]. shift: (B,) hue shifts in turns (0.1 = 36 degrees).

    Returns:
        (B, 3, H, W): value (max) and chroma (max - min) of every pixel kept, hue rotated, i.e.
        channel n of HSV->RGB is ``max - chroma * clamp(min(k, 4 - k), 0, 1)`` with
        ``k = (n + 6 * hue) mod 6`` and n = 5, 3, 1 for R, G, B.
    """
    r, g, b = x.unbind(1)
    maxc, minc = x.amax(1), x.amin(1)
    chroma = maxc - minc
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    hue6 = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue6 = torch.remainder(hue6 + 6.0 * shift.view(-1, 1, 1), 6.0)
    n = torch.arange(5, 0, -2, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    k = torch.remainder(n + hue6.unsqueeze(1), 6.0)
    return maxc.unsqueeze(1) - chroma.unsqueeze(1) * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)


def _colour_jitter(x: Tensor, cfg: AugmentConfig, gen: torch.Generator | None) -> Tensor:
    """Per-sample brightness, contrast, saturation, hue on (B, C, S, S) floats in [0, 1]."""
    b, c = x.shape[:2]
    device = x.device
    bright, contrast, sat, hue = cfg.jitter

    def factor(s: float) -> Tensor:
        return _uniform(b, max(0.0, 1 - s), 1 + s, gen, device).view(b, 1, 1, 1)

    apply = (torch.rand(b, generator=gen, device=device) < cfg.jitter_p).view(b, 1, 1, 1)
    fb, fc, fs = factor(bright), factor(contrast), factor(sat)
    shift = _uniform(b, -hue, hue, gen, device)
    y = (x * fb).clamp_(0, 1)
    lum = _gray(y) if c == 3 else y
    y = torch.lerp(lum.mean(dim=(1, 2, 3), keepdim=True), y, fc).clamp_(0, 1)
    if c == 3:
        y = torch.lerp(_gray(y), y, fs).clamp_(0, 1)
        if hue > 0:
            y = shift_hue(y, shift)
    return torch.where(apply, y, x)


def augment_batch(
    x: Tensor, cfg: AugmentConfig, mean: Tensor, std: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """One random SimCLR view of every image.

    Args:
        x: (B, C, H, W) uint8 images, C in {1, 3}, on any device.
        cfg: augmentation settings.
        mean, std: (C,) per-channel statistics of ``x / 255`` used to normalise the output.
        generator: a ``torch.Generator`` on ``x.device`` (or None for torch's default one).

    Returns:
        (B, C, cfg.out_size, cfg.out_size) normalised views, dtype of ``mean`` when it is a
        floating tensor, else float32. B = 0 gives an empty tensor of that shape.
    """
    _check(x)
    gdev = generator.device if generator is not None else x.device
    if gdev.type != x.device.type or (gdev.index or 0) != (x.device.index or 0):
        raise HardpairsError(
            f"the augmentation generator is on {gdev} but the images are on {x.device}; "
            "create it with torch.Generator(device=images.device)"
        )
    b, c, h, w = x.shape
    s = cfg.out_size
    dtype = _out_dtype(mean)
    if b == 0:
        return torch.empty(0, c, s, s, device=x.device, dtype=dtype)
    theta = _crop_theta(b, h, w, cfg, generator, x.device)
    grid = F.affine_grid(theta, [b, c, s, s], align_corners=False)
    v = F.grid_sample(x.float() / 255.0, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if cfg.jitter_p > 0 and any(cfg.jitter):
        v = _colour_jitter(v, cfg, generator)
    if c == 3 and cfg.gray_p > 0:
        to_gray = (torch.rand(b, generator=generator, device=x.device) < cfg.gray_p).view(b, 1, 1, 1)
        v = torch.where(to_gray, _gray(v).expand(-1, 3, -1, -1), v)
    return _normalise(v, mean, std).to(dtype)


def prepare_eval(x: Tensor, out_size: int, mean: Tensor, std: Tensor) -> Tensor:
    """No augmentation: resize to ``out_size`` and normalise.

    Args:
        x: (B, C, H, W) uint8 images. mean, std: (C,) statistics of ``x / 255``.

    Returns:
        (B, C, out_size, out_size) normalised views (dtype as :func:`augment_batch`); identity
        resize when H == W == out_size, else bilinear (antialiased when shrinking).
    """
    _check(x)
    v = x.float() / 255.0
    if v.shape[0] and (x.shape[2] != out_size or x.shape[3] != out_size):
        v = F.interpolate(v, size=(out_size, out_size), mode="bilinear", align_corners=False, antialias=True)
    elif not v.shape[0]:
        v = v.new_empty(0, x.shape[1], out_size, out_size)
    return _normalise(v, mean, std).to(_out_dtype(mean))
