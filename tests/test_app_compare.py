"""AppTest of the Compare page against fake run folders: tables equal the files, exports work."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.io import write_json
from core.jobs import records
from tests.helpers import fake_run

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def arr(value) -> list:
    """A plotly JSON array: a plain list, or plotly's typed-array form {"dtype", "bdata"}."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return list(value)


def compare_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/compare_runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_empty_state(runs_root):
    fake_run(runs_root, "no-metrics-yet")
    at = compare_page()
    assert "No run has probe accuracies yet" in at.info[0].value
    assert "python -m core train --dataset digits --preset quick --analyse" in [c.value for c in at.code]
    assert not at.error


def test_tables_figure_and_exports_match_the_run_files(runs_root):
    metrics = {"b0": (0.90, 0.80), "b1": (0.94, 0.84)}
    p0 = fake_run(runs_root, "b0", seed=0, linear=0.90, knn=0.80, created=1)
    p1 = fake_run(runs_root, "b1", seed=1, linear=0.94, knn=0.84, created=2)
    fake_run(runs_root, "band-s0", seed=0, linear=0.93, knn=0.82, parent=str(p0), score="band", ratio=0.3, created=3)
    fake_run(runs_root, "band-s1", seed=1, linear=0.95, knn=0.86, parent=str(p1), score="band", ratio=0.3, created=4)
    fake_run(runs_root, "rand-s0", seed=0, linear=0.86, knn=0.78, parent=str(p0), score="random", ratio=0.3, created=5)
    at = compare_page()
    summary = at.table[0].value
    assert summary["configuration"].tolist() == [
        "digits · baseline",
        "digits · baseline · band 30%",
        "digits · baseline · random 30%",
    ]
    lin = np.mean([m[0] for m in metrics.values()])
    std = np.std([m[0] for m in metrics.values()], ddof=1)
    assert summary["linear probe % (mean ± std)"].iloc[0] == f"{100 * lin:.2f} ± {100 * std:.2f} (n=2)"
    assert summary["kNN % (mean ± std)"].iloc[2] == "78.00 (n=1)"
    assert not any(c in summary.columns for c in ("run_id", "prune_score", "prune_ratio"))
    # the accuracy-vs-ratio chart: band and the dashed random baseline, from 0 % to 30 %
    chart = at.get("plotly_chart")[0]
    fig = json.loads(chart.proto.spec)
    lines = {t["name"]: t for t in fig["data"]}
    assert set(lines) == {"band", "random (baseline)"}
    assert arr(lines["band"]["x"]) == [0.0, 30.0]
    assert arr(lines["band"]["y"]) == pytest.approx([92.0, 94.0])
    assert lines["random (baseline)"]["line"]["dash"] == "dash"
    # deltas vs the parent, in percentage points
    deltas = at.table[-1].value.set_index("pruned run")
    assert deltas.loc["digits · baseline · band 30% · seed 0", "linear probe Δ (pp)"] == "+3.00"
    assert deltas.loc["digits · baseline · band 30% · seed 1", "kNN Δ (pp)"] == "+2.00"
    assert deltas.loc["digits · baseline · random 30% · seed 0", "linear probe Δ (pp)"] == "-4.00"
    assert deltas.loc["digits · baseline · random 30% · seed 0", "pruned by"] == "random, 30 % removed"
    # exports and the CLI twin
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["HTML report (offline, interactive)", "Summary CSV (over seeds)", "Per-run CSV"]
    codes = [c.value for c in at.code]
    assert "python -m core report --out report.html --csv summary.csv --runs-csv runs.csv" in codes


def test_knn_metric_and_dataset_filter(runs_root):
    fake_run(runs_root, "d", seed=0, linear=0.9, knn=0.7, created=1)
    write_json(runs_root / "c10" / "config.json", {"dataset": "cifar10", "loss_mode": "baseline", "seed": 0})
    write_json(runs_root / "c10" / "metrics.json", {"linear_acc": 0.88, "knn_acc": 0.85})
    at = compare_page()
    assert at.multiselect(key="compare_datasets").value == ["cifar10", "digits"]
    at.multiselect(key="compare_datasets").set_value(["cifar10"]).run()
    summary = at.table[0].value
    assert summary["configuration"].tolist() == ["cifar10 · baseline"]
    at.radio(key="compare_metric").set_value("knn").run()
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    assert [t["name"] for t in bars] == ["cifar10"] and arr(bars[0]["y"]) == pytest.approx([85.0])


def test_csv_download_content_equals_report_module(runs_root):
    from core.reports import report_tables
    from core.reports.records import load_records

    fake_run(runs_root, "x", seed=0, linear=0.91, knn=0.81, created=1)
    at = compare_page()
    csv_button = at.get("download_button")[1]
    assert csv_button.proto.label == "Summary CSV (over seeds)"
    frame = pd.read_csv(io.StringIO(report_tables.summary_csv(load_records(runs_root))))
    assert frame["linear_mean"].tolist() == pytest.approx([0.91])


# ---- honest comparisons (issue 11 §4) ------------------------------------------------------------


def _with_preds(d, wrong: int, m: int = 100, protocol: str | None = None):
    from core.io import save_npz

    y = np.arange(m) % 10
    p = y.copy()
    p[:wrong] = (y[:wrong] + 1) % 10
    save_npz(d / "predictions.npz", y_true=y, linear_pred=p, knn_pred=p)
    acc = float((p == y).mean())
    metrics = {"linear_acc": acc, "knn_acc": acc}
    if protocol:
        metrics.update(protocol=protocol, probe={"protocol": protocol, "knn_k": 20, "knn_t": 0.07})
    write_json(d / "metrics.json", metrics)
    return d


def test_intervals_paired_tests_axis_and_image_worth(runs_root):
    p0 = _with_preds(fake_run(runs_root, "b0", seed=0, linear=0, knn=0, created=1), wrong=10)
    _with_preds(fake_run(runs_root, "b1", seed=1, linear=0, knn=0, created=2), wrong=14)
    _with_preds(
        fake_run(runs_root, "band-s0", seed=0, linear=0, knn=0, parent=str(p0), score="band", ratio=0.3), wrong=11
    )
    _with_preds(
        fake_run(runs_root, "rand-s0", seed=0, linear=0, knn=0, parent=str(p0), score="random", ratio=0.3), wrong=40
    )
    at = compare_page()
    summary = at.table[0].value.set_index("configuration")
    none, banded = "digits · baseline", "digits · baseline · band 30%"
    assert summary.loc[none, "seeds"] == "seeds 0, 1 (n=2)" and summary.loc[banded, "seeds"] == "seed 0 (n=1)"
    assert summary.loc[banded, "linear probe 95 % CI"] == "undefined (n=1)"
    half = 12.706204736174707 * np.std([0.90, 0.86], ddof=1) / np.sqrt(2) * 100  # t_{0.975, 1}
    assert summary.loc[none, "linear probe 95 % CI"] == f"[{88 - half:.2f}, {88 + half:.2f}]"
    captions = [c.value for c in at.caption]
    assert "digits: one test image = 1.00 points (M = 100 test images)" in captions
    assert any(c.startswith("The accuracy axis starts at 0 %") for c in captions)
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert fig["layout"]["yaxis"]["range"] == [0, 100.5]
    band = next(t for t in fig["data"] if t["name"] == "band")
    assert arr(band["error_y"]["array"]) == pytest.approx([half, 0.0])  # n=1: no bar
    pairs = at.table[1].value
    assert set(pairs["probe"]) == {"linear probe"}  # the probe picked above the charts

    def pair(against: str):
        return pairs[(pairs["pruned run"] == f"{banded} · seed 0") & (pairs["compared with"] == against)].iloc[0]

    row = pair("unpruned parent")
    assert row["verdict"] == "within noise" and row["McNemar p"] == "1.000"
    assert row["Δ this seed pair (pp) [test-set 95 % CI]"].startswith("-1.00 [")
    # one seed pair: the seed-to-seed spread of the difference is unknown
    assert row["Δ over seeds (pp) [seed 95 % CI]"] == "-1.00 (no interval: one seed)" and row["seeds"] == "1"
    row = pair("random pruning, same ratio")
    assert row["verdict"] == "better (seed noise unknown)" and row["McNemar p"] == "< 0.001"
    assert row["Δ over seeds (pp) [seed 95 % CI]"] == "+29.00 (no interval: one seed)"
    sentences = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert len(sentences) == 1 and sentences[0].count("\n- ") == 2  # one sentence per comparison
    assert "band 30%: \\+29.00 pp linear-probe accuracy vs random 30%" in sentences[0]
    assert f"python -m core compare --runs-root {runs_root}" in [c.value for c in at.code]
    # zoomed: the axis range is the data's, and the caption says so
    at.toggle(key="compare_zoom").set_value(True).run()
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "range" not in fig["layout"].get("yaxis", {})
    assert any(c.value.startswith("Zoomed: the accuracy axis does NOT start at 0 %") for c in at.caption)


def test_protocol_mismatch_warns_and_shows_one_protocol(runs_root):
    _with_preds(fake_run(runs_root, "a", seed=0, linear=0, knn=0, created=1), wrong=10, protocol="lbfgs")
    _with_preds(fake_run(runs_root, "b", seed=1, linear=0, knn=0, created=2), wrong=20, protocol="paper")
    _with_preds(fake_run(runs_root, "c", seed=2, linear=0, knn=0, created=3), wrong=20, protocol="paper")
    at = compare_page()
    assert any("probed in 2 different ways" in w.value for w in at.warning)
    summary = at.table[0].value
    assert summary["seeds"].tolist() == ["seeds 1, 2 (n=2)"]
    assert any(c.value.startswith("Probe: paper · kNN k=20 t=0.07.") for c in at.caption)
    at.selectbox(key="compare_probe").set_value("lbfgs · kNN k=20 t=0.07").run()
    assert at.table[0].value["seeds"].tolist() == ["seed 0 (n=1)"]


def test_repeat_over_seeds_queues_the_missing_seeds(runs_root, no_launch):

    _with_preds(fake_run(runs_root, "solo", seed=0, linear=0, knn=0, created=1), wrong=10)
    at = compare_page()
    config = str(runs_root / "solo" / "config.json")
    want = [
        ["train", "--config", config, "--seed", str(s), "--runs-root", str(runs_root), "--name", f"solo-seed{s}"]
        for s in (1, 2)
    ]  # named: a pruned retrain of the new seed would find it
    shown = "\n".join(c.value for c in at.code)
    assert f"python -m core train --config {config} --seed 1 --runs-root {runs_root} --name solo-seed1" in shown
    at.button(key="compare_repeat").click().run()
    queued = sorted(records.list_jobs(runs_root), key=lambda j: j.argv)
    assert [(list(j.argv[3:]), j.kind, j.state) for j in queued] == [(w, "train", "queued") for w in want]
    assert set(no_launch) == {Path(queued[0].job_dir)}  # one heavy slot: seed 2 waits for seed 1
    assert "Queued 2 jobs" in at.success[0].value


def test_table_cells_show_names_as_written():
    from ui.views.compareview import as_text

    shown = as_text(pd.DataFrame({"run": ["hard_ucl*2 `x`"], "n": [3]}))
    assert shown.values.tolist() == [["hard\\_ucl\\*2 \\`x\\`", "3"]]  # st.table renders Markdown: escaped
