"""Plotly selection payloads (st.plotly_chart on_select) -> sample ids.

Streamlit returns ``{"selection": {"points": [...], "point_indices": [...], "box": [...],
"lasso": [...]}}``. Measured on streamlit 1.67 / plotly 7.1 (the team's streamlit notes,
shared/docs/streamlit-notes.md outside this repository, section 6):

* ``point_indices`` counts inside each trace, so it is wrong for multi-trace figures; it is
  ignored here.
* a point's ``customdata`` comes back as a scalar (1-D customdata on one trace), a list
  (2-D customdata), or a dict with string keys ``{"0": 1000, "1": 3}`` (px ``custom_data``).

:func:`customdata_rows` normalises all three into lists; :func:`ids_from_selection` takes the
first element of each as the sample id. The page's ``on_select`` callback (see
:func:`store_ids_callback`) writes the ids to ``st.session_state["selected_ids"]`` so the image
grid can be driven (and tested) independently of the chart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

SELECTED_IDS_KEY = "selected_ids"


def _selection_dict(payload: Any) -> Mapping:
    """The inner ``selection`` mapping of a PlotlyState / dict / attribute-style object."""
    if payload is None:
        return {}
    sel = None
    if isinstance(payload, Mapping):
        sel = payload.get("selection", payload)
    else:
        sel = getattr(payload, "selection", None)
    if sel is None:
        return {}
    if isinstance(sel, Mapping):
        return sel
    points = getattr(sel, "points", None)
    return {"points": points or []}


def _as_row(value: Any) -> list | None:
    """One point's customdata as a list (scalar -> [v], dict with "0","1".. keys -> ordered)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        if not value:
            return None

        def order(key: Any) -> tuple[int, Any]:
            try:
                return (0, int(key))
            except (TypeError, ValueError):
                return (1, str(key))

        return [value[k] for k in sorted(value, key=order)]
    if isinstance(value, (list, tuple)):
        return list(value) if value else None
    tolist = getattr(value, "tolist", None)  # numpy scalar / array
    if tolist is not None:
        return _as_row(tolist())
    return [value]


def customdata_rows(payload: Any) -> list[list]:
    """Each selected point's customdata as a list, in payload order (points without it skipped)."""
    points = _selection_dict(payload).get("points") or []
    rows = []
    for point in points:
        if not isinstance(point, Mapping):
            continue
        row = _as_row(point.get("customdata"))
        if row is not None:
            rows.append(row)
    return rows


def _to_int(value: Any) -> int | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    if f != f or f in (float("inf"), float("-inf")):
        return None
    return int(round(f))


def ids_from_selection(payload: Any) -> list[int]:
    """Sample ids (first customdata element) of the selected points, deduplicated, in order.

    Args:
        payload: the value of ``st.plotly_chart(..., on_select=...)`` or
            ``st.session_state[chart_key]``; ``None``/empty gives ``[]``.

    Returns:
        list of int sample ids; ``point_indices`` is deliberately ignored.
    """
    seen: set[int] = set()
    out: list[int] = []
    for row in customdata_rows(payload):
        i = _to_int(row[0])
        if i is not None and i not in seen:
            seen.add(i)
            out.append(i)
    return out


def cells_from_selection(payload: Any) -> list[tuple[int, int]]:
    """(row, col) pairs from points whose customdata holds two integers (heatmap cell overlay)."""
    out: list[tuple[int, int]] = []
    for row in customdata_rows(payload):
        if len(row) < 2:
            continue
        a, b = _to_int(row[0]), _to_int(row[1])
        if a is not None and b is not None and (a, b) not in out:
            out.append((a, b))
    return out


def store_ids_callback(chart_key: str, target_key: str = SELECTED_IDS_KEY) -> Callable[[], None]:
    """An ``on_select`` callback copying the chart's selected ids into ``session_state[target_key]``.

    An empty selection (double click to clear) keeps the previous ids, so the grid does not
    vanish when the user only wants to pan; use a "clear" button to empty it.
    """

    def _callback() -> None:
        import streamlit as st

        ids = ids_from_selection(st.session_state.get(chart_key))
        if ids:
            st.session_state[target_key] = ids

    return _callback


def selection_regions(payload: Any) -> list[tuple[str, list[float], list[float]]]:
    """The lasso polygons and boxes of a selection payload, in data coordinates.

    Streamlit sends ``selection.lasso = [{"xref", "yref", "x": [...], "y": [...]}]`` (the polygon's
    vertices) and ``selection.box = [{"x": [x0, x1], "y": [y0, y1]}]``.

    Returns:
        ``[("lasso" | "box", xs, ys), ...]``; regions with too few vertices are skipped.
    """
    sel = _selection_dict(payload)
    out: list[tuple[str, list[float], list[float]]] = []
    for kind, need in (("lasso", 3), ("box", 2)):
        for region in sel.get(kind) or []:
            if not isinstance(region, Mapping):
                continue
            xs = [float(v) for v in region.get("x") or []]
            ys = [float(v) for v in region.get("y") or []]
            if len(xs) >= need and len(xs) == len(ys):
                out.append((kind, xs, ys))
    return out


def store_region_ids_callback(
    chart_key: str, resolve: Callable[[Any], list[int] | None], target_key: str = SELECTED_IDS_KEY
) -> Callable[[], None]:
    """An ``on_select`` callback: ``resolve(payload)`` (ids inside the lasso/box among ALL points, or
    None when the payload holds no region) -> ``session_state[target_key]``; clicks fall back to the
    clicked points' ids. An empty selection keeps the previous ids (as :func:`store_ids_callback`)."""

    def _callback() -> None:
        import streamlit as st

        payload = st.session_state.get(chart_key)
        ids = resolve(payload)
        if ids is None:
            ids = ids_from_selection(payload)
        if ids:
            st.session_state[target_key] = ids

    return _callback


OPEN_SAMPLE_KEY = "open_sample"  # a clicked map point's id: the page opens its sample view
SELECTED_REGIONS_KEY = "selected_regions"  # the lasso / box regions of the last region selection


def select_or_open_callback(
    chart_key: str,
    resolve: Callable[[list[tuple[str, list[float], list[float]]]], list[int]],
    target_key: str = SELECTED_IDS_KEY,
) -> Callable[[], None]:
    """An ``on_select`` callback for a map: a lasso / box puts ``resolve(regions)`` (the ids of ALL points inside)
    into ``session_state[target_key]`` and the regions into ``SELECTED_REGIONS_KEY`` (the page stores them for the
    URL); a click on a point (no region) puts its id into ``OPEN_SAMPLE_KEY`` (the page opens its sample view).
    An empty selection changes nothing."""

    def _callback() -> None:
        import streamlit as st

        payload = st.session_state.get(chart_key)
        regions = selection_regions(payload)
        if regions:
            ids = resolve(regions)
            if ids:
                st.session_state[target_key] = ids
                st.session_state[SELECTED_REGIONS_KEY] = regions
            return
        clicked = ids_from_selection(payload)
        if clicked:
            st.session_state[OPEN_SAMPLE_KEY] = clicked[-1]

    return _callback
