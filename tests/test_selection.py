"""ui/views/selection.py against recorded plotly selection payloads, and the figures of core/figures.

The payload shapes were recorded with streamlit 1.67 / plotly 7.1 (the team's streamlit notes,
shared/docs/streamlit-notes.md outside this repository, sections 6 and 12): scalar customdata (1-D
customdata, one trace), dict with string keys (px custom_data), lists (2-D customdata); point_indices
are per-trace and must be ignored.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from core.figures import layout, maps, pairs, prune, theory
from ui.views.selection import cells_from_selection, customdata_rows, ids_from_selection

# Recorded: px.scatter(color=label, custom_data=["sample_id"]), lasso over 3 classes.
PX_DICT_PAYLOAD = {
    "selection": {
        "points": [
            {
                "curve_number": 0,
                "point_number": 4,
                "point_index": 4,
                "x": 0.1,
                "y": 0.2,
                "customdata": {"0": 1004},
                "legendgroup": "0",
            },
            {
                "curve_number": 1,
                "point_number": 4,
                "point_index": 4,
                "x": 0.3,
                "y": 0.1,
                "customdata": {"0": 1024},
                "legendgroup": "1",
            },
            {
                "curve_number": 2,
                "point_number": 0,
                "point_index": 0,
                "x": 0.5,
                "y": 0.4,
                "customdata": {"0": 1040},
                "legendgroup": "2",
            },
        ],
        "point_indices": [4, 0],
        "box": [],
        "lasso": [{"type": "lasso", "x": [0, 1, 1], "y": [0, 0, 1], "xref": "x", "yref": "y"}],
    }
}
# Recorded: one go.Scattergl with customdata=np.arange(N)+5000, box select.
SCALAR_PAYLOAD = {
    "selection": {
        "points": [
            {"curve_number": 0, "point_number": k, "point_index": k, "x": 0.0, "y": 0.0, "customdata": 5000 + k}
            for k in (7, 3, 7, 11)
        ],
        "point_indices": [7, 3, 11],
        "box": [{"type": "box", "x": [0, 1], "y": [0, 1], "xref": "x", "yref": "y"}],
        "lasso": [],
    }
}
# 2-D customdata [id, label, score] as lists (ids arrive as floats after JSON).
LIST_PAYLOAD = {
    "selection": {
        "points": [
            {"curve_number": 0, "point_index": 0, "customdata": [12.0, 3, 0.5]},
            {"curve_number": 0, "point_index": 1, "customdata": [9, 1, 0.1]},
            {"curve_number": 0, "point_index": 2},
        ],  # a point without customdata
        "point_indices": [0, 1, 2],
        "box": [],
        "lasso": [],
    }
}


class AttrState:
    """PlotlyState-like object exposing .selection with .points (attribute access)."""

    def __init__(self, payload: dict):
        sel = payload["selection"]
        self.selection = type("Sel", (), {"points": sel["points"], "point_indices": sel["point_indices"]})()


def test_px_dict_customdata_uses_ids_not_point_indices():
    assert ids_from_selection(PX_DICT_PAYLOAD) == [1004, 1024, 1040]
    # point_indices (per-trace, deduplicated) would have given 2 wrong rows
    assert len(PX_DICT_PAYLOAD["selection"]["point_indices"]) == 2


def test_scalar_customdata_deduplicated_in_order():
    assert ids_from_selection(SCALAR_PAYLOAD) == [5007, 5003, 5011]


def test_list_customdata_first_element_and_missing_skipped():
    assert ids_from_selection(LIST_PAYLOAD) == [12, 9]
    assert customdata_rows(LIST_PAYLOAD) == [[12.0, 3, 0.5], [9, 1, 0.1]]


def test_inner_selection_dict_and_attribute_object_and_empty():
    assert ids_from_selection(SCALAR_PAYLOAD["selection"]) == [5007, 5003, 5011]
    assert ids_from_selection(AttrState(PX_DICT_PAYLOAD)) == [1004, 1024, 1040]
    assert ids_from_selection(None) == []
    assert ids_from_selection({}) == []
    assert ids_from_selection({"selection": {"points": [], "point_indices": []}}) == []


def test_dict_keys_sorted_numerically_and_json_roundtrip():
    payload = json.loads(
        json.dumps(
            {"selection": {"points": [{"customdata": {"10": 0, "1": 7, "0": 42, "2": 3}}], "point_indices": [0]}}
        )
    )
    assert customdata_rows(payload) == [[42, 7, 3, 0]]
    assert ids_from_selection(payload) == [42]


def test_non_numeric_and_nan_ids_are_dropped():
    payload = {
        "selection": {"points": [{"customdata": "abc"}, {"customdata": float("nan")}, {"customdata": np.int64(5)}]}
    }
    assert ids_from_selection(payload) == [5]


def test_cells_from_heatmap_overlay_payload():
    payload = {
        "selection": {
            "points": [
                {"curve_number": 1, "point_index": 23, "customdata": [2, 3]},
                {"curve_number": 1, "point_index": 23, "customdata": {"0": 2, "1": 3}},
                {"curve_number": 1, "point_index": 5, "customdata": [0.0, 5.0]},
                {"curve_number": 0, "point_index": 1, "customdata": 7},
            ]
        }
    }  # scalar: not a cell
    assert cells_from_selection(payload) == [(2, 3), (0, 5)]


# ---- core/figures: the figures carry what the selection parser reads back -------------------


def test_umap_scatter_is_one_webgl_trace_with_ids():
    rng = np.random.default_rng(0)
    ids = np.array([5, 9, 2, 40])
    fig = maps.umap_scatter(
        ids,
        rng.normal(size=4),
        rng.normal(size=4),
        np.array([0, 1, 2, 1]),
        categories=["a", "b", "c"],
        color_title="class",
        hover_label=["a", "b", "c", "b"],
    )
    assert len(fig.data) == 1
    trace = fig.data[0]
    assert isinstance(trace, go.Scattergl)
    np.testing.assert_array_equal(trace.customdata, ids)
    np.testing.assert_array_equal(trace.marker.color, [0, 1, 2, 1])
    assert (trace.marker.cmin, trace.marker.cmax) == (-0.5, 2.5)
    assert list(trace.marker.colorbar.ticktext) == ["a", "b", "c"]
    assert fig.layout.dragmode == "lasso"
    # stepped scale: code k maps to exactly one palette colour on [k/3, (k+1)/3]
    scale = [tuple(s) for s in trace.marker.colorscale]
    assert scale == [
        (0.0, layout.PALETTE[0]),
        (1 / 3, layout.PALETTE[0]),
        (1 / 3, layout.PALETTE[1]),
        (2 / 3, layout.PALETTE[1]),
        (2 / 3, layout.PALETTE[2]),
        (1.0, layout.PALETTE[2]),
    ]


def test_umap_scatter_continuous_score_and_sizes():
    score = np.array([0.0, 0.5, 1.0, np.nan])
    fig = maps.umap_scatter(
        np.arange(4), np.zeros(4), np.zeros(4), score, color_title="band", sizes=maps.size_from_score(score, 3, 12)
    )
    trace = fig.data[0]
    np.testing.assert_array_equal(trace.marker.color, score)
    np.testing.assert_allclose(trace.marker.size, [3, 7.5, 12, 3])
    assert "band" in trace.hovertemplate and "%{customdata}" in trace.hovertemplate


def test_parent_child_figures_mark_removed_points():
    frame = pd.DataFrame(
        {
            "index": [0, 1, 2, 3],
            "x_parent": [0, 1, 2, 3.0],
            "y_parent": [0, 1, 0, 1.0],
            "x_child": [1, 2, 3, 4.0],
            "y_child": [1, 1, 1, 1.0],
            "kept": [True, False, True, False],
        }
    )
    labels = np.array([0, 1, 1, 0])
    parent, child = maps.parent_child_figures(frame, labels, ["x", "y"])
    # one legend entry per category: kept first, removed last (drawn on top, red)
    assert [t.name for t in parent.data] == ["kept", "removed"]
    np.testing.assert_array_equal(parent.data[0].customdata, [0, 2])
    np.testing.assert_array_equal(parent.data[1].customdata, [1, 3])
    np.testing.assert_array_equal(parent.data[1].x, [1, 3])
    assert parent.data[1].marker.color == layout.REMOVED_COLOR
    # the child's kept points by class, in the class palette (no colour bar)
    assert [(t.name, list(t.customdata), t.marker.color) for t in child.data] == [
        ("x", [0], layout.PALETTE[0]),
        ("y", [2], layout.PALETTE[1]),
    ]
    assert "2 removed" in parent.layout.title.text


def test_pair_heatmap_overlay_cells():
    m = np.arange(9).reshape(3, 3)
    fig = pairs.pair_heatmap(m, ["a", "b", "c"], title="t", value_name="pairs", selected=(1, 2))
    heat, overlay = fig.data
    np.testing.assert_array_equal(heat.z, m)
    cells = [tuple(r) for r in np.asarray(overlay.customdata)]
    assert len(cells) == 9 and (1, 2) in cells
    # overlay point (row, col) sits at x=col, y=row, i.e. on top of heat.z[row][col]
    for (r, c), x, y in zip(cells, overlay.x, overlay.y, strict=True):
        assert (x, y) == (c, r)
    assert fig.layout.shapes[0].x0 == 1.5 and fig.layout.shapes[0].y0 == 0.5


def test_score_histogram_splits_kept_and_pruned():
    scores = np.array([0.1, 0.9, 0.5, 0.8, 0.2])
    fig = prune.score_histogram(scores, np.array([1, 3]), "band", 0.4)
    kept, pruned = fig.data
    assert sorted(kept.x) == [0.1, 0.2, 0.5] and sorted(pruned.x) == [0.8, 0.9]
    assert pruned.name == "pruned (2)"
    assert fig.layout.shapes[0].x0 == pytest.approx((0.5 + 0.8) / 2)


def test_monitor_frame_reads_only_monitored_epochs():
    rows = [
        {"epoch": 1, "loss": 3.0},
        {"epoch": 2, "monitor": {"ucl": 5.0, "hard_ucl": 5.5, "scl": 4.0, "hard_scl": 4.2}},
        {"epoch": 3, "monitor": {"ucl": 4.5, "hard_ucl": 5.0, "scl": 3.5}},
    ]
    frame = theory.monitor_frame(rows)
    assert frame["epoch"].tolist() == [2, 3]
    assert frame["hard_scl"].iloc[0] == 4.2 and np.isnan(frame["hard_scl"].iloc[1])
    fig = theory.monitor_curves(frame)
    assert [t.name for t in fig.data] == ["UCL", "H-UCL", "SCL", "H-SCL"]
