"""Run-level analyses: per-sample scores, hardest pairs, the embedding map and the theory estimates.

Each is one function of a run folder that returns the dict ``python -m core <command>`` prints;
:func:`analyse_run` runs all four (``train --analyse``). Scores, pairs and theory are cached by
the one rule of ``core.rundir.cache`` (features fingerprint + parameters), the map too
(``core.runs.maps``). Every one reads the run's features with ``core.rundir.featurefile.open_features``.

- scores: ``scores.csv`` (``index,label``, one column per score, ``mixed`` for a contaminated
  dataset) and ``scores.json`` (parameters, band thresholds, each score's AUROC at finding the
  mixed images).
- pairs: ``pairs.csv`` (top-K cross-class pairs), ``pairs_band.csv`` (the band's pairs),
  ``class_pairs.npz`` and ``pairs.json`` (see ``core.runs.pairs``).
- map: ``umap_<d>d.csv`` + ``.json``.
- theory: ``theory.json`` (see ``core.runs.theory``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core.analysis.approx.sampled import choose_knn
from core.analysis.neighbors import l2_normalise
from core.analysis.scores import ScoreConfig, auroc, compute_scores
from core.errors import HardpairsError
from core.io import read_json, run_log, write_csv
from core.rundir.cache import CACHE_KEYS, cached
from core.rundir.featurefile import open_features, require_features
from core.rundir.folder import require_run, update_status
from core.rundir.lock import stop_on_sigterm
from core.runs.knngraph import graph_for_run
from core.runs.maps import map_for_run
from core.runs.pairs import PAIR_OUTPUTS, compute_pairs
from core.runs.theory import theory_for_run

PathLike = str | os.PathLike[str]


def train_labels(feats: dict[str, np.ndarray]) -> np.ndarray | None:
    """Train labels (N,) int64, or None when the dataset is (even partly) unlabelled (-1)."""
    y = np.asarray(feats["y_train"], dtype=np.int64)
    return None if (y < 0).any() else y


def mixed_flags(cfg: dict[str, Any], n: int) -> tuple[np.ndarray | None, str | None]:
    """(mixed (N,) bool, None) for a contaminated dataset, (None, why) when unavailable, (None, None) else."""
    if not cfg.get("mix"):
        return None, None
    try:
        from core.data.sources import load_dataset

        mix_seed = cfg.get("mix_seed", cfg.get("seed", 0))  # before --mix-seed: the training seed
        data = load_dataset(cfg["dataset"], mix=cfg["mix"], mix_lambda=cfg.get("mix_lambda", 0.5), seed=mix_seed)
    except HardpairsError as err:
        return None, f"mixed flags unavailable: {err}"
    mixed = np.asarray(data.mixed, dtype=bool)
    if len(mixed) != n:
        return None, (
            f"mixed flags unavailable: the dataset has {len(mixed)} train images but "
            f"features.npz has {n}; re-extract features with `python -m core probe`"
        )
    return mixed, None


def _run_config(run_dir: Path) -> dict[str, Any]:
    return dict(read_json(run_dir / "config.json", {}) or {})


def score_params(
    run_dir: PathLike, k: int = 20, band_reference: int | None = None, seed: int | None = None, knn: str = "auto"
) -> dict[str, Any]:
    """The parameters ``scores.json`` is cached on: the band (from the run's config), k, seed, dataset and mix."""
    cfg = _run_config(Path(run_dir))
    return {
        "pos_high": float(cfg.get("pos_high", 0.15)),
        "pos_low": float(cfg.get("pos_low", 0.22)),
        "k": k,
        "band_reference": band_reference,
        "seed": seed if seed is not None else int(cfg.get("seed", 0)),
        "mix": cfg.get("mix", 0.0),
        "mix_lambda": cfg.get("mix_lambda", 0.5),
        "dataset": cfg.get("dataset"),
        "knn": knn,
    }


def _compute_scores(run_dir: Path, params: dict[str, Any]) -> dict[str, Any]:
    t0 = time.time()
    feats = open_features(run_dir)
    labels = train_labels(feats)
    scfg = ScoreConfig(
        pos_high=params["pos_high"],
        pos_low=params["pos_low"],
        k=params["k"],
        band_reference=params["band_reference"],
        seed=params["seed"],
        knn=params.get("knn", "auto"),
    )
    graph = None  # the approximate path's IVF graph, shared with `pairs` (core.runs.knngraph)
    if labels is not None and choose_knn(len(labels), scfg.knn) == "approx":
        graph = graph_for_run(run_dir, l2_normalise(feats["train"]), labels, scfg.k, scfg.knn, scfg.seed)
    df = compute_scores(feats["train"], labels, scfg, graph=graph)
    names = [c for c in df.columns if c not in ("index", "label")]
    result: dict[str, Any] = {
        "run_dir": str(run_dir),
        "n": len(df),
        "scores": names,
        "t_hi": df.attrs["t_hi"],
        "t_lo": df.attrs["t_lo"],
        "knn": df.attrs["knn"],
    }
    if labels is None:
        result["note"] = f"the dataset is unlabelled: only the label-free scores ({', '.join(names)}) are available"
    mixed, why = mixed_flags(_run_config(run_dir), len(df))
    if mixed is not None:
        df["mixed"] = mixed
        result["auroc"] = {name: auroc(df[name].to_numpy(), mixed) for name in names}
    elif why:
        result["note"] = why
    write_csv(run_dir / "scores.csv", df)
    result["seconds"] = round(time.time() - t0, 2)
    return result


def scores_for_run(
    run_dir: PathLike,
    k: int = 20,
    band_reference: int | None = None,
    seed: int | None = None,
    force: bool = False,
    knn: str = "auto",
) -> dict[str, Any]:
    """Per-sample difficulty scores of a run -> ``scores.csv`` + ``scores.json`` (cached).

    Returns:
        ``run_dir, n, scores, t_hi, t_lo, knn, seconds, cached`` and, when they apply, ``auroc`` and ``note``.
    """
    run = require_run(run_dir)
    require_features(run)
    params = score_params(run, k, band_reference, seed, knn)
    res = cached(run, "scores.json", params, lambda: _compute_scores(run, params), force=force, outputs=["scores.csv"])
    return {key: v for key, v in res.items() if key not in CACHE_KEYS}


def pairs_for_run(
    run_dir: PathLike, top: int = 1000, k: int = 20, force: bool = False, knn: str = "auto"
) -> dict[str, Any]:
    """Difficult pairs under both definitions -> ``pairs.csv`` (top-K), ``pairs_band.csv`` (band) and the
    class x class map -> ``class_pairs.npz`` (cached; see ``core.runs.pairs``). ``knn``: exact, approx
    or auto (approximate above ``core.analysis.approx.sampled.APPROX_MIN_N`` samples).

    Returns:
        ``run_dir, n_pairs, k, top_similarity, difficult_pairs, t_hi, t_lo, definitions, knn, seconds, cached``.

    Raises:
        HardpairsError: unlabelled dataset, or ``k`` not below the number of samples.
    """
    run = require_run(run_dir)
    feats = open_features(run)
    labels = train_labels(feats)
    if labels is None:
        raise HardpairsError(
            "this dataset is unlabelled, so cross-class pairs are undefined; "
            f"use `python -m core score --run-dir {run}` (band, prototype)"
        )
    if not 1 <= k < len(labels):
        raise HardpairsError(
            f"k={k} neighbours need more than k samples, but there are {len(labels)}; pass a smaller --k"
        )
    cfg = _run_config(run)
    params = {
        "pos_high": float(cfg.get("pos_high", 0.15)),
        "pos_low": float(cfg.get("pos_low", 0.22)),
        "k": k,
        "top": top,
        "knn": knn,
    }
    res = cached(
        run,
        "pairs.json",
        params,
        lambda: compute_pairs(run, feats, labels, params),
        force=force,
        outputs=PAIR_OUTPUTS,
    )
    return {key: v for key, v in res.items() if key not in CACHE_KEYS}


#: The analyses of :func:`analyse_run`, in order (each also its own ``python -m core`` command).
ANALYSES: dict[str, Callable[[Path], dict[str, Any]]] = {
    "score": scores_for_run,
    "pairs": pairs_for_run,
    "umap": map_for_run,
    "theory": theory_for_run,
}


def analyse_run(run_dir: PathLike, should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Scores, pairs, map and theory of a finished run with default parameters (cached each).

    A cancel (SIGTERM, or ``should_stop()`` True) stops at the next step boundary: the step that
    was running finishes (its files are written whole), the later ones are not run, and
    ``status.json`` records ``cancelled`` with ``cancelled during analysis: <step>``.

    Returns:
        ``{analysis: {"seconds": float, <scalar and dict results>}}`` per analysis run (+ ``cancelled``).
    """
    run = require_run(run_dir)
    results: dict[str, Any] = {}
    with stop_on_sigterm() as sigterm:
        stop = should_stop or sigterm
        previous = "start"
        for command, analyse in ANALYSES.items():
            if stop():
                return results | {"cancelled": _record_cancel(run, previous, command)}
            update_status(run, message=f"analysis: {command}")
            t = time.time()
            res = analyse(run)
            results[command] = {
                "seconds": round(time.time() - t, 2),
                **{k: v for k, v in res.items() if isinstance(v, (int, float, str, dict))},
            }
            run_log(run, f"{command}: done in {time.time() - t:.1f} s")
            previous = command
        if stop():
            return results | {"cancelled": _record_cancel(run, previous, None)}
    return results


def _record_cancel(run: Path, step: str, next_step: str | None) -> str:
    """Record a cancel during analysis ``step`` (``next_step`` and later not run); return ``step``."""
    rest = f"; {next_step} and later analyses were not run" if next_step else ""
    message = f"cancelled during analysis: {step}{rest} (rerun with `python -m core <analysis> --run-dir {run}`)"
    update_status(run, state="cancelled", message=message)
    run_log(run, message)
    return step
