"""The sample view and views that survive a link, in a real browser (issue 21): a click on a map point and on a
thumbnail opens the sample view with its neighbours; the URL with ``sample=`` reopens it in a new tab;
Embeddings' colour and selection survive a reload; a Prune deep link survives two sidebar hops; launching a
retrain does not change the page's run.

Run: ``python -m pytest tests/e2e/test_sample_view.py -q -p no:cacheprovider`` (needs Debian's chromium; see
tests/e2e/conftest.py). No training: the run's features, scores and map are generated; its pairs are computed by
the real ``core.runs.analysis.pairs_for_run``.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

_spec = importlib.util.spec_from_file_location("hardpairs_e2e_helpers", Path(__file__).with_name("conftest.py"))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
page_problems, shot, wait_for_app, goto_nav = (
    _helpers.page_problems,
    _helpers.shot,
    _helpers.wait_for_app,
    _helpers.goto_nav,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]
LONELY = 42  # a sample placed alone on the map, so a click there hits it and nothing else
K = 8  # neighbours per side, the sample view's default


@pytest.fixture(scope="module")
def run(e2e_root) -> Path:
    """``sv-run``: digits-shaped, generated clustered features, random scores, a map of class clusters."""
    from core.data.sources import load_dataset
    from core.io import save_npz, write_json
    from core.runs.analysis import pairs_for_run

    y = load_dataset("digits").y_train
    n = len(y)
    rng = np.random.default_rng(0)
    x = ((rng.standard_normal((10, 16)) * 1.3)[y] + rng.standard_normal((n, 16))).astype(np.float32)
    run = e2e_root / "sv-run"
    cfg = {"dataset": "digits", "preset": "quick", "loss_mode": "baseline", "seed": 0, "epochs": 3}
    write_json(run / "config.json", {**cfg, "pos_high": 0.05, "pos_low": 0.12})
    write_json(run / "manifest.json", {"run_id": run.name, "classes": [str(c) for c in range(10)], "created": 1.0})
    write_json(run / "status.json", {"state": "done", "epoch": 3, "epochs": 3})
    write_json(run / "metrics.json", {"linear_acc": 0.9, "knn_acc": 0.88})
    save_npz(run / "features.npz", train=x, test=x[:5], y_train=y, y_test=y[:5])
    scores = {name: rng.random(n) for name in ("band", "cross_class", "margin", "random")}
    pd.DataFrame({"index": np.arange(n), "label": y, **scores}).to_csv(run / "scores.csv", index=False)
    xy = (rng.standard_normal((10, 2)) * 6)[y] + rng.standard_normal((n, 2))
    xy[LONELY] = (xy[:, 0].max() + 6, xy[:, 1].max() + 6)  # alone in the top-right corner
    pd.DataFrame({"index": np.arange(n), "x": xy[:, 0], "y": xy[:, 1]}).to_csv(run / "umap_2d.csv", index=False)
    write_json(run / "umap_2d.json", {"params": {"n_components": 2}, "created": 4e9})
    pairs_for_run(run, top=300, k=5)
    return run


@pytest.fixture(scope="module")
def served(app_url, browser, run) -> str:
    """The app, warmed: the first request after a server start runs in Streamlit's legacy pages mode and a deep
    link then shows a "Page not found" dialog (see ui.frame.leave_legacy_pages_mode); later sessions do not."""
    context = browser.new_context()
    first = context.new_page()
    first.goto(app_url)
    wait_for_app(first)
    context.close()
    return app_url


def _open(page, url: str) -> None:
    page.goto(url)
    page.get_by_test_id("stSidebar").get_by_role("combobox", name="Run").wait_for(timeout=120_000)
    wait_for_app(page)


def _clean(page, where: str) -> None:
    problems = page_problems(page)
    assert not problems, f"{where}: " + "\n".join(problems)


def _query(page) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlparse

    return dict(parse_qsl(urlparse(page.url).query))


def _assert_sample_view(page, run: Path, sid: int) -> None:
    """The sample view of ``sid``: title, header, URL, and its same-class / other-class neighbour grids."""
    from playwright.sync_api import expect

    expect(page.locator("h1").first).to_have_text("Sample", timeout=120_000)
    wait_for_app(page)
    label = int(pd.read_csv(run / "scores.csv")["label"][sid])
    expect(page.get_by_role("heading", name=f"#{sid} · label {label}")).to_be_visible()
    assert _query(page).get("sample") == str(sid) and _query(page).get("run") == run.name
    grids = page.locator(".hp-grid")
    expect(grids.nth(0).locator("figure")).to_have_count(K, timeout=120_000)  # a full page load draws them last
    expect(grids.nth(1).locator("figure")).to_have_count(K, timeout=120_000)
    same = [int(v) for v in grids.nth(0).locator("figure").evaluate_all("fs => fs.map(f => f.dataset.id)")]
    other = [int(v) for v in grids.nth(1).locator("figure").evaluate_all("fs => fs.map(f => f.dataset.id)")]
    from core.audit.similar import rank_similar, similarities_to, split_by_class
    from core.rundir.featurefile import open_features

    feats = open_features(run)
    want_same, want_other = split_by_class(
        rank_similar(similarities_to(feats["train"], sid), sid), feats["y_train"], label, K
    )
    assert same == want_same.tolist() and other == want_other.tolist()
    _clean(page, f"sample view of #{sid}")


def _wait_for_sample(page, sid: int) -> None:
    """Until the URL is the sample view of ``sid`` (a full load for a link, a history push for a map click)."""
    page.wait_for_function(
        "sid => location.pathname.endsWith('/sample') && new URLSearchParams(location.search).get('sample') === sid",
        arg=str(sid),
        timeout=120_000,
    )


def _click_map_point(page, x: float, y: float) -> None:
    """Click the main map at data coordinates (x, y) (plotly's own axis conversion)."""
    chart = page.get_by_test_id("stPlotlyChart").first
    chart.scroll_into_view_if_needed()
    pos = chart.locator(".js-plotly-plot").evaluate(
        """(gd, [x, y]) => { const L = gd._fullLayout, r = gd.getBoundingClientRect();
        return [r.left + L._size.l + L.xaxis.d2p(x), r.top + L._size.t + L.yaxis.d2p(y)]; }""",
        [x, y],
    )
    page.mouse.click(pos[0], pos[1])


def test_a_click_on_a_map_point_opens_its_sample_view(page, served, run):
    _open(page, f"{served}/embeddings?run={run.name}")
    page.get_by_text("Click a point to open its sample view", exact=True).click()  # lasso -> click mode
    wait_for_app(page)
    page.wait_for_function(  # the rerun has redrawn the map in click mode (dragmode pan): click that chart
        """() => { const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
        return !!gd && !!gd._fullLayout && gd._fullLayout.dragmode === 'pan'; }""",
        timeout=120_000,
    )
    xy = pd.read_csv(run / "umap_2d.csv").set_index("index").loc[LONELY]
    _click_map_point(page, float(xy["x"]), float(xy["y"]))
    _wait_for_sample(page, LONELY)
    _assert_sample_view(page, run, LONELY)
    page.set_viewport_size({"width": 1280, "height": 800})
    wait_for_app(page)
    page.mouse.move(800, 400)
    page.mouse.wheel(0, 140)  # the header and the first neighbours in one view (as assets/sample-view.png)
    page.wait_for_timeout(500)  # the scroll settles (only a screenshot follows)
    page.screenshot(path=str(_helpers.ARTIFACTS / "sample-view.png"))  # the README's assets/sample-view.png
    # "Show it on the map": Embeddings with the sample marked
    page.get_by_role("link", name="Show it on the map").click()
    page.wait_for_function("() => location.pathname.endsWith('/embeddings')", timeout=120_000)
    wait_for_app(page)
    names = (
        page.get_by_test_id("stPlotlyChart").first.locator(".js-plotly-plot").evaluate("gd => gd.data.map(t => t.name)")
    )
    assert f"sample #{LONELY}" in names


def test_a_click_on_a_thumbnail_opens_its_sample_view(page, served, run):
    _open(page, f"{served}/prune?run={run.name}")
    first = page.locator(".hp-grid figure").first
    sid = int(first.get_attribute("data-id"))
    first.locator("a.hp-sample-link").click()
    _wait_for_sample(page, sid)
    _assert_sample_view(page, run, sid)
    # and from the sample view itself: a neighbour's thumbnail opens that neighbour
    neighbour = page.locator(".hp-grid").nth(1).locator("figure").first
    other = int(neighbour.get_attribute("data-id"))
    neighbour.locator("a.hp-sample-link").click()
    _wait_for_sample(page, other)
    _assert_sample_view(page, run, other)


def test_the_sample_url_reopens_the_view_in_a_new_tab(browser, served, run):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    _open(tab, f"{served}/sample?run={run.name}&sample=7")
    _assert_sample_view(tab, run, 7)
    context.close()


def test_embeddings_colour_and_selection_survive_a_reload(page, served, run):
    _open(page, f"{served}/embeddings?run={run.name}")
    page.get_by_role("combobox", name="Colour by").click()
    page.get_by_role("option", name="margin", exact=True).click()
    wait_for_app(page)
    _helpers.draw_lasso(page, [(0.1, 0.1), (0.6, 0.1), (0.6, 0.6), (0.1, 0.6), (0.1, 0.12)])
    caption = page.get_by_text(re.compile(r"^[\d,]+ (points )?selected")).first.inner_text()
    shown = page.locator(".hp-grid figure").evaluate_all("fs => fs.map(f => f.dataset.id)")
    assert len(shown) > 0
    query = _query(page)
    assert query.get("color") == "margin" and query.get("sel")
    page.reload()
    page.get_by_test_id("stSidebar").get_by_role("combobox", name="Run").wait_for(timeout=120_000)
    wait_for_app(page)
    assert page.get_by_role("combobox", name="Colour by").input_value() == "margin"
    assert page.get_by_text(re.compile(r"^[\d,]+ (points )?selected")).first.inner_text() == caption
    assert page.locator(".hp-grid figure").evaluate_all("fs => fs.map(f => f.dataset.id)") == shown
    assert _query(page).get("sel") == query["sel"]
    _clean(page, "Embeddings after a reload")


def test_a_prune_deep_link_survives_two_sidebar_hops(page, served, run):
    _open(page, f"{served}/prune?run={run.name}&score=margin&ratio=35")

    def state() -> tuple[str, str]:
        slider = page.get_by_test_id("stSlider").filter(has_text="Pruning ratio")
        value = slider.get_by_test_id("stSliderThumbValue").inner_text().strip()
        return page.get_by_role("combobox", name="Score").input_value(), value

    first = state()
    assert "margin" in first[0] and first[1] == "35"
    goto_nav(page, "Embeddings")
    goto_nav(page, "Hard pairs")
    goto_nav(page, "Prune & retrain")
    assert state() == first
    query = _query(page)
    assert (query.get("score"), query.get("ratio"), query.get("run")) == ("margin", "35", run.name)
    _clean(page, "Prune after two hops")


def _nav_retrying(page, title: str) -> None:
    """``goto_nav``, clicking again while the jobs panel's polling fragment (drawn after a launch) swallows a click."""
    link = page.get_by_test_id("stSidebarNav").locator("a", has_text=title).first
    heading = page.locator("h1").first
    for _ in range(6):
        link.click()
        try:
            page.wait_for_function(
                "t => document.querySelector('h1')?.innerText.trim() === t", arg=title, timeout=20_000
            )
            break
        except Exception:  # noqa: BLE001 - the click landed in a fragment rerun: click again
            continue
    assert heading.inner_text().strip() == title
    wait_for_app(page)


def test_launching_a_retrain_does_not_change_the_pages_run(page, served, run, e2e_root):
    from playwright.sync_api import expect

    from core.io import write_json
    from tests.helpers import fake_run

    _open(page, f"{served}/prune")  # no run in the URL: the default run, the newest analysed one
    runs = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Run")
    before = runs.input_value()
    assert run.name in before and _query(page).get("run") == run.name
    page.locator("[data-testid='stBaseButton-primary']", has_text="Launch").click()
    wait_for_app(page)
    # the retrain's child appears (made here too, analysed, in case the queued job has not made it yet)
    child = fake_run(e2e_root, "sv-run-child", created=9e9, parent=run.name, score="band", ratio=0.1)
    (child / "scores.csv").write_text("index,label,band\n0,0,0.5\n")
    write_json(child / "metrics.json", {"linear_acc": 0.95, "knn_acc": 0.9})
    for title in ("Embeddings", "Theory", "Prune & retrain"):
        _nav_retrying(page, title)
        expect(runs).to_have_value(before)
        assert _query(page).get("run") == run.name, title


def test_a_prune_link_with_a_tag_preselects_prune_by_that_tag(page, served, run):
    """Hard pairs' "Prune by tag" link: /prune?tag=NAME opens "Prune by: a tag" with NAME and its random baseline."""
    from core.audit import tags

    tags.add_tag(run, "pairs-e2e", [3, 5, 8, 13])
    _open(page, f"{served}/prune?run={run.name}&tag=pairs-e2e")
    assert page.get_by_role("radio", name="a tag").is_checked()
    assert page.get_by_role("combobox", name="Tag").input_value() == "pairs-e2e (4 samples)"
    assert page.get_by_role("checkbox", name=re.compile("random-pruning baseline")).is_checked()
    assert "--tag pairs-e2e" in page.get_by_test_id("stMain").inner_text()
    _clean(page, "Prune by a tag from a link")
