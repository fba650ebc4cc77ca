"""The app's shared frame: run selector, CLI twins, error and empty-state boxes, cached readers.

* The sidebar run selector lives in the entrypoint (``app.py`` calls :func:`render_sidebar`),
  so its value survives page switches. Pages read it with :func:`selected_run` and may change
  it with :func:`select_run`. Session state only holds the run folder as a string.
* :func:`show_command` renders the ``python -m core ...`` twin of what a page shows.
* :func:`guard` turns failures into ``st.error`` boxes that say what to do.
* ``read_*_cached`` are keyed by (path, mtime, size): a rewritten file is re-read, and no big
  array is ever hashed (Streamlit hashes big arrays from a sample -- see the notes).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from core.errors import HardpairsError
from core.jobs import queue as jobs
from core.runs.folder import list_runs, read_json, runs_root

RUN_KEY = "hp_run"  # the selected run folder (str), shared by all pages
_RUN_WIDGET = "hp_run_widget"  # the sidebar selectbox's own key
#: markdown icons of job/run states (Material icons ship with Streamlit; emoji fonts may be missing)
STATE_ICONS = {
    "done": ":material/check_circle:",
    "running": ":material/progress_activity:",
    "queued": ":material/schedule:",
    "failed": ":material/error:",
    "cancelled": ":material/stop_circle:",
}


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


def fmt_acc(value: Any) -> str:
    """An accuracy in [0, 1] as ``"93.4%"``; ``"–"`` when missing."""
    return "–" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{100 * float(value):.1f}%"


def run_label(row: dict) -> str:
    """Selector label: dataset · loss mode [· prune] · seed · state · linear accuracy — run id."""
    prune = ""
    if row.get("prune_score"):
        prune = f" · {row['prune_score']} {100 * float(row.get('prune_ratio') or 0):.0f}%"
    state = row.get("state") or "?"
    return (
        f"{row.get('dataset') or '?'} · {row.get('loss_mode') or '?'}{prune} · s{row.get('seed')} · "
        f"{state} · {fmt_acc(row.get('linear_acc'))} — {row['run_id']}"
    )


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
            count = jobs.counts(jobs.poll(root))
        except OSError as err:
            st.caption(f"Jobs unavailable: {err}")
            return
        if count["running"] or count["queued"]:
            st.caption(
                f":material/progress_activity: Jobs: {count['running']} running, {count['queued']} queued — see **Runs**."
            )
        else:
            st.caption("No jobs running.")


def command_text(cmd: str | Sequence[Any]) -> str:
    """A shell line for ``cmd``: a string as is; a list of ``python -m core`` arguments, or a
    full command starting with ``python``/the interpreter."""
    if isinstance(cmd, str):
        return cmd
    parts = [str(c) for c in cmd]
    if parts and parts[0] not in ("python", sys.executable):
        parts = jobs.core_command(parts)
    return jobs.display_command(parts)


def show_command(cmd: str | Sequence[Any], caption: str = "Same thing from a terminal:") -> None:
    """Render the CLI twin of what the page shows, as a copyable code block."""
    if caption:
        st.caption(caption)
    st.code(command_text(cmd), language="bash")


def empty_state(message: str, command: str | Sequence[Any] | None = None) -> None:
    """An info box saying what to do next, optionally with the command that does it."""
    st.info(message, icon=":material/info:")
    if command is not None:
        show_command(command, caption="")


def error_box(err: BaseException | str, what: str = "This step") -> None:
    """Explain a failure: a HardpairsError's message as is; anything else with a fix and a
    folded traceback (never a bare traceback)."""
    if isinstance(err, str):
        st.error(err, icon=":material/error:")
    elif isinstance(err, HardpairsError):
        st.error(str(err), icon=":material/error:")
    else:
        st.error(
            f"{what} failed: {type(err).__name__}: {err}. The run folder may be incomplete or from "
            "an older version: recompute it with the command shown on this page; if it keeps "
            "failing, report the details below.",
            icon=":material/error:",
        )
        with st.expander("Details (traceback)"):
            st.code("".join(traceback.format_exception(err)), language="text")


@contextmanager
def guard(what: str = "This page") -> Iterator[None]:
    """Run a block and show any failure with :func:`error_box` instead of a traceback."""
    try:
        yield
    except HardpairsError as err:
        error_box(err, what)
    except Exception as err:  # noqa: BLE001 - last resort, still explained
        error_box(err, what)


def file_stamp(path: str | Path) -> tuple[str, int, int] | None:
    """``(path, mtime_ns, size)``, the cache key of a file; None when it does not exist."""
    try:
        stat = Path(path).stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return str(path), stat.st_mtime_ns, stat.st_size


@st.cache_data(max_entries=512, show_spinner=False)
def _json(path: str, mtime_ns: int, size: int) -> Any:
    return read_json(path)


@st.cache_data(max_entries=64, show_spinner=False)
def _csv(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    return pd.read_csv(path)


@st.cache_resource(max_entries=8, show_spinner=False)
def _npz(path: str, mtime_ns: int, size: int) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    for arr in arrays.values():
        arr.setflags(write=False)  # shared by every session: never mutate
    return arrays


def read_json_cached(path: str | Path, default: Any = None) -> Any:
    """A JSON file's content (cached until the file changes), or ``default`` when missing."""
    stamp = file_stamp(path)
    return default if stamp is None else _json(*stamp)


def read_csv_cached(path: str | Path) -> pd.DataFrame | None:
    """A CSV as a DataFrame (a cached copy until the file changes), or None when missing."""
    stamp = file_stamp(path)
    return None if stamp is None else _csv(*stamp)


def load_npz_cached(path: str | Path) -> dict[str, np.ndarray] | None:
    """Read-only arrays of an .npz, shared across sessions until the file changes; None if missing."""
    stamp = file_stamp(path)
    return None if stamp is None else _npz(*stamp)


leave_legacy_pages_mode()  # the first page run in a process; later runs call it via selected_run() or at the page top
