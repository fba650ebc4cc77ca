"""AppTest for the Embeddings, Hard pairs, Prune and Theory pages on fake run folders.

The run folders are written with core.rundir.folder helpers in tmp_path (real digits images, generated
artefacts), so the numbers the pages render can be compared with the files exactly.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.data.sources import load_dataset
from core.io import append_jsonl, save_npz, write_json
from ui.frame import RUN_KEY
from ui.thumbs import GRID_CLASS
from ui.views.theoryview import removal_verdict

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 60
CLASSES = [str(c) for c in range(10)]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _config(seed: int = 0, loss_mode: str = "baseline", **extra) -> dict:
    return {
        "dataset": "digits",
        "preset": "quick",
        "mix": 0.0,
        "mix_lambda": 0.5,
        "seed": seed,
        "image_size": None,
        "loss_mode": loss_mode,
        "pos_high": 0.12,
        "pos_low": 0.2,
        "sigma": 0.3,
        "rho": 0.6,
        "epochs": 2,
        **extra,
    }


def _make_run(
    root: Path,
    name: str,
    y: np.ndarray,
    *,
    artefacts: bool = True,
    parent: str | None = None,
    keep: np.ndarray | None = None,
    monitor: bool = False,
) -> Path:
    run = root / name
    run.mkdir(parents=True)
    write_json(run / "config.json", _config())
    write_json(
        run / "manifest.json",
        {
            "run_id": name,
            "classes": CLASSES,
            "parent": parent,
            "prune": {"score": "band", "ratio": 0.2} if parent else None,
            "created": 1.0 if parent is None else 2.0,
        },
    )
    write_json(run / "status.json", {"state": "done", "epoch": 2, "epochs": 2})
    for epoch in (1, 2, 3):
        row = {"epoch": epoch, "loss": 5.0 - epoch}
        if monitor:
            row["monitor"] = {
                "ucl": 5.0 - epoch,
                "hard_ucl": 5.5 - epoch,
                "scl": 4.0 - epoch,
                "hard_scl": 4.2 - epoch + (1.5 if epoch == 3 else 0.0),
            }
        append_jsonl(run / "progress.jsonl", row)
    if keep is not None:
        np.save(run / "keep.npy", keep.astype(np.int64))
    if not artefacts:
        return run
    n = y.shape[0]
    rng = np.random.default_rng(len(name))
    idx = np.arange(n)
    pd.DataFrame(
        {
            "index": idx,
            "label": y,
            "band": rng.random(n),
            "cross_class": rng.random(n),
            "margin": rng.random(n),
            "random": rng.random(n),
        }
    ).to_csv(run / "scores.csv", index=False)
    pd.DataFrame({"index": idx, "x": rng.normal(size=n), "y": rng.normal(size=n)}).to_csv(
        run / "umap_2d.csv", index=False
    )
    write_json(
        run / "umap_2d.json",
        {
            "params": {
                "n_components": 2,
                "n_neighbors": 15,
                "min_dist": 0.1,
                "metric": "cosine",
                "seed": 0,
                "subset": None,
                "n_epochs": None,
            },
            "created": 4e9,
        },
    )
    i = rng.integers(0, n, 120)
    j = rng.integers(0, n, 120)
    i, j = i[y[i] != y[j]][:60], j[y[i] != y[j]][:60]  # cross-class pairs, as `core pairs` writes
    sim = np.sort(rng.random(60))[::-1]
    pd.DataFrame({"i": i, "j": j, "label_i": y[i], "label_j": y[j], "similarity": sim}).to_csv(
        run / "pairs.csv", index=False
    )
    counts = np.zeros((10, 10), np.int64)
    np.add.at(counts, (y[i], y[j]), 1)
    np.add.at(counts, (y[j], y[i]), 1)
    save_npz(run / "class_pairs.npz", difficult_counts=counts, mean_similarity=rng.random((10, 10)).astype(np.float32))
    write_json(
        run / "theory.json",
        {
            "alpha": 0.61234,
            "beta": 0.10456,
            "gamma": 0.30789,
            "gamma_minus_beta": 0.20333,
            "t": -12.5,
            "p": 1e-9,
            "n": 143,
            "n_d": 11,
            "r": 9,
        },
    )
    return run


@pytest.fixture
def runs(tmp_path, monkeypatch, digits):
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("HARDPAIRS_RUNS", str(root))
    y = digits.y_train
    parent = _make_run(root, "parent", y, monitor=True)
    keep = np.arange(0, y.shape[0], 2)
    child = _make_run(root, "child", y, parent=str(parent), keep=keep)
    empty = _make_run(root, "empty", y, artefacts=False)
    return {"root": root, "parent": parent, "child": child, "empty": empty, "y": y}


def _page(name: str, run_dir: Path, **state) -> AppTest:
    files = {
        "theory": "theory_bounds",
        "embeddings": "embedding_map",
        "prune": "prune_retrain",
        "compare": "compare_runs",
    }
    at = AppTest.from_file(str(REPO / "pages" / f"{files.get(name, name)}.py"), default_timeout=TIMEOUT)
    at.session_state[RUN_KEY] = str(run_dir)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


def _grid_captions(at: AppTest) -> list[str] | None:
    """Captions of the page's image grid (ui.thumbs.grid_html), in order; None when no grid is drawn."""
    bodies = [h.proto.body for h in at.get("html") if GRID_CLASS in h.proto.body]
    if not bodies:
        return None
    caps = re.findall(r"<figcaption[^>]*>(.*?)</figcaption>", bodies[0])
    assert len(caps) == bodies[0].count('<img src="data:image/png;base64,'), "one inlined image per caption"
    return [html.unescape(c) for c in caps]


def _plotly_array(value) -> np.ndarray:
    """A figure-JSON array: a plain list, or plotly's {"dtype", "bdata", "shape"} encoding."""
    if isinstance(value, dict):
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(v) for v in str(value.get("shape", arr.size)).split(",")]
        return arr.reshape(shape)
    return np.asarray(value)


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


# ---- Theory -----------------------------------------------------------------------------------


def test_theory_metrics_equal_theory_json_and_bounds(runs):
    from core.analysis import bounds

    at = _page("theory", runs["parent"])
    _no_errors(at)
    th = json.loads((runs["parent"] / "theory.json").read_text())
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["α (same class)"] == f"{th['alpha']:.4f}"
    assert metrics["β (easy cross-class)"] == f"{th['beta']:.4f}"
    assert metrics["γ (difficult cross-class)"] == f"{th['gamma']:.4f}"
    assert metrics["γ − β"] == f"{th['gamma_minus_beta']:.4f}"
    assert metrics["t-test (β vs γ)"] == "-12.50"
    # calculator defaults = theory.json; bounds rendered = core.analysis.theory at those values
    a, b, g = (at.slider(key=k).value for k in ("th_alpha", "th_beta", "th_gamma"))
    assert (a, b, g) == (th["alpha"], th["beta"], th["gamma"])
    n, nd, r = (at.number_input(key=k).value for k in ("th_n", "th_nd", "th_r"))
    assert (n, nd, r) == (143, 11, 9)
    assert metrics["Thm 3.4: keep difficult"] == f"{bounds.bound_difficult(a, b, g, n, nd, r, 0.1):.4f}"
    assert metrics["Cor 4.1: remove them"] == f"{bounds.bound_removal(a, b, n, nd, r, 0.1):.4f}"
    kind, expected = removal_verdict(bounds.evaluate_bounds(a, b, g, n, nd, r, 0.1), g - b)
    assert [e.value for e in getattr(at, kind)][:1] == [expected]  # the call-out kind follows what the bounds say
    assert "python -m core theory --run-dir" in at.code[0].value


def test_theory_slider_changes_verdict_and_bad_model_is_explained(runs):
    at = _page("theory", runs["parent"])
    at.slider(key="th_gamma").set_value(0.105).run()  # gamma = beta: nothing to remove
    _no_errors(at)
    verdicts = [e.value for e in (*at.success, *at.warning, *at.info) if e.value.startswith("γ − β")]
    assert len(verdicts) == 1 and "eeping them gives the" in verdicts[0]  # "Keeping ..." or "... keeping them ..."
    at.slider(key="th_gamma").set_value(0.9).run()  # gamma > alpha breaks the model
    assert not at.exception
    assert any("0 <= beta <= gamma < alpha < 1" in e.value for e in at.error)


def test_theory_calculator_defaults_follow_the_selected_run(runs):
    at = _page("theory", runs["parent"])
    at.slider(key="th_alpha").set_value(0.7).run()
    other = json.loads((runs["parent"] / "theory.json").read_text()) | {"alpha": 0.55, "n": 50}
    write_json(runs["child"] / "theory.json", other)
    at.session_state[RUN_KEY] = str(runs["child"])
    at.run()
    _no_errors(at)
    assert at.slider(key="th_alpha").value == 0.55
    assert at.number_input(key="th_n").value == 50


def test_theory_monitor_curves_and_claim_count(runs):
    at = _page("theory", runs["parent"])
    _no_errors(at)
    assert "It holds in 2 of 3 logged epochs" in _texts(at)
    frame = next(d.value for d in at.dataframe if "hard_scl" in d.value.columns)  # the monitor table
    assert frame["hard_scl"].round(6).tolist() == [3.2, 2.2, 2.7]


def test_theory_empty_state_offers_command_and_button(runs):
    at = _page("theory", runs["empty"])
    _no_errors(at)
    assert "no theory.json yet" in _texts(at)
    assert at.code[0].value.endswith(f"theory --run-dir {runs['empty']}")
    assert at.button(key="th_job").label == "Estimate α, β, γ now"
    assert "did not log monitor losses" in _texts(at)


# ---- Hard pairs -------------------------------------------------------------------------------


def test_hard_pairs_gallery_matches_pairs_csv(runs):
    at = _page("hard_pairs", runs["parent"])
    _no_errors(at)
    pairs = pd.read_csv(runs["parent"] / "pairs.csv").sort_values("similarity", ascending=False)
    table = at.dataframe[0].value
    assert len(table) == 20  # page size
    np.testing.assert_allclose(table["similarity"], pairs["similarity"].round(4).head(20))
    assert table["label A"].tolist() == [str(c) for c in pairs["label_i"].head(20)]
    assert table["image A"].iloc[0].startswith("data:image/png;base64,")
    assert f"{len(pairs)} pairs" in _texts(at)
    # heatmap figure carries class_pairs.npz counts
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    cp = np.load(runs["parent"] / "class_pairs.npz")
    upper = np.where(np.triu(np.ones_like(cp["difficult_counts"], bool), 1), cp["difficult_counts"], np.nan)
    np.testing.assert_array_equal(_plotly_array(spec["data"][0]["z"]), upper)  # each unordered pair once


def test_hard_pairs_mean_similarity_toggle_hides_diagonal(runs):
    at = _page("hard_pairs", runs["parent"])
    at.toggle(key="hp_mean").set_value(True).run()
    _no_errors(at)
    z = _plotly_array(json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["z"])
    expected = np.load(runs["parent"] / "class_pairs.npz")["mean_similarity"].astype(np.float64)
    np.fill_diagonal(expected, np.nan)
    np.testing.assert_allclose(z, expected, equal_nan=True)


def test_hard_pairs_class_filter_and_paging(runs):
    at = _page("hard_pairs", runs["parent"])
    pairs = pd.read_csv(runs["parent"] / "pairs.csv")
    a, b = int(pairs["label_i"].iloc[0]), int(pairs["label_j"].iloc[0])
    at.selectbox(key="hp_a").set_value(str(a)).run()
    _no_errors(at)
    touching = pairs[(pairs["label_i"] == a) | (pairs["label_j"] == a)]
    assert len(at.dataframe[0].value) == min(20, len(touching))
    at.selectbox(key="hp_b").set_value(str(b)).run()
    both = pairs[
        ((pairs["label_i"] == a) & (pairs["label_j"] == b)) | ((pairs["label_i"] == b) & (pairs["label_j"] == a))
    ]
    assert len(at.dataframe[0].value) == len(both)
    at.selectbox(key="hp_a").set_value("any class").run()
    at.selectbox(key="hp_b").set_value("any class").run()
    at.number_input(key="hp_page").set_value(3).run()
    assert at.dataframe[0].value["rank"].tolist() == list(range(41, 61))


def test_hard_pairs_empty_state(runs):
    at = _page("hard_pairs", runs["empty"])
    _no_errors(at)
    assert "no ranked pairs yet" in _texts(at)
    assert at.code[0].value.endswith(f"pairs --run-dir {runs['empty']} --top 1000 --k 20")  # K and k: the defaults
    assert at.button(key="hp_job")


# ---- Embeddings -------------------------------------------------------------------------------


def test_embeddings_map_has_one_trace_with_ids_and_grid_from_selected_ids(runs):
    at = _page("embeddings", runs["parent"], selected_ids=[5, 17, 300])
    _no_errors(at)
    chart = at.get("plotly_chart")[0]
    spec = json.loads(chart.proto.spec)
    # issue 11 section 8 / issue 13: classes are legend entries (one WebGL trace per class, hideable), not
    # one trace with a colour bar; every map point is in exactly one trace, all of one class
    assert all(t["type"] == "scattergl" for t in spec["data"]) and len(spec["data"]) == len(set(runs["y"]))
    umap = pd.read_csv(runs["parent"] / "umap_2d.csv")
    per_trace = [_plotly_array(t["customdata"]) for t in spec["data"]]
    np.testing.assert_array_equal(np.sort(np.concatenate(per_trace)), np.sort(umap["index"]))
    assert sorted(int(runs["y"][ids][0]) for ids in per_trace) == sorted(set(runs["y"].tolist()))
    assert all(len(set(runs["y"][ids].tolist())) == 1 for ids in per_trace)
    assert spec["layout"]["dragmode"] == "lasso"
    captions = _grid_captions(at)
    y = runs["y"]
    assert len(captions) == 3
    assert captions[0].startswith(f"#5 · {y[5]} · ")
    scores = pd.read_csv(runs["parent"] / "scores.csv")
    assert captions[2] == f"#300 · {y[300]} · {scores['band'][300]:.3f}"
    assert "Captions: id · class · band" in _texts(at)


def test_embeddings_selection_is_dropped_when_the_run_changes(runs):
    at = _page("embeddings", runs["parent"], selected_ids=[5, 17])
    assert len(_grid_captions(at)) == 2
    at.session_state[RUN_KEY] = str(runs["child"])
    at.run()
    _no_errors(at)
    assert _grid_captions(at) is None and "Nothing selected yet" in _texts(at)


def test_embeddings_grid_ranked_by_the_colour_score(runs):
    at = _page("embeddings", runs["parent"], selected_ids=[5, 17, 300, 42])
    at.selectbox(key="emb_colour").set_value("margin").run()
    _no_errors(at)
    scores = pd.read_csv(runs["parent"] / "scores.csv")
    expected = sorted([5, 17, 300, 42], key=lambda i: -scores["margin"][i])
    assert [int(c.split(" · ")[0][1:]) for c in _grid_captions(at)] == expected
    assert "highest margin first" in _texts(at)


def test_embeddings_colour_by_score_and_kept_pruned_for_child(runs):
    at = _page("embeddings", runs["child"])
    _no_errors(at)
    options = at.selectbox(key="emb_colour").options
    assert options == ["class", "band", "cross_class", "margin", "random", "kept / pruned"]
    at.selectbox(key="emb_colour").set_value("kept / pruned").run()
    _no_errors(at)
    data = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]  # one legend entry per category
    keep = np.load(runs["child"] / "keep.npy")
    by_name = {t["name"]: _plotly_array(t["customdata"]) for t in data}
    assert np.isin(by_name["kept"], keep).all() and not np.isin(by_name["pruned"], keep).any()
    assert "Parent vs pruned map" in [s.value for s in at.subheader]
    charts = at.get("plotly_chart")
    assert len(charts) == 3  # own map + parent + child
    assert "Nothing selected yet" in _texts(at)


def test_embeddings_empty_state(runs):
    at = _page("embeddings", runs["empty"])
    _no_errors(at)
    assert "no UMAP map yet" in _texts(at)
    assert at.code[0].value.endswith(f"umap --run-dir {runs['empty']}")
    assert at.button(key="emb_job")


# ---- Prune & retrain --------------------------------------------------------------------------


def test_prune_score_and_ratio_live_in_the_url(runs):
    """Issue 11: a pasted link (?score=&ratio=) shows the same preview, and moving the slider updates the URL."""
    at = AppTest.from_file(str(REPO / "pages" / "prune_retrain.py"), default_timeout=TIMEOUT)
    at.session_state[RUN_KEY] = str(runs["parent"])
    at.query_params["score"] = "random"
    at.query_params["ratio"] = "25"
    at.run()
    _no_errors(at)
    assert at.selectbox(key="pr_score").value == "random"
    assert at.slider(key="pr_ratio").value == 25
    at.slider(key="pr_ratio").set_value(30).run()
    url = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert (url["score"], url["ratio"]) == ("random", "30")
    at.slider(key="pr_ratio").set_value(35).run()
    at.query_params["ratio"] = "30"  # a burst of slider reruns: one arrives with the URL of the move before
    at.run()
    assert at.slider(key="pr_ratio").value == 35  # the stale URL does not undo the move


def test_prune_counts_match_ratio_and_per_class(runs):
    at = _page("prune", runs["parent"])
    _no_errors(at)
    n = runs["y"].shape[0]
    at.slider(key="pr_ratio").set_value(25).run()
    _no_errors(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["pruned"] == str(round(0.25 * n))
    assert metrics["kept"] == str(n - round(0.25 * n))
    from core.analysis.prune import per_class_counts, select_keep

    scores = pd.read_csv(runs["parent"] / "scores.csv")
    _, pruned = select_keep(scores["band"].to_numpy(), 0.25, 0)
    expected = per_class_counts(scores["label"].to_numpy(), pruned, CLASSES)
    pd.testing.assert_frame_equal(
        at.dataframe[0].value.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False
    )
    assert _grid_captions(at)[0].startswith("#")


def test_prune_plan_commands_and_launch_disabled_at_zero(runs):
    at = _page("prune", runs["parent"])
    at.slider(key="pr_ratio").set_value(0).run()
    assert at.button(key="pr_launch").disabled
    at.slider(key="pr_ratio").set_value(20).run()
    at.selectbox(key="pr_mode").set_value("combined").run()
    at.multiselect(key="pr_seeds").set_value([0, 1]).run()
    _no_errors(at)
    assert at.button(key="pr_launch").label == "Launch 4 retrain jobs"
    jobs_text = at.code[-1].value.split("\n")
    assert len(jobs_text) == 4
    R = runs["parent"]
    prune = f"python -m core prune --run-dir {R} --score band --ratio 0.2 --seed 0 --train"
    combined = "--loss-mode combined --pos-high 0.12 --pos-low 0.2 --sigma 0.3 --rho 0.6"
    assert jobs_text[0] == f"{prune} {combined} --analyse"  # issue 11: retrains arrive analysed
    assert "--score random" in jobs_text[2] and "--seed 1" in jobs_text[3]
    at.selectbox(key="pr_mode").set_value("hard_ucl").run()
    at.number_input(key="pr_beta").set_value(2.0).run()
    _no_errors(at)
    assert at.code[-1].value.split("\n")[0] == f"{prune} --loss-mode hard_ucl --beta 2 --tau-plus 0 --analyse"
    at.checkbox(key="pr_random").uncheck().run()
    assert at.button(key="pr_launch").label == "Launch 2 retrain jobs"


def test_prune_empty_state(runs):
    at = _page("prune", runs["empty"])
    _no_errors(at)
    assert "no difficulty scores yet" in _texts(at)
    assert at.button(key="pr_score_job")


# ---- Ground truth (core.audit.groundtruth) on Prune and Embeddings ------------------------------


@pytest.fixture
def mixed(runs):
    """The parent run made Mixed-digits (omega 0.2): scores.csv gains the ``mixed`` column, margin finds them."""
    from core.data.sources import load_dataset

    flags = load_dataset("digits", mix=0.2, seed=0).mixed
    scores = pd.read_csv(runs["parent"] / "scores.csv")
    scores["margin"] = scores["margin"] + flags  # the best score here
    scores["mixed"] = flags
    scores.to_csv(runs["parent"] / "scores.csv", index=False)
    return runs["parent"], flags


def test_prune_ground_truth_panel_matches_the_core_aurocs_and_marks_the_mixed(mixed):
    from core.audit.groundtruth import run_aurocs
    from core.reports.report_audit import auroc as report_auroc

    run, flags = mixed
    at = _page("prune", run, pr_ratio=20)
    _no_errors(at)
    aurocs, source = run_aurocs(run)
    assert source == "mixed" and list(aurocs)[0] == "margin"
    table = next(d.value for d in at.dataframe if "AUROC" in d.value.columns)
    assert dict(zip(table["score"], table["AUROC"], strict=True)) == aurocs
    assert dict(report_auroc(run)[0]["rows"]) == {k: f"{v:.4f}" for k, v in aurocs.items()}
    assert at.selectbox(key="pr_score").value == "margin"  # the default is the best-ranking score
    assert "**margin** ranks them best" in _texts(at)
    body = next(h.proto.body for h in at.get("html") if GRID_CLASS in h.proto.body)
    shown = [int(i) for i in re.findall(r'data-id="(\d+)"', body)]
    assert re.findall(r'data-id="(\d+)" data-truth="1"', body) == [str(i) for i in shown if flags[i]]
    metrics = {m.label: m.value for m in at.metric}
    scores = pd.read_csv(run / "scores.csv")
    from core.analysis.prune import select_keep

    _, pruned = select_keep(scores["margin"].to_numpy(), 0.2, 0)
    hits = int(flags[scores["index"].to_numpy()[pruned]].sum())
    assert metrics["precision (caught)"] == f"{hits / len(pruned):.0%}"
    assert metrics["recall (caught)"] == f"{hits / flags.sum():.0%}"


def test_embeddings_colour_by_ground_truth_and_by_tag(mixed):
    from core.audit.tags import add_tag

    run, flags = mixed
    add_tag(run, "odd", [1, 3, 5])
    at = _page("embeddings", run, selected_ids=[0, 1, 2, 3])
    _no_errors(at)
    options = at.selectbox(key="emb_colour").options
    assert "ground truth" in options and "tag:odd" in options
    at.selectbox(key="emb_colour").set_value("ground truth").run()
    _no_errors(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    by_name = {t["name"]: _plotly_array(t["customdata"]) for t in spec["data"]}
    assert set(by_name["mixed"].tolist()) == set(np.flatnonzero(flags).tolist())
    assert spec["layout"]["legend"]["title"]["text"] == "ground truth (mixed) (click to hide)"
    at.selectbox(key="emb_colour").set_value("tag:odd").run()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    by_name = {t["name"]: _plotly_array(t["customdata"]) for t in spec["data"]}
    assert sorted(by_name["odd"].tolist()) == [1, 3, 5]
    body = next(h.proto.body for h in at.get("html") if GRID_CLASS in h.proto.body)
    shown = [int(i) for i in re.findall(r'data-id="(\d+)"', body)]
    assert sorted(shown) == [0, 1, 2, 3]
    assert re.findall(r'data-id="(\d+)" data-truth="1"', body) == [str(i) for i in shown if flags[i]]
