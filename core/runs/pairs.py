"""The files of ``python -m core pairs``: two definitions of a difficult pair, each with every pair it counts.

- ``pairs.csv``: the **top-K** definition, the ``top`` most similar cross-class pairs (ranked).
- ``pairs_band.csv``: the **band** definition, every other-class kNN edge (a pair in one endpoint's
  ``k`` most similar other-class samples) whose similarity lies in the paper's band
  ``t_lo <= s < t_hi`` (Eq. 12 thresholds Sim_posLow = ``t_lo``, Sim_posHigh = ``t_hi``: the ``pos_high`` /
  ``pos_low`` quantiles of all pairwise similarities, the same as the ``band`` score's; ``core.glossary``).
- ``class_pairs.npz``: ``difficult_counts`` (C, C) = ``pair_counts`` of ``pairs_band.csv``,
  ``topk_counts`` (C, C) = ``pair_counts`` of ``pairs.csv``, ``mean_similarity``, ``t_hi``, ``t_lo``,
  ``classes``, and the histograms ``hist_edges`` (B+1,), ``hist_all``, ``hist_cross`` (B,) of pair
  similarities (all pairs i < j / cross-class pairs; a seeded subset of samples above 4,000:
  ``hist_samples``, ``hist_sampled``).
- ``pairs.json`` (the cache record) holds ``definitions``: for each definition its file, its
  parameters and its pair count, so every file says what it lists.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from core.io import read_json, save_npz, write_csv
from core.runs.knngraph import approx_thresholds, exact_thresholds, graph_for_run

#: Files written by :func:`compute_pairs` (the cache checks they all exist).
PAIR_OUTPUTS = ["pairs.csv", "pairs_band.csv", "class_pairs.npz"]


def definitions(params: dict[str, Any], t_hi: float, t_lo: float, n_top: int, n_band: int) -> dict[str, Any]:
    """The record of both definitions (stored in ``pairs.json``)."""
    return {
        "top": {
            "file": "pairs.csv",
            "counts": "topk_counts",
            "text": f"the {n_top} most similar pairs of samples with different labels",
            "top": params["top"],
            "n_pairs": n_top,
        },
        "band": {
            "file": "pairs_band.csv",
            "counts": "difficult_counts",
            "text": (
                f"pairs with different labels, each among one sample's {params['k']} most similar other-class "
                f"samples, with similarity in the band {t_lo:.4f} <= s < {t_hi:.4f} (Sim_posLow <= s < Sim_posHigh, "
                f"Eq. 12: the similarities at the posHigh / posLow positions {params['pos_high']:.0%} / "
                f"{params['pos_low']:.0%} of all pair similarities)"
            ),
            "t_hi": t_hi,
            "t_lo": t_lo,
            "pos_high": params["pos_high"],
            "pos_low": params["pos_low"],
            "k": params["k"],
            "n_pairs": n_band,
        },
    }


def compute_pairs(
    run_dir: Path, feats: dict[str, np.ndarray], labels: np.ndarray, params: dict[str, Any]
) -> dict[str, Any]:
    """Write ``pairs.csv``, ``pairs_band.csv`` and ``class_pairs.npz``; return the ``pairs`` command's dict.

    Args:
        feats: ``features.npz`` arrays (``train`` (N, D)). labels: (N,) int64 train labels.
        params: ``pos_high, pos_low, k, top``.
    """
    from core.analysis.neighbors import class_split_knn, l2_normalise
    from core.analysis.pairs import band_pairs, class_pair_matrix, hardest_pairs, pair_counts, similarity_histograms

    t0 = time.time()
    classes = list((read_json(run_dir / "manifest.json", {}) or {}).get("classes") or [])
    n_classes = max(len(classes), int(labels.max()) + 1)
    pos_high, pos_low, k = params["pos_high"], params["pos_low"], params["k"]
    xn = l2_normalise(feats["train"])  # the one normalisation; the graph, pairs and map reuse it
    thresholds = exact_thresholds(run_dir, pos_high, pos_low)
    approx = graph_for_run(run_dir, xn, labels, k, params.get("knn", "auto"))
    graph, knn_info = approx if approx is not None else (class_split_knn(xn, labels, k), {"method": "exact"})
    if approx is not None:  # sampled thresholds (scores.json's when it has them), never the quadratic sweep
        th = approx_thresholds(run_dir, xn, pos_high, pos_low)
        graph_info = {f"knn_{key}": v for key, v in knn_info.items()}  # named as in scores.json
        thresholds, knn_info = (th["t_hi"], th["t_lo"]), {"method": "approx", **graph_info, **th}
    top = hardest_pairs(xn, labels, top=params["top"], k=k, graph=graph, normalised=True)
    mat = class_pair_matrix(
        xn, labels, n_classes, pos_high, pos_low, k=k, thresholds=thresholds, graph=graph, normalised=True
    )
    band = band_pairs(xn, labels, mat["t_hi"], mat["t_lo"], k=k, graph=graph, normalised=True)
    hist = similarity_histograms(xn, labels)
    write_csv(run_dir / "pairs.csv", top)
    write_csv(run_dir / "pairs_band.csv", band)
    save_npz(
        run_dir / "class_pairs.npz",
        difficult_counts=mat["difficult_counts"],
        topk_counts=pair_counts(top["label_i"].to_numpy(), top["label_j"].to_numpy(), n_classes),
        mean_similarity=mat["mean_similarity"],
        t_hi=np.asarray(mat["t_hi"], np.float32),
        t_lo=np.asarray(mat["t_lo"], np.float32),
        classes=np.array(classes or [str(c) for c in range(n_classes)]),
        hist_edges=hist["edges"],
        hist_all=hist["all"],
        hist_cross=hist["cross"],
        hist_samples=np.asarray(hist["n_samples"], np.int64),
        hist_sampled=np.asarray(hist["sampled"], bool),
        knn_method=np.array(knn_info["method"]),
    )
    return {
        "run_dir": str(run_dir),
        "n_pairs": len(top),
        "k": k,
        "top_similarity": float(top["similarity"].iloc[0]) if len(top) else None,
        "difficult_pairs": int(mat["difficult_counts"].sum() // 2),
        "t_hi": mat["t_hi"],
        "t_lo": mat["t_lo"],
        "definitions": definitions(params, mat["t_hi"], mat["t_lo"], len(top), len(band)),
        "knn": knn_info,
        "seconds": round(time.time() - t0, 2),
    }
