"""THE ground truth of a run (core.audit.groundtruth) and where the app shows it: Mixed-omega and label-noise
runs trained for real, the per-score AUROC equal to the report's and to sklearn's, the Prune page's ranking,
"caught at this ratio" and the grid's marks."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from streamlit.testing.v1 import AppTest

from core.analysis.scoretable import score_label
from core.audit.groundtruth import caught, ground_truth, marks, run_aurocs, score_aurocs
from core.data.sources import load_dataset
from core.io import read_json
from core.reports.report_audit import auroc as report_auroc
from ui.frame import RUN_KEY
from ui.thumbs import GRID_CLASS, grid_html
from ui.views.truthview import caught_line, ranked_scores, score_option

REPO = Path(__file__).resolve().parent.parent


def test_score_aurocs_equal_sklearn_best_first():
    rng = np.random.default_rng(0)
    truth = rng.random(300) < 0.2
    frame = pd.DataFrame(
        {
            "index": np.arange(300),
            "label": rng.integers(0, 3, 300),
            "band": rng.random(300) + truth * 0.3,
            "margin": rng.random(300) + truth * 1.0,
            "random": rng.random(300),
            "mixed": truth,  # the oracle column is not a score
        }
    )
    got = score_aurocs(frame, truth)
    assert list(got) == ["margin", "band", "random"]  # best first
    for name, value in got.items():
        assert value == pytest.approx(roc_auc_score(truth, frame[name]), abs=1e-12)
    assert ranked_scores(["band", "random", "margin", "extra"], got)[:2] == ["margin", "band"]
    assert score_option("margin", got) == f"{score_label('margin')} · AUROC {got['margin']:.3f}"


def test_caught_precision_recall_and_marks():
    truth = np.zeros(10, bool)
    truth[[1, 2, 3, 4]] = True
    c = caught([2, 3, 8], truth)
    assert (c.hits, c.pruned, c.positives, c.total) == (2, 3, 4, 10)
    assert c.precision == pytest.approx(2 / 3) and c.recall == pytest.approx(0.5)
    assert (
        "2 of the 3 pruned are mixed (precision 67%; at random 40%); they are 50% of the 4 mixed (recall)."
        in caught_line(c, "mixed")
    )
    assert marks([0, 2, 4, 99], truth) == [False, True, True, False]
    assert marks([0, 2], None) == [False, False]
    body = grid_html([_png()] * 3, ["a", "b", "<c>"], ids=[0, 2, 4], marked=[False, True, True], badge="mixed")
    assert re.findall(r'data-id="(\d+)" data-truth="1"', body) == ["2", "4"]
    assert body.count(">mixed</span>") == 2 and "&lt;c&gt;" in body


def _png() -> bytes:
    from core.data.thumbs import ThumbnailCache

    return ThumbnailCache(np.zeros((1, 1, 8, 8), np.uint8), size=8).pngs([0])[0]


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory) -> Path:
    """A real Mixed-digits run (omega 0.2, 2 epochs) with its scores."""
    from core.cli import main
    from core.runs.analysis import scores_for_run

    run = tmp_path_factory.mktemp("gt_runs") / "digits-mixed"
    argv = ["train", "--dataset", "digits", "--preset", "quick", "--epochs", "2", "--mix", "0.2", "--run-dir", str(run)]
    assert main(argv) == 0
    scores_for_run(run)
    return run


@pytest.mark.slow
def test_mixed_run_aurocs_equal_scores_json_and_report(mixed_run):
    found = run_aurocs(mixed_run)
    assert found is not None and found[1] == "mixed"
    stored = read_json(mixed_run / "scores.json")
    stored = stored.get("auroc") or stored["result"]["auroc"]
    assert set(found[0]) == set(stored)
    for name, value in stored.items():
        assert found[0][name] == pytest.approx(value, abs=1e-12)
    block = report_auroc(mixed_run)[0]
    assert dict(block["rows"]) == {k: f"{v:.4f}" for k, v in found[0].items()}
    mask, source = ground_truth(mixed_run)
    assert np.array_equal(mask, load_dataset("digits", mix=0.2, seed=0).mixed) and source == "mixed"


@pytest.mark.slow
def test_prune_page_shows_the_reports_aurocs_and_marks_exactly_the_mixed(mixed_run, monkeypatch):
    monkeypatch.setenv("HARDPAIRS_RUNS", str(mixed_run.parent))
    at = AppTest.from_file(str(REPO / "pages" / "prune_retrain.py"), default_timeout=90)
    at.session_state[RUN_KEY] = str(mixed_run)
    at.session_state["pr_ratio"] = 30
    at.run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    aurocs, _ = run_aurocs(mixed_run)
    table = next(d.value for d in at.dataframe if "AUROC" in d.value.columns)
    assert dict(zip(table["score"], table["AUROC"], strict=True)) == aurocs
    report_rows = dict(report_auroc(mixed_run)[0]["rows"])
    assert {k: f"{v:.4f}" for k, v in zip(table["score"], table["AUROC"], strict=True)} == report_rows
    best = next(k for k in aurocs if k != "random")
    assert at.selectbox(key="pr_score").value == best  # the default is the score that ranks the mixed best
    assert list(at.selectbox(key="pr_score").options)[0].startswith(best)
    body = next(h.proto.body for h in at.get("html") if GRID_CLASS in h.proto.body)
    shown = [int(i) for i in re.findall(r'data-id="(\d+)"', body)]
    marked = [int(i) for i in re.findall(r'data-id="(\d+)" data-truth="1"', body)]
    mixed = ground_truth(mixed_run)[0]
    assert shown and marked == [i for i in shown if mixed[i]]
    texts = " ".join(str(c.value) for c in at.caption)
    scores = pd.read_csv(mixed_run / "scores.csv")
    order = np.argsort(-scores[best].to_numpy(), kind="stable")[: round(0.3 * len(scores))]
    hits = int(mixed[scores["index"].to_numpy()[order]].sum())
    assert f"{hits:,} of the {len(order):,} pruned are mixed" in texts


@pytest.mark.slow
def test_label_noise_run_records_the_flips_and_trains_on_noisy_labels(tmp_path):
    from core.cli import main
    from core.rundir.featurefile import open_features

    run = tmp_path / "digits-noisy"
    argv = ["train", "--dataset", "digits", "--epochs", "1", "--label-noise", "0.1", "--mix-seed", "4"]
    assert main([*argv, "--run-dir", str(run)]) == 0
    data = load_dataset("digits", label_noise=0.1, seed=4)
    flipped = np.load(run / "noisy.npy")
    assert np.array_equal(flipped, np.flatnonzero(data.noisy)) and len(flipped) == round(0.1 * len(data.y_train))
    manifest = read_json(run / "manifest.json")
    assert manifest["label_noise"] == 0.1 and manifest["n_noisy"] == len(flipped)
    feats = open_features(run)  # the probe and the kNN train on these labels: the noisy ones
    assert np.array_equal(np.asarray(feats["y_train"]), data.y_train)
    assert not np.array_equal(np.asarray(feats["y_train"]), load_dataset("digits").y_train)
    mask, source = ground_truth(run)
    assert source == "noisy" and np.array_equal(mask, data.noisy)
    (run / "noisy.npy").unlink()  # rebuilt from config.json alone
    assert np.array_equal(ground_truth(run)[0], data.noisy)


def test_pair_truth_column_names_which_sample_is_bad():
    from core.audit.groundtruth import pair_truth

    truth = np.zeros(10, bool)
    truth[[3, 6, 9]] = True
    assert pair_truth([0, 3, 6, 0], [3, 1, 9, 1], (truth, "noisy")) == {
        "ground truth": ["B flipped", "A flipped", "both flipped", ""]
    }
    assert pair_truth([0], [1], None) == {}
