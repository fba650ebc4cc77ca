"""Decoding image files and resizing image arrays: THE pixel rules of every image source.

* :func:`decode_one` -- one file -> (C, h, w) uint8 (PIL: JPEG draft shrink, convert, bilinear resize);
* :func:`read_headers` -- size and mode of every file from its header only;
* :func:`decode_files` -- a list of files decoded in memory (threads): the reference the image store
  (``core.data.imagestore``, which uses the same header pass, size/mode rule and :func:`decode_one`) is
  tested against, bit for bit;
* :func:`resize_images` -- (N, C, H, W) uint8 arrays resized (torch, bilinear, antialiased), chunk by chunk.
"""

from __future__ import annotations

import os

import numpy as np

from core.data.memory import check_memory

GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_CHUNK = 256  # files per thread-pool task
#: Bytes of images decoded at the same time (a 6000x6000 RGB PNG alone takes ~430 MB in flight).
DECODE_BUDGET = 512 * 2**20


def read_headers(paths: list[str], workers: int) -> list[tuple[tuple[int, int], str] | None]:
    """((width, height), PIL mode) of every file from its header only (no pixels decoded); None = unreadable."""
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    def headers(lo: int) -> list[tuple[tuple[int, int], str] | None]:
        out: list[tuple[tuple[int, int], str] | None] = []
        for p in paths[lo : lo + _CHUNK]:
            try:
                with Image.open(p) as im:
                    out.append((im.size, im.mode))
            except Exception:
                out.append(None)
        return out

    with ThreadPoolExecutor(workers) as pool:
        return [h for part in pool.map(headers, range(0, len(paths), _CHUNK)) for h in part]


def decode_one(path: str, mode: str, w: int, h: int) -> np.ndarray:
    """One image file -> (C, h, w) uint8, shrunk while decoding where the format allows (JPEG draft)."""
    from PIL import Image

    with Image.open(path) as src:
        if src.size != (w, h):
            src.draft(mode, (w, h))  # JPEG: decode at a reduced scale when shrinking
        im = src.convert(mode)
    if im.size != (w, h):
        im = im.resize((w, h), Image.Resampling.BILINEAR)
    return np.asarray(im).reshape(h, w, -1).transpose(2, 0, 1)


def decode_files(paths: list[str], image_size: int | None, where: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Decode images in memory, each resized as it is decoded: (n, C, H, W) uint8 and (n,) bool ok (False = skipped).

    The in-memory reference of the image store (tests compare the store with it, bit for bit; the
    store's build uses the same header pass, size/mode rule and :func:`decode_one`).

    C is 3 if any readable file is colour, else 1; (H, W) is (image_size, image_size) or the
    most common size; other sizes are resized bilinearly by PIL. Peak memory is the output array
    plus the images in flight: big images (see :data:`DECODE_BUDGET`) are decoded one at a time.
    The output size is checked against the memory limit (``core.data.memory``) before allocation.
    """
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    workers = max(1, min(8, os.cpu_count() or 1))
    heads = read_headers(paths, workers)
    good = [hd for hd in heads if hd is not None]
    if not good:
        return np.zeros((len(paths), 1, 1, 1), np.uint8), np.zeros(len(paths), bool)
    w, h = (image_size, image_size) if image_size else Counter(s for s, _ in good).most_common(1)[0][0]
    mode = "RGB" if any(m not in GRAY_MODES for _, m in good) else "L"
    channels = 3 if mode == "RGB" else 1
    check_memory(
        f"decoding {where or 'the image folder'} ({len(paths)} images at {w}x{h}x{channels})",
        len(paths) * channels * w * h,  # the decoded array (train and test are views of it)
        "pass a smaller --image-size",
    )
    biggest = max(sw * sh for (sw, sh), _ in good) * 4 * 3  # decoded source + converted copy (RGBA worst case)
    workers = max(1, min(workers, DECODE_BUDGET // max(biggest, 1)))
    out = np.zeros((len(paths), channels, h, w), np.uint8)
    ok = np.array([hd is not None for hd in heads])

    def decode(lo: int) -> None:
        for i in range(lo, min(lo + _CHUNK, len(paths))):
            if ok[i]:
                try:
                    out[i] = decode_one(paths[i], mode, w, h)
                except Exception:
                    ok[i] = False

    # Tiny images are GIL-bound (threads barely help); large ones decode in parallel, huge ones one by one.
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(decode, range(0, len(paths), _CHUNK)))
    return out, ok


def resize_images(x: np.ndarray, size: int, chunk: int = 4096) -> np.ndarray:
    """Bilinear (antialiased) resize of (N, C, H, W) uint8 to (N, C, size, size) uint8."""
    import torch
    import torch.nn.functional as F

    if x.shape[2] == size and x.shape[3] == size:
        return x
    out = np.empty((x.shape[0], x.shape[1], size, size), np.uint8)
    for start in range(0, len(x), chunk):
        part = torch.from_numpy(np.ascontiguousarray(x[start : start + chunk])).float()
        part = F.interpolate(part, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        out[start : start + chunk] = part.round_().clamp_(0, 255).to(torch.uint8).numpy()
    return out
