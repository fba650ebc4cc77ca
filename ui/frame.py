"""The app's frame: the sidebar run selector, the selected run, and per-run widget resets.

The sidebar run selector lives in the entrypoint (``app.py`` calls :func:`render_sidebar`), so its
value survives page switches. Pages read it with :func:`selected_run` and may change it with
:func:`select_run`. Session state only holds the run folder as a string.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.jobs import queue as jobs
from core.runs.folder import list_runs, runs_root
from ui.labels import run_label

RUN_KEY = "hp_run"  # the selected run folder (str), shared by all pages
_RUN_WIDGET = "hp_run_widget"  # the sidebar selectbox's own key


def leave_legacy_pages_mode() -> None:
    """Make sure pages run inside app.py's frame (navigation, sidebar, page config).

    Streamlit treats an app with a ``pages/`` folder as a legacy multipage app until a script
    calls ``st.navigation``: the first request after a server start that deep-links to a page
    (``/compare``) would run ``pages/compare.py`` alone, and so would every later session until
    someone opens ``/``. This switches the legacy mode off and reruns the request, which then
    goes through app.py's ``st.navigation`` and lands on the same page (resolved by its URL
    name). Renaming ``pages/`` (e.g. to ``app_pages/``) would make this unnecessary.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def runs_folder() -> Path:
    """The runs root the app reads (``$HARDPAIRS_RUNS`` or ``cache/runs``)."""
    return runs_root()


def _remember_widget_choice() -> None:
    st.session_state[RUN_KEY] = st.session_state.get(_RUN_WIDGET)


def select_run(run_dir: str | Path | None) -> None:
    """Make ``run_dir`` the selected run (takes effect in the sidebar on the next rerun)."""
    st.session_state[RUN_KEY] = str(run_dir) if run_dir else None
    st.session_state.pop(_RUN_WIDGET, None)


def selected_run() -> Path | None:
    """The run folder chosen in the sidebar; the newest run if none is chosen; None without runs."""
    leave_legacy_pages_mode()
    chosen = st.session_state.get(RUN_KEY)
    if chosen and (Path(chosen) / "config.json").exists():
        return Path(chosen)
    rows = list_runs(runs_folder())
    return Path(rows[0]["run_dir"]) if rows else None


def render_sidebar() -> None:
    """Sidebar frame: the run selector, the runs folder, and a count of running/queued jobs."""
    root = runs_folder()
    rows = list_runs(root)
    with st.sidebar:
        if rows:
            options = [r["run_dir"] for r in rows]
            labels = {r["run_dir"]: run_label(r) for r in rows}
            # RUN_KEY is the source of truth (pages may set it, e.g. to a run being trained that
            # does not exist yet); the widget mirrors it and writes back through on_change.
            current = st.session_state.get(RUN_KEY)
            index = options.index(current) if current in options else 0
            if st.session_state.get(_RUN_WIDGET) != options[index]:
                st.session_state.pop(_RUN_WIDGET, None)
            st.selectbox(
                "Run",
                options,
                index=index,
                key=_RUN_WIDGET,
                format_func=labels.__getitem__,
                on_change=_remember_widget_choice,
                help="The run every page shows. Newest first; label: dataset · loss mode · "
                "seed · state · linear-probe accuracy — run id.",
            )
        else:
            st.caption("No runs yet — train one on the **Runs** page.")
        st.caption(f"Runs folder: `{root}`")
        try:
            count = jobs.counts(jobs.list_jobs(root))
        except OSError as err:
            st.caption(f"Jobs unavailable: {err}")
            return
        if count["running"] or count["queued"]:
            busy = f"{count['running']} running, {count['queued']} queued"
            st.caption(f":material/progress_activity: Jobs: {busy} — see **Runs**.")
        else:
            st.caption("No jobs running.")


def reset_on_run_change(run_dir: Path, prefix: str) -> None:
    """Forget this page's widget values (keys starting with ``prefix``) when the run changes.

    Widget defaults come from the run's files (theory.json, config.json); a keyed widget would
    otherwise keep the previous run's value.
    """
    marker = f"{prefix}run"
    if st.session_state.get(marker) not in (None, str(run_dir)):
        for key in [k for k in st.session_state if str(k).startswith(prefix) and k != marker]:
            del st.session_state[key]
    st.session_state[marker] = str(run_dir)


leave_legacy_pages_mode()  # the first page run in a process; later runs call it via selected_run() or at the page top
