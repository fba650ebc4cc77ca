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
