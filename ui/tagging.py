"""Audit widgets any page can call: tag a selection, export ids, search a sample by id.

- :func:`tag_widget` -- a tag name, a "Tag N samples" button and the ``python -m core tag`` twin.
- :func:`export_widget` -- the run's tags (and kept/pruned ids of a pruned run) as CSV downloads,
  with the ``python -m core export`` twin (the download writes nothing on the server).
- :func:`id_search` -- one sample by id: label, scores, the hardest pairs it is in, tags, thumbnail.

:func:`sample_facts`, :func:`tag_argv` and :func:`export_argv` are pure (unit-tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from core.audit import tags
from core.errors import HardpairsError
from core.idsets import unique_ids
from ui.feedback import plain, show_command
from ui.readers import class_names, read_csv_cached, run_json

#: Above this many ids the CLI twin reads them from a file instead of ``--ids``.
MAX_INLINE_IDS = 30


def tag_argv(run_dir: Path, name: str, ids: Sequence[int]) -> list[str]:
    """``python -m core tag`` arguments that add tag ``name`` to ``ids`` (``--ids-file ids.txt`` when long)."""
    head = ["tag", "--run-dir", str(run_dir), "--add", name or "NAME"]
    if len(ids) > MAX_INLINE_IDS:
        return [*head, "--ids-file", "ids.txt"]
    return [*head, "--ids", ",".join(str(int(i)) for i in ids)]


def export_argv(run_dir: Path, what: str) -> list[str]:
    """``python -m core export`` arguments writing ``what`` to ``<what>.csv`` in the current folder."""
    return ["export", "--run-dir", str(run_dir), "--what", what, "--out", f"{what.replace(':', '-')}.csv"]


def tag_widget(run_dir: Path, ids: np.ndarray, key: str) -> None:
    """Tag the samples ``ids`` ((K,) int, sample ids of the run) with a typed name; shows the CLI twin."""
    chosen = unique_ids(ids)
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    name = c1.text_input(
        "Tag name",
        key=f"{key}_tag_name",
        placeholder="e.g. suspicious",
        help="one word: letters, digits, '.', '_', '-'; kept in the run folder (tags.csv)",
    )
    clicked = c2.button(f"Tag {len(chosen)} samples", key=f"{key}_tag_button", disabled=len(chosen) == 0)
    if clicked:
        try:
            res = tags.add_tag(run_dir, name, chosen)
        except HardpairsError as err:
            st.error(str(err))
        else:
            st.success(f"Tagged {res['added']} new samples '{plain(res['tag'])}' ({res['n_tagged']} in all).")
    argv = tag_argv(run_dir, name.strip(), chosen.tolist())
    show_command(
        argv, caption="Same from a terminal" + (" (ids.txt: one id per line):" if "--ids-file" in argv else ":")
    )


def export_widget(run_dir: Path, key: str) -> None:
    """One CSV download per tag (and kept/pruned for a pruned run), each with its CLI twin."""
    try:
        have = tags.list_tags(run_dir)
    except HardpairsError as err:
        st.error(str(err))
        return
    whats = [f"tagged:{t}" for t in have] + (["kept", "pruned"] if (run_dir / "keep.npy").exists() else [])
    if not whats:
        st.caption("No tags yet: tag samples first (they are kept in the run folder's tags.csv).")
        return
    labels = {_what_label(w, have): w for w in whats}  # no lambda: AppTest pickles widget arguments
    what = labels[st.selectbox("Export", list(labels), key=f"{key}_export_what")]
    try:
        frame = tags.ids_frame(run_dir, tags.select_ids(run_dir, what))
    except HardpairsError as err:
        st.error(str(err))
        return
    st.download_button(
        f"Download {len(frame)} ids as CSV",
        frame.to_csv(index=False).encode(),
        file_name=f"{run_dir.name}-{what.replace(':', '-')}.csv",
        mime="text/csv",
        key=f"{key}_export_button",
    )
    show_command(
        export_argv(run_dir, what), caption="Same file from a terminal (refuses to overwrite without --force):"
    )


def _what_label(what: str, have: dict[str, int]) -> str:
    if what.startswith("tagged:"):
        name = what.split(":", 1)[1]
        return f"tag '{name}' ({have.get(name, 0)} samples)"
    return f"{what} ids"


def sample_facts(run_dir: Path, sid: int) -> dict[str, Any]:
    """What the run knows about sample ``sid``: ``label`` (int or None), ``scores`` (dict),
    ``pairs`` (rows of pairs.csv holding it, with ``partner``), ``tags`` (list of str).

    Raises:
        HardpairsError: ``sid`` is not a training sample id of the run.
    """
    n = tags.n_samples(run_dir)
    if not 0 <= int(sid) < n:
        raise HardpairsError(f"sample id {sid} is not a training sample id of this run; ids run from 0 to {n - 1}")
    sid = int(sid)
    facts: dict[str, Any] = {"id": sid, "label": None, "scores": {}, "pairs": pd.DataFrame(), "tags": []}
    scores = read_csv_cached(run_dir / "scores.csv")
    if scores is not None and "index" in scores.columns:
        row = scores[scores["index"] == sid]
        if len(row):
            rec = row.iloc[0].to_dict()
            facts["label"] = int(rec["label"]) if "label" in rec else None
            facts["scores"] = {k: float(v) for k, v in rec.items() if k not in ("index", "label")}
    pairs = read_csv_cached(run_dir / "pairs.csv")
    if pairs is not None and {"i", "j"} <= set(pairs.columns):
        mine = pairs[(pairs["i"] == sid) | (pairs["j"] == sid)].copy()
        mine.insert(0, "rank", mine.index + 1)
        mine["partner"] = np.where(mine["i"] == sid, mine["j"], mine["i"])
        facts["pairs"] = mine.reset_index(drop=True)
        if facts["label"] is None and len(mine):
            first = mine.iloc[0]
            facts["label"] = int(first["label_i"] if first["i"] == sid else first["label_j"])
    facts["tags"] = tags.tags_of(run_dir, sid)
    return facts


def id_search(run_dir: Path, key: str, lazy: bool = False) -> int | None:
    """Search one sample by id: label, scores, pairs it is in (of pairs.csv), tags and its thumbnail.

    ``lazy``: the box starts empty and nothing is read until an id is typed (the sidebar's search on every page).
    Returns the id shown (None when nothing is shown).
    """
    try:
        n = tags.n_samples(run_dir)
    except HardpairsError as err:
        st.caption(str(err))
        return None
    sid = st.number_input(
        f"Sample id (0–{n - 1})", 0, n - 1, None if lazy else 0, 1, key=f"{key}_id", placeholder="type an id"
    )
    if sid is None:
        return None
    try:
        facts = sample_facts(run_dir, int(sid))
    except HardpairsError as err:
        st.error(str(err))
        return None
    left, right = st.columns([1, 4])
    _thumbnail(left, run_dir, int(sid))
    names = class_names(run_dir, (facts["label"] or 0) + 1)
    label = names[facts["label"]] if facts["label"] is not None else "unknown (no scores or pairs yet)"
    tags_text = ", ".join(plain(t) for t in facts["tags"]) or "none"  # names from data: text, never Markdown
    right.markdown(f"**#{sid}** · label **{plain(label)}** · tags: {tags_text}", help=str(label))
    if facts["scores"]:
        right.caption(" · ".join(f"{k} {v:.3f}" for k, v in facts["scores"].items()))
    pairs = facts["pairs"]
    right.caption(
        f"In {len(pairs)} of the hardest pairs (pairs.csv)." if len(pairs) else "In none of the hardest pairs."
    )
    if len(pairs):
        right.dataframe(pairs, hide_index=True, key=f"{key}_pairs", height=min(300, 38 + 35 * len(pairs)))
    return int(sid)


def pair_sample_ids(rows: pd.DataFrame) -> np.ndarray:
    """Sorted unique ids of both samples of every pair in ``rows`` (columns ``i``, ``j``)."""
    return unique_ids(np.concatenate([rows["i"].to_numpy(np.int64), rows["j"].to_numpy(np.int64)]))


def pair_actions(run_dir: Path, listed: pd.DataFrame, start: int, stop: int, key: str) -> None:
    """Under a Hard pairs gallery page: links to each sample's view, and tag both samples of the chosen pairs
    (this page, every pair listed for the cell, or chosen ranks), then prune by that tag (Prune, preselected).

    Args:
        listed: every pair the gallery lists (hardest first; rank = position + 1). start, stop: this page's rows.
    """
    from ui.views.sampleview import sample_href

    page = listed.iloc[start:stop]
    with st.expander("Open a sample of these pairs"):
        st.markdown(
            "  \n".join(
                f"{start + n + 1}. [#{int(i)}]({sample_href(run_dir.name, int(i))}) ↔ "
                f"[#{int(j)}]({sample_href(run_dir.name, int(j))})"
                for n, (i, j) in enumerate(zip(page["i"], page["j"], strict=True))
            )
        )
    scopes = {
        f"this page ({len(page)} pairs)": "page",
        f"every pair listed ({len(listed)})": "all",
        "chosen ranks": "rows",
    }
    c1, c2 = st.columns([2, 3])
    scope = scopes[c1.radio("Tag both samples of", list(scopes), key=f"{key}_scope", horizontal=False)]
    rows = page if scope == "page" else listed
    if scope == "rows":
        ranks = c2.multiselect("Ranks", list(range(start + 1, stop + 1)), key=f"{key}_ranks")
        rows = listed.iloc[[r - 1 for r in ranks]]
    with c2:
        tag_widget(run_dir, pair_sample_ids(rows), key=f"{key}_tag")
    name = str(st.session_state.get(f"{key}_tag_tag_name") or "").strip()
    if name and name in tags.list_tags(run_dir):
        st.page_link(
            "pages/prune_retrain.py",
            label=f"Prune by tag '{name}' (with its random baseline)",
            icon=":material/content_cut:",
            query_params={"run": run_dir.name, "tag": name},
        )


def _thumbnail(col: Any, run_dir: Path, sid: int) -> None:
    from ui.thumbs import thumbs_for

    try:
        col.image(thumbs_for(run_json(run_dir, "config.json")).png(sid), caption=f"#{sid}")
    except HardpairsError as err:
        col.caption(f"no image: {err}")
