"""Label-error suggestions: planted flips on Gaussian blobs are found, out-of-fold probabilities and kNN votes never
read a sample's own label, the run-level list and its CLI, the review verdicts and the review page (AppTest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.analysis.labelerrors import (
    WEIGHT_DECAY,
    knn_votes,
    out_of_fold_proba,
    precision_recall_at,
    stratified_folds,
    suggest_labels,
)
from core.analysis.probe import ProbeConfig, fit_linear_probe
from core.audit import labelerrors, tags
from core.errors import HardpairsError
from core.io import save_npz, write_json
from tests.helpers import run_cli

REPO = Path(__file__).resolve().parent.parent
N_CLASSES, PER_CLASS, N_FLIPPED = 4, 60, 12


def blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """4 Gaussian blobs (std 1) centred 8 apart on orthogonal axes of R^16, 60 samples each; 12 labels flipped
    to another class. Returns features (240, 16), true labels, given labels, the flipped ids (sorted)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(N_CLASSES), PER_CLASS)
    centres = np.zeros((N_CLASSES, 16))
    centres[np.arange(N_CLASSES), np.arange(N_CLASSES)] = 8.0
    x = (centres[y] + rng.normal(size=(len(y), 16))).astype(np.float32)
    flipped = np.sort(rng.choice(len(y), N_FLIPPED, replace=False))
    given = y.copy()
    given[flipped] = (y[flipped] + rng.integers(1, N_CLASSES, N_FLIPPED)) % N_CLASSES
    return x, y, given, flipped


def test_planted_flips_are_the_top_of_the_list_with_their_true_class():
    # The blobs are 8 std apart: every sample is far nearer its own centre than any other, so a probe fitted
    # without a flipped sample gives its given (wrong) label p ~ 0, and its 20 nearest neighbours are all of its
    # true blob (only 12 of 240 labels are wrong, at most 12 per blob); a clean sample has q(label) ~ 1.
    # So the 12 planted flips are exactly the top 12, and each suggestion is its true class.
    x, y, given, flipped = blobs()
    proba = out_of_fold_proba(x, given, N_CLASSES, folds=5, seed=0)
    votes, neighbours = knn_votes(x, given, N_CLASSES, k=20)
    s = suggest_labels(proba, votes, given)
    ranked = np.argsort(s.rank)
    assert sorted(ranked[:N_FLIPPED].tolist()) == flipped.tolist()
    truth = np.zeros(len(y), bool)
    truth[flipped] = True
    assert precision_recall_at(ranked, truth, N_FLIPPED) == (1.0, 1.0)
    assert precision_recall_at(ranked, truth, 24) == (0.5, 1.0)
    assert (s.suggested[flipped] == y[flipped]).all()
    assert s.flagged.sum() == N_FLIPPED and s.flagged[flipped].all()
    assert (s.confidence[flipped] > 0.5).all()  # the true class outweighs every other class together
    assert sorted(s.rank.tolist()) == list(range(1, len(y) + 1))
    assert neighbours.shape == (len(y), 20) and not (neighbours == np.arange(len(y))[:, None]).any()


def test_out_of_fold_probabilities_never_use_the_samples_own_label():
    x, _, given, _ = blobs(1)
    fold = stratified_folds(given, 4, seed=3)
    assert np.bincount(fold).tolist() == [60, 60, 60, 60]
    base = out_of_fold_proba(x, given, N_CLASSES, fold_ids=fold)
    # reference: the fold-0 rows are the predictions of a probe fitted on folds 1-3 alone
    cfg = ProbeConfig(weight_decay=WEIGHT_DECAY)
    ref = fit_linear_probe(x[fold != 0], given[fold != 0], N_CLASSES, cfg).predict_proba(x[fold == 0])
    np.testing.assert_array_equal(base[fold == 0], ref)
    # relabel every fold-0 sample: fold 0's own probabilities do not move, the others' do
    other = given.copy()
    other[fold == 0] = (other[fold == 0] + 1) % N_CLASSES
    moved = out_of_fold_proba(x, other, N_CLASSES, fold_ids=fold)
    np.testing.assert_array_equal(moved[fold == 0], base[fold == 0])
    assert np.abs(moved[fold != 0] - base[fold != 0]).max() > 1e-3


def test_knn_votes_never_use_the_samples_own_label():
    x, _, given, _ = blobs(2)
    votes, idx = knn_votes(x, given, N_CLASSES, k=10)
    np.testing.assert_allclose(votes.sum(axis=1), 1.0)
    changed = given.copy()
    changed[7] = (changed[7] + 1) % N_CLASSES
    votes2, _ = knn_votes(x, changed, N_CLASSES, k=10)
    np.testing.assert_array_equal(votes2[7], votes[7])
    assert not np.array_equal(votes2[idx[7]], votes[idx[7]])  # its neighbours do hear of it (7 is among theirs)


def test_suggest_labels_combination_and_ranking_by_hand():
    proba = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.3, 0.6]])
    votes = np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    labels = np.array([0, 0, 1])
    s = suggest_labels(proba, votes, labels, probe_weight=0.5)
    # q = [[.7 .3 0], [.1 .85 .05], [.05 .15 .8]]: p_label .7, .1, .15; alternatives 1 (.3), 1 (.85), 2 (.8)
    np.testing.assert_allclose(s.p_label, [0.7, 0.1, 0.15])
    assert s.suggested.tolist() == [1, 1, 2]
    np.testing.assert_allclose(s.confidence, [0.3, 0.85, 0.8])
    assert s.rank.tolist() == [3, 1, 2] and s.flagged.tolist() == [False, True, True]
    m = suggest_labels(proba, votes, labels, probe_weight=0.5, ranking="margin")
    np.testing.assert_allclose(m.score, [-0.4, 0.75, 0.65])
    with pytest.raises(HardpairsError, match="probe-weight"):
        suggest_labels(proba, votes, labels, probe_weight=1.5)
    with pytest.raises(HardpairsError, match="class id"):
        suggest_labels(proba, votes, np.array([0, -1, 1]))


def _blob_run(root: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    x, y, given, flipped = blobs()
    run = root / "blobs"
    write_json(run / "config.json", {"dataset": "digits", "seed": 0})
    write_json(run / "manifest.json", {"n_train": len(y), "classes": ["a", "b", "c", "d"]})
    write_json(run / "status.json", {"state": "done"})
    save_npz(run / "features.npz", train=x, test=x[:8], y_train=given, y_test=y[:8])
    return run, y, flipped


def test_run_list_is_written_cached_and_printed_by_the_cli(tmp_path, capsys):
    run, y, flipped = _blob_run(tmp_path)
    code, out = run_cli(["label-issues", "--run-dir", run, "--top", "5"], capsys)
    assert code == 0 and out["cached"] is False and out["n_flagged"] == N_FLIPPED
    frame = labelerrors.read_issues(run)
    assert list(frame.columns) == list(labelerrors.COLUMNS) and len(frame) == len(y)
    assert sorted(frame["id"][:N_FLIPPED].tolist()) == flipped.tolist()
    top = frame.iloc[0]
    names = ["a", "b", "c", "d"]
    text = f"labelled {names[top['label']]}, looks like {names[y[top['id']]]} (p = {top['confidence']:.2f})"
    assert [r["text"] for r in out["top"]][0] == text and len(out["top"]) == 5
    assert [int(n) for n in top["neighbors"].split()][:3] == knn_votes(
        np.load(run / "features.npz")["train"], frame.sort_values("id")["label"].to_numpy(), 4
    )[1][top["id"], :3].tolist()
    code, again = run_cli(["label-issues", "--run-dir", run, "--top", "5"], capsys)
    assert code == 0 and again["cached"] is True and again["top"] == out["top"]


def test_cli_prints_the_top_lines_on_stderr(tmp_path, capsys):
    from core.cli import main

    run, _, _ = _blob_run(tmp_path)
    assert main(["label-issues", "--run-dir", str(run), "--top", "3"]) == 0
    err = capsys.readouterr().err.splitlines()
    listed = [line for line in err if "looks like" in line]
    frame = labelerrors.read_issues(run)
    names = ["a", "b", "c", "d"]
    assert len(listed) == 3 and all(
        line.split()[:2] == [str(r["rank"]), f"#{r['id']}"] and line.endswith(labelerrors.describe_issue(r, names))
        for line, r in zip(listed, frame.head(3).to_dict("records"), strict=True)
    )
    code, out = run_cli(["label-issues", "--run-dir", run, "--folds", "1"], capsys)
    assert code == 2 and "--folds must be >= 2" in out["error"]


def test_review_keeps_one_verdict_per_sample_and_the_queue_skips_reviewed(tmp_path):
    run, _, flipped = _blob_run(tmp_path)
    labelerrors.label_issues_for_run(run)
    frame = labelerrors.read_issues(run)
    queue = labelerrors.review_queue(frame, {})
    assert queue == frame["id"][:N_FLIPPED].tolist()
    labelerrors.review(run, queue[0], "ambiguous")
    res = labelerrors.review(run, queue[0], "mislabelled")
    assert res["removed"] == ["ambiguous"] and tags.list_tags(run) == {"mislabelled": 1}
    labelerrors.review(run, queue[1], "fine")
    assert labelerrors.verdicts(run) == {queue[0]: "mislabelled", queue[1]: "fine"}
    assert labelerrors.review_queue(frame, labelerrors.verdicts(run)) == queue[2:]
    with pytest.raises(HardpairsError, match="verdict"):
        labelerrors.review(run, queue[2], "maybe")


def _review_page(run: Path) -> AppTest:
    """The Label review page inside app.py's frame (its page link needs the navigation), run selected."""
    from ui.frame import RUN_KEY

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.session_state[RUN_KEY] = str(run)
    at.run()
    at.switch_page("pages/label_review.py").run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    return at


@pytest.mark.slow
def test_review_page_tags_the_current_item_and_moves_on(tmp_path, monkeypatch):
    monkeypatch.setenv("HARDPAIRS_RUNS", str(tmp_path))
    run, _, _ = _blob_run(tmp_path)
    labelerrors.label_issues_for_run(run)
    queue = labelerrors.review_queue(labelerrors.read_issues(run), {})
    at = _review_page(run)
    assert any(f"#{queue[0]}" in m.value for m in at.markdown)
    at.button(key="lr_mislabelled").click().run()
    assert not at.exception and not at.error
    assert tags.tag_ids(run, "mislabelled").tolist() == [queue[0]]
    assert any(f"#{queue[1]}" in m.value for m in at.markdown)
    at.button(key="lr_fine").click().run()
    assert tags.tag_ids(run, "label-ok").tolist() == [queue[1]]
    assert any("tag --run-dir" in c.value and "--add label-ok" in c.value for c in at.code)


@pytest.mark.slow
def test_prune_link_opens_prune_by_the_mislabelled_tag(tmp_path, monkeypatch):
    import pandas as pd

    from ui.frame import RUN_KEY

    monkeypatch.setenv("HARDPAIRS_RUNS", str(tmp_path))
    run, y, flipped = _blob_run(tmp_path)
    pd.DataFrame({"index": np.arange(len(y)), "label": y, "band": np.linspace(0, 1, len(y))}).to_csv(
        run / "scores.csv", index=False
    )
    labelerrors.label_issues_for_run(run)
    for sid in flipped[:3]:
        labelerrors.review(run, int(sid), "mislabelled")
    at = _review_page(run)
    assert any(f"prune --run-dir {run} --tag mislabelled --seed 0" in c.value for c in at.code)
    link = next(e for e in at.get("page_link") if "Prune the 3 mislabelled" in e.proto.label)
    assert (link.proto.page, link.proto.query_string) == ("prune", "run=blobs&tag=mislabelled")
    # the link's target: the Prune page opened with ?tag=mislabelled prunes exactly those 3
    prune = AppTest.from_file(str(REPO / "pages" / "prune_retrain.py"), default_timeout=60)
    prune.session_state[RUN_KEY] = str(run)
    prune.query_params["tag"] = "mislabelled"
    prune.run()
    assert not prune.exception and not prune.error, [e.value for e in [*prune.exception, *prune.error]]
    assert {m.label: m.value for m in prune.metric}["pruned"] == "3"
