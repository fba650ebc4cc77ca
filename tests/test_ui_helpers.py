"""Unit tests of the pure helpers behind the pages (ui/*): each against hand-computed values or core."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from core.analysis import bounds
from core.errors import HardpairsError
from core.io import write_json
from core.runs.pipeline import default_run_id
from core.training import lossmodes
from core.training.config import make_config
from core.training.loss import REMOVAL_VARIANTS
from ui.readers import class_names, file_stamp
from ui.thumbs import images_key
from ui.views import (
    compareview,
    embedview,
    labels,
    lossform,
    pairview,
    retrain,
    runforms,
    runtable,
    scoreview,
    theoryview,
)

STAMP = r"\d{8}-\d{6}"
LOSS = {
    "pos_high": 0.1,
    "pos_low": 0.2,
    "sigma": 0.05,
    "rho": 0.7,
    "beta": 2.0,
    "tau_plus": 0.1,
    "removal": "mask",
    "hard_threshold": 0.3,
}
BAND = ["--pos-high", "0.1", "--pos-low", "0.2"]
#: the flags each mode passes, written out by hand from the paper's equations / the H-SCL baselines
MODE_FLAGS = {
    "baseline": [],
    "removal": [*BAND, "--removal", "mask"],
    "margin": [*BAND, "--sigma", "0.05"],
    "temperature": [*BAND, "--rho", "0.7"],
    "combined": [*BAND, "--sigma", "0.05", "--rho", "0.7"],
    "hard_ucl": ["--beta", "2", "--tau-plus", "0.1"],
    "scl": [],
    "hard_scl": ["--beta", "2"],
    "hard_scl_thr": ["--hard-threshold", "0.3"],
    "hard_ucl_thr": ["--hard-threshold", "0.3"],
}


# ---- ui/views/lossform.py ---------------------------------------------------------------------------


def test_the_form_offers_exactly_the_table_modes_with_their_help():
    assert lossform.MODE_NAMES == lossmodes.LOSS_MODES
    assert set(MODE_FLAGS) == set(lossmodes.LOSS_MODES)  # a new mode needs its hand-written flags here
    assert lossform.MODE_LABELS["combined"] == "combined — margin + temperature scaling: the paper's method (Eq. 16)"


def test_every_knob_of_the_table_has_a_widget():
    knobs = {k for m in lossmodes.MODES for k in m.knobs}
    assert knobs <= set(lossform.KNOB_WIDGETS)
    assert lossform.KNOB_WIDGETS["removal"].options == tuple(REMOVAL_VARIANTS) == ("zero", "mask")
    for name, widget in lossform.KNOB_WIDGETS.items():
        if isinstance(widget, lossform.NumberKnob):
            assert widget.lo < widget.hi and widget.step > 0, name


def test_retrain_knobs_are_the_flags_prune_passes_on():
    from core.runs.pruning import RETRAIN_FIELDS as _RETRAIN_FLAGS

    assert set(lossform.RETRAIN_KNOBS) == set(_RETRAIN_FLAGS) - {"loss_mode", "epochs"}


@pytest.mark.parametrize("mode", list(MODE_FLAGS))
def test_loss_flags_per_mode(mode):
    assert lossform.loss_flags({"loss_mode": mode, **LOSS}) == ["--loss-mode", mode, *MODE_FLAGS[mode]]


def test_mode_knobs_restricted_and_knob_defaults():
    assert lossform.mode_knobs("combined") == ("pos_high", "pos_low", "sigma", "rho")
    assert lossform.mode_knobs("removal", lossform.RETRAIN_KNOBS) == ("pos_high", "pos_low")
    assert lossform.knob_default("pos_low", {"pos_low": 0.3}) == 0.3
    assert lossform.knob_default("pos_low", {"pos_low": None}) == 0.17  # TrainConfig's default
    assert lossform.knob_default("removal", {}) == "zero"
    with pytest.raises(KeyError, match="unknown loss mode 'nope'"):
        lossform.mode_knobs("nope")


def test_flag_value_and_band_check():
    assert [lossform.flag_value(v) for v in (0.25, 2.0, 5, "zero")] == ["0.25", "2", "5", "zero"]
    lossform.check_band({"loss_mode": "margin", "pos_high": 0.1, "pos_low": 0.2})
    lossform.check_band({"loss_mode": "hard_ucl", "pos_high": 0.3, "pos_low": 0.2})  # no band: not checked
    with pytest.raises(HardpairsError, match=r"posLow \(0.1\) must be above posHigh \(0.2\)"):
        lossform.check_band({"loss_mode": "combined", "pos_high": 0.2, "pos_low": 0.1})


# ---- ui/views/runforms.py ---------------------------------------------------------------------------


def _values(mode: str, **extra) -> dict:
    """The train form's values at the quick digits defaults, with ``mode``'s knobs."""
    knobs = {k: lossform.knob_default(k, {**LOSS, **extra}) for k in lossform.mode_knobs(mode)}
    return {
        "epochs": 40,
        "batch_size": 256,
        "lr": 3e-3,
        "temperature": 0.2,
        "loss_mode": mode,
        **knobs,
        "seed": 0,
        "device": "auto",
        "mix": None,
        "mix_lambda": None,
    }


@pytest.mark.parametrize(
    "mode, flags",
    [
        ("baseline", []),
        ("removal", ["--pos-low", "0.2", "--removal", "mask"]),  # posHigh 0.1 is the preset's
        ("combined", ["--pos-low", "0.2", "--sigma", "0.05"]),  # rho 0.7 is the preset's
        ("hard_ucl", ["--beta", "2", "--tau-plus", "0.1"]),
        ("hard_scl", ["--beta", "2"]),
    ],
)
def test_train_argv_per_mode_lists_what_differs_from_the_preset(mode, flags):
    argv = runforms.train_argv("digits", "quick", _values(mode), analyse=True, download=False)
    head = ["train", "--dataset", "digits", "--preset", "quick"]
    assert argv == [*head, "--loss-mode", mode, *flags, "--seed", "0", "--analyse"]


def test_train_argv_mix_device_and_download():
    values = _values("baseline") | {"epochs": 5, "device": "cuda", "mix": 0.1, "mix_lambda": 0.5, "seed": 3}
    argv = runforms.train_argv("cifar10", "quick", values, analyse=False, download=True)
    assert argv == [
        *["train", "--dataset", "cifar10", "--preset", "quick", "--epochs", "5", "--loss-mode", "baseline"],
        *["--seed", "3", "--device", "cuda", "--mix", "0.1", "--mix-lambda", "0.5", "--download"],
    ]


def test_planned_run_id_is_core_default_run_id():
    values = _values("combined") | {"seed": 3}
    planned = runforms.planned_run_id("digits", "quick", values)
    core_id = default_run_id(make_config("digits", "quick", loss_mode="combined", seed=3, pos_low=0.2, sigma=0.05))
    assert re.fullmatch(rf"digits-combined-s3-{STAMP}", planned)
    assert planned[:-15] == core_id[:-15]  # equal up to the timestamp
    mixed = runforms.planned_run_id("folder:/tmp/my data/", "quick", _values("baseline") | {"mix": 0.1})
    assert re.fullmatch(rf"folder-my-data-mix0.1-baseline-s0-{STAMP}", mixed)


def test_planned_run_id_rejects_an_invalid_form():
    with pytest.raises(HardpairsError, match="pos-high"):
        runforms.planned_run_id("digits", "quick", _values("margin") | {"pos_high": 0.5, "pos_low": 0.2})


def test_dataset_spec(tmp_path):
    assert runforms.dataset_spec("digits") == ("digits", None)
    assert runforms.dataset_spec("folder", "  ") == (None, "Enter the folder path of the dataset.")
    assert runforms.dataset_spec("folder", f" {tmp_path} ") == (f"folder:{tmp_path}", None)
    missing = tmp_path / "x.npz"
    assert runforms.dataset_spec("npz", str(missing)) == (
        f"npz:{missing}",
        f"{missing} does not exist; enter an existing .npz file.",
    )


def test_import_argv_and_run_name():
    assert runforms.import_argv("", "", "auto") == ["import", "--checkpoint", "CHECKPOINT.pt", "--dataset", "digits"]
    assert runforms.import_argv("/m/a.pt", "cifar10", "resnet18", "mine") == [
        *["import", "--checkpoint", "/m/a.pt", "--dataset", "cifar10", "--arch", "resnet18", "--name", "mine"],
    ]
    assert runforms.import_run_name("/m/a.pt", "mine") == "mine"
    assert re.fullmatch(rf"import-a-{STAMP}", runforms.import_run_name("/m/a.pt"))


# ---- ui/views/runtable.py, ui/views/labels.py, ui/readers.py, ui/thumbs.py ---------------------------------


def _row(run_id: str, **extra) -> dict:
    row = {
        "run_id": run_id,
        "dataset": "digits",
        "loss_mode": "baseline",
        "seed": 0,
        "epochs": 3,
        "state": "done",
        "linear_acc": 0.9,
        "knn_acc": None,
        "prune_score": None,
        "prune_ratio": None,
        "n_kept": 100,
        "wall_time_s": 1.5,
    }
    return row | extra


def test_runs_frame():
    frame = runtable.runs_frame([_row("a"), _row("b", prune_score="band", prune_ratio=0.25, linear_acc=0.5)])
    assert frame["run"].tolist() == ["a", "b"]
    assert frame["linear probe %"].tolist() == pytest.approx([90.0, 50.0])
    assert frame["kNN %"].isna().all()
    assert frame["pruning"].tolist() == ["", "band 25%"]


def test_fmt_acc_and_run_label():
    assert labels.fmt_acc(0.9345) == "93.5%"
    assert labels.fmt_acc(None) == labels.fmt_acc(float("nan")) == "–"
    row = _row("r1", prune_score="band", prune_ratio=0.3, seed=2)
    assert labels.selector_labels([row]) == ["digits · baseline · band 30% · s2 · done · 90.0% — r1"]
    mixed = _row("r2", seed=0, mix=0.2)  # a run summary carries mix; its config.json is read when it has a run_dir
    assert labels.selector_labels([row, mixed]) == [
        "digits · baseline · band 30% · s2 · done · 90.0% — r1",
        "digits · mix 0.2 · baseline · s0 · done · 90.0% — r2",
    ]


def test_file_stamp_and_class_names(tmp_path):
    assert file_stamp(tmp_path / "none.json") is None
    write_json(tmp_path / "manifest.json", {"classes": ["cat", "dog"]})
    path, _, size = file_stamp(tmp_path / "manifest.json")
    assert path == str(tmp_path / "manifest.json") and size > 0
    assert class_names(tmp_path, 2) == ["cat", "dog"]
    assert class_names(tmp_path, 3) == ["0", "1", "2"]  # manifest lists too few


def test_images_key():
    assert images_key({}) == ("digits", 0.0, 0.5, 0, None)
    config = {"dataset": "cifar10", "mix": 0.1, "mix_lambda": 0.3, "seed": 2, "image_size": "32"}
    assert images_key(config) == ("cifar10", 0.1, 0.3, 2, 32)
    assert images_key({**config, "mix_seed": 0}) == ("cifar10", 0.1, 0.3, 0, 32)  # the images the run trained on


# ---- ui/views/retrain.py ----------------------------------------------------------------------------


def test_retrain_argv_per_mode_passes_only_what_prune_takes(tmp_path):
    head = ["prune", "--run-dir", str(tmp_path), "--score", "band", "--ratio", "0.2", "--seed", "1"]
    assert retrain.prune_argv(tmp_path, "band", 0.2, 1) == head
    for mode, flags in MODE_FLAGS.items():
        argv = retrain.retrain_argv(tmp_path, "band", 0.2, 1, {"loss_mode": mode, **LOSS})
        # prune --train has no --removal and no --hard-threshold (the retrain keeps the parent's)
        expected = [f for f in flags if f not in ("--removal", "mask", "--hard-threshold", "0.3")]
        assert argv == [*head, "--train", "--loss-mode", mode, *expected, "--analyse"], mode  # issue 11: analysed


def test_planned_jobs_order_and_random_baseline(tmp_path):
    loss = {"loss_mode": "baseline"}
    plan = retrain.planned_jobs(tmp_path, "band", 0.1, [0, 1], loss, with_random=True)
    assert [(j[4], j[8]) for j in plan] == [("band", "0"), ("band", "1"), ("random", "0"), ("random", "1")]
    assert len(retrain.planned_jobs(tmp_path, "random", 0.1, [0, 1], loss, with_random=True)) == 2
    assert retrain.planned_jobs(tmp_path, "band", 0.1, [], loss, with_random=True) == []


def test_launch_blocker_and_label():
    assert retrain.launch_blocker([], 0.1) == "pick at least one seed"
    assert retrain.launch_blocker([0], 0.0) == "move the slider above 0%"
    assert retrain.launch_blocker([0], 0.1) == ""
    assert (retrain.launch_label(1), retrain.launch_label(4)) == ("Launch 1 retrain job", "Launch 4 retrain jobs")


def test_prune_preview_hand_computed():
    scores = pd.DataFrame({"index": [10, 11, 12, 13], "label": [0, 1, 0, 1], "band": [0.9, 0.1, 0.5, 0.7]})
    pv = retrain.prune_preview(scores, "band", 0.5, 0, ["a", "b"])
    assert pv.pruned.tolist() == [0, 3] and pv.kept.tolist() == [1, 2]  # the two highest scores go
    assert pv.pruned_per_class.tolist() == [1, 1] and pv.kept_per_class.tolist() == [1, 1]
    assert pv.sample.tolist() == [0, 3]  # highest first
    assert pv.captions == ["#10 · a · 0.900", "#13 · b · 0.700"]
    assert pv.what == "The 2 highest-band samples of the 2 pruned"
    assert len(pv.counts) == 2
    rnd = retrain.prune_preview(scores.rename(columns={"band": "random"}), "random", 0.25, 0, ["a", "b"])
    assert rnd.pruned.tolist() == [0] and rnd.what == "1 of the 1 randomly pruned"


# ---- ui/views/scoreview.py, ui/views/embedview.py ---------------------------------------------------------


SCORES = pd.DataFrame(
    {
        "index": [0, 1, 3],
        "label": [2, 0, 1],
        "band": [0.5, 0.9, 0.1],
        "note": ["x", "y", "z"],
        "margin": [0.3, 0.2, 0.8],
        "mixed": [0, 1, 0],
    }
)


def test_score_columns_by_index_and_labels():
    assert scoreview.score_columns(SCORES) == ["band", "margin"]  # META_COLUMNS and text left out
    assert scoreview.score_columns(None) == []
    np.testing.assert_array_equal(scoreview.by_index(SCORES, "band", np.array([3, 2, 0])), [0.1, np.nan, 0.5])
    assert scoreview.labels_by_id(SCORES).tolist() == [2, 0, -1, 1]


def test_map_staleness_and_colour_options():
    assert embedview.map_staleness(200.0, {"created": 100.0}) == embedview.STALE_MAP
    assert embedview.map_staleness(50.0, {"created": 100.0}) == ""
    assert embedview.map_staleness(None, {"created": 100.0}) == ""
    assert embedview.colour_options(SCORES, has_keep=True) == ["class", "band", "margin", "mixed", "kept / pruned"]
    assert embedview.colour_options(None, has_keep=False) == ["class"]


def test_point_labels_class_text_and_colouring():
    ids = np.array([0, 3, 1])
    lab = embedview.point_labels(ids, scoreview.labels_by_id(SCORES))
    assert lab.tolist() == [2, 1, 0]
    assert embedview.point_labels(ids, np.array([1, 1])).tolist() == [0, 0, 0]  # labels too short
    assert embedview.class_text([2, 1, -1, 7], ["a", "b", "c"]) == ["c", "b", "?", "?"]
    kept = embedview.colouring("kept / pruned", ids, lab, ["a", "b", "c"], SCORES, np.array([3]))
    assert kept.color.tolist() == [1, 0, 1] and kept.categories == ["kept", "pruned"] and kept.score is None
    band = embedview.colouring("band", ids, lab, ["a", "b", "c"], SCORES, None)
    assert band.color.tolist() == [0.5, 0.1, 0.9] and band.categories is None and band.score == "band"
    mixed = embedview.colouring("mixed", ids, lab, ["a", "b", "c"], SCORES, None)
    assert mixed.color.tolist() == [0, 0, 1] and mixed.categories == ["clean", "mixed"]
    assert embedview.colouring("class", ids, lab, ["a", "b", "c"], SCORES, None).color.tolist() == [2, 1, 0]


def test_grid_items_drop_rank_and_summary():
    labels_ = scoreview.labels_by_id(SCORES)
    items = embedview.grid_items([3, 0, 9, 1], 4, SCORES, labels_, ["a", "b", "c"], "margin")
    assert items.ids == [3, 0, 1] and items.dropped == 1  # 9 is outside the 4 images; highest margin first
    assert items.captions == ["#3 · b · 0.800", "#0 · c · 0.300", "#1 · a · 0.200"]
    assert items.summary() == "3 selected (b: 1, c: 1, a: 1). Captions: id · class · margin (highest margin first)."
    plain = embedview.grid_items([1, 0], 4, SCORES, labels_, ["a", "b", "c"], None)
    assert plain.ids == [1, 0] and not plain.ranked and plain.score == "band"  # selection order, band captions
    assert plain.captions == ["#1 · a · 0.900", "#0 · c · 0.500"]
    bare = embedview.grid_items([2], 4, None, None, ["a"], None)
    assert bare.captions == ["#2 · ?"] and bare.summary() == "1 selected (?: 1). Captions: id · class."


def test_grid_items_rank_the_whole_selection_before_the_cap():
    """A 1M-point lasso selects more than the grid lists: the ranked grid holds the highest-scored of ALL
    selected ids (not of the first ones), and the summary says how many of how many it lists."""
    rng = np.random.default_rng(0)
    n = 1_000
    scores = pd.DataFrame({"index": np.arange(n), "label": rng.integers(0, 3, n), "band": rng.random(n)})
    labels_ = scoreview.labels_by_id(scores)
    selected = rng.permutation(n)[:600]
    items = embedview.grid_items(selected, n, scores, labels_, ["a", "b", "c"], "band", cap=50)
    want = selected[np.argsort(-scores["band"].to_numpy()[selected], kind="stable")][:50]
    assert items.ids == want.tolist() and items.n_selected == 600
    assert items.summary().startswith("The grid lists the 50 highest-band of 600 selected (")
    plain = embedview.grid_items(selected, n, scores, labels_, ["a", "b", "c"], None, cap=50)
    assert plain.ids == selected[:50].tolist()  # unranked: selection order
    assert plain.summary().startswith("The grid lists the 50 first (in selection order) of 600 selected (")
    assert [c.split(" · ")[1] for c in plain.captions] == [["a", "b", "c"][labels_[i]] for i in selected[:50]]


# ---- ui/views/pairview.py ---------------------------------------------------------------------------


PAIRS = pd.DataFrame(
    {
        "i": [1, 2, 3, 4, 5],
        "j": [6, 7, 8, 9, 10],
        "label_i": [0, 1, 2, 1, 0],
        "label_j": [1, 0, 1, 2, 2],
        "similarity": [0.5, 0.9, 0.7, 0.8, 0.6],
    }
)


def test_filter_pairs_hand_computed():
    assert pairview.filter_pairs(PAIRS, 0, 1)["i"].tolist() == [2, 1]  # both orders, most similar first
    assert pairview.filter_pairs(PAIRS, None, 2)["i"].tolist() == [4, 3, 5]
    assert pairview.filter_pairs(PAIRS, 2, None)["i"].tolist() == [4, 3, 5]
    assert pairview.filter_pairs(PAIRS, None, None)["i"].tolist() == [2, 4, 3, 5, 1]
    assert pairview.filter_pairs(PAIRS, 0, 0).empty


def test_class_index_picked_cell_and_mean_without_diagonal():
    names = ["a", "b", "c"]
    assert pairview.class_index(pairview.ANY, names) is None and pairview.class_index("c", names) == 2
    assert pairview.picked_cell([(0, 1), (2, 0)], names) == ("c", "a")
    assert pairview.picked_cell([(5, 0)], names) is None and pairview.picked_cell([], names) is None
    mean = np.arange(4, dtype=np.float32).reshape(2, 2)
    out = pairview.mean_without_diagonal(mean)
    np.testing.assert_array_equal(out, [[np.nan, 1.0], [2.0, np.nan]])
    assert mean[0, 0] == 0.0  # the input is not written


class _Thumbs:
    def data_urls(self, ids):
        return [f"url{i}" for i in ids]


def test_pair_table():
    rows = pairview.filter_pairs(PAIRS, None, None).iloc[2:4]
    table = pairview.pair_table(rows, 2, ["a", "b", "c"], _Thumbs())
    assert table["rank"].tolist() == [3, 4]
    assert table["image A"].tolist() == ["url3", "url5"] and table["image B"].tolist() == ["url8", "url10"]
    assert table["label A"].tolist() == ["c", "a"] and table["label B"].tolist() == ["b", "c"]
    assert table["ids"].tolist() == ["#3 / #8", "#5 / #10"]


# ---- ui/views/theoryview.py -------------------------------------------------------------------------


def test_finite_or_and_calculator_defaults():
    assert theoryview.finite_or("0.5", 1.0) == 0.5
    assert theoryview.finite_or(None, 1.0) == theoryview.finite_or(float("inf"), 1.0) == 1.0
    d = theoryview.calculator_defaults({"alpha": 1.5, "beta": -3, "n": 1, "n_d": -2, "r": 9.6, "delta": 0.7})
    assert d == {"alpha": 0.999, "beta": -1.0, "gamma": 0.3, "n": 2.0, "n_d": 0.0, "r": 10.0, "delta": 0.5}


def test_gap_axis_end():
    assert theoryview.gap_axis_end(0.5, float("inf"), 0.1) == pytest.approx(0.4995)
    assert theoryview.gap_axis_end(0.5, 0.01, 0.02) == pytest.approx(0.04)  # zoom onto 4x the threshold
    assert theoryview.gap_axis_end(0.5, 0.01, 0.2) == pytest.approx(0.3)  # keep the current gap in view


def test_bound_curve_equals_core_bounds():
    a, b, n, nd, r, delta = 0.6, 0.1, 143.0, 11.0, 9, 0.1
    thr = bounds.removal_threshold(a, b, n, nd, r)
    curve = theoryview.bound_curve(a, b, n, nd, r, delta, thr, 0.2, points=5)
    end = theoryview.gap_axis_end(a - b, thr, 0.2)
    np.testing.assert_allclose(curve.gaps, np.linspace(0, end, 5))
    for k in (0, 2, 4):
        assert curve.difficult[k] == pytest.approx(bounds.bound_difficult(a, b, b + curve.gaps[k], n, nd, r, delta))
    assert curve.difficult[0] == pytest.approx(bounds.bound_clean(a, b, n, r, delta))  # gamma = beta: clean bound
    assert curve.removal == bounds.bound_removal(a, b, n, nd, r, delta)


def test_removal_verdict_and_monitor_claim():
    res = {"removal_threshold": 0.1, "removal_beats_keeping": True, "bound_difficult": 0.5, "bound_removal": 0.4}
    assert theoryview.removal_verdict(res, 0.2) == (
        "success",
        "γ − β = 0.20000 vs removal threshold 0.10000. **Removing the difficult examples gives the tighter bound.**",
    )
    res |= {"removal_threshold": float("inf"), "removal_beats_keeping": False, "bound_removal": 0.6}
    assert theoryview.removal_verdict(res, 0.2)[1].startswith("γ − β = 0.20000 vs removal threshold ∞.")
    frame = pd.DataFrame({"hard_scl": [1.0, 3.0, np.nan, 2.0], "hard_ucl": [2.0, 2.0, 1.0, 2.0]})
    assert theoryview.monitor_claim(frame) == (2, 3)


# ---- ui/views/compareview.py ------------------------------------------------------------------------


def test_compare_views():
    assert compareview.panel_choices([("digits", "baseline")]) == {"digits · baseline": ("digits", "baseline")}
    grouped = pd.DataFrame(
        {"dataset": ["d", "d", "e"], "loss_mode": ["b", "b", "b"], "prune_score": ["band", "random", "band"]}
    )
    assert compareview.has_random_baseline(grouped, "d", "b") and not compareview.has_random_baseline(grouped, "e", "b")
    deltas = pd.DataFrame(
        {
            "run_id": ["r"],
            "parent": ["p"],
            "prune_score": ["band"],
            "prune_ratio": [0.3],
            "seed": [0],
            "delta_linear": [0.03],
            "delta_knn": [-0.01],
        }
    )
    view = compareview.delta_view(deltas, {"r": "d · b · band 30%"})
    assert list(view.columns) == ["pruned run", "pruned by", "linear probe Δ (pp)", "kNN Δ (pp)"]
    assert view.iloc[0].tolist() == ["d · b · band 30% · seed 0", "band, 30 % removed", "+3.00", "-1.00"]
