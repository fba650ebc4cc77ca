"""Invariants in a real browser: every non-zero Hard pairs heatmap cell lists its pairs (under both
definitions, clicked with the mouse), and the run and class pair survive a reload and a pasted link.

Run: ``python -m pytest tests/e2e/test_invariants_pairs_url.py -q -p no:cacheprovider`` (needs Debian's
chromium; see tests/e2e/conftest.py). No training: the run's features are generated, its pairs are
computed by the real ``core.runs.analysis.pairs_for_run``.
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
page_problems, shot, wait_for_app = _helpers.page_problems, _helpers.shot, _helpers.wait_for_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]
FILES = {"top": "pairs.csv", "band": "pairs_band.csv"}


@pytest.fixture(scope="module")
def runs(e2e_root):
    """Two runs: ``old-run`` with features and pairs, and a newer ``new-run`` (the default selection)."""
    from core.data.sources import load_dataset
    from core.io import save_npz, write_json
    from core.runs.analysis import pairs_for_run
    from tests.helpers import fake_run

    old = fake_run(e2e_root, "old-run", created=1, linear=0.9)
    fake_run(e2e_root, "new-run", created=2, linear=0.8)
    y = load_dataset("digits").y_train
    rng = np.random.default_rng(0)
    x = ((rng.standard_normal((10, 16)) * 1.3)[y] + rng.standard_normal((len(y), 16))).astype(np.float32)
    write_json(
        old / "config.json",
        {
            "dataset": "digits",
            "preset": "quick",
            "loss_mode": "baseline",
            "seed": 0,
            "epochs": 3,
            "pos_high": 0.05,
            "pos_low": 0.12,
        },
    )
    save_npz(old / "features.npz", train=x, test=x[:5], y_train=y, y_test=y[:5])
    pairs_for_run(old, top=300, k=5)
    return old


def _open(page, url: str) -> None:
    page.goto(url)
    _settled(page)


def _settled(page) -> None:
    """Wait until the frame has drawn its run selector and the page settled (query-param reruns included)."""
    page.get_by_test_id("stSidebar").get_by_role("combobox", name="Run").wait_for(timeout=120_000)
    wait_for_app(page)


def _sidebar_run(page) -> str:
    return page.get_by_test_id("stSidebar").get_by_role("combobox", name="Run").input_value()


def _picker(page, label: str) -> str:
    return page.get_by_role("combobox", name=label).input_value()


def _counts(run: Path, definition: str) -> np.ndarray:
    from ui.views.pairview import cell_counts

    return cell_counts(pd.read_csv(run / FILES[definition]), 10)


def _click_cell(page, row: int, col: int, n: int = 10) -> None:
    """Click heatmap cell (row = class A, col = class B) at its centre in the plot area."""
    chart = page.locator("[data-testid='stPlotlyChart']").first
    box = chart.locator(".nsewdrag").first.bounding_box()
    x = box["x"] + (col + 0.5) * box["width"] / n
    y = box["y"] + (row + 0.5) * box["height"] / n  # rows top to bottom (autorange reversed)
    page.mouse.click(x, y)
    # the click's rerun writes the class pair into the URL; then let the page settle
    page.wait_for_function(
        "([a, b]) => { const q = new URLSearchParams(location.search); return q.get('a') === a && q.get('b') === b; }",
        arg=[str(row), str(col)],
        timeout=120_000,
    )
    wait_for_app(page)


def _assert_clean(page, where: str) -> None:
    problems = page_problems(page)
    assert not problems, f"{where}: " + "\n".join(problems)


def test_a_deep_link_opens_its_run_page_and_definition(page, app_url, runs):
    _open(page, f"{app_url}/hard-pairs?run={runs.name}&def=band")
    assert page.locator("h1").first.inner_text().strip() == "Hard pairs"
    assert runs.name in _sidebar_run(page)
    assert page.get_by_role("radio", name=re.compile("^Band")).is_checked()
    assert "Sim_posLow" in page.get_by_test_id("stMain").inner_text()
    _assert_clean(page, "deep link")
    for path, title in (
        ("/embeddings", "Embeddings"),
        ("/prune", "Prune & retrain"),
        ("/compare", "Compare"),
        ("/theory", "Theory"),
        ("", "Runs"),
    ):
        _open(page, f"{app_url}{path}?run={runs.name}")
        assert page.locator("h1").first.inner_text().strip() == title, path
        assert runs.name in _sidebar_run(page), path
        assert f"run={runs.name}" in page.url


@pytest.mark.parametrize("definition", ["top", "band"])
def test_every_clicked_nonzero_cell_lists_exactly_its_pairs(page, app_url, runs, definition):
    counts = _counts(runs, definition)
    upper = np.triu(counts, 1)  # the heatmap draws (and lets one click) each class pair once, above the diagonal
    hottest = tuple(int(v) for v in np.unravel_index(np.argmax(upper), counts.shape))
    others = [(int(a), int(b)) for a, b in zip(*np.nonzero(upper), strict=True) if (a, b) != hottest]
    cells = [hottest, others[0], others[len(others) // 2], others[-1]]
    _open(page, f"{app_url}/hard-pairs?run={runs.name}&def={definition}")
    for a, b in cells:
        _click_cell(page, a, b)
        _assert_clean(page, f"cell {a},{b}")
        assert (_picker(page, "Class A"), _picker(page, "Class B")) == (str(a), str(b))
        text = page.get_by_test_id("stMain").inner_text()
        assert "No difficult pairs" not in text, (definition, a, b)
        assert f"{counts[a, b]} pairs, most similar first" in text, (definition, a, b, counts[a, b])
        assert f"a={a}" in page.url and f"b={b}" in page.url
    shot(page, f"hard-pairs-{definition}")


def test_reload_and_a_pasted_link_keep_the_run_and_the_class_pair(browser, page, app_url, runs):
    _open(page, f"{app_url}/hard-pairs?run={runs.name}&def=top")
    counts = _counts(runs, "top")
    a, b = (int(v) for v in np.unravel_index(np.argmax(np.triu(counts, 1)), counts.shape))
    _click_cell(page, a, b)
    url = page.url
    assert f"run={runs.name}" in url and f"a={a}" in url
    page.reload()
    _settled(page)
    assert runs.name in _sidebar_run(page)
    assert (_picker(page, "Class A"), _picker(page, "Class B")) == (str(a), str(b))
    other = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    other.set_default_timeout(60_000)
    _open(other, url)  # a pasted link: a fresh session
    assert runs.name in _sidebar_run(other)
    assert (_picker(other, "Class A"), _picker(other, "Class B")) == (str(a), str(b))
    assert f"{counts[a, b]} pairs, most similar first" in other.get_by_test_id("stMain").inner_text()
    _open(other, f"{app_url}/hard-pairs?run=no-such-run")
    assert "new-run" in _sidebar_run(other)
    assert "not in the runs folder" in other.get_by_test_id("stSidebar").inner_text()
    other.context.close()
