"""Embeddings: the run's UMAP map (a drawn sample over a density layer), lasso/box selection -> image grid.

Reads the cached map ``umap_2d.csv`` (``python -m core umap --run-dir R``), ``scores.csv``
(``python -m core score --run-dir R``) and, for a pruned run, ``keep.npy`` and its parent's map.
The chart's ``on_select`` callback tests the lasso polygon / box against EVERY map point (server
side, ``ui.views.embedview.ids_in_regions``), so a million-point map selects points that are not drawn;
the ids go to ``st.session_state["selected_ids"]`` and the grid below is drawn from that key only.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis.embedmap import merge_parent_child
from core.audit import tags
from core.audit.groundtruth import caught, marks
from core.figures.maps import map_figure, mark_sample, parent_child_figures, size_from_score
from core.io import read_json
from core.rundir.featurefile import feature_labels, features_mtime
from core.runs.maps import map_paths
from ui.feedback import command_text, guard, show_command
from ui.frame import selected_run_or_hint, to_url
from ui.jobbutton import job_button
from ui.mapstate import SEL_KEY, selection_to_url, url_widget
from ui.readers import class_names, read_csv_cached, read_npy, run_json
from ui.tagging import tag_widget
from ui.thumbs import GRID_BORDER, image_grid, thumbs_for
from ui.truthpanel import Truth, auroc_table, pick_truth
from ui.views.embedview import (
    COLOUR_HELP,
    MAX_DRAWN,
    PAGE_DESCRIPTION,
    SIZE_HELP,
    TAG_PREFIX,
    class_text,
    colour_options,
    colouring,
    density,
    drawn_note,
    drawn_rows,
    grid_items,
    ids_in_regions,
    map_staleness,
    map_title,
    point_labels,
)
from ui.views.sampleview import parse_sample, sample_params
from ui.views.scoreview import by_index, labels_by_id, score_columns
from ui.views.selection import (
    OPEN_SAMPLE_KEY,
    SELECTED_IDS_KEY,
    select_or_open_callback,
    store_ids_callback,
)
from ui.views.truthview import caught_line, option_label

CHART_KEY = "emb_map"


@st.cache_data(max_entries=4, show_spinner=False)
def _labels(run_dir: str, mtime: float) -> np.ndarray | None:
    return feature_labels(run_dir)


def _run_labels(run_dir: Path, scores: pd.DataFrame | None) -> np.ndarray | None:
    """(N,) int64 labels by sample id, from scores.csv or the run's features (either format)."""
    if scores is not None and {"index", "label"} <= set(scores.columns):
        return labels_by_id(scores)
    mtime = features_mtime(run_dir)
    return None if mtime is None else _labels(str(run_dir), mtime)


def _map_frame(run_dir: Path) -> tuple[pd.DataFrame | None, str]:
    """The cached 2-D map (index, x, y) and a staleness note ("" when fresh)."""
    csv_path, meta_path = map_paths(run_dir, 2)
    frame = read_csv_cached(csv_path)
    if frame is None:
        return None, ""
    return frame, map_staleness(features_mtime(run_dir), read_json(meta_path, {}) or {})


@st.cache_data(max_entries=2, show_spinner=False)
def _density(path: str, mtime: float, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frame = read_csv_cached(Path(path))
    return density(frame["x"].to_numpy(), frame["y"].to_numpy())


def _main_map(
    run_dir: Path, frame: pd.DataFrame, scores, labels, names, keep, truth: Truth | None = None
) -> str | None:
    """Draw the map; return the score used for grid captions (or None)."""
    ids = frame["index"].to_numpy(np.int64)
    xs, ys = frame["x"].to_numpy(np.float32), frame["y"].to_numpy(np.float32)
    c1, c2 = st.columns(2)
    have_tags = list(tags.list_tags(run_dir))
    colours = colour_options(scores, keep is not None, truth is not None, have_tags)
    size_options = ["constant", *score_columns(scores)]
    url_widget("color", "emb_colour", colours)
    url_widget("size", "emb_size", size_options)
    aurocs = truth.aurocs if truth else {}
    label = partial(option_label, aurocs=aurocs)  # scores show their AUROC
    colour = c1.selectbox("Colour by", colours, key="emb_colour", format_func=label, help=COLOUR_HELP)
    size_by = c2.selectbox("Size by", size_options, key="emb_size", format_func=label, help=SIZE_HELP)
    if truth is not None:
        with st.expander(f"Scores against the ground truth ({truth.what}): AUROC ranking"):
            auroc_table(truth, colour if colour in aurocs else None, key="emb_auroc")
    to_url("color", colour)
    to_url("size", size_by)
    rows = drawn_rows(len(ids), MAX_DRAWN)  # never depends on the selection: the chart is not redrawn after a lasso
    d_ids = ids[rows]
    lab = point_labels(d_ids, labels)
    tagged = tags.tag_ids(run_dir, colour[len(TAG_PREFIX) :]) if colour.startswith(TAG_PREFIX) else None
    paint = colouring(colour, d_ids, lab, names, scores, keep, (truth.mask, truth.badge) if truth else None, tagged)
    sizes = None if size_by == "constant" else size_from_score(by_index(scores, size_by, d_ids))
    csv_path = map_paths(run_dir, 2)[0]
    layer = _density(str(csv_path), csv_path.stat().st_mtime, len(ids)) if len(rows) < len(ids) else None
    fig = map_figure(
        d_ids,
        xs[rows],
        ys[rows],
        paint.color,
        categories=paint.categories,
        category_colors=paint.category_colors,
        color_title=paint.title,
        hover_label=class_text(lab, names, marks(d_ids, truth.mask) if truth else None, truth.badge if truth else ""),
        sizes=sizes,
        density_layer=layer,
        title=map_title(run_dir.name, len(ids), keep),
    )

    if st.toggle(
        "Click a point to open its sample view",
        key="emb_click_opens",
        help="On: the mouse pans the map and a click on a point opens its sample view (image, scores, neighbours). "
        "Off: the mouse draws a lasso (or a box, from the toolbar) and the images inside are shown below.",
    ):
        fig.update_layout(dragmode="pan")  # Streamlit's charts select a clicked point only outside lasso/box mode
    marked = parse_sample(st.query_params.get("sample"), int(ids.max()) + 1 if len(ids) else 0)
    at = np.flatnonzero(ids == marked) if marked is not None else []
    if len(at):
        mark_sample(fig, float(xs[at[0]]), float(ys[at[0]]), int(marked))

    def resolve(regions):  # the lasso / box against ALL points, drawn or not
        return ids_in_regions(regions, ids, xs, ys)

    st.plotly_chart(
        fig,
        key=CHART_KEY,
        on_select=select_or_open_callback(CHART_KEY, resolve),
        selection_mode=("points", "box", "lasso"),
        config={"scrollZoom": True, "displaylogo": False},
    )
    note = drawn_note(len(ids), len(rows))
    st.caption(
        'Lasso (default tool) / box-select points to see their images below, or switch on "Click a point to open '
        'its sample view" (the pan and zoom tools of the toolbar click too); hover shows the sample id and class. '
        "Click a class in the legend to hide it (hiding is only visual: a lasso still selects hidden classes' points). "
        + note
    )
    return paint.score or (None if size_by == "constant" else size_by)


def _grid(run_dir: Path, scores, labels, names, score_name: str | None, truth: Truth | None = None) -> None:
    st.subheader("Selected images")
    # loaded before anything is selected, so the first lasso is as quick as later ones
    thumbs = thumbs_for(run_json(run_dir, "config.json"), border=GRID_BORDER)
    selected = st.session_state.get(SELECTED_IDS_KEY) or []
    if not selected:
        st.info("Nothing selected yet: click a point or draw a lasso around some points on the map.")
        return
    items = grid_items(selected, len(thumbs), scores, labels, names, score_name)
    if items.dropped:
        st.warning(
            f"{items.dropped} selected ids are outside this run's dataset and are "
            "skipped (the selection came from another run)."
        )
    top = st.columns([4, 1])
    top[0].caption(items.summary())
    if top[1].button("Clear selection", key="emb_clear"):
        st.session_state[SELECTED_IDS_KEY] = []
        st.session_state.pop(SEL_KEY, None)
        st.rerun()
    if truth is not None:
        hit = caught(items.ids, truth.mask, scores["index"] if scores is not None else None)
        st.caption(f"In this selection: {caught_line(hit, truth.badge, 'selected')}")
    marking = {"truth": truth.mask, "badge": truth.badge} if truth else {}
    image_grid(thumbs, items.ids, items.captions, key="emb_grid", page_size=120, **marking)
    tag_widget(run_dir, np.asarray(selected, dtype=np.int64), key="emb_tag")  # the lasso selection -> tags.csv


def _parent_child(run_dir: Path, labels, names) -> None:
    manifest = run_json(run_dir, "manifest.json")
    parent = manifest.get("parent")
    if not parent or not (run_dir / "keep.npy").exists():
        return
    st.subheader("Parent vs pruned map")
    parent_dir = Path(parent) if Path(parent).is_absolute() else run_dir.parent / parent
    missing = [d for d in (parent_dir, run_dir) if not map_paths(d, 2)[0].exists()]
    if missing:
        for d in missing:
            st.info(f"The map of {d.name} is not computed yet:")
            argv = ["umap", "--run-dir", str(d)]
            show_command(argv)
            job_button(f"Compute the map of {d.name}", argv, kind="umap", key=f"emb_job_{d.name}", primary=False)
        return
    # the cached CSVs only: core.runs.maps.run_map would re-validate both maps against
    # the features (and recompute UMAP on a miss), which must not happen in the script thread
    maps = merge_parent_child(
        read_csv_cached(map_paths(parent_dir, 2)[0]),
        read_csv_cached(map_paths(run_dir, 2)[0]),
        read_npy(run_dir / "keep.npy"),
    )
    left, right = st.columns(2)
    pfig, cfig = parent_child_figures(maps, labels, names)
    left.plotly_chart(
        pfig, key="emb_parent", on_select=store_ids_callback("emb_parent"), selection_mode=("points", "box", "lasso")
    )
    right.plotly_chart(
        cfig, key="emb_child", on_select=store_ids_callback("emb_child"), selection_mode=("points", "box", "lasso")
    )
    st.caption(
        "The child's map is Procrustes-aligned to the parent's. Selections on either map "
        "also fill the image grid above."
    )


def main() -> None:
    st.title("Embeddings")
    st.caption(PAGE_DESCRIPTION)
    run_dir = selected_run_or_hint()
    if run_dir is None:
        return
    shown_run = st.session_state.get("emb_selection_run")
    if shown_run is not None and shown_run != str(run_dir):  # a selection belongs to its run
        st.session_state[SELECTED_IDS_KEY] = []
        st.session_state.pop(SEL_KEY, None)
    st.session_state["emb_selection_run"] = str(run_dir)
    argv = ["umap", "--run-dir", str(run_dir)]
    frame, stale = _map_frame(run_dir)
    if frame is None:
        st.info(
            f"{run_dir.name} has no UMAP map yet. Compute it from the run's features "
            "(a few seconds for digits, a few minutes for 50k images):"
        )
        show_command(argv)
        job_button("Compute the map now", argv, kind="umap", key="emb_job")
        return
    show_command(argv)
    if stale:
        st.warning(stale)
    scores = read_csv_cached(run_dir / "scores.csv")
    if scores is None:
        st.info(f"Colour by difficulty score needs scores.csv: `{command_text(['score', '--run-dir', str(run_dir)])}`")
        job_button(
            "Compute the scores now",
            ["score", "--run-dir", str(run_dir)],
            kind="score",
            key="emb_score_job",
            primary=False,
        )
    labels = _run_labels(run_dir, scores)
    n_classes = int(labels.max()) + 1 if labels is not None and labels.size else 1
    names = class_names(run_dir, n_classes)
    keep = read_npy(run_dir / "keep.npy")
    score_name, truth = None, None
    with guard("The stored selection"):
        selection_to_url(run_dir, frame)
    with guard("The map"):
        truth = pick_truth(run_dir, scores, key="emb") if scores is not None else None
        score_name = _main_map(run_dir, frame, scores, labels, names, keep, truth)
    clicked = st.session_state.pop(OPEN_SAMPLE_KEY, None)
    if clicked is not None:  # a click on a point: its sample view (inside this session, so the map state stays)
        st.switch_page("pages/sample_view.py", query_params=sample_params(run_dir.name, int(clicked)))
    with guard("The image grid"):
        _grid(run_dir, scores, labels, names, score_name, truth)
    with guard("The parent vs pruned maps"):
        _parent_child(run_dir, labels, names)


with guard("The Embeddings page"):
    main()
