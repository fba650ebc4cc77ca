"""Sample: one training sample in detail (``/sample?run=R&sample=ID``).

Opened from a click on an Embeddings map point, a thumbnail of any image grid, a Hard pairs row or the
sidebar's id search. Shows the image large, its label, every score with its rank, its tags (add / remove),
the kNN vote of its neighbours (the probe's ``predictions.npz`` covers test samples only), its nearest
same-class and other-class neighbours (each a link to its own view), and "Find similar": the whole
dataset ranked by cosine similarity to it (``core.audit.similar``; CLI twin ``python -m core similar``),
whose top N can be tagged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from core.audit import tags
from core.audit.similar import rank_similar, similarities_to, split_by_class
from core.errors import HardpairsError
from core.rundir.featurefile import features_mtime, open_features
from ui.feedback import guard, show_command
from ui.frame import new_url_value, selected_run_or_hint, to_url
from ui.readers import class_names, read_csv_cached, run_json
from ui.tagging import tag_argv, tag_widget
from ui.thumbs import GRID_BORDER, image_grid, thumbs_for
from ui.views.sampleview import NEIGHBOURS, knn_vote, parse_sample, score_ranks, vote_text
from ui.views.scoreview import score_columns

LARGE_PX = 192


@st.cache_data(max_entries=8, show_spinner="Ranking the dataset by similarity ...")
def _ranking(run_dir: str, mtime: float, sid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids ranked most similar first (N-1,), every sample's similarity to ``sid`` (N,), all labels (N,))."""
    feats = open_features(run_dir)
    sims = similarities_to(feats["train"], sid)
    return rank_similar(sims, sid), sims, np.asarray(feats["y_train"], np.int64)


def _pick_sample(n: int, where: Any) -> int | None:
    """The sample id: ``?sample=`` when it is news, else the picker's value (drawn in ``where``); written back to
    the URL."""
    news = parse_sample(new_url_value("sample"), n)
    if news is not None:
        st.session_state["sv_id"] = news
    sid = where.number_input(
        f"Sample id (0–{n - 1})", 0, n - 1, None, 1, key="sv_id", placeholder="type an id, or click a thumbnail"
    )
    to_url("sample", None if sid is None else str(int(sid)))
    return None if sid is None else int(sid)


def _header(run_dir: Path, sid: int, label: int | None, names: list[str], scores, layout: tuple) -> None:
    left, right, head = layout
    try:
        left.image(thumbs_for(run_json(run_dir, "config.json"), size=LARGE_PX).png(sid), caption=f"#{sid}")
    except HardpairsError as err:
        left.caption(f"No image: {err}")
    name = names[label] if label is not None and 0 <= label < len(names) else "unknown"
    head.markdown(f"#### #{sid} · label **{name}**")
    right.page_link(
        "pages/embedding_map.py",
        label="Show it on the map",
        icon=":material/scatter_plot:",
        query_params={"run": run_dir.name, "sample": str(sid)},
    )
    cols = score_columns(scores)
    if cols:
        ranks = score_ranks(scores, cols, sid)
        of = int(ranks["of"].max()) if len(ranks) else 0
        right.dataframe(
            ranks.drop(columns="of"),
            hide_index=True,
            key="sv_scores",
            column_config={
                "rank": st.column_config.NumberColumn(f"rank (of {of})", help="1 = the most difficult (highest value)"),
                "percentile": st.column_config.NumberColumn("percentile (% scoring lower)"),
            },
        )
    else:
        right.caption(f"No scores yet: `python -m core score --run-dir {run_dir}`.")
    with right:
        _tags(run_dir, sid)


def _tags(run_dir: Path, sid: int) -> None:
    have = tags.tags_of(run_dir, sid)
    c1, c2, c3 = st.columns([3, 1.2, 1.2], vertical_alignment="bottom")
    shown = ", ".join(have) if have else "none"
    name = c1.text_input(
        f"Tags: {shown} (type one to add or remove)", key="sv_tag_name", placeholder="e.g. mislabelled"
    )
    if c2.button("Add tag", key="sv_tag_add", disabled=not name.strip()):
        _apply(tags.add_tag, run_dir, name, sid)
    if c3.button("Remove tag", key="sv_tag_remove", disabled=name.strip() not in have):
        _apply(tags.remove_tag, run_dir, name, sid)
    show_command(tag_argv(run_dir, name.strip(), [sid]), caption="")


def _apply(action, run_dir: Path, name: str, sid: int) -> None:
    try:
        action(run_dir, name, [sid])
    except HardpairsError as err:
        st.error(str(err))
        return
    st.rerun()


def _neighbours(run_dir: Path, sid: int, label: int | None, names: list[str], ranking) -> None:
    ranked, sims, labels = ranking
    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    k = int(c1.number_input("Neighbours per side", 1, 48, NEIGHBOURS, key="sv_k"))
    c2.markdown(vote_text(knn_vote(labels[ranked[:k]]), names, k, label))
    c2.caption(
        "The prediction is the kNN vote of the training neighbours: the probe's per-sample predictions "
        "(predictions.npz) are for the test set only."
    )
    thumbs = thumbs_for(run_json(run_dir, "config.json"), border=GRID_BORDER)
    same, other = split_by_class(ranked, labels, -1 if label is None else label, k)
    cols = st.columns(2, gap="large")
    sides = ((cols[0], "the same class", same, "sv_same"), (cols[1], "other classes", other, "sv_other"))
    for col, title, ids, key in sides:
        with col:
            st.markdown(f"**Nearest of {title}** ({len(ids)}; id · class · cosine similarity)")
            caps = [_cap(int(i), labels, names, float(sims[i])) for i in ids]
            image_grid(thumbs, ids.tolist(), caps, key=key, page_size=48, width=72)


def _cap(i: int, labels: np.ndarray, names: list[str], sim: float) -> str:
    name = names[labels[i]] if 0 <= labels[i] < len(names) else "?"
    return f"#{i} · {name} · {sim:.3f}"


def _similar(run_dir: Path, sid: int, names: list[str], ranking) -> None:
    st.subheader("Find similar")
    ranked, sims, labels = ranking
    top = int(st.number_input("How many", 1, len(ranked), min(50, len(ranked)), key="sv_top"))
    st.caption(f"The {top} training samples most similar to #{sid} (cosine of the run's features, exact).")
    argv = ["similar", "--run-dir", str(run_dir), "--sample", str(sid), "--top", str(top)]
    show_command(argv, caption="Same ranking from a terminal (add `--tag NAME` to tag them):")
    ids = ranked[:top]
    thumbs = thumbs_for(run_json(run_dir, "config.json"), border=GRID_BORDER)
    caps = [_cap(int(i), labels, names, float(sims[i])) for i in ids]
    image_grid(thumbs, ids.tolist(), caps, key="sv_similar", page_size=60)
    tag_widget(run_dir, np.asarray(ids, np.int64), key="sv_similar_tag")


def main() -> None:
    st.title("Sample")
    run_dir = selected_run_or_hint()
    if run_dir is None:
        return
    try:
        n = tags.n_samples(run_dir)
    except HardpairsError as err:
        st.error(str(err))
        return
    left, right = st.columns([1, 3], gap="medium")
    head, pick = right.columns([2, 1], vertical_alignment="bottom")
    sid = _pick_sample(n, pick)
    if sid is None:
        st.info("Pick a sample: type its id, click a point on the Embeddings map or any thumbnail.")
        return
    scores = read_csv_cached(run_dir / "scores.csv")
    mtime = features_mtime(run_dir)
    ranking = None if mtime is None else _ranking(str(run_dir), mtime, sid)
    labels = ranking[2] if ranking is not None else None
    label = int(labels[sid]) if labels is not None else None
    names = class_names(run_dir, int(labels.max()) + 1 if labels is not None and labels.size else 1)
    with guard("The sample"):
        _header(run_dir, sid, label, names, scores, (left, right, head))
    if ranking is None:
        st.info(f"No features yet, so no neighbours: `python -m core probe --run-dir {run_dir}`.")
        return
    st.markdown("##### Nearest neighbours")
    with guard("The neighbours"):
        _neighbours(run_dir, sid, label, names, ranking)
    with guard("Find similar"):
        _similar(run_dir, sid, names, ranking)


with guard("The Sample page"):
    main()
