"""Fault test: one run with a corrupt file, every app page opened through AppTest.

The runs root holds one good run and one run whose config/manifest/status/metrics JSON (or a CSV a
page reads) is corrupt or half-written. Every page opens without an exception, the bad run is shown
as "unreadable: <file>: ..." (runs table, sidebar selector, Compare, and the pages that read the
file), and the good run is still listed with its numbers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.data.sources import load_dataset
from core.io import write_json
from core.rundir.folder import list_runs
from tests.test_app_pages import _make_run
from ui.frame import RUN_KEY

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGES = [
    "pages/runs.py",
    "pages/embedding_map.py",
    "pages/hard_pairs.py",
    "pages/prune_retrain.py",
    "pages/compare_runs.py",
]
PAGES += ["pages/theory_bounds.py"]

#: file -> corrupt bytes (a half-written JSON object, a JSON that is not an object, bytes that are not text)
CORRUPT = {
    "status.json": b'{"state": "run',
    "config.json": b'{"dataset": "digits", "seed"',
    "metrics.json": b"[0.9, 0.8]",
    "manifest.json": b"\x00\xff\xfe garbage",
    "scores.csv": b"index,label,band\n\xff\xfe\x00\x01",
    "pairs.csv": b"\x80\x81\x82",
}
SUMMARY_FILES = ("status.json", "config.json", "metrics.json", "manifest.json")


@pytest.fixture(scope="module")
def labels():
    return load_dataset("digits").y_train


@pytest.fixture
def corrupt_root(tmp_path, monkeypatch, labels):
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("HARDPAIRS_RUNS", str(root))
    good = _make_run(root, "good", labels)
    write_json(good / "metrics.json", {"linear_acc": 0.9123, "knn_acc": 0.8765})
    bad = _make_run(root, "bad", labels)
    write_json(bad / "manifest.json", {"run_id": "bad", "classes": [str(c) for c in range(10)], "created": 5.0})
    return root, good, bad


def _open(page: str, run: Path) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[RUN_KEY] = str(run)
    at.run()
    if page != "pages/runs.py":
        at.switch_page(page).run()
    return at


def _texts(at: AppTest) -> str:
    parts = [e.value for e in at.error] + [w.value for w in at.warning] + [m.value for m in at.markdown]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("name", sorted(CORRUPT))
def test_every_page_opens_and_shows_the_bad_run_as_unreadable(corrupt_root, name):
    root, good, bad = corrupt_root
    (bad / name).write_bytes(CORRUPT[name])
    rows = {r["run_id"]: r for r in list_runs(root)}
    assert set(rows) == {"good", "bad"}
    assert rows["good"]["state"] == "done" and rows["good"]["linear_acc"] == 0.9123
    if name in SUMMARY_FILES:
        assert rows["bad"]["state"] == "unreadable"
        assert rows["bad"]["message"].startswith(f"unreadable: {name}: ")
    for page in PAGES:
        at = _open(page, bad)
        assert not at.exception, (page, [e.value for e in at.exception])
        labels = dict(zip(at.sidebar.selectbox[0].options, at.sidebar.selectbox[0].options, strict=True))
        assert any(o.endswith("— good") and "· done ·" in o for o in labels), (page, labels)
        if name in SUMMARY_FILES:
            assert any(o.endswith("— bad") and "· unreadable ·" in o for o in labels), (page, labels)
        if page == "pages/runs.py":
            table = at.dataframe[0].value.set_index("run")
            assert table.at["good", "linear probe %"] == pytest.approx(91.23)
            if name in SUMMARY_FILES:
                assert table.at["bad", "state"] == "unreadable"
                assert table.at["bad", "note"].startswith(f"unreadable: {name}: ")
                assert f"unreadable: {name}: " in _texts(at)
        if page == "pages/compare_runs.py" and name in SUMMARY_FILES:
            assert f"unreadable: {name}: " in _texts(at) and "`bad`" in _texts(at)
        reads = {
            "pages/embedding_map.py": {"config.json", "manifest.json", "scores.csv"},
            "pages/hard_pairs.py": {"config.json", "manifest.json", "pairs.csv"},
            "pages/prune_retrain.py": {"config.json", "manifest.json", "scores.csv"},
        }
        if name in reads.get(page, set()):
            assert f"unreadable: {name}: " in _texts(at), (page, _texts(at))
    at = _open("pages/hard_pairs.py", good)  # the good run's pages are untouched
    assert not at.exception and not at.error, [e.value for e in at.error]
