"""ui.thumbs.grid_html: one inlined PNG per caption, captions escaped, sizes from the PNG or the caller."""

from __future__ import annotations

import base64
import re

import numpy as np

from core.data.thumbs import ThumbnailCache
from ui.thumbs import GRID_CLASS, grid_html


def test_grid_html_inlines_each_png_above_its_escaped_caption():
    images = np.random.default_rng(0).integers(0, 255, (3, 3, 8, 8), dtype=np.uint8)
    pngs = ThumbnailCache(images, size=24, border=0).pngs([0, 1, 2])
    body = grid_html(pngs, ["#0 · cat", "#1 · <b>dog</b>", "#2 · a&b"])
    assert GRID_CLASS in body and "<b>dog</b>" not in body
    srcs = re.findall(r'src="data:image/png;base64,([^"]+)"', body)
    assert [base64.b64decode(s) for s in srcs] == pngs  # the very bytes, in order
    assert re.findall(r"<figcaption[^>]*>(.*?)</figcaption>", body) == [
        "#0 · cat",
        "#1 · &lt;b&gt;dog&lt;/b&gt;",
        "#2 · a&amp;b",
    ]
    assert body.count('width="24"') == 3  # the PNG's own width (IHDR)
    assert grid_html(pngs[:1], ["x"], width=50).count('width="50"') == 1
    assert grid_html([], []) == f'<div class="{GRID_CLASS}" style="display:flex;flex-wrap:wrap;gap:0.75rem"></div>'


def test_npz_thumbnails_are_the_datasets_own_images_memory_mapped(tmp_path):
    """An (N, C, H, W) uint8 npz is memory-mapped for thumbnails and equals load_dataset's x_train; other
    layouts, a Mixed-omega blend or a resize fall back to load_dataset (None here)."""
    from core.data.sources import load_dataset
    from ui.thumbs import mapped_npz_images

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 3, 8, 8), dtype=np.uint8)
    y = np.arange(40) % 4
    np.savez(tmp_path / "nchw.npz", x_train=x, y_train=y, x_test=x[:8], y_test=y[:8])
    np.savez(tmp_path / "nhwc.npz", x_train=x.transpose(0, 2, 3, 1), y_train=y, x_test=x[:8], y_test=y[:8])
    mapped = mapped_npz_images(f"npz:{tmp_path / 'nchw.npz'}", 0.0, None)
    assert isinstance(mapped, np.memmap)
    np.testing.assert_array_equal(mapped, load_dataset(f"npz:{tmp_path / 'nchw.npz'}").x_train)
    assert mapped_npz_images(f"npz:{tmp_path / 'nhwc.npz'}", 0.0, None) is None  # load_dataset transposes it
    gray = x[:, 0]  # (N, H, W): load_dataset adds the channel axis, a view of the same bytes
    np.savez(tmp_path / "gray.npz", x_train=gray, y_train=y, x_test=gray[:8], y_test=y[:8])
    mapped_gray = mapped_npz_images(f"npz:{tmp_path / 'gray.npz'}", 0.0, None)
    assert mapped_gray is not None and mapped_gray.shape == (40, 1, 8, 8)
    np.testing.assert_array_equal(mapped_gray, load_dataset(f"npz:{tmp_path / 'gray.npz'}").x_train)
    assert mapped_npz_images(f"npz:{tmp_path / 'nchw.npz'}", 0.2, None) is None  # blends are computed
    assert mapped_npz_images(f"npz:{tmp_path / 'nchw.npz'}", 0.0, 16) is None  # resized
    assert mapped_npz_images(f"npz:{tmp_path / 'missing.npz'}", 0.0, None) is None
    assert mapped_npz_images("digits", 0.0, None) is None
