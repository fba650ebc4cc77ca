"""The Embeddings page's state in the URL: its pickers (``color=``, ``size=``) and its selection (``sel=``).

A lasso / box selection is stored in the run folder (``core.audit.views.save_selection``: ``views.json``) and the
URL carries its key, so a reload or a pasted link selects exactly the same points; the pickers keep their values
across a visit to other pages (``ui.frame.keep_widget``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.audit import views
from ui.frame import keep_widget, new_url_value, to_url, url_to_widget
from ui.views.embedview import ids_in_regions
from ui.views.selection import SELECTED_IDS_KEY, SELECTED_REGIONS_KEY

SEL_KEY = "emb_sel_key"  # the key of the current selection in views.json (the URL's ``sel=``)


def url_widget(param: str, key: str, options: list[str]) -> None:
    """Before the selectbox ``key``: a new ``?param=`` wins, else its value kept across pages; an invalid one goes."""
    url_to_widget(param, key, options)
    keep_widget(key)
    if st.session_state.get(key) not in options:
        st.session_state.pop(key, None)


def selection_to_url(run_dir: Path, frame: pd.DataFrame) -> None:
    """The selection in the URL as ``sel=<key>`` of ``views.json``: a new lasso / box is stored (the regions, so a
    reload selects exactly the same points); a new ``sel=`` (reload, link) selects them again."""
    regions = st.session_state.pop(SELECTED_REGIONS_KEY, None)
    if regions:
        st.session_state[SEL_KEY] = views.save_selection(run_dir, {"regions": [list(r) for r in regions]})
    else:
        news = new_url_value("sel")
        stored = views.stored_selection(run_dir, news) if news else None
        if stored and stored.get("regions"):
            ids = frame["index"].to_numpy(np.int64)
            xs, ys = frame["x"].to_numpy(np.float32), frame["y"].to_numpy(np.float32)  # as the map's own lasso
            regions = [(str(k), list(rx), list(ry)) for k, rx, ry in stored["regions"]]
            st.session_state[SELECTED_IDS_KEY] = ids_in_regions(regions, ids, xs, ys)
            st.session_state[SEL_KEY] = news
        elif news:
            st.warning(f"The link's selection `{news}` is not stored in {run_dir.name}/views.json; nothing selected.")
    to_url("sel", st.session_state.get(SEL_KEY))
