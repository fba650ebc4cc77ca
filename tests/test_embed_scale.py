"""The Embeddings page at a million points: server-side lasso over all points, the drawn sample,
the density layer, categorical class legend, and the pruned-run title (issue 13, issue 11 section 8)."""

from __future__ import annotations

import numpy as np
import pytest

from core.figures.maps import map_figure
from tests.test_app_pages import digits, runs  # noqa: F401 - the page fixtures
from ui.views.embedview import (
    PAGE_DESCRIPTION,
    density,
    drawn_note,
    drawn_rows,
    ids_in_regions,
    map_title,
    points_in_polygon,
)
from ui.views.selection import selection_regions


def _star(n=9, seed=0):
    """A non-convex polygon (a star) with random radii."""
    rng = np.random.default_rng(seed)
    ang = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
    r = np.where(np.arange(2 * n) % 2 == 0, 1.0, 0.35) * rng.uniform(0.8, 1.2, 2 * n)
    return r * np.cos(ang), r * np.sin(ang)


def _brute_force(x, y, px, py):
    """Hand-written ray casting, one point at a time."""
    out = []
    for a, b in zip(x, y, strict=True):
        inside = False
        j = len(px) - 1
        for i in range(len(px)):
            if (py[i] > b) != (py[j] > b) and a < px[i] + (b - py[i]) * (px[j] - px[i]) / (py[j] - py[i]):
                inside = not inside
            j = i
        out.append(inside)
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_points_in_polygon_matches_brute_force(seed):
    px, py = _star(seed=seed)
    rng = np.random.default_rng(seed + 10)
    x, y = rng.uniform(-1.3, 1.3, 5000), rng.uniform(-1.3, 1.3, 5000)
    got = points_in_polygon(x, y, px, py)
    np.testing.assert_array_equal(got, _brute_force(x, y, px, py))
    assert 0.1 < got.mean() < 0.9
    assert not points_in_polygon(x, y, px[:2], py[:2]).any()  # fewer than 3 vertices: nothing inside
    # points exactly at vertex heights (ties) follow the same half-open rule as the reference
    xt, yt = rng.uniform(-1.3, 1.3, 400), np.repeat(py, 400 // len(py) + 1)[:400]
    np.testing.assert_array_equal(points_in_polygon(xt, yt, px, py), _brute_force(xt, yt, px, py))


def test_points_in_polygon_matches_matplotlib():
    mpath = pytest.importorskip("matplotlib.path")  # not in the dev requirements; checked where installed
    px, py = _star(seed=4)
    rng = np.random.default_rng(4)
    x, y = rng.uniform(-1.3, 1.3, 20_000), rng.uniform(-1.3, 1.3, 20_000)
    want = mpath.Path(np.c_[px, py]).contains_points(np.c_[x, y])
    np.testing.assert_array_equal(points_in_polygon(x, y, px, py), want)


def test_selection_regions_and_ids_over_all_points():
    payload = {
        "selection": {
            "points": [],
            "lasso": [{"xref": "x", "yref": "y", "x": [0, 2, 2, 0], "y": [0, 0, 2, 2]}],
            "box": [{"xref": "x", "yref": "y", "x": [5, 3], "y": [3, 5]}, {"x": [1], "y": [1]}],
        }
    }
    regions = selection_regions(payload)
    assert [r[0] for r in regions] == ["lasso", "box"]
    x = np.array([1.0, 3.0, 4.0, 10.0, 1.9])
    y = np.array([1.0, 1.0, 4.0, 10.0, 0.1])
    ids = np.array([10, 11, 12, 13, 14])
    assert ids_in_regions(regions, ids, x, y) == [10, 12, 14]
    assert ids_in_regions(selection_regions({"selection": {"points": [{"customdata": 3}]}}), ids, x, y) is None
    assert selection_regions(None) == []


def test_drawn_rows_bounded_seeded_and_independent_of_the_selection():
    assert len(drawn_rows(100, 200)) == 100
    rows = drawn_rows(1_000_000, 50_000)
    assert len(rows) == 50_000 and (np.diff(rows) > 0).all() and 0 <= rows[0] and rows[-1] < 1_000_000
    np.testing.assert_array_equal(rows, drawn_rows(1_000_000, 50_000))  # seeded: the same on every rerun
    assert not np.array_equal(rows, drawn_rows(1_000_000, 50_000, seed=1))
    assert "50,000 of 1,000,000" in drawn_note(1_000_000, 50_000) and drawn_note(10, 10) == ""


def test_density_counts_all_points():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(10_000), rng.standard_normal(10_000)
    z, xc, yc = density(x, y, bins=50)
    assert z.shape == (50, 50) and xc.shape == (50,) and yc.shape == (50,)
    assert np.nansum(np.expm1(z)) == pytest.approx(10_000, rel=1e-4)
    h, _, _ = np.histogram2d(x, y, bins=50)
    np.testing.assert_allclose(np.nan_to_num(np.expm1(z)), h.T, rtol=1e-4)  # z is indexed [y, x]


def test_map_title_of_pruned_run_states_kept_count():
    assert map_title("r", 1000, None) == "r: 1,000 training samples"
    title = map_title("child", 1000, np.arange(800))
    assert "trained on 800 of 1,000" in title and "keep.npy" in title
    assert "lasso" in PAGE_DESCRIPTION


def test_map_figure_classes_are_legend_entries_with_density():
    rng = np.random.default_rng(0)
    n = 300
    x, y = rng.standard_normal(n), rng.standard_normal(n)
    codes = rng.integers(0, 3, n)
    fig = map_figure(np.arange(n), x, y, codes, categories=["a", "b", "c"], density_layer=density(x, y, 20), title="t")
    kinds = [t.type for t in fig.data]
    assert kinds == ["heatmap", "scattergl", "scattergl", "scattergl"]
    assert [t.name for t in fig.data[1:]] == ["a", "b", "c"]
    assert all(t.marker.colorbar.title.text is None for t in fig.data[1:])  # no colour bar for classes
    got = sorted(int(i) for t in fig.data[1:] for i in t.customdata)
    assert got == list(range(n))
    for c, t in enumerate(fig.data[1:]):
        assert set(np.asarray(t.customdata).tolist()) == set(np.flatnonzero(codes == c).tolist())
    cont = map_figure(np.arange(n), x, y, rng.random(n), categories=None, color_title="band")
    assert len(cont.data) == 1 and cont.data[0].marker.showscale and cont.layout.dragmode == "lasso"


def test_page_draws_a_bounded_sample_over_density(runs, monkeypatch):  # noqa: F811 - the imported fixture
    """The page itself with the drawn-point cap lowered to 100: density layer + 100 drawn points, and the
    very same figure with or without a selection (so the browser keeps the chart after a lasso)."""
    import json

    import ui.views.embedview
    from tests.test_app_pages import _no_errors, _page, _plotly_array, _texts

    monkeypatch.setattr(ui.views.embedview, "MAX_DRAWN", 100)
    at = _page("embeddings", runs["child"], selected_ids=[5, 17])
    _no_errors(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["data"][0]["type"] == "heatmap"
    drawn = np.concatenate([_plotly_array(t["customdata"]) for t in spec["data"][1:]])
    assert len(drawn) == 100
    unselected = _page("embeddings", runs["child"])
    assert unselected.get("plotly_chart")[0].proto.spec == at.get("plotly_chart")[0].proto.spec
    n = len(runs["y"])
    assert f"Showing {len(drawn):,} of {n:,} points" in _texts(at)
    keep = np.load(runs["child"] / "keep.npy")
    assert f"trained on {len(keep):,} of {n:,}" in spec["layout"]["title"]["text"]
    assert "lasso" in _texts(at) and PAGE_DESCRIPTION in _texts(at)
