"""Hardpairs app: ``streamlit run app.py`` (from the repository root).

The entrypoint is the frame around every page: page config, the navigation, and the sidebar
with the run selector (kept across pages because it lives here) and the job summary.
Pages are UI only; every computation runs as a ``python -m core ...`` job (core/jobs/queue.py).
"""

from __future__ import annotations

import streamlit as st

from ui.frame import render_sidebar

# an emoji favicon is an inline SVG; a ":material/...:" one would be fetched from fonts.gstatic.com
st.set_page_config(page_title="Hardpairs", page_icon="🧩", layout="wide")

# URL names differ from the file names on purpose: while Streamlit still treats the app as a legacy
# `pages/` app (before the first st.navigation call after a server start), a URL equal to a file
# name would run that page file alone, without this frame (see ui.frame.leave_legacy_pages_mode).
PAGES = [
    st.Page("pages/runs.py", title="Runs", icon=":material/play_circle:", url_path="home", default=True),
    st.Page("pages/embeddings.py", title="Embeddings", icon=":material/scatter_plot:", url_path="map"),
    st.Page("pages/hard_pairs.py", title="Hard pairs", icon=":material/join_inner:", url_path="pairs"),
    st.Page("pages/prune.py", title="Prune & retrain", icon=":material/content_cut:", url_path="retrain"),
    st.Page("pages/compare.py", title="Compare", icon=":material/leaderboard:", url_path="comparison"),
    st.Page("pages/theory.py", title="Theory", icon=":material/functions:", url_path="bounds"),
]

page = st.navigation(PAGES)
with st.sidebar:
    st.markdown("### :material/extension: Hardpairs")
    st.caption("Difficult examples in contrastive learning (ICLR 2026)")
render_sidebar()
page.run()
