"""Thumbnails: crisp, cheap PNGs of dataset images for the app's grids and pair tables.

Dataset images are small (8x8 digits, 32x32 CIFAR), so they are upscaled with
nearest-neighbour (pixel replication) by an integer factor: every source pixel becomes an
exact ``s x s`` block, nothing is blurred. PNG bytes are cached per image index in a
:class:`ThumbnailCache` so a grid that is redrawn on every rerun encodes each image once.
"""

from __future__ import annotations

import base64
import io
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.errors import HardpairsError


def upscale_factor(height: int, width: int, size: int) -> int:
    """Largest integer factor ``s >= 1`` with ``max(height, width) * s <= size`` (1 if already big)."""
    side = max(int(height), int(width), 1)
    return max(1, int(size) // side)


def upscale_nearest(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscale of one channels-first image.

    Args:
        image: (C, H, W) uint8 with C in {1, 3}, or (H, W) uint8.
        factor: integer >= 1; each pixel becomes a ``factor x factor`` block.

    Returns:
        (H*factor, W*factor) uint8 for one channel, else (H*factor, W*factor, 3) uint8 (HWC).
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise HardpairsError(
            f"thumbnail images must be uint8, got {arr.dtype}; load images with core.data.sources.load_dataset"
        )
    if arr.ndim == 3:
        if arr.shape[0] not in (1, 3):
            raise HardpairsError(f"thumbnail images must be (C,H,W) with C in (1,3), got shape {arr.shape}")
        arr = arr[0] if arr.shape[0] == 1 else np.transpose(arr, (1, 2, 0))
    elif arr.ndim != 2:
        raise HardpairsError(f"thumbnail image must be (C,H,W) or (H,W), got shape {arr.shape}")
    factor = max(1, int(factor))
    if factor > 1:
        arr = np.repeat(np.repeat(arr, factor, axis=0), factor, axis=1)
    return np.ascontiguousarray(arr)


def png_bytes(image: np.ndarray, size: int = 96, border: int = 0, border_value: int = 255) -> bytes:
    """PNG of ``image`` ((C,H,W) or (H,W) uint8) upscaled by :func:`upscale_factor` towards ``size`` px.

    ``border`` > 0 frames the upscaled pixels with that many pixels of ``border_value`` on every
    side (so dark images placed next to each other in a grid stay apart).
    """
    h, w = np.asarray(image).shape[-2:]
    pixels = upscale_nearest(image, upscale_factor(h, w, size))
    if border > 0:
        pad = ((border, border), (border, border)) + (((0, 0),) if pixels.ndim == 3 else ())
        pixels = np.pad(pixels, pad, constant_values=np.uint8(border_value))
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", optimize=False, compress_level=1)
    return buf.getvalue()


def data_url(png: bytes) -> str:
    """``data:image/png;base64,...`` URL of PNG bytes (for st.column_config.ImageColumn)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def page_bounds(n_items: int, page: int, page_size: int) -> tuple[int, int, int]:
    """Slice of one page of a paginated grid.

    Args:
        n_items: total number of items (>= 0).
        page: 1-based page number; clamped into ``[1, n_pages]``.
        page_size: items per page (>= 1).

    Returns:
        (start, stop, n_pages) with ``items[start:stop]`` the page; ``n_pages >= 1``.
    """
    page_size = max(1, int(page_size))
    n_pages = max(1, math.ceil(max(0, int(n_items)) / page_size))
    page = min(max(1, int(page)), n_pages)
    start = (page - 1) * page_size
    return start, min(start + page_size, max(0, int(n_items))), n_pages


def caption(index: int, label: str, score: float | None = None, score_name: str = "") -> str:
    """Short grid caption, e.g. ``"#12 · cat · band 0.731"``."""
    text = f"#{int(index)} · {label}"
    if score is not None and np.isfinite(score):
        text += f" · {score_name + ' ' if score_name else ''}{float(score):.3f}"
    return text


@dataclass(eq=False)
class ThumbnailCache:
    """PNG thumbnails of one image array, encoded lazily and kept by index (LRU bounded).

    Attributes:
        images: (N, C, H, W) uint8 training images (not copied, never mutated): an array, or the image
            store's memmap / lazy Mixed-omega view (``core.data.residency``), read one row per thumbnail.
        size: target side length in pixels (integer nearest-neighbour factor).
        max_items: most PNGs kept; the least recently used are dropped first.
        border: frame width in px around each thumbnail (see :func:`png_bytes`).
    """

    images: np.ndarray
    size: int = 96
    max_items: int = 20_000
    border: int = 0

    def __post_init__(self) -> None:
        self._png: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def png(self, index: int) -> bytes:
        """PNG bytes of image ``index``; raises HardpairsError for an index out of range."""
        i = int(index)
        if not 0 <= i < len(self):
            raise HardpairsError(
                f"image index {i} is outside the dataset (N={len(self)}); the run's artefacts "
                "do not match its dataset -- recompute them with `python -m core score/pairs/umap`"
            )
        with self._lock:
            hit = self._png.get(i)
            if hit is not None:
                self._png.move_to_end(i)
                return hit
        out = png_bytes(self.images[i], self.size, self.border)
        with self._lock:
            self._png[i] = out
            while len(self._png) > self.max_items:
                self._png.popitem(last=False)
        return out

    def pngs(self, indices: Iterable[int]) -> list[bytes]:
        """PNG bytes for each index, in order."""
        return [self.png(i) for i in indices]

    def data_urls(self, indices: Sequence[int]) -> list[str]:
        """Base64 data URLs for each index, in order."""
        return [data_url(self.png(i)) for i in indices]
