"""Messages and command display: the CLI twin of a page, empty states, explained errors.

* :func:`show_command` renders the ``python -m core ...`` twin of what a page shows.
* :func:`guard` turns failures into ``st.error`` boxes that say what to do.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import streamlit as st

from core.errors import HardpairsError
from core.jobs import records


def plain(text: Any, limit: int | None = 80) -> str:
    """Text from data (a class, tag, file or run name) made safe for ``st.markdown``/``st.info``/``st.caption``.

    Whitespace (newlines included) collapses to single spaces, text longer than ``limit`` characters is cut
    with "…" (show the full name on hover with the widget's ``help=``), and Markdown's special characters
    are escaped (``ui.views.compareview.md_escape``, plus ``:`` ``-`` ``.`` ``=``), so ``![b](http://x/y.png)``
    is shown as written and never makes the browser fetch anything.
    """
    from ui.views.compareview import md_escape

    flat = " ".join(str(text).split())
    if limit is not None and len(flat) > limit:
        flat = flat[: max(1, limit - 1)] + "…"
    return "".join("\\" + ch if ch in ":-.=" else ch for ch in md_escape(flat))


def command_text(cmd: str | Sequence[Any]) -> str:
    """A shell line for ``cmd``: a string as is; a list of ``python -m core`` arguments, or a
    full command starting with ``python``/the interpreter."""
    if isinstance(cmd, str):
        return cmd
    parts = [str(c) for c in cmd]
    if parts and parts[0] not in ("python", sys.executable):
        parts = records.core_command(parts)
    return records.display_command(parts)


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
