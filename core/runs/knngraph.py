"""The approximate kNN graph of a run, computed once and shared by ``score`` and ``pairs``.

On the approximate path (``--knn approx``, or ``auto`` above ``core.analysis.approx.sampled.APPROX_MIN_N``
samples) the same/other-class graph (``core.analysis.approx.graphtune``) feeds ``cross_class`` and the
hardest pairs / class map. It is stored as ``knn_graph.npz`` (``same_sims``, ``other_sims`` (N, k)
float32, ``same_idx``, ``other_idx`` (N, k) int64) with ``knn_graph.json`` (screening dims, nlist, probes, measured
recall, the parameters and the features sha1: the one cache rule of ``core.rundir.cache``). The exact
path does not use it (the exact sweep and ``class_split_knn`` are the reference).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from core.analysis.approx.graphtune import tuned_class_split_knn
from core.analysis.approx.sampled import choose_knn, sample_thresholds
from core.io import read_json, save_npz
from core.rundir.cache import CACHE_KEYS, cached, features_fingerprint

GRAPH_KEYS = ("same_sims", "other_sims", "same_idx", "other_idx")


def graph_for_run(
    run: Path, xn: np.ndarray, labels: np.ndarray, k: int, knn: str = "auto", seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """``(graph, info)`` of the approximate path (cached in the run), or None on the exact path.

    Args:
        xn: (N, D) float32 unit rows of the run's train features. labels: (N,) int64. k: per side.
    """
    if choose_knn(len(xn), knn) == "exact":
        return None
    params = {"k": k, "seed": seed, "target_recall": 0.95, "method": "screen-ivf"}  # method: older graphs are redone

    def compute() -> dict[str, Any]:
        graph, info = tuned_class_split_knn(xn, labels, k, seed=seed)
        save_npz(run / "knn_graph.npz", **graph)
        return info

    res = cached(run, "knn_graph.json", params, compute, outputs=["knn_graph.npz"])
    with np.load(run / "knn_graph.npz", allow_pickle=False) as data:
        graph = {key: data[key] for key in GRAPH_KEYS}
    return graph, {key: v for key, v in res.items() if key not in (*CACHE_KEYS, "cached")}


def approx_thresholds(run: Path, xn: np.ndarray, pos_high: float, pos_low: float, seed: int = 0) -> dict[str, Any]:
    """Band thresholds of the approximate path: ``scores.json``'s (same band, approx, same features) or sampled.

    Returns:
        dict ``t_hi``, ``t_lo`` and the sampling record (``n_pairs``, ``t_hi_ci``, ``t_lo_ci``, ``t_error``).
    """
    stored = read_json(run / "scores.json") or {}
    p = stored.get("params") or {}
    knn = stored.get("knn") or {}
    if (
        p.get("pos_high") == pos_high
        and p.get("pos_low") == pos_low
        and knn.get("method") == "approx"
        and stored.get("features_sha1") == features_fingerprint(run)
    ):
        keep = ("n_pairs", "t_hi_ci", "t_lo_ci", "t_error")
        return {"t_hi": stored["t_hi"], "t_lo": stored["t_lo"], **{key: knn.get(key) for key in keep}}
    return sample_thresholds(xn, pos_high, pos_low, seed=seed)


def exact_thresholds(run_dir: Path, pos_high: float, pos_low: float) -> tuple[float, float] | None:
    """(t_hi, t_lo) from ``scores.json`` when it was computed exactly (no reference sample) on these features."""
    stored = read_json(run_dir / "scores.json") or {}
    p = stored.get("params") or {}
    if (
        p.get("pos_high") == pos_high
        and p.get("pos_low") == pos_low
        and p.get("band_reference") is None
        and (stored.get("knn") or {}).get("method", "exact") == "exact"
        and stored.get("features_sha1") == features_fingerprint(run_dir)
    ):
        return float(stored["t_hi"]), float(stored["t_lo"])
    return None
