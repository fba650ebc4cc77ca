"""Hard pairs: which classes the model confuses, and the hardest cross-class pairs themselves.

Reads ``class_pairs.npz`` (difficult_counts (C,C) int64, mean_similarity (C,C) float32) and
``pairs.csv`` (i, j, label_i, label_j, similarity; ranked), both from
``python -m core pairs --run-dir R``. A click on a heatmap cell fills the two class pickers
(through an invisible scatter overlay: heatmap traces emit no selection events).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.data.thumbs import page_bounds
from ui.feedback import guard, show_command
from ui.figures import pair_heatmap
from ui.frame import selected_run
from ui.jobbutton import job_button
from ui.pairview import ANY, class_index, filter_pairs, mean_without_diagonal, pair_table, picked_cell
from ui.readers import class_names, load_npz_cached, read_csv_cached, run_json
from ui.selection import cells_from_selection
from ui.thumbs import thumbs_for

PAGE_SIZE = 20
PAIR_PX = 64


def _on_cell(chart_key: str, names: list[str]) -> None:
    picked = picked_cell(cells_from_selection(st.session_state.get(chart_key)), names)
    if picked:
        st.session_state["hp_a"], st.session_state["hp_b"] = picked
        st.session_state["hp_page"] = 1


def _heatmap(cp: dict, names: list[str]) -> None:
    mean_view = st.toggle("Show mean cross-class similarity instead of difficult-pair counts", key="hp_mean")
    sel = None
    a, b = st.session_state.get("hp_a"), st.session_state.get("hp_b")
    if a in names and b in names:
        sel = (names.index(a), names.index(b))
    if mean_view:
        fig = pair_heatmap(
            mean_without_diagonal(cp["mean_similarity"]),
            names,
            title="Mean cross-class cosine similarity (diagonal: same class, left blank)",
            value_name="mean sim",
            integer=False,
            selected=sel,
        )
    else:
        fig = pair_heatmap(
            cp["difficult_counts"],
            names,
            title="Difficult pairs per class pair (click a cell)",
            value_name="pairs",
            integer=True,
            selected=sel,
        )
    st.plotly_chart(
        fig,
        key="hp_heatmap",
        on_select=lambda: _on_cell("hp_heatmap", names),
        selection_mode=("points",),
        config={"displayModeBar": False},
    )


def _gallery(run_dir, pairs: pd.DataFrame, names: list[str]) -> None:
    st.subheader("Hardest cross-class pairs")
    options = [ANY, *names]
    for key in ("hp_a", "hp_b"):
        if st.session_state.get(key) not in options:
            st.session_state[key] = ANY
    c1, c2 = st.columns(2)
    a_name = c1.selectbox("Class A", options, key="hp_a")
    b_name = c2.selectbox("Class B", options, key="hp_b")
    shown = filter_pairs(pairs, class_index(a_name, names), class_index(b_name, names))
    if shown.empty:
        st.info(
            f"No pairs between {a_name} and {b_name} among the {len(pairs)} ranked pairs in "
            "pairs.csv (the heatmap counts every difficult pair). Pick other classes, or rank "
            "more pairs:"
        )
        argv = ["pairs", "--run-dir", str(run_dir), "--top", str(max(5000, 5 * len(pairs)))]
        show_command(argv, caption="")
        job_button("Rank more pairs now", argv, kind="analyse", key="hp_more_job", primary=False)
        return
    _, _, n_pages = page_bounds(len(shown), 1, PAGE_SIZE)
    if not 1 <= int(st.session_state.get("hp_page", 1)) <= n_pages:
        st.session_state["hp_page"] = 1
    left, right = st.columns([3, 1])
    left.caption(f"{len(shown)} pairs, most similar first · {PAGE_SIZE} per page")
    page = right.number_input(f"Page (of {n_pages})", 1, n_pages, step=1, key="hp_page")
    start, stop, _ = page_bounds(len(shown), int(page), PAGE_SIZE)
    rows = shown.iloc[start:stop]
    thumbs = thumbs_for(run_json(run_dir, "config.json"), size=PAIR_PX)
    table = pair_table(rows, start, names, thumbs)
    st.dataframe(
        table,
        hide_index=True,
        row_height=PAIR_PX + 8,
        key="hp_table",
        height=(len(table) + 1) * (PAIR_PX + 8) + 4,
        column_config={
            "image A": st.column_config.ImageColumn("image A", width="small"),
            "image B": st.column_config.ImageColumn("image B", width="small"),
            "rank": st.column_config.NumberColumn("rank", width="small"),
            "similarity": st.column_config.NumberColumn("similarity", format="%.4f", width="small"),
        },
    )


def main() -> None:
    st.title("Hard pairs")
    st.caption(
        "Difficult pairs are cross-class pairs the encoder maps close together. The heatmap "
        "counts them per class pair; the gallery shows the pairs themselves."
    )
    run_dir = selected_run()
    if run_dir is None:
        st.info("No run selected. Train one on the **Runs** page, then pick it in the sidebar.")
        return
    argv = ["pairs", "--run-dir", str(run_dir)]
    cp = load_npz_cached(run_dir / "class_pairs.npz")
    pairs = read_csv_cached(run_dir / "pairs.csv")
    if cp is None or pairs is None:
        st.info(
            f"{run_dir.name} has no ranked pairs yet (pairs.csv, class_pairs.npz). "
            "Rank the hardest cross-class pairs from its features:"
        )
        show_command(argv)
        job_button("Find the hardest pairs now", argv, kind="analyse", key="hp_job")
        return
    show_command(argv)
    missing = {"i", "j", "label_i", "label_j", "similarity"} - set(pairs.columns)
    if missing or "difficult_counts" not in cp or "mean_similarity" not in cp:
        st.error(
            f"{run_dir / 'pairs.csv'} or class_pairs.npz lacks {sorted(missing) or 'arrays'}; "
            "they come from an older version. Recompute them with the command above."
        )
        return
    names = class_names(run_dir, int(np.asarray(cp["difficult_counts"]).shape[0]))
    _heatmap(cp, names)
    with guard("The pair gallery"):
        _gallery(run_dir, pairs, names)


with guard("The Hard pairs page"):
    main()
