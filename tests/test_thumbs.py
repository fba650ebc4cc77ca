"""core/data/thumbs.py: PNGs decode back to exactly the nearest-neighbour upscaled pixels."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from core.data.thumbs import ThumbnailCache, caption, data_url, page_bounds, png_bytes, upscale_factor, upscale_nearest
from core.errors import HardpairsError


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def _reference_upscale(img_hwc: np.ndarray, s: int) -> np.ndarray:
    """Brute force: out[y, x] = img[y // s, x // s]."""
    h, w = img_hwc.shape[:2]
    out = np.empty((h * s, w * s) + img_hwc.shape[2:], dtype=img_hwc.dtype)
    for y in range(h * s):
        for x in range(w * s):
            out[y, x] = img_hwc[y // s, x // s]
    return out


def test_rgb_png_roundtrip_equals_bruteforce_nearest_upscale():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(3, 5, 4), dtype=np.uint8)  # (C,H,W)
    png = png_bytes(img, size=16)  # factor 16 // 5 = 3
    got = _decode(png)
    assert got.shape == (15, 12, 3)
    np.testing.assert_array_equal(got, _reference_upscale(np.transpose(img, (1, 2, 0)), 3))


def test_gray_digits_sized_image_to_96px():
    img = np.arange(64, dtype=np.uint8).reshape(1, 8, 8) * 4
    got = _decode(png_bytes(img, size=96))
    assert got.shape == (96, 96)  # 8 * 12
    np.testing.assert_array_equal(got, _reference_upscale(img[0], 12))
    assert got[11, 11] == img[0, 0, 0] and got[12, 12] == img[0, 1, 1]


def test_border_frames_exact_pixels():
    img = np.arange(12, dtype=np.uint8).reshape(3, 2, 2) * 20
    got = _decode(png_bytes(img, size=4, border=3, border_value=200))
    assert got.shape == (10, 10, 3)
    np.testing.assert_array_equal(got[3:7, 3:7], _reference_upscale(np.transpose(img, (1, 2, 0)), 2))
    frame = np.ones((10, 10), bool)
    frame[3:7, 3:7] = False
    assert (got[frame] == 200).all()
    gray = _decode(png_bytes(img[:1], size=4, border=1))
    assert gray.shape == (6, 6) and gray[0, 0] == 255 and gray[1, 1] == img[0, 0, 0]


def test_upscale_factor_and_large_images_not_shrunk():
    assert upscale_factor(32, 32, 96) == 3
    assert upscale_factor(8, 8, 96) == 12
    assert upscale_factor(200, 100, 96) == 1
    big = np.zeros((3, 120, 100), np.uint8)
    assert _decode(png_bytes(big, 96)).shape == (120, 100, 3)


def test_upscale_rejects_wrong_dtype_and_shape():
    with pytest.raises(HardpairsError, match="uint8"):
        upscale_nearest(np.zeros((1, 4, 4), np.float32), 2)
    with pytest.raises(HardpairsError, match="C in"):
        upscale_nearest(np.zeros((2, 4, 4), np.uint8), 2)


def test_data_url_decodes_to_png():
    png = png_bytes(np.full((1, 2, 2), 7, np.uint8), 4)
    url = data_url(png)
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == png


def test_cache_returns_same_bytes_and_bounds_size():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(6, 3, 4, 4), dtype=np.uint8)
    cache = ThumbnailCache(images, size=8, max_items=3)
    first = cache.png(2)
    assert cache.png(2) is first  # cached object, not re-encoded
    np.testing.assert_array_equal(_decode(first), _reference_upscale(np.transpose(images[2], (1, 2, 0)), 2))
    assert [len(b) > 0 for b in cache.pngs([0, 1, 3, 4])] == [True] * 4
    assert len(cache._png) == 3 and 2 not in cache._png  # LRU dropped the oldest
    with pytest.raises(HardpairsError, match="outside the dataset"):
        cache.png(6)
    assert len(cache.data_urls([0, 5])) == 2


def test_page_bounds():
    assert page_bounds(0, 1, 20) == (0, 0, 1)
    assert page_bounds(45, 1, 20) == (0, 20, 3)
    assert page_bounds(45, 3, 20) == (40, 45, 3)
    assert page_bounds(45, 9, 20) == (40, 45, 3)  # clamped
    assert page_bounds(45, 0, 20) == (0, 20, 3)


def test_caption():
    assert caption(12, "cat", 0.73149, "band") == "#12 · cat · band 0.731"
    assert caption(3, "7") == "#3 · 7"
    assert caption(3, "7", float("nan"), "band") == "#3 · 7"
