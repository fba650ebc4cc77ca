"""core.reports.compare / core.reports.repeat / ``python -m core compare`` on fake run folders with predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from core.analysis.stats import seed_summary
from core.io import save_npz, write_json
from core.reports import compare, repeat
from core.reports.records import load_records
from tests.helpers import fake_run, run_cli

M = 200
Y = np.arange(M) % 10


def preds(n_wrong: int, offset: int = 0) -> np.ndarray:
    """Predictions wrong on samples offset .. offset + n_wrong - 1."""
    p = Y.copy()
    p[offset : offset + n_wrong] = (Y[offset : offset + n_wrong] + 1) % 10
    return p


def run(root, run_id, seed, lin_pred, knn_pred=None, protocol=None, with_preds=True, **kw):
    knn_pred = lin_pred if knn_pred is None else knn_pred
    d = fake_run(root, run_id, seed=seed, linear=float((lin_pred == Y).mean()), knn=float((knn_pred == Y).mean()), **kw)
    if protocol:
        write_json(
            d / "metrics.json",
            {
                "linear_acc": float((lin_pred == Y).mean()),
                "knn_acc": float((knn_pred == Y).mean()),
                "protocol": protocol,
                "probe": {"protocol": protocol, "knn_k": 20, "knn_t": 0.07},
            },
        )
    if with_preds:
        save_npz(d / "predictions.npz", y_true=Y, linear_pred=lin_pred, knn_pred=knn_pred)
    return d


@pytest.fixture
def family(runs_root):
    p0 = run(runs_root, "base-s0", 0, preds(20), created=1)
    run(runs_root, "base-s1", 1, preds(24), created=2)
    run(runs_root, "band-s0", 0, preds(10), parent=str(p0), score="band", ratio=0.3, created=3)  # 10 fewer errors
    run(runs_root, "rand-s0", 0, preds(40), parent=str(p0), score="random", ratio=0.3, created=4)
    return runs_root


def test_groups_have_mean_std_interval_and_seed_list(family):
    groups = compare.group_table(load_records(family)).set_index("prune_score")
    base = groups.loc["none"]
    ref = seed_summary([0.90, 0.88])
    assert base["n"] == 2 and base["seeds"] == [0, 1] and base["seeds_text"] == "seeds 0, 1 (n=2)"
    assert base["linear_mean"] == pytest.approx(ref.mean) and base["linear_std"] == pytest.approx(ref.std)
    assert (base["linear_ci_low"], base["linear_ci_high"]) == pytest.approx((ref.ci_low, ref.ci_high))
    band = groups.loc["band"]
    assert band["n"] == 1 and band["seeds_text"] == "seed 0 (n=1)" and pd.isna(band["linear_ci_low"])
    assert "undefined" in band["note"]


def test_pruned_child_vs_parent_and_random_paired_tests(family):
    pairs = compare.pair_table(load_records(family), n_boot=2000)
    lin = pairs[pairs["metric"] == "linear"].set_index(["run_id", "against"])
    vs_parent = lin.loc[("band-s0", "parent")]
    # band is right on samples 10..19 where the parent is wrong, and never the reverse: b = 10, c = 0
    assert (vs_parent["b"], vs_parent["c"]) == (10, 0)
    assert vs_parent["mcnemar_p"] == pytest.approx(binomtest(0, 10, 0.5).pvalue)
    assert vs_parent["diff"] == pytest.approx(0.05) and vs_parent["ci_low"] > 0 and vs_parent["verdict"] == "better"
    assert vs_parent["other_id"] == "base-s0" and vs_parent["point"] == pytest.approx(0.5)
    vs_random = lin.loc[("band-s0", "random")]
    assert vs_random["other_id"] == "rand-s0" and (vs_random["b"], vs_random["c"]) == (30, 0)
    assert vs_random["verdict"] == "better" and not vs_random["protocol_mismatch"]
    # the random run itself is compared with its parent only
    assert ("rand-s0", "random") not in lin.index and lin.loc[("rand-s0", "parent")]["verdict"] == "worse"


def test_within_noise_when_two_images_differ(runs_root):
    p = run(runs_root, "p", 0, preds(20))
    run(runs_root, "c", 0, preds(20, offset=2), parent=str(p), score="band", ratio=0.1)
    row = compare.pair_table(load_records(runs_root), n_boot=2000).iloc[0]
    assert (row["b"], row["c"]) == (2, 2) and row["mcnemar_p"] == 1.0
    assert row["ci_low"] < 0 < row["ci_high"] and row["verdict"] == "within noise"


def test_missing_predictions_say_how_to_make_them(runs_root):
    p = run(runs_root, "old", 0, preds(20), with_preds=False)
    run(runs_root, "kid", 0, preds(10), parent=str(p), score="band", ratio=0.3)
    row = compare.pair_table(load_records(runs_root)).iloc[0]
    assert pd.isna(row["verdict"]) and pd.isna(row["mcnemar_p"])
    assert row["note"] == f"no per-sample predictions: re-probe with `python -m core probe --run-dir {p}`"


def test_protocol_mismatch_is_flagged_and_splits_groups(runs_root):
    p = run(runs_root, "p", 0, preds(20), protocol="lbfgs")
    run(runs_root, "p1", 1, preds(20), protocol="paper")
    run(runs_root, "c", 0, preds(10), parent=str(p), score="band", ratio=0.3, protocol="paper")
    records = load_records(runs_root)
    groups = compare.group_table(records)
    assert sorted(groups[groups["prune_score"] == "none"]["probe"]) == [
        "lbfgs · kNN k=20 t=0.07",
        "paper · kNN k=20 t=0.07",
    ]
    row = compare.pair_table(records).iloc[0]
    assert row["protocol_mismatch"] and "probed differently" in row["note"]
    out = compare.compare_runs(runs_root, n_boot=200)
    assert out["protocol_mismatch"] and len(out["protocols"]) == 2


def test_compare_cli_prints_the_tables(family, capsys):
    code, out = run_cli(["compare", "--runs-root", family, "--bootstrap", "500"], capsys)
    assert code == 0 and not out["protocol_mismatch"] and out["protocols"] == ["lbfgs · kNN k=20 t=0.07"]
    assert {g["prune_score"] for g in out["groups"]} == {"none", "band", "random"}
    row = next(c for c in out["comparisons"] if c["run_id"] == "band-s0" and c["against"] == "random")
    assert row["verdict"] == "better" and row["metric"] in ("linear", "knn")
    code, out = run_cli(["compare", str(family / "base-s0"), str(family / "band-s0")], capsys)
    assert code == 0 and [c["against"] for c in out["comparisons"]] == ["parent", "parent"]
    code, out = run_cli(["compare", "--runs-root", family, "--bootstrap", "5"], capsys)
    assert code == 2 and "--bootstrap must be >= 100" in out["error"]


def test_repeat_plan_queues_the_missing_seeds(family):
    records = load_records(family)
    groups = {g["prune_score"]: g for g in compare.group_table(records).to_dict(orient="records")}
    base_plan = repeat.repeat_plan(groups["none"], records, family)
    # the unpruned group: seed 2 is trained (named, so that its retrains find it), and the pruned
    # configurations of its members (band and its random twin) are retrained on seeds 1 and 2
    train = ["train", "--config", str(family / "base-s0" / "config.json"), "--seed", "2", "--runs-root", str(family)]
    assert [j.argv for j in base_plan if j.kind == "train"] == [[*train, "--name", "base-s0-seed2"]]
    retrains = [(j.argv[2], j.argv[4], j.argv[8]) for j in base_plan if j.kind == "retrain"]
    seed2 = str(family / "base-s0-seed2")
    assert sorted(retrains) == sorted(
        [(str(family / "base-s1"), s, "1") for s in ("band", "random")] + [(seed2, s, "2") for s in ("band", "random")]
    )
    assert [j.kind for j in base_plan].index("train") < [j.argv[2] for j in base_plan].index(seed2)
    band_plan = [j for j in repeat.repeat_plan(groups["band"], records, family) if "random" not in j.argv]
    # seed 1 has a parent (base-s1); seed 2 needs its parent trained first, under a fixed name
    assert [j.kind for j in band_plan] == ["retrain", "train", "retrain"]
    assert band_plan[0].argv[:9] == ["prune", "--run-dir", str(family / "base-s1"), "--score", "band"] + [
        "--ratio",
        "0.3",
        "--seed",
        "1",
    ]
    assert band_plan[0].argv[9] == "--train" and "--loss-mode" in band_plan[0].argv
    assert band_plan[1].argv[-2:] == ["--name", "base-s0-seed2"] and band_plan[1].run_dir == str(
        family / "base-s0-seed2"
    )
    assert band_plan[2].argv[2] == str(family / "base-s0-seed2")
    assert repeat.missing_seeds({"seeds": [0, 1, 2]}) == []
    # the band group's repeat retrains its random twin on the same parents too
    twins = [j.argv[2] for j in repeat.repeat_plan(groups["band"], records, family) if "random" in j.argv]
    assert twins == [str(family / "base-s1"), str(family / "base-s0-seed2")]


def test_report_fragment_and_summary_intervals(family):
    from core.reports.compare_tables import group_display, pair_display, why_two_numbers
    from core.reports.noise import add_seed_noise

    records = load_records(family)
    pairs = add_seed_noise(compare.pair_table(records, n_boot=500), compare.group_table(records))
    table = pair_display(pairs)
    band = "digits · baseline · band 30% · seed 0"
    row = table[
        (table["pruned run"] == band)
        & (table["compared with"] == "random pruning, same ratio")
        & (table["probe"] == "linear probe")
    ].iloc[0]
    assert row["verdict"] == "better (seed noise unknown)" and row["McNemar p"] == "< 0.001"  # p = 1.86e-09
    assert row["Δ this seed pair (pp) [test-set 95 % CI]"].startswith("+15.00 [")
    assert "Why a seed pair's Δ and the over-seeds Δ differ" in why_two_numbers(pairs)
    shown = group_display(compare.group_table(records))
    base = shown[shown["prune score"] == "none"].iloc[0]
    ref = seed_summary([0.90, 0.88])
    assert base["linear 95% CI"] == f"[{100 * ref.ci_low:.2f}, {100 * ref.ci_high:.2f}]"
    assert base["seeds"] == "seeds 0, 1 (n=2)"
    assert shown[shown["prune score"] == "band"].iloc[0]["kNN 95% CI"] == "undefined (n=1)"


def test_seed_noise_and_the_verdict_that_takes_the_larger_noise():
    from scipy.stats import t

    from core.reports.noise import combined_verdict, detect_note, min_detectable, seed_noise

    # the numbers: -1.67 pp on the seed-0 pair, -0.65 pp over 3 seeds
    diffs = [-0.0167, 0.0045, -0.0073]
    noise = seed_noise({"diffs": diffs})
    std = np.std(diffs, ddof=1)
    half = 4.302652729911275 * std / np.sqrt(3)  # t_{0.975, 2}
    assert noise.diff == pytest.approx(-0.0065) and noise.std == pytest.approx(std) and noise.n == 3
    assert (noise.low, noise.high) == pytest.approx((-0.0065 - half, -0.0065 + half))
    assert noise.mdd == pytest.approx(half) == pytest.approx(min_detectable(std, 3))
    need = next(n for n in range(2, 51) if t.ppf(0.975, n - 1) * std / np.sqrt(n) < 0.0065)
    assert noise.needed == need and need > 3
    assert detect_note(noise) == (
        f"3 seeds detect only differences above ±{100 * half:.2f} pp (seed std {100 * std:.2f} pp); "
        f"0.65 pp would need about {need} seeds."
    )
    # the seed-0 pair is "worse" on the test set, but the interval over seeds holds 0: the larger noise wins
    assert combined_verdict("worse", noise) == "within seed noise"
    assert combined_verdict("within noise", noise) == "within noise"
    assert combined_verdict(None, noise) == "no test"
    tight = seed_noise({"diffs": [-0.0070, -0.0065, -0.0060]})
    assert tight.high < 0 and combined_verdict("worse", tight) == "worse"
    assert combined_verdict("better", tight) == "seeds disagree"
    one = seed_noise({"diffs": [-0.0167]})
    assert one.low is None and one.mdd is None and detect_note(one) == ""
    assert combined_verdict("worse", one) == "worse (seed noise unknown)"


def test_pair_rows_carry_both_noises(family):
    from core.reports.compare_tables import pair_display, why_two_numbers
    from core.reports.noise import add_seed_noise

    records = load_records(family)
    run(family, "base-s1-band", 1, preds(14), parent=str(family / "base-s1"), score="band", ratio=0.3, created=5)
    records = load_records(family)
    pairs = add_seed_noise(compare.pair_table(records, n_boot=500), compare.group_table(records))
    lin = pairs[(pairs["against"] == "parent") & (pairs["metric"] == "linear") & (pairs["prune_score"] == "band")]
    # band vs parent: +5.00 pp on seed 0 (10 vs 20 wrong), +5.00 pp on seed 1 (14 vs 24 wrong)
    assert sorted(lin["diff"]) == pytest.approx([0.05, 0.05]) and set(lin["n_seeds"]) == {2}
    assert lin["seed_std"].tolist() == pytest.approx([0.0, 0.0]) and set(lin["final_verdict"]) == {"better"}
    rand = pairs[(pairs["run_id"] == "rand-s0") & (pairs["metric"] == "linear")].iloc[0]
    assert rand["n_seeds"] == 1 and rand["final_verdict"] == "worse (seed noise unknown)"
    shown = pair_display(pairs)
    assert "run_id" not in shown.columns and "prune_score" not in shown.columns
    assert set(shown[shown["verdict"] == "better"]["Δ over seeds (pp) [seed 95 % CI]"]) == {"+5.00 [+5.00, +5.00]"}
    assert why_two_numbers(pairs).endswith("so a single pair can be off by about that much.")
