"""Image grids for the app: the run's dataset images as crisp thumbnails, one st.image per page.

The dataset is loaded once per (spec, mix, mix_lambda, seed, image_size) with
``st.cache_resource`` -- keyed by those settings, never by hashing arrays; an ``npz:`` file stored as
(N, C, H, W) uint8 is memory-mapped instead (:func:`mapped_npz_images`) -- and wrapped in a
:class:`core.data.thumbs.ThumbnailCache` that encodes each PNG once. A grid is ONE ``st.html``
block per page with the thumbnails inlined as data URLs: one websocket message instead of one
HTTP request per image (``st.image`` made the browser fetch 120 images one by one, ~0.8 s of a
1M-point lasso -> grid; BENCHMARKS.md); big selections are paginated.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import streamlit as st

from core.audit.groundtruth import marks
from core.data.npz import mapped_train_images
from core.data.sources import ImageDataset, load_dataset
from core.data.thumbs import ThumbnailCache, data_url, page_bounds
from ui.views.sampleview import sample_href

THUMB_PX = 96
GRID_BORDER = 3


def images_key(config: Mapping) -> tuple:
    """(spec, mix, mix_lambda, mix seed, image_size) of a run's config.json: what identifies its images (the mix
    seed is ``mix_seed``, else the training seed of a config written before ``--mix-seed``, as in training)."""
    return (
        str(config.get("dataset") or "digits"),
        float(config.get("mix") or 0.0),
        float(config.get("mix_lambda") if config.get("mix_lambda") is not None else 0.5),
        int(config.get("mix_seed", config.get("seed")) or 0),
        None if config.get("image_size") in (None, "") else int(config["image_size"]),
    )


@st.cache_resource(max_entries=2, show_spinner="Loading the run's images ...")
def _load(spec: str, mix: float, mix_lambda: float, seed: int, image_size: int | None) -> ImageDataset:
    return load_dataset(spec, mix=mix, mix_lambda=mix_lambda, seed=seed, image_size=image_size)


def mapped_npz_images(spec: str, mix: float, image_size: int | None) -> np.ndarray | None:
    """An ``npz:`` dataset's training images memory-mapped (:func:`core.data.npz.mapped_train_images`) when
    nothing changes them (no Mixed-omega blend, no resize): exactly the images ``load_dataset`` returns,
    paged in per thumbnail instead of read whole. Else None."""
    if not spec.startswith("npz:") or mix or image_size is not None:
        return None
    return mapped_train_images(Path(spec[len("npz:") :]).expanduser())


@st.cache_resource(max_entries=4)
def _thumbs(
    spec: str, mix: float, mix_lambda: float, seed: int, image_size: int | None, size: int, border: int
) -> ThumbnailCache:
    images = mapped_npz_images(spec, mix, image_size)
    if images is None:
        images = _load(spec, mix, mix_lambda, seed, image_size).x_train
    return ThumbnailCache(images, size=size, border=border)


def thumbs_for(config: Mapping, size: int = THUMB_PX, border: int = 0) -> ThumbnailCache:
    """Thumbnail cache of the run's training images (shared across sessions).

    Use ``border=GRID_BORDER`` for :func:`image_grid` (keeps dark neighbours apart), 0 for
    table cells.
    """
    return _thumbs(*images_key(config), int(size), int(border))


def image_grid(
    thumbs: ThumbnailCache,
    ids: Sequence[int],
    captions: Sequence[str],
    *,
    key: str,
    page_size: int = 120,
    width: int | None = None,
    truth: np.ndarray | None = None,
    badge: str = "",
    link: bool = True,
) -> list[int]:
    """Paginated grid: a page picker (when needed) and one ``st.html`` block for the page.

    Args:
        thumbs: thumbnail cache of the run's images.
        ids: sample ids to show, in display order.
        captions: one caption per id.
        key: widget key prefix (the page number lives in ``st.session_state[key + "_page"]``).
        page_size: images per page.
        width: display width in px (default: the thumbnails' own size).
        truth: (N,) bool ground truth by sample id (``core.audit.groundtruth.ground_truth``): its true
            positives get a red border and the ``badge`` word; None marks nothing.
        link: each thumbnail links to its sample view (``sample?run=R&sample=ID``, the run of the page URL).

    Returns:
        the ids shown on the current page.
    """
    ids = [int(i) for i in ids]
    if not ids:
        return []
    page_key = f"{key}_page"
    _, _, n_pages = page_bounds(len(ids), 1, page_size)
    if n_pages > 1:
        current = st.session_state.get(page_key, 1)
        if not isinstance(current, int) or not 1 <= current <= n_pages:
            st.session_state[page_key] = 1
        page = st.number_input(
            f"Page (of {n_pages}, {page_size} per page)", min_value=1, max_value=n_pages, step=1, key=page_key
        )
    else:
        page = 1
    start, stop, _ = page_bounds(len(ids), int(page), page_size)
    shown = ids[start:stop]
    marked = marks(shown, truth)
    run = st.query_params.get("run") if link else None
    hrefs = [sample_href(run, i) for i in shown] if run else None
    pngs = thumbs.pngs(shown)
    st.html(grid_html(pngs, captions[start:stop], width, ids=shown, marked=marked, badge=badge, links=hrefs))
    return shown


GRID_CLASS = "hp-grid"  # the browser tests find the grid's images by it
TRUTH_CLASS = "hp-truth"  # the badge of a ground-truth true positive
LINK_CLASS = "hp-sample-link"  # a thumbnail's link to its sample view
TRUTH_COLOR = "#d62728"
_BADGE_STYLE = f"background:{TRUTH_COLOR};color:#fff;border-radius:3px;padding:0 3px;margin-right:3px"
_FIGURE_STYLE = "margin:0;display:flex;flex-direction:column;align-items:center"
_CAPTION_STYLE = "font-size:0.8rem;opacity:0.7;text-align:center;overflow-wrap:anywhere"  # theme text colour


def grid_html(
    pngs: Sequence[bytes],
    captions: Sequence[str],
    width: int | None = None,
    *,
    ids: Sequence[int] | None = None,
    marked: Sequence[bool] | None = None,
    badge: str = "",
    links: Sequence[str] | None = None,
) -> str:
    """HTML of an image grid: each PNG inlined as a data URL above its (escaped) caption, wrapping rows.

    Args:
        pngs: (K,) PNG bytes. captions: (K,) plain-text captions. width: display width in px of each
            image (None: the PNG's own size). ids: (K,) sample ids (``data-id``). marked: (K,) bool, the
            ground truth's true positives: red border, ``data-truth="1"`` and the ``badge`` word.
            links: (K,) URLs; each image becomes a link (``target="_self"``, class ``hp-sample-link``).
    """
    flags = list(marked) if marked is not None else [False] * len(pngs)
    keys = [f' data-id="{int(i)}"' for i in ids] if ids is not None else [""] * len(pngs)
    hrefs = list(links) if links is not None else [None] * len(pngs)

    def figure(png: bytes, cap: str, mark: bool, key: str, href: str | None) -> str:
        w = int(width) if width else int.from_bytes(png[16:20], "big")  # the PNG's IHDR width
        ring = f";outline:3px solid {TRUTH_COLOR};outline-offset:1px" if mark else ""
        tag = (
            f'<span class="{TRUTH_CLASS}" style="{_BADGE_STYLE}">{html.escape(badge or "truth")}</span>' if mark else ""
        )
        img = (
            f'<img src="{data_url(png)}" width="{w}" alt="{html.escape(cap)}" style="image-rendering:pixelated{ring}"/>'
        )
        if href:
            img = f'<a class="{LINK_CLASS}" href="{html.escape(href)}" target="_self" title="sample view">{img}</a>'
        return (
            f'<figure{key} data-truth="{int(mark)}" style="{_FIGURE_STYLE};width:{w}px">{img}'
            f'<figcaption style="{_CAPTION_STYLE}">{tag}{html.escape(cap)}</figcaption></figure>'
        )

    rows = zip(pngs, captions, flags, keys, hrefs, strict=True)
    figures = "".join(figure(png, cap, mark, key, href) for png, cap, mark, key, href in rows)
    return f'<div class="{GRID_CLASS}" style="display:flex;flex-wrap:wrap;gap:0.75rem">{figures}</div>'
