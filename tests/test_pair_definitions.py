"""Both definitions of a difficult pair (band, top-K): what is listed is exactly what is counted,
against brute-force N x N references on generated features."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.analysis.neighbors import l2_normalise
from core.analysis.pairs import band_pairs, class_pair_matrix, hardest_pairs, pair_counts, similarity_histograms
from core.io import read_json, save_npz, write_json
from core.runs.analysis import pairs_for_run
from ui.views.pairview import filter_pairs


def clustered(n=180, d=12, c=5, seed=1):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((c, d)) * 1.2
    y = rng.integers(0, c, n)
    return (centres[y] + rng.standard_normal((n, d))).astype(np.float32), y


def brute(x, y, pos_high, pos_low, k):
    """Thresholds (quantiles of all ordered pairs i != j), the kNN-graph band pairs and the ranked cross pairs."""
    xn = l2_normalise(x)
    s = xn @ xn.T
    n = len(y)
    v = -np.sort(-s[~np.eye(n, dtype=bool)])
    t_hi, t_lo = v[math.ceil(pos_high * len(v)) - 1], v[math.ceil(pos_low * len(v)) - 1]
    other = np.where(y[:, None] != y[None, :], s, -np.inf)
    nbr = np.argsort(-other, axis=1, kind="stable")[:, :k]
    edges = {(min(a, b), max(a, b)) for a in range(n) for b in nbr[a]}
    band = sorted((a, b) for a, b in edges if t_lo <= s[a, b] < t_hi)
    i, j = np.triu_indices(n, 1)
    cross = y[i] != y[j]
    i, j = i[cross], j[cross]
    order = np.argsort(-s[i, j], kind="stable")
    return s, t_hi, t_lo, band, list(zip(i[order].tolist(), j[order].tolist(), strict=True))


def counts_of(pairs, y, c):
    m = np.zeros((c, c), np.int64)
    for a, b in pairs:
        m[y[a], y[b]] += 1
        if y[a] != y[b]:
            m[y[b], y[a]] += 1
    return m


def assert_every_cell_lists_its_count(df: pd.DataFrame, counts: np.ndarray) -> None:
    c = counts.shape[0]
    nonzero = 0
    for a in range(c):
        for b in range(c):
            listed = filter_pairs(df, a, b)
            assert len(listed) == counts[a, b], (a, b)
            nonzero += counts[a, b] > 0
    assert nonzero >= 4  # the check means something


@pytest.mark.parametrize("pos", [(0.15, 0.4), (0.05, 0.12)])
def test_band_thresholds_are_the_brute_force_quantiles_and_band_pairs_are_the_counted_ones(pos):
    x, y = clustered()
    k, c = 8, 5
    s, t_hi, t_lo, band, _ = brute(x, y, pos[0], pos[1], k)
    mat = class_pair_matrix(x, y, c, pos[0], pos[1], k=k)
    assert mat["t_hi"] == pytest.approx(t_hi, abs=1e-6) and mat["t_lo"] == pytest.approx(t_lo, abs=1e-6)
    df = band_pairs(x, y, mat["t_hi"], mat["t_lo"], k=k)
    got = set(zip(df["i"].tolist(), df["j"].tolist(), strict=True))
    differ = got ^ {(int(a), int(b)) for a, b in band}
    # only a pair whose similarity IS a threshold (to float32 rounding) may fall on either side
    assert all(min(abs(s[a, b] - t_hi), abs(s[a, b] - t_lo)) < 1e-6 for a, b in differ) and len(differ) <= 2
    expected = counts_of(sorted(got), y, c)
    assert np.abs(expected - counts_of(band, y, c)).sum() <= 2 * len(differ)
    np.testing.assert_array_equal(mat["difficult_counts"], expected)
    np.testing.assert_array_equal(pair_counts(df["label_i"], df["label_j"], c), expected)
    assert_every_cell_lists_its_count(df, expected)
    assert (np.diff(df["similarity"].to_numpy()) <= 0).all()


def test_top_k_pairs_counted_per_cell_match_brute_force():
    x, y = clustered(seed=3)
    c = 5
    _, _, _, _, ranked = brute(x, y, 0.15, 0.4, 20)
    df = hardest_pairs(x, y, top=60, k=20)
    assert list(zip(df["i"].tolist(), df["j"].tolist(), strict=True)) == ranked[:60]
    counts = pair_counts(df["label_i"], df["label_j"], c)
    np.testing.assert_array_equal(counts, counts_of(ranked[:60], y, c))
    assert counts.sum() == 2 * 60
    assert_every_cell_lists_its_count(df, counts)


def test_similarity_histograms_match_all_pairs():
    x, y = clustered(n=90)
    xn = l2_normalise(x)
    s = np.clip(xn @ xn.T, -1, 1)
    i, j = np.triu_indices(len(y), 1)
    h = similarity_histograms(xn, y, bins=50, block=16)
    np.testing.assert_array_equal(h["all"], np.histogram(s[i, j], bins=h["edges"])[0])
    cross = y[i] != y[j]
    np.testing.assert_array_equal(h["cross"], np.histogram(s[i, j][cross], bins=h["edges"])[0])
    assert h["all"].sum() == len(i) and not h["sampled"]
    sub = similarity_histograms(xn, y, bins=50, max_samples=40)
    assert sub["sampled"] and sub["n_samples"] == 40 and sub["all"].sum() == 40 * 39 // 2


def test_pairs_for_run_writes_both_definitions_with_their_counts(tmp_path):
    x, y = clustered(n=150)
    run = tmp_path / "r"
    run.mkdir()
    write_json(run / "config.json", {"pos_high": 0.1, "pos_low": 0.3})
    write_json(run / "manifest.json", {"classes": list("abcde")})
    save_npz(run / "features.npz", train=x, test=x[:5], y_train=y, y_test=y[:5])
    res = pairs_for_run(run, top=40, k=6)
    top, band = pd.read_csv(run / "pairs.csv"), pd.read_csv(run / "pairs_band.csv")
    with np.load(run / "class_pairs.npz") as z:
        np.testing.assert_array_equal(z["topk_counts"], pair_counts(top["label_i"], top["label_j"], 5))
        np.testing.assert_array_equal(z["difficult_counts"], pair_counts(band["label_i"], band["label_j"], 5))
        assert z["hist_all"].sum() == 150 * 149 // 2 and len(z["hist_edges"]) == len(z["hist_cross"]) + 1
        t_hi, t_lo = float(z["t_hi"]), float(z["t_lo"])
    assert ((band["similarity"] >= t_lo - 1e-6) & (band["similarity"] < t_hi + 1e-6)).all()
    defs = read_json(run / "pairs.json")["definitions"]
    assert defs["top"]["file"] == "pairs.csv" and defs["top"]["n_pairs"] == 40 == len(top)
    assert defs["band"]["file"] == "pairs_band.csv" and defs["band"]["n_pairs"] == len(band) == res["difficult_pairs"]
    assert defs["band"]["k"] == 6 and defs["band"]["pos_high"] == 0.1 and defs["band"]["t_lo"] == res["t_lo"]
    assert f"{t_lo:.4f} <= s < {t_hi:.4f}" in defs["band"]["text"]
    (run / "pairs_band.csv").unlink()  # a missing output is a cache miss
    assert pairs_for_run(run, top=40, k=6)["cached"] is False and (run / "pairs_band.csv").exists()


# ---- what the Hard pairs page draws of them (issue 20) --------------------------------------------


def _plain(v) -> np.ndarray:
    from tests.test_app_pages import _plotly_array

    return np.asarray(_plotly_array(v), dtype=np.float64)


def test_the_count_heatmap_counts_each_unordered_pair_once():
    from core.figures.pairs import pair_heatmap
    from ui.views.pairview import cell_counts

    x, y = clustered()
    top = hardest_pairs(x, y, top=200, k=20)
    names = list("abcde")
    fig = pair_heatmap(cell_counts(top, 5), names, title="t", value_name="pairs", upper=True)
    heat, overlay = fig.data
    z = np.asarray(heat.z, dtype=np.float64)
    assert np.nansum(z) == len(top) == 200  # the cells sum to the pairs (a mirrored map would give 400)
    assert np.isnan(z[np.tril_indices(5)]).all()  # below the diagonal and the diagonal are blank
    cells = [tuple(c) for c in np.asarray(overlay.customdata)]
    assert cells == [(r, c) for r in range(5) for c in range(r + 1, 5)]  # only drawn cells are clickable
    a, b = (int(v) for v in np.unravel_index(np.nanargmax(z), z.shape))
    both = ((top["label_i"] == a) & (top["label_j"] == b)) | ((top["label_i"] == b) & (top["label_j"] == a))
    hover = overlay.text[cells.index((a, b))]
    assert hover.startswith(f"{int(both.sum())} pairs between {names[a]} and {names[b]}")


def test_definitions_text_says_where_the_band_sits_and_why_cells_differ():
    from ui.views.pairview import definitions_text

    top = pd.DataFrame(
        {"i": [0, 1, 2, 3], "j": [4, 5, 6, 7], "label_i": [3, 3, 0, 1], "label_j": [9, 9, 1, 2],
         "similarity": [0.99, 0.985, 0.98, 0.975]}
    )  # fmt: skip
    band = pd.DataFrame({"i": [8], "j": [9], "label_i": [0], "label_j": [1], "similarity": [0.93]})
    names = [str(c) for c in range(10)]
    text = definitions_text(top, band, 0.922, 0.937, names)
    assert "Sim_posLow = 0.922 ≤ s < Sim_posHigh = 0.937" in text and "top K = 4" in text
    assert "all at s ≥ 0.975, above the band, so the band excludes every one of them" in text
    assert "the hottest top-K cell, 3 ↔ 9 (2 pairs), holds 0 band pairs" in text
    inside = definitions_text(top, band, 0.97, 0.982, names)
    assert "at s ≥ 0.975: 2 of them fall in the band" in inside


def test_definitions_figure_shades_the_band_and_marks_the_top_k_cut():
    from core.figures.pairs import definitions_figure

    edges = np.linspace(-0.2, 1.0, 13)
    cross = np.array([0, 1, 5, 20, 80, 200, 300, 150, 60, 10, 2, 1])
    fig = definitions_figure(edges, cross, 0.3, 0.5, 0.85, 1000)
    band, topk = fig.layout.shapes[0], fig.layout.shapes[1]
    assert (band.x0, band.x1) == (0.3, 0.5) and topk.x0 == 0.85 and fig.layout.shapes[2].x0 == 0.85
    texts = [a.text for a in fig.layout.annotations]
    assert "band 0.300–0.500" in texts and "top 1,000: s ≥ 0.850 " in texts
    assert fig.layout.yaxis.type == "log" and np.isnan(np.asarray(fig.data[0].y, dtype=float)[0])  # 0 -> no bar
    assert fig.layout.xaxis.range[0] < -0.2 and fig.layout.xaxis.range[1] > 1.0


@pytest.mark.slow
def test_k_and_k_are_controls_in_the_url_with_their_cli_twin(tmp_path):
    from streamlit.testing.v1 import AppTest

    from ui.frame import RUN_KEY

    x, y = clustered(n=150)
    run = tmp_path / "r"
    write_json(run / "config.json", {"dataset": "digits", "pos_high": 0.1, "pos_low": 0.3})
    write_json(run / "manifest.json", {"classes": list("abcde")})
    write_json(run / "status.json", {"state": "done"})
    save_npz(run / "features.npz", train=x, test=x[:5], y_train=y, y_test=y[:5])
    pairs_for_run(run, top=40, k=6)

    def page(**params: str) -> AppTest:
        at = AppTest.from_file("../pages/hard_pairs.py", default_timeout=60)
        at.session_state[RUN_KEY] = str(run)
        for key, value in params.items():
            at.query_params[key] = value
        at.run()
        assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
        return at

    def url(at: AppTest, key: str) -> str:
        v = at.query_params.get(key)
        return v[0] if isinstance(v, list) else v

    at = page()  # no URL values: the K and k the pairs were computed with, written to the URL
    assert (at.number_input(key="hpk_top").value, at.number_input(key="hpk_k").value) == (40, 6)
    assert (url(at, "top"), url(at, "k")) == ("40", "6") and "hpk_job" not in [b.key for b in at.button]
    assert f"python -m core pairs --run-dir {run} --top 40 --k 6" in [c.value for c in at.code]
    assert not any("were computed with" in i.value for i in at.info)
    at = page(top="25", k="3")  # a pasted link: the controls take its values, the command follows
    assert (at.number_input(key="hpk_top").value, at.number_input(key="hpk_k").value) == (25, 3)
    assert f"python -m core pairs --run-dir {run} --top 25 --k 3" in [c.value for c in at.code]
    assert any("computed with K = 40, k = 6" in i.value for i in at.info) and at.button(key="hpk_job")
    at.number_input(key="hpk_top").set_value(60).run()  # the user changes K: the URL follows
    assert url(at, "top") == "60" and url(at, "k") == "3"
    assert page(top="abc").number_input(key="hpk_top").value == 40  # a bad value is ignored
