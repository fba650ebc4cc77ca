"""Hard pairs: which classes the model confuses, and the hardest cross-class pairs themselves.

One definition per view: the user picks what a difficult pair is -- the K most similar cross-class
pairs (``pairs.csv``) or the paper's band (``pairs_band.csv``, Eq. 12 thresholds) -- and the heatmap
counts exactly the pairs of that file that the gallery lists (``ui.views.pairview.cell_counts``). Both files,
``class_pairs.npz`` (mean similarities, histograms) and ``pairs.json`` (the definitions) come from
``python -m core pairs --run-dir R``. A click on a heatmap cell fills the two class pickers (through
an invisible scatter overlay: heatmap traces emit no selection events). The definition and the class
pair are in the URL (``?def=&a=&b=``) next to the run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.data.thumbs import page_bounds
from core.figures.pairs import definitions_figure, pair_heatmap
from ui.feedback import guard, plain, show_command
from ui.frame import new_url_value, reset_on_run_change, selected_run_or_hint, to_url, url_to_widget
from ui.glossary import glossary_expander, help_for
from ui.jobbutton import job_button
from ui.readers import class_names, load_npz_cached, read_csv_cached, run_json
from ui.tagging import pair_actions
from ui.thumbs import thumbs_for
from ui.views.pairview import (
    ANY,
    DEFINITION_FILES,
    DEFINITIONS,
    THRESHOLD_HELP,
    band_caption,
    cell_counts,
    class_index,
    definitions_text,
    filter_pairs,
    histogram_view,
    mean_without_diagonal,
    orient_pairs,
    pair_table,
    picked_cell,
    recorded_params,
    url_count,
)
from ui.views.selection import cells_from_selection

PAGE_SIZE = 20
PAIR_PX = 64


def _on_cell(chart_key: str, names: list[str]) -> None:
    picked = picked_cell(cells_from_selection(st.session_state.get(chart_key)), names)
    if picked:
        st.session_state["hp_a"], st.session_state["hp_b"] = picked
        st.session_state["hp_page"] = 1


def _what(definition: str, n_pairs: int) -> str:
    return f"top {n_pairs}" if definition == "top" else f"band, {n_pairs} pairs"


def _heatmap(cp: dict, frame: pd.DataFrame, names: list[str], definition: str) -> None:
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
            cell_counts(frame, len(names)),
            names,
            title=f"Pairs per class pair ({_what(definition, len(frame))}), each once — click a cell",
            value_name="pairs",
            integer=True,
            selected=sel if sel is None else (min(sel), max(sel)),
            upper=True,
        )
    st.plotly_chart(
        fig,
        key="hp_heatmap",
        on_select=lambda: _on_cell("hp_heatmap", names),
        selection_mode=("points",),
        config={"displayModeBar": False},
        width="stretch",
    )


def _definition_panel(cp: dict, definition: str, info: dict, frame: pd.DataFrame) -> None:
    if definition == "top":
        st.markdown(
            f"A difficult pair is one of the **{len(frame)} most similar pairs of samples with different labels** "
            f"(similarity {frame['similarity'].min():.4f} to {frame['similarity'].max():.4f}). "
            "The heatmap counts these pairs; the gallery lists them."
            if len(frame)
            else "pairs.csv holds no pairs."
        )
        return
    t_hi, t_lo = float(cp["t_hi"]), float(cp["t_lo"])
    st.markdown(band_caption(info, t_hi, t_lo, info.get("k")))
    c1, c2, c3 = st.columns(3)
    c1.metric("Sim_posLow", f"{t_lo:.4f}", help=THRESHOLD_HELP["Sim_posLow"])
    c2.metric("Sim_posHigh", f"{t_hi:.4f}", help=THRESHOLD_HELP["Sim_posHigh"])
    c3.metric("band pairs", f"{len(frame):,}", help=help_for("band (pairs)"))


def _where(cp: dict, top: pd.DataFrame, band: pd.DataFrame | None, names: list[str]) -> None:
    """Where the band and the top-K cut sit on the similarity axis, and why their heatmaps differ."""
    if "t_hi" not in cp or "t_lo" not in cp:
        return  # pairs from an older version: the page's recompute hint covers it
    t_hi, t_lo = float(cp["t_hi"]), float(cp["t_lo"])
    st.markdown(definitions_text(top, band, t_lo, t_hi, names))
    if "hist_edges" not in cp:
        return
    edges, counts = histogram_view(cp["hist_edges"], {"cross": cp["hist_cross"]})
    cut = float(top["similarity"].min()) if len(top) else None
    fig = definitions_figure(edges, counts["cross"], t_lo, t_hi, cut, len(top))
    st.plotly_chart(fig, key="hp_hist", width="stretch", config={"displayModeBar": False})
    n_hist = int(cp["hist_samples"]) if "hist_samples" in cp else 0
    subset = " (a seeded random subset; the thresholds are exact over all pairs)" if cp.get("hist_sampled") else ""
    st.caption(f"Histogram of the cross-class pairs among {n_hist:,} training samples{subset}.")


def _params(run_dir) -> tuple[list[str], tuple[int, int] | None]:
    """The K and k controls (in the URL as ``top`` and ``k``): the ``pairs`` command they make, and the
    (K, k) the run's pairs were computed with when the controls differ from them (None when they agree)."""
    reset_on_run_change(run_dir, "hpk_")
    defs = (run_json(run_dir, "pairs.json") or {}).get("definitions")
    done = recorded_params(defs)
    for key, param, value in (("hpk_top", "top", done[0]), ("hpk_k", "k", done[1])):
        from_url = url_count(new_url_value(param), 1, 1_000_000)
        if from_url is not None or key not in st.session_state:
            st.session_state[key] = from_url or value
    c1, c2, _ = st.columns([1, 1, 2])
    top = c1.number_input("K (top pairs)", 1, 1_000_000, step=100, key="hpk_top", help=help_for("top K (pairs)"))
    k = c2.number_input("k (neighbours)", 1, 10_000, step=1, key="hpk_k", help=help_for("k (neighbours)"))
    to_url("top", str(top))
    to_url("k", str(k))
    argv = ["pairs", "--run-dir", str(run_dir), "--top", str(top), "--k", str(k)]
    return argv, (done if defs and (int(top), int(k)) != done else None)


def _gallery(run_dir, pairs: pd.DataFrame, names: list[str], definition: str, counts: np.ndarray) -> None:
    st.subheader("The pairs")
    options = [ANY, *names]
    for key, param in (("hp_a", "a"), ("hp_b", "b")):
        url_to_widget(param, key, options)
        if st.session_state.get(key) not in options:
            st.session_state[key] = ANY
    c1, c2 = st.columns(2)
    a_name = c1.selectbox("Class A", options, key="hp_a", help="Heatmap row; a click on a cell sets both classes.")
    b_name = c2.selectbox("Class B", options, key="hp_b", help="Heatmap column.")
    to_url("a", None if a_name == ANY else a_name)
    to_url("b", None if b_name == ANY else b_name)
    a, b = class_index(a_name, names), class_index(b_name, names)
    shown = orient_pairs(filter_pairs(pairs, a, b), a, b)
    if shown.empty:
        a_text, b_text = plain(a_name, 60), plain(b_name, 60)  # class names are data: text, never Markdown
        cell = f" (the heatmap's cell {a_text} ↔ {b_text} shows {counts[a, b]})" if None not in (a, b) else ""
        st.info(f"No difficult pairs between {a_text} and {b_text} under this definition{cell}.")
        if definition == "top":
            st.caption("Pick other classes, or rank more pairs:")
            argv = ["pairs", "--run-dir", str(run_dir), "--top", str(max(5000, 5 * len(pairs)))]
            show_command(argv, caption="")
            job_button("Rank more pairs now", argv, kind="analyse", key="hp_more_job", primary=False)
        return
    _, _, n_pages = page_bounds(len(shown), 1, PAGE_SIZE)
    if not 1 <= int(st.session_state.get("hp_page", 1)) <= n_pages:
        st.session_state["hp_page"] = 1
    left, right = st.columns([3, 1])
    left.caption(f"{len(shown)} pairs, most similar first · {PAGE_SIZE} per page · image A is class A")
    url_page = new_url_value("page")
    if url_page and url_page.isdigit() and 1 <= int(url_page) <= n_pages:
        st.session_state["hp_page"] = int(url_page)
    page = right.number_input(f"Page (of {n_pages})", 1, n_pages, step=1, key="hp_page")
    to_url("page", str(page))
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
    pair_actions(run_dir, shown, start, stop, key="hp_pairs")  # sample links; tag the pairs -> prune by the tag


def _pick_definition(has_band: bool) -> str:
    url_to_widget("def", "hp_def", list(DEFINITIONS))
    definition = st.radio(
        "A difficult pair is",
        list(DEFINITIONS),
        format_func=DEFINITIONS.__getitem__,
        key="hp_def",
        horizontal=True,
        help=f"{help_for('top K (pairs)')}\n\n{help_for('band (pairs)')}",
    )
    to_url("def", definition)
    return definition if definition == "top" or has_band else ""


def main() -> None:
    st.title("Hard pairs")
    st.caption(
        "Difficult pairs are cross-class pairs the encoder maps close together. Pick a definition: the heatmap "
        "counts the pairs under it per class pair, and the gallery lists exactly those pairs."
    )
    run_dir = selected_run_or_hint()
    if run_dir is None:
        return
    argv, stale = _params(run_dir)
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
    if stale:
        st.info(
            f"The pairs below were computed with K = {stale[0]:,}, k = {stale[1]}; the command above recomputes "
            "them with the K and k chosen here.",
            icon=":material/info:",
        )
        job_button("Recompute the pairs with this K and k", argv, kind="analyse", key="hpk_job", primary=False)
    missing = {"i", "j", "label_i", "label_j", "similarity"} - set(pairs.columns)
    if missing or "difficult_counts" not in cp or "mean_similarity" not in cp:
        st.error(
            f"{run_dir / 'pairs.csv'} or class_pairs.npz lacks {sorted(missing) or 'arrays'}; "
            "they come from an older version. Recompute them with the command above."
        )
        return
    band = read_csv_cached(run_dir / DEFINITION_FILES["band"])
    definition = _pick_definition(band is not None)
    if not definition:
        st.info(
            f"{run_dir.name} has no {DEFINITION_FILES['band']} (pairs from an older version): recompute the pairs "
            "with the command above to list the band's pairs."
        )
        job_button("Recompute the pairs now", [*argv, "--force"], kind="analyse", key="hp_band_job", primary=False)
        return
    frame = pairs if definition == "top" else band
    names = class_names(run_dir, int(np.asarray(cp["difficult_counts"]).shape[0]))
    info = ((run_json(run_dir, "pairs.json") or {}).get("definitions") or {}).get(definition) or {}
    left, right = st.columns([3, 2], gap="large")
    with left:
        _heatmap(cp, frame, names, definition)
    with right:
        _definition_panel(cp, definition, info, frame)
        _where(cp, pairs, band, names)
    with guard("The pair gallery"):
        _gallery(run_dir, frame, names, definition, cell_counts(frame, len(names)))
    glossary_expander(["pairs", "score"])


with guard("The Hard pairs page"):
    main()
