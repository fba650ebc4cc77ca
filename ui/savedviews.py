"""The sidebar's "Saved views" of the selected run: save the current page and its URL state under a name, and
links to every view saved for the run (``core.audit.views``: ``<run>/views.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from core.audit import views
from core.errors import HardpairsError


def saved_views_widget(run_dir: Path, page: Any, pages: list[Any], key: str = "sv_saved") -> None:
    """Inside a sidebar expander: the run's named views as links, and a name field + "Save this view" button for
    ``page`` (an ``st.Page``) with the URL's current parameters."""
    try:
        have = views.list_views(run_dir)
    except HardpairsError as err:
        st.caption(str(err))
        return
    by_path = {getattr(p, "url_path", ""): p for p in pages}
    for name, view in sorted(have.items()):
        target = by_path.get(str(view.get("page")))
        if target is not None:
            st.page_link(target, label=name, query_params=dict(view.get("params") or {}))
    if not have:
        st.caption("No saved views for this run yet.")
    name = st.text_input("View name", key=f"{key}_name", placeholder="e.g. margin 35 %")
    if st.button("Save this view", key=f"{key}_save", disabled=not name.strip()):
        params = {k: v for k, v in st.query_params.to_dict().items()}
        try:
            views.save_view(run_dir, name, getattr(page, "url_path", ""), {**params, "run": run_dir.name})
        except HardpairsError as err:
            st.error(str(err))
        else:
            st.rerun()
