"""The app's frame: the sidebar run selector, the selected run, per-run widget resets, state in the URL.

The sidebar run selector lives in the entrypoint (``app.py`` calls :func:`render_sidebar`), so its
value survives page switches. Pages read it with :func:`selected_run` and may change it with
:func:`select_run`. Session state only holds the run folder as a string.

State in the URL: the selected run is ``?run=<run folder name>`` on every page, so a reload, a new
tab or a pasted link shows the same run; pages add their own parameters (the Hard pairs page its
class pair and definition) with :func:`new_url_value` (before the widget) and :func:`to_url` (after
it). The rule: a URL value that differs from the last one this session wrote or read is news
(a pasted link, a reload, a new tab) and wins over session state; otherwise session state wins and
is written back to the URL. An unknown run in the URL gives a sidebar warning and the default run.

The default run (:func:`default_run`): the user's last pick in the sidebar (kept in the runs folder, so a
new tab starts there too), else the newest *analysed* run (one with ``scores.csv``), else the newest run.
The first page run of a session pins it in session state: a run that appears later (a retrain launched
from Prune) never takes over a page by itself; the user picks it, or starts it from Runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import streamlit as st

from core.io import read_json, write_json
from core.jobs import records
from core.rundir.folder import list_runs, runs_root
from ui.views.labels import sidebar_labels

RUN_KEY = "hp_run"  # the selected run folder (str), shared by all pages
_RUN_WIDGET = "hp_run_widget"  # the sidebar selectbox's own key
RUN_PARAM = "run"  # the URL query parameter of the selected run (its folder name)
_URL_SEEN = "hp_url_seen"  # {param: every value this session has read from or written to the URL, oldest first}
_URL_MISSING = "hp_url_missing_run"  # a run name from the URL that is not in the runs folder
_DEEP_LINK = "hp_deep_link"  # the URL slug of a first request, followed after the legacy-mode rerun
LAST_CHOICE = ".last_run.json"  # in the runs root: {"run": <folder name>}, the user's last sidebar pick


_FRAME = threading.local()  # .active: this script run is app.py's, running a page through st.navigation


@contextmanager
def in_frame() -> Iterator[None]:
    """app.py runs its page inside this: a page run by the frame needs no legacy-mode rerun."""
    _FRAME.active = True
    try:
        yield
    finally:
        _FRAME.active = False


def leave_legacy_pages_mode() -> None:
    """Make sure pages run inside app.py's frame (navigation, sidebar, page config).

    Streamlit treats an app with a ``pages/`` folder as a legacy multipage app until a script
    calls ``st.navigation``: the first request after a server start that deep-links to a page
    (``/compare``) would run ``pages/compare_runs.py`` alone, and so would every later session until
    someone opens ``/``. This switches the legacy mode off and reruns the request, which then
    goes through app.py's ``st.navigation`` and lands on the same page (resolved by its URL
    name). Renaming ``pages/`` (e.g. to ``app_pages/``) would make this unnecessary.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if getattr(_FRAME, "active", False):
        return  # inside app.py's frame already; a rerun here would only drop this run's clicks
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        # a URL that is not a file name (``/hard-pairs``) was resolved to app.py by the legacy mode and
        # the rerun would land on the default page: remember the slug; app.py follows it (follow_deep_link)
        st.session_state[_DEEP_LINK] = _url_slug()
        st.rerun()


def _url_slug() -> str:
    """The last path segment of the browser's URL ("" for the root or when unknown)."""
    from urllib.parse import urlparse

    try:
        url = st.context.url or ""
    except Exception:  # noqa: BLE001 - no browser context (bare mode, AppTest)
        return ""
    return urlparse(url).path.rstrip("/").rsplit("/", 1)[-1]


def follow_deep_link(pages: Sequence[Any], current: Any) -> None:
    """After ``st.navigation``: switch to the page a first request's URL named, when the legacy-mode rerun
    (see :func:`leave_legacy_pages_mode`) landed elsewhere. Query parameters (``?run=``) are kept."""
    slug = st.session_state.pop(_DEEP_LINK, None)
    if not slug or getattr(current, "url_path", None) == slug:
        return
    target = next((p for p in pages if getattr(p, "url_path", None) == slug), None)
    if target is not None:
        st.switch_page(target, query_params=st.query_params.to_dict())


def runs_folder() -> Path:
    """The runs root the app reads (``$HARDPAIRS_RUNS`` or ``cache/runs``)."""
    return runs_root()


def default_run(rows: Sequence[dict[str, Any]], last: str | None) -> str | None:
    """The run a session starts on: the run folder named ``last`` (the user's last pick) when it is listed, else
    the newest analysed run (``scores.csv`` present), else the newest; None without runs. ``rows`` newest first."""
    if not rows:
        return None
    by_name = {Path(r["run_dir"]).name: str(r["run_dir"]) for r in rows}
    if last in by_name:
        return by_name[last]
    analysed = [str(r["run_dir"]) for r in rows if (Path(r["run_dir"]) / "scores.csv").is_file()]
    return analysed[0] if analysed else str(rows[0]["run_dir"])


def last_choice(root: Path) -> str | None:
    """The run folder name of the user's last sidebar pick under ``root`` (None when none or unreadable)."""
    try:
        name = (read_json(root / LAST_CHOICE, {}) or {}).get("run")
    except Exception:  # noqa: BLE001 - a corrupt file only loses the preference
        return None
    return name if isinstance(name, str) else None


def _remember_widget_choice() -> None:
    st.session_state[RUN_KEY] = st.session_state.get(_RUN_WIDGET)
    st.session_state.pop(_URL_MISSING, None)
    chosen = st.session_state.get(RUN_KEY)
    if chosen:
        try:
            write_json(runs_folder() / LAST_CHOICE, {"run": Path(chosen).name})
        except OSError:
            pass  # a read-only runs folder: the pick still holds for this session


def new_url_value(param: str) -> str | None:
    """The URL's value of ``param`` when it is news to this session (a pasted link, a reload, a new tab), else
    None. A value is news once: it is remembered as seen.

    A value the URL already held earlier in this session is never news again: a rerun that the browser
    sends before it has applied the latest :func:`to_url` (two quick picks in a row) carries the
    previous value, and applying it would undo the user's last pick. (So the browser's Back button to
    an earlier value leaves the pickers as they are; the URL then follows them again.)"""
    value = st.query_params.get(param)
    if value is None or value in st.session_state.get(_URL_SEEN, {}).get(param, ()):
        return None  # no value, the current one, or a stale echo of an earlier URL: not the user's link
    _seen(param, value)
    return value


def _seen(param: str, value: str) -> None:
    seen = st.session_state.setdefault(_URL_SEEN, {}).setdefault(param, [])
    seen[:] = [*(v for v in seen if v != value), value][-50:]


def url_to_widget(param: str, key: str, options: Sequence[str]) -> None:
    """Before a widget keyed ``key``: a new URL value of ``param`` that is one of ``options`` becomes its value."""
    value = new_url_value(param)
    if value is not None and value in options:
        st.session_state[key] = value


def to_url(param: str, value: str | None) -> None:
    """Write the shown ``value`` of ``param`` to the URL (remove the parameter for None)."""
    if value is None:
        if param in st.query_params:
            del st.query_params[param]
    else:
        if st.query_params.get(param) != value:
            st.query_params[param] = value
        _seen(param, value)


def keep_widget(key: str) -> None:
    """Before a widget keyed ``key`` (after any URL value was applied to it): keep its value across pages.

    Streamlit forgets a widget's value when a script run does not draw it (a visit to another page through the
    sidebar), and the navigation drops the page's URL parameters: the value is mirrored in ``<key>__kept`` and
    put back when the widget is drawn again. (Same prefix as the widget: :func:`reset_on_run_change` forgets both.)
    """
    kept = f"{key}__kept"
    if key in st.session_state:
        st.session_state[kept] = st.session_state[key]
    elif kept in st.session_state:
        st.session_state[key] = st.session_state[kept]


def _run_from_url(options: Sequence[str]) -> None:
    """Select the run a pasted link / reload names (``?run=<name>``); remember an unknown one for the warning."""
    name = new_url_value(RUN_PARAM)
    if name is None:
        return
    by_name = {Path(o).name: o for o in options}
    if name in by_name:
        select_run(by_name[name])
        st.session_state.pop(_URL_MISSING, None)
    else:
        st.session_state[_URL_MISSING] = name


def select_run(run_dir: str | Path | None) -> None:
    """Make ``run_dir`` the selected run (takes effect in the sidebar on the next rerun)."""
    st.session_state[RUN_KEY] = str(run_dir) if run_dir else None
    st.session_state.pop(_RUN_WIDGET, None)


def selected_run() -> Path | None:
    """The run folder chosen in the sidebar; the default run (:func:`default_run`) if none is; None without runs."""
    leave_legacy_pages_mode()
    chosen = st.session_state.get(RUN_KEY)
    if chosen and (Path(chosen) / "config.json").exists():
        return Path(chosen)
    root = runs_folder()
    run = default_run(list_runs(root), last_choice(root))
    return Path(run) if run else None


def selected_run_or_hint() -> Path | None:
    """``selected_run()``; when there is no run, None after telling the user how to get one."""
    run = selected_run()
    if run is None:
        st.info(
            "No run selected. Train one on the **Runs** page (the quick digits model takes "
            "under a minute on a CPU), then pick it in the sidebar."
        )
    return run


def render_sidebar() -> None:
    """Sidebar frame: the run selector, the runs folder, and a count of running/queued jobs."""
    root = runs_folder()
    rows = list_runs(root)
    with st.sidebar:
        if rows:
            options = [r["run_dir"] for r in rows]
            labels = sidebar_labels(rows)
            # RUN_KEY is the source of truth (pages may set it, e.g. to a run being trained that
            # does not exist yet); the widget mirrors it and writes back through on_change.
            _run_from_url(options)
            current = st.session_state.get(RUN_KEY)
            fallback = str(default_run(rows, last_choice(root)))
            if not current:  # pin the default: a run that appears later does not take over by itself
                current = st.session_state[RUN_KEY] = fallback
            index = options.index(current if current in options else fallback)
            missing = st.session_state.get(_URL_MISSING)
            if missing:
                st.warning(
                    f"The link asks for run `{missing}`, which is not in the runs folder; showing "
                    f"`{Path(options[index]).name}` instead. Pick a run below.",
                    icon=":material/link_off:",
                )
            if st.session_state.get(_RUN_WIDGET) != options[index]:
                st.session_state.pop(_RUN_WIDGET, None)
            st.selectbox(
                "Run",
                options,
                index=index,
                key=_RUN_WIDGET,
                format_func=labels.__getitem__,
                on_change=_remember_widget_choice,
                help="The run every page shows (also in the page URL as `?run=`, so a link keeps it). "
                "Newest first; label: dataset · loss mode · seed · state · linear-probe accuracy — run id.",
            )
            to_url(RUN_PARAM, Path(options[index]).name)
        else:
            st.caption("No runs yet — train one on the **Runs** page.")
        st.caption(f"Runs folder: `{root}`")
        try:
            count = records.counts(records.list_jobs(root))
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
