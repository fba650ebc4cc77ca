"""Hardpairs app: ``streamlit run app.py`` (from the repository root).

The entrypoint is the frame around every page: page config, the navigation, and the sidebar
with the run selector (kept across pages because it lives here) and the job summary.
Pages are UI only; every computation runs as a ``python -m core ...`` job (core/jobs/queue.py).
"""

from __future__ import annotations

import streamlit as st

from ui.feedback import guard
from ui.frame import follow_deep_link, in_frame, render_sidebar, selected_run
from ui.savedviews import saved_views_widget
from ui.tagging import id_search
from ui.views.sampleview import sample_params

# an emoji favicon is an inline SVG; a ":material/...:" one would be fetched from fonts.gstatic.com
st.set_page_config(page_title="Hardpairs", page_icon="🧩", layout="wide")

# URL paths match the page titles (README, "The pages"); Runs, the default page, is served at "/".
# No url_path equals a file name in pages/ (runs.py is "home"; the others are named e.g. compare_runs.py):
# while Streamlit still treats the app as a legacy `pages/` app (before the first st.navigation call
# after a server start) such a URL would run that file alone, and the rerun that puts it back inside
# this frame (ui.frame.leave_legacy_pages_mode) drops the clicks of that run.
# The selected run is in the URL too (`?run=<name>`, ui.frame).
PAGES = [
    st.Page("pages/runs.py", title="Runs", icon=":material/play_circle:", url_path="home", default=True),
    st.Page("pages/embedding_map.py", title="Embeddings", icon=":material/scatter_plot:", url_path="embeddings"),
    st.Page("pages/hard_pairs.py", title="Hard pairs", icon=":material/join_inner:", url_path="hard-pairs"),
    st.Page("pages/prune_retrain.py", title="Prune & retrain", icon=":material/content_cut:", url_path="prune"),
    st.Page("pages/compare_runs.py", title="Compare", icon=":material/leaderboard:", url_path="compare"),
    st.Page("pages/theory_bounds.py", title="Theory", icon=":material/functions:", url_path="theory"),
    st.Page("pages/label_review.py", title="Label review", icon=":material/rule:", url_path="label-review"),
    st.Page("pages/sample_view.py", title="Sample", icon=":material/image_search:", url_path="sample"),
]

page = st.navigation(PAGES)
follow_deep_link(PAGES, page)  # a first request's /hard-pairs etc. (legacy pages/ mode, see ui.frame)
with st.sidebar:
    st.markdown("### :material/extension: Hardpairs")
    st.caption("Difficult examples in contrastive learning (ICLR 2026)")
render_sidebar()
with st.sidebar.expander("Find a sample by id"):  # on every page: label, scores, pairs, tags, image
    if (current := selected_run()) is not None:
        with guard("Sample search"):
            sid = id_search(current, key="sidebar_id_search", lazy=True)
            if sid is not None:
                st.page_link(
                    PAGES[-1], label=f"Open #{sid} in the sample view", query_params=sample_params(current.name, sid)
                )
with st.sidebar.expander("Saved views of this run"):  # named page states, kept in the run folder (views.json)
    if (current := selected_run()) is not None:
        with guard("Saved views"):
            saved_views_widget(current, page, PAGES)
with in_frame():
    page.run()
