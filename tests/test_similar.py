"""Find similar (core.audit.similar, ``python -m core similar``) equals a brute-force numpy ranking; the sample
view's pure helpers (ui.views.sampleview); the default-run rule (ui.frame.default_run)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.audit import tags
from core.audit.similar import rank_similar, similarities_to, split_by_class
from core.errors import HardpairsError
from core.io import save_npz
from tests.helpers import fake_run, run_cli


def _brute(x: np.ndarray, sid: int) -> tuple[np.ndarray, np.ndarray]:
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = xn @ xn[sid]
    order = sorted((i for i in range(len(x)) if i != sid), key=lambda i: (-sims[i], i))
    return sims, np.asarray(order)


def test_find_similar_equals_a_brute_force_numpy_ranking():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1000, 24)).astype(np.float32)
    x[500] = x[7] * 3.0  # same direction: a tie at similarity 1 with the query's own row
    for sid in (0, 7, 999):
        sims = similarities_to(x, sid, block=97)  # blocks that do not divide N
        want_sims, want_order = _brute(x.astype(np.float64), sid)
        np.testing.assert_allclose(sims, want_sims, atol=1e-5)
        assert rank_similar(sims, sid).tolist() == rank_similar(want_sims, sid).tolist()
        np.testing.assert_array_equal(rank_similar(want_sims, sid), want_order)
        np.testing.assert_array_equal(rank_similar(want_sims, sid, top=25), want_order[:25])
    assert rank_similar(similarities_to(x, 7), 7, top=1).tolist() == [500]


def test_ties_at_the_cut_are_broken_by_id():
    sims = np.array([0.5, 0.9, 0.9, 0.9, 0.1])
    assert rank_similar(sims, 0, top=2).tolist() == [1, 2]
    assert rank_similar(sims, 1, top=3).tolist() == [2, 3, 0]


def test_split_by_class_keeps_the_ranking_order():
    ranked = np.array([5, 3, 8, 1, 0, 2])
    labels = np.array([1, 0, 1, 1, 0, 1, 0, 0, 0])
    same, other = split_by_class(ranked, labels, 1, 2)
    assert same.tolist() == [5, 3] and other.tolist() == [8, 1]


def test_similar_cli_ranks_and_tags(runs_root, capsys):
    run = fake_run(runs_root, "sim-run")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1437, 8)).astype(np.float32)
    y = rng.integers(0, 10, 1437)
    save_npz(run / "features.npz", train=x, test=x[:5], y_train=y, y_test=y[:5])
    code, out = run_cli(["similar", "--run-dir", run, "--sample", 12, "--top", 30, "--tag", "like12"], capsys)
    assert code == 0
    _, order = _brute(x.astype(np.float64), 12)
    assert out["ids"] == order[:30].tolist() and out["labels"] == y[order[:30]].tolist()
    assert out["label"] == int(y[12]) and out["tagged"]["n_tagged"] == 30
    assert tags.tag_ids(run, "like12").tolist() == sorted(order[:30].tolist())
    code, out = run_cli(["similar", "--run-dir", run, "--sample", 5000], capsys)
    assert code == 2 and "not a training sample id" in out["error"]
    code, out = run_cli(["similar", "--run-dir", run, "--sample", 3, "--top", 0], capsys)
    assert code == 2 and "--top" in out["error"]


def test_zero_features_are_a_clear_error():
    x = np.zeros((10, 4), np.float32)
    with pytest.raises(HardpairsError, match="collapsed"):
        similarities_to(x, 0)


def test_sample_view_helpers():
    from ui.views.sampleview import knn_vote, parse_sample, sample_href, score_ranks, vote_text

    assert sample_href("my run", 12) == "sample?run=my+run&sample=12"
    assert parse_sample("12", 13) == 12 and parse_sample("13", 13) is None and parse_sample("x", 13) is None
    scores = pd.DataFrame({"index": [0, 1, 2, 3], "label": [0, 0, 1, 1], "band": [0.1, 0.5, 0.5, 0.9]})
    ranks = score_ranks(scores, ["band"], 1).iloc[0]
    assert (ranks["rank"], ranks["of"], ranks["percentile"]) == (2, 4, round(100 / 3, 1))  # one higher, one lower
    assert score_ranks(scores, ["band"], 3).iloc[0]["rank"] == 1 and score_ranks(scores, ["band"], 9).empty
    assert knn_vote(np.array([3, 3, 8, -1])) == (3, 2 / 3) and knn_vote(np.array([-1])) is None
    assert knn_vote(np.array([2, 5])) == (2, 0.5)  # a tie: the smaller label
    text = vote_text((3, 0.75), [str(c) for c in range(10)], 8, 8)
    assert "**3** (6 of 8)" in text and "differs from its label" in text


def test_the_sample_page_shows_a_sample_and_its_neighbours(runs_root):
    from streamlit.testing.v1 import AppTest

    from tests.test_url_state import APP

    run = fake_run(runs_root, "page-run")
    rng = np.random.default_rng(2)
    y = np.arange(1437) % 10
    x = (rng.standard_normal((10, 8)) * 3)[y] + rng.standard_normal((1437, 8))
    save_npz(run / "features.npz", train=x.astype(np.float32), test=x[:5].astype(np.float32), y_train=y, y_test=y[:5])
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["run"] = run.name
    at.run()
    at.switch_page("pages/sample_view.py")
    at.query_params["sample"] = "12"
    at.run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    assert any(m.value == "#### #12 · label **2**" for m in at.markdown)
    grids = [h.proto.body for h in at.get("html")]
    _, order = _brute(x, 12)
    same = [i for i in order if y[i] == 2][:8]
    assert all(f'data-id="{i}"' in grids[0] for i in same) and f"sample?run={run.name}&amp;sample={same[0]}" in grids[0]
    other = [i for i in order if y[i] != 2][:8]
    assert all(f'data-id="{i}"' in grids[1] for i in other)
