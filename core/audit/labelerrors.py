"""Label-error suggestions of a run -> ``<run>/label_issues.csv``, and the review verdicts kept as tags.

:func:`label_issues_for_run` reads the run's train features (``core.rundir.featurefile``), computes the
out-of-fold probe probabilities and the kNN votes and combines them (``core.analysis.labelerrors``), and
writes ``label_issues.csv``: one row per training sample, most likely label error first, columns

``rank, id, label, suggested, confidence, p_label, probe_pred, probe_p, knn_pred, knn_p, flagged, neighbors``

(``confidence``/``p_label``: the combined probability of the suggested class / of the given label;
``probe_pred``/``knn_pred``: each signal's own most probable class, ``probe_p``/``knn_p`` its probability of
the suggested class; ``neighbors``: the ids of the :data:`N_NEIGHBOURS` nearest other samples, space-separated).
The parameters and ``n_flagged`` are kept in ``label_issues.json`` under the cache rule
(``core.rundir.cache``): equal parameters on unchanged features reuse the stored list.

A review verdict is one of three tags (:data:`VERDICTS`) in the run's ``tags.csv`` (``core.audit.tags``):
:func:`review` gives a sample exactly one of them. Prune by ``mislabelled`` with ``prune --tag mislabelled``.
CLI twin: ``python -m core label-issues --run-dir R [--top N]`` (core/cli/audit/label_issues.py).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.analysis.labelerrors import RANKINGS, WEIGHT_DECAY, knn_votes, out_of_fold_proba, suggest_labels
from core.analysis.probe import ProbeConfig
from core.audit import tags
from core.errors import HardpairsError
from core.io import read_json, write_csv
from core.rundir.cache import cached
from core.rundir.featurefile import open_features
from core.rundir.folder import require_run

ISSUES_CSV = "label_issues.csv"
ISSUES_JSON = "label_issues.json"
COLUMNS = (
    "rank",
    "id",
    "label",
    "suggested",
    "confidence",
    "p_label",
    "probe_pred",
    "probe_p",
    "knn_pred",
    "knn_p",
    "flagged",
    "neighbors",
)
#: neighbours listed per sample (the review page shows them)
N_NEIGHBOURS = 8
#: review verdict -> its tag in tags.csv
VERDICTS = {"mislabelled": "mislabelled", "ambiguous": "ambiguous", "fine": "label-ok"}
PathLike = str | os.PathLike[str]


def class_list(run_dir: PathLike, labels: np.ndarray) -> list[str]:
    """The run's class names (manifest ``classes``), else ``"0".."C-1"`` for the labels' C."""
    names = (read_json(Path(run_dir) / "manifest.json", {}) or {}).get("classes")
    n = int(labels.max()) + 1 if len(labels) else 0
    if isinstance(names, list) and len(names) >= n:
        return [str(c) for c in names]
    return [str(c) for c in range(n)]


def issues_frame(
    y: np.ndarray, proba: np.ndarray, votes: np.ndarray, neighbours: np.ndarray, probe_weight: float, ranking: str
) -> pd.DataFrame:
    """The rows of ``label_issues.csv`` (module docstring), sorted by rank, from (N,) labels, (N, C)
    out-of-fold probabilities, (N, C) kNN votes and (N, k) neighbour ids."""
    s = suggest_labels(proba, votes, y, probe_weight, ranking)
    rows = np.arange(len(y))
    frame = pd.DataFrame(
        {
            "rank": s.rank,
            "id": rows,
            "label": y,
            "suggested": s.suggested,
            "confidence": np.round(s.confidence, 6),
            "p_label": np.round(s.p_label, 6),
            "probe_pred": proba.argmax(axis=1),
            "probe_p": np.round(proba[rows, s.suggested].astype(np.float64), 6),
            "knn_pred": votes.argmax(axis=1),
            "knn_p": np.round(votes[rows, s.suggested], 6),
            "flagged": s.flagged,
            "neighbors": [" ".join(map(str, r)) for r in neighbours[:, :N_NEIGHBOURS]],
        }
    )
    return frame.sort_values("rank", kind="stable").reset_index(drop=True)


def _compute(run: Path, params: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    feats = open_features(run)
    x = np.asarray(feats["train"], np.float32)
    y = np.asarray(feats["y_train"], np.int64)
    if len(y) and y.min() < 0:
        raise HardpairsError(
            f"{run.name} has unlabelled training samples (-1): label-error suggestions need labels; "
            "use a labelled dataset"
        )
    n_classes = len(class_list(run, y))
    k = min(params["k"], len(y) - 1)
    print(f"label-issues: {params['folds']}-fold out-of-fold probe on {len(y)} samples", file=sys.stderr, flush=True)
    cfg = ProbeConfig(weight_decay=params["weight_decay"], seed=params["seed"])
    proba = out_of_fold_proba(x, y, n_classes, params["folds"], params["seed"], cfg)
    votes, neighbours = knn_votes(x, y, n_classes, k, params["t"])
    frame = issues_frame(y, proba, votes, neighbours, params["probe_weight"], params["ranking"])
    write_csv(run / ISSUES_CSV, frame)
    return {
        "n": int(len(y)),
        "n_flagged": int(frame["flagged"].sum()),
        "seconds": round(time.perf_counter() - start, 3),
        "path": "exact",
    }


def label_issues_for_run(
    run_dir: PathLike,
    folds: int = 5,
    k: int = 20,
    t: float = 0.07,
    probe_weight: float = 0.5,
    ranking: str = "self_confidence",
    seed: int | None = None,
    weight_decay: float = WEIGHT_DECAY,
    force: bool = False,
) -> dict[str, Any]:
    """Compute-or-load ``label_issues.csv`` of a run.

    Args:
        folds: K of the out-of-fold probe. k, t: kNN neighbours and temperature. probe_weight: w of the
            combination (1: probe only, 0: kNN only). ranking: ``self_confidence`` or ``margin``.
        seed: fold split and probe seed (default: the run's seed). weight_decay: the out-of-fold probe's.

    Returns:
        ``run_dir, csv, n, n_flagged, seconds, path ("exact": the kNN is exact), params, features_sha1, cached``.
    """
    run = require_run(run_dir)
    if ranking not in RANKINGS:
        raise HardpairsError(f"--ranking {ranking!r}: use one of {', '.join(RANKINGS)}")
    if seed is None:
        seed = int((read_json(run / "config.json", {}) or {}).get("seed") or 0)
    params = {
        "folds": folds,
        "k": k,
        "t": t,
        "probe_weight": probe_weight,
        "ranking": ranking,
        "seed": int(seed),
        "weight_decay": weight_decay,
    }
    result = cached(run, ISSUES_JSON, params, lambda: _compute(run, params), force=force, outputs=[ISSUES_CSV])
    return result | {"run_dir": str(run), "csv": str(run / ISSUES_CSV)}


def read_issues(run_dir: PathLike) -> pd.DataFrame | None:
    """``label_issues.csv`` sorted by rank, or None when the run has none yet.

    Raises:
        HardpairsError: the file is unreadable or lacks columns (named, with the command that rewrites it).
    """
    path = Path(run_dir) / ISSUES_CSV
    if not path.exists():
        return None
    try:
        frame = pd.read_csv(path, dtype={"neighbors": str}, keep_default_na=False)
    except (OSError, ValueError) as err:
        frame, missing = None, str(err)
    else:
        missing = ", ".join(c for c in COLUMNS if c not in frame.columns)
    if frame is None or missing:
        raise HardpairsError(
            f"{path} is unreadable or lacks columns ({missing}); recompute it with "
            f"`python -m core label-issues --run-dir {run_dir} --force`"
        )
    return frame.sort_values("rank", kind="stable").reset_index(drop=True)


def describe_issue(row: dict[str, Any] | pd.Series, names: list[str]) -> str:
    """``labelled 8, looks like 3 (p = 0.91)`` for one row of ``label_issues.csv``."""

    def name(c: Any) -> str:
        return names[int(c)] if 0 <= int(c) < len(names) else str(int(c))

    return f"labelled {name(row['label'])}, looks like {name(row['suggested'])} (p = {float(row['confidence']):.2f})"


def verdicts(run_dir: PathLike) -> dict[int, str]:
    """``{sample id: verdict}`` of the reviewed samples (the :data:`VERDICTS` tags they carry; the last wins)."""
    df = tags.read_tags(run_dir)
    by_tag = {tag: verdict for verdict, tag in VERDICTS.items()}
    mine = df[df["tag"].isin(list(by_tag))]
    return {int(i): by_tag[str(t)] for i, t in zip(mine["id"], mine["tag"], strict=True)}


def review(run_dir: PathLike, sample_id: int, verdict: str) -> dict[str, Any]:
    """Record the review of one sample: tag it ``VERDICTS[verdict]`` and drop any other verdict tag it had.

    Returns:
        ``run_dir, id, verdict, tag, removed`` (the verdict tags taken off).
    """
    if verdict not in VERDICTS:
        raise HardpairsError(f"verdict {verdict!r}: use one of {', '.join(VERDICTS)}")
    sid = int(sample_id)
    tag = VERDICTS[verdict]
    removed = [t for t in tags.tags_of(run_dir, sid) if t in VERDICTS.values() and t != tag]
    for old in removed:
        tags.remove_tag(run_dir, old, [sid])
    tags.add_tag(run_dir, tag, [sid])
    return {"run_dir": str(run_dir), "id": sid, "verdict": verdict, "tag": tag, "removed": removed}


def review_queue(frame: pd.DataFrame, reviewed: dict[int, str], flagged_only: bool = True) -> list[int]:
    """Sample ids still to review, most likely label error first: the rows of ``frame`` (label_issues.csv,
    sorted by rank) that are flagged (unless ``flagged_only`` is False) and not in ``reviewed``."""
    rows = frame[frame["flagged"].astype(bool)] if flagged_only else frame
    return [int(i) for i in rows["id"] if int(i) not in reviewed]
