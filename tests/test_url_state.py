"""State in the URL: the selected run (``?run=``) through app.py's frame, and the Hard pairs page's
definition and class pair (``?def=&a=&b=``); a reload / pasted link is a fresh session with those params."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.io import save_npz, write_json
from core.runs.analysis import pairs_for_run
from tests.helpers import fake_run
from ui.frame import RUN_KEY

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")


def _app(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _url(at: AppTest, key: str):
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


def test_a_pasted_link_selects_its_run_and_the_url_follows_the_selector(runs_root):
    a = fake_run(runs_root, "a-run", created=1)
    b = fake_run(runs_root, "b-run", created=2)
    at = _app()
    assert at.sidebar.selectbox[0].value == str(b) and _url(at, "run") == "b-run"  # newest, written to the URL
    at = _app(run="a-run")  # a reload / new tab / pasted link
    assert at.sidebar.selectbox[0].value == str(a) and _url(at, "run") == "a-run"
    assert not at.sidebar.warning
    at.sidebar.selectbox[0].set_value(str(b)).run()  # the user picks another run: the URL follows
    assert at.sidebar.selectbox[0].value == str(b) and _url(at, "run") == "b-run"
    at.run()  # and it stays (the old URL value is not applied again)
    assert at.sidebar.selectbox[0].value == str(b)


def test_an_unknown_run_in_the_url_warns_and_falls_back_visibly(runs_root):
    fake_run(runs_root, "a-run", created=1)
    b = fake_run(runs_root, "b-run", created=2)
    at = _app(run="gone-run")
    assert at.sidebar.selectbox[0].value == str(b) and _url(at, "run") == "b-run"
    (warning,) = at.sidebar.warning
    assert "`gone-run`" in warning.value and "not in the runs folder" in warning.value and "`b-run`" in warning.value


@pytest.fixture(scope="module")
def pair_run(tmp_path_factory):
    """A digits-shaped run with generated clustered features and real `core pairs` outputs."""
    from core.data.sources import load_dataset

    y = load_dataset("digits").y_train
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((10, 16)) * 1.3)[y] + rng.standard_normal((len(y), 16))
    run = tmp_path_factory.mktemp("runs") / "pairs-run"
    write_json(run / "config.json", {"dataset": "digits", "seed": 0, "pos_high": 0.05, "pos_low": 0.12})
    write_json(run / "manifest.json", {"run_id": run.name, "classes": [str(c) for c in range(10)]})
    write_json(run / "status.json", {"state": "done"})
    save_npz(run / "features.npz", train=x.astype(np.float32), test=x[:5].astype(np.float32), y_train=y, y_test=y[:5])
    pairs_for_run(run, top=300, k=5)
    return run


def _hard_pairs(run: Path, **params: str) -> AppTest:
    at = AppTest.from_file(str(REPO / "pages" / "hard_pairs.py"), default_timeout=60)
    at.session_state[RUN_KEY] = str(run)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    return at


def _heat(at: AppTest) -> np.ndarray:
    import json

    from tests.test_app_pages import _plotly_array

    z = _plotly_array(json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["z"])
    assert np.isnan(np.tril(z)[np.tril_indices(len(z))]).all()  # each unordered pair once: above the diagonal
    z = np.nan_to_num(z)
    return z + z.T  # the count of pairs between A and B, in either cell


@pytest.mark.parametrize("definition,file", [("top", "pairs.csv"), ("band", "pairs_band.csv")])
def test_hard_pairs_heatmap_cells_list_their_pairs_in_picker_order(pair_run, definition, file):
    pairs = pd.read_csv(pair_run / file)
    counts = _heat(_hard_pairs(pair_run, **{"def": definition}))
    hottest = np.unravel_index(np.argmax(counts), counts.shape)
    cells = [hottest, hottest[::-1], *zip(*np.nonzero(counts), strict=True)][:4]
    for a, b in cells:
        at = _hard_pairs(pair_run, **{"def": definition, "a": str(a), "b": str(b)})
        assert at.radio(key="hp_def").value == definition
        assert at.selectbox(key="hp_a").value == str(a) and at.selectbox(key="hp_b").value == str(b)
        both = ((pairs["label_i"] == a) & (pairs["label_j"] == b)) | ((pairs["label_i"] == b) & (pairs["label_j"] == a))
        assert int(counts[a, b]) == int(both.sum()) > 0
        table = at.dataframe[0].value
        assert len(table) == min(20, int(counts[a, b]))
        assert set(table["label A"]) == {str(a)} and set(table["label B"]) == {str(b)}  # the pickers' order
        assert _url(at, "def") == definition and _url(at, "a") == str(a) and _url(at, "b") == str(b)


def test_hard_pairs_band_view_shows_thresholds_and_histogram(pair_run):
    at = _hard_pairs(pair_run, **{"def": "band"})
    with np.load(pair_run / "class_pairs.npz") as z:
        t_hi, t_lo = float(z["t_hi"]), float(z["t_lo"])
        np.testing.assert_array_equal(_heat(at), z["difficult_counts"])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sim_posLow"] == f"{t_lo:.4f}" and metrics["Sim_posHigh"] == f"{t_hi:.4f}"
    assert metrics["band pairs"] == f"{len(pd.read_csv(pair_run / 'pairs_band.csv')):,}"
    assert any(f"{t_lo:.4f} ≤ s < {t_hi:.4f}" in m.value for m in at.markdown)
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # the heatmap and the histogram
    assert any(e.label == "Glossary" for e in at.expander)


def test_hard_pairs_without_a_band_file_says_how_to_get_it(pair_run, tmp_path):
    import shutil

    run = tmp_path / "old-run"
    shutil.copytree(pair_run, run)
    (run / "pairs_band.csv").unlink()
    at = _hard_pairs(run, **{"def": "band"})
    assert any("has no pairs_band.csv" in i.value for i in at.info)
    assert at.button(key="hp_band_job")


def test_a_stale_url_from_a_quick_second_pick_does_not_undo_it(pair_run):
    """Two quick picks: the second pick's rerun can reach the server with the URL of before the first one
    was applied. A value this session itself wrote is not a new link, so the pickers keep the user's pick;
    a value it never wrote (a pasted link, a bookmark) still takes effect."""
    at = _hard_pairs(pair_run, **{"def": "top"})
    assert at.radio(key="hp_def").value == "top" and _url(at, "def") == "top"
    at.radio(key="hp_def").set_value("band").run()  # the user's pick; the page writes def=band
    assert _url(at, "def") == "band"
    at.query_params["def"] = "top"  # the browser had not applied that write yet: the old value comes back
    at.run()
    assert at.radio(key="hp_def").value == "band" and _url(at, "def") == "band"  # the pick stands
    at.query_params["a"] = "3"  # a class this session never wrote: a real new link
    at.run()
    assert at.selectbox(key="hp_a").value == "3"


def test_the_run_selector_ignores_a_stale_echo_of_its_own_url(runs_root):
    a = fake_run(runs_root, "a-run", created=1)
    b = fake_run(runs_root, "b-run", created=2)
    at = _app()
    assert at.sidebar.selectbox[0].value == str(b)
    at.sidebar.selectbox[0].set_value(str(a)).run()
    at.sidebar.selectbox[0].set_value(str(b)).run()  # a then b, quickly
    at.query_params["run"] = "a-run"  # b's rerun arrives with the URL the first pick wrote
    at.run()
    assert at.sidebar.selectbox[0].value == str(b) and _url(at, "run") == "b-run"


def test_the_default_run_is_the_last_pick_else_the_newest_analysed_run(runs_root):
    """The rule (ui.frame.default_run): the user's last sidebar pick, else the newest run with scores.csv, else the
    newest; and a run that appears later (a retrain's child) does not take over a session that is showing one."""
    from ui.frame import LAST_CHOICE, default_run

    old = fake_run(runs_root, "old-run", created=1)
    (old / "scores.csv").write_text("index,label,band\n0,0,0.5\n")
    new = fake_run(runs_root, "new-run", created=2)  # newer, not analysed
    rows = [{"run_dir": str(new)}, {"run_dir": str(old)}]
    assert default_run(rows, None) == str(old)
    assert default_run(rows, "new-run") == str(new) and default_run(rows, "gone") == str(old)
    assert default_run([{"run_dir": str(new)}], None) == str(new) and default_run([], None) is None
    at = _app()
    assert at.sidebar.selectbox[0].value == str(old) and _url(at, "run") == "old-run"
    child = fake_run(runs_root, "child-run", created=3, parent="old-run", score="band", ratio=0.1)
    (child / "scores.csv").write_text("index,label,band\n0,0,0.5\n")  # a newer analysed run appears
    at.run()
    assert at.sidebar.selectbox[0].value == str(old)  # the session keeps its run
    assert _app().sidebar.selectbox[0].value == str(child)  # a new session starts on the newest analysed run
    at.sidebar.selectbox[0].set_value(str(new)).run()  # the user's pick is remembered for new tabs
    assert (runs_root / LAST_CHOICE).exists() and _app().sidebar.selectbox[0].value == str(new)


def test_views_json_stores_selections_and_named_views(runs_root):
    from core.audit import views
    from core.errors import HardpairsError

    run = fake_run(runs_root, "v-run")
    lasso = {"regions": [["lasso", [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]]}
    key = views.save_selection(run, lasso)
    assert key == views.save_selection(run, lasso) and len(key) == 12  # equal selections share one key
    assert views.stored_selection(run, key) == lasso and views.stored_selection(run, "nope") is None
    views.save_view(run, "margin 35", "prune", {"score": "margin", "ratio": "35"})
    assert views.list_views(run) == {"margin 35": {"page": "prune", "params": {"score": "margin", "ratio": "35"}}}
    assert views.stored_selection(run, key) == lasso  # a second kind of write keeps the first
    with pytest.raises(HardpairsError, match="view name"):
        views.save_view(run, "../x", "prune", {})


def test_hard_pairs_keeps_its_page_in_the_url_and_tags_both_samples_of_a_page(pair_run, tmp_path, monkeypatch):
    import shutil

    from core.audit import tags

    monkeypatch.setenv("HARDPAIRS_RUNS", str(tmp_path / "runs"))
    run = tmp_path / "runs" / "pairs-run"
    shutil.copytree(pair_run, run)
    at = AppTest.from_file(APP, default_timeout=60)  # through app.py: its pages resolve the links to Prune
    at.session_state[RUN_KEY] = str(run)
    at.run()
    at.switch_page("pages/hard_pairs.py")
    for key, value in {"run": run.name, "def": "top", "page": "2"}.items():
        at.query_params[key] = value
    at.run()
    assert at.number_input(key="hp_page").value == 2 and _url(at, "page") == "2"
    table = at.dataframe[0].value
    assert table["rank"].tolist()[0] == 21  # the second page of 20
    at.text_input(key="hp_pairs_tag_tag_name").input("page-2").run()
    at.button(key="hp_pairs_tag_tag_button").click().run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    pairs = pd.read_csv(run / "pairs.csv").sort_values("similarity", ascending=False, kind="stable").iloc[20:40]
    assert tags.tag_ids(run, "page-2").tolist() == sorted(set(pairs["i"]) | set(pairs["j"]))
    links = [e.proto for e in at.get("page_link")]
    assert any("Prune by tag 'page-2'" in link.label and "tag=page-2" in link.query_string for link in links)
