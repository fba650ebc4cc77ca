"""THE ground truth of a run's bad samples, and how well each difficulty score finds it.

A run has ground truth when something outside the scores says which training samples are bad:

- ``mixed`` -- Mixed-omega (``--mix``): the ``mixed`` column of ``scores.csv``, else the dataset's
  ``mixed`` array rebuilt from ``config.json`` (``core.runs.analysis.mixed_flags``);
- ``noisy`` -- label noise (``--label-noise``): ``noisy.npy`` (ids of the flipped labels, written when the
  run is created), else the flips rebuilt from ``config.json`` (``core.data.labelnoise``);
- ``tag:NAME`` -- a user tag chosen as ground truth (``tags.csv``, ``core.audit.tags``).

:func:`ground_truth` returns ``(mask (N,) bool indexed by sample id, source)`` or None. :func:`score_aurocs`
is THE per-score AUROC (``core.analysis.scores.auroc``, equal to ``sklearn.metrics.roc_auc_score``): the
report, the Prune and the Embeddings pages call it. :func:`caught` is the precision and recall of a pruned
set, :func:`marks` the true positives among shown ids (thumbnails, pair rows, the map).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.analysis.scores import auroc
from core.analysis.scoretable import COMPUTED_SCORES
from core.errors import HardpairsError
from core.io import read_json

PathLike = str | os.PathLike[str]
NOISY_FILE = "noisy.npy"
#: What each source is called on a page, and the word of its badge on a thumbnail.
SOURCES = {"mixed": ("Mixed-ω images", "mixed"), "noisy": ("flipped labels (label noise)", "flipped")}


def describe(source: str) -> tuple[str, str]:
    """(what the ground truth is, the badge word) of a source: ``mixed``, ``noisy`` or ``tag:NAME``."""
    if source.startswith("tag:"):
        return f"samples tagged '{source[4:]}'", source[4:]
    return SOURCES.get(source, (source, source))


def _n_train(run: Path, scores: pd.DataFrame | None) -> int:
    n = (read_json(run / "manifest.json", {}) or {}).get("n_train")
    if isinstance(n, int) and n > 0:
        return n
    if scores is not None and len(scores):
        return int(scores["index"].max()) + 1
    from core.audit.tags import n_samples

    return n_samples(run)


def _mask(ids: Iterable[int], n: int) -> np.ndarray:
    mask = np.zeros(n, bool)
    ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, np.int64)
    mask[ids[(ids >= 0) & (ids < n)]] = True
    return mask


def _read_scores(run: Path) -> pd.DataFrame | None:
    path = run / "scores.csv"
    return pd.read_csv(path) if path.exists() else None


def _noisy(run: Path, cfg: dict[str, Any], n: int) -> np.ndarray | None:
    if (run / NOISY_FILE).exists():
        return _mask(np.load(run / NOISY_FILE, allow_pickle=False), n)
    if not cfg.get("label_noise"):
        return None
    from core.data.sources import load_dataset

    try:
        data = load_dataset(
            str(cfg["dataset"]), label_noise=float(cfg["label_noise"]), seed=int(cfg.get("mix_seed") or 0)
        )
    except HardpairsError:
        return None
    return np.asarray(data.noisy, bool) if len(data.noisy) == n else None


def ground_truth(
    run_dir: PathLike, tag: str | None = None, scores: pd.DataFrame | None = None
) -> tuple[np.ndarray, str] | None:
    """The run's ground truth of bad training samples, or None when it has none.

    Args:
        run_dir: the run folder. tag: use this user tag as the ground truth (``tag:NAME``) instead.
        scores: the run's ``scores.csv`` frame when the caller has it (read from the folder otherwise).

    Returns:
        (mask (N,) bool indexed by sample id, source): ``mixed`` first, then ``noisy``, else None.
    """
    run = Path(run_dir)
    scores = scores if scores is not None else _read_scores(run)
    n = _n_train(run, scores)
    if tag:
        from core.audit.tags import tag_ids

        return _mask(tag_ids(run, tag), n), f"tag:{tag}"
    if scores is not None and "mixed" in scores.columns:
        mask = np.zeros(n, bool)
        mask[scores["index"].to_numpy(np.int64)] = scores["mixed"].to_numpy().astype(bool)
        return mask, "mixed"
    cfg = dict(read_json(run / "config.json", {}) or {})
    if cfg.get("mix"):
        from core.runs.analysis import mixed_flags

        mixed, _ = mixed_flags(cfg, n)
        if mixed is not None:
            return mixed, "mixed"
    noisy = _noisy(run, cfg, n)
    return (noisy, "noisy") if noisy is not None else None


def score_names(scores: pd.DataFrame) -> list[str]:
    """The computed score columns of a ``scores.csv`` frame, in file order (oracles and metadata left out)."""
    return [c for c in scores.columns if c in COMPUTED_SCORES]


def score_aurocs(scores: pd.DataFrame, truth: np.ndarray) -> dict[str, float]:
    """THE per-score AUROC at finding the ground truth, best first (ties in file order).

    Args:
        scores: a ``scores.csv`` frame (``index`` + score columns, higher = more difficult).
        truth: (N,) bool ground truth indexed by sample id (:func:`ground_truth`).

    Returns:
        ``{score: AUROC}`` (NaN when the scored samples hold no positive or no negative).
    """
    positive = np.asarray(truth, bool)[scores["index"].to_numpy(np.int64)]
    values = {name: auroc(scores[name].to_numpy(np.float64), positive) for name in score_names(scores)}
    order = sorted(values, key=lambda k: -values[k] if np.isfinite(values[k]) else np.inf)
    return {k: values[k] for k in order}


def run_aurocs(run_dir: PathLike) -> tuple[dict[str, float], str] | None:
    """(:func:`score_aurocs` of the run's ``scores.csv``, source) or None (no scores or no ground truth)."""
    scores = _read_scores(Path(run_dir))
    truth = ground_truth(run_dir, scores=scores) if scores is not None else None
    if scores is None or truth is None:
        return None
    return score_aurocs(scores, truth[0]), truth[1]


@dataclass(frozen=True)
class Caught:
    """How much of the ground truth a pruned set catches: true positives, pruned, positives in all, samples."""

    hits: int
    pruned: int
    positives: int
    total: int

    @property
    def precision(self) -> float:
        """Share of the pruned samples that are true positives (NaN when nothing is pruned)."""
        return self.hits / self.pruned if self.pruned else float("nan")

    @property
    def recall(self) -> float:
        """Share of the true positives that are pruned (NaN when there are none)."""
        return self.hits / self.positives if self.positives else float("nan")


def caught(pruned_ids: Iterable[int], truth: np.ndarray, scored_ids: Iterable[int] | None = None) -> Caught:
    """Precision and recall of the pruned ids against the ground truth (among ``scored_ids``, default all)."""
    truth = np.asarray(truth, bool)
    pruned = np.unique(np.asarray(list(pruned_ids), np.int64))
    universe = np.arange(len(truth)) if scored_ids is None else np.unique(np.asarray(list(scored_ids), np.int64))
    return Caught(int(truth[pruned].sum()), int(len(pruned)), int(truth[universe].sum()), int(len(universe)))


def marks(ids: Iterable[int], truth: np.ndarray | None) -> list[bool]:
    """Whether each shown id is a true positive (all False without ground truth; ids outside it are False)."""
    ids = [int(i) for i in ids]
    if truth is None:
        return [False] * len(ids)
    truth = np.asarray(truth, bool)
    return [0 <= i < len(truth) and bool(truth[i]) for i in ids]


def best_score(aurocs: dict[str, float]) -> str | None:
    """The score with the highest AUROC (``random`` never counts), or None."""
    ranked = [k for k, v in aurocs.items() if k != "random" and np.isfinite(v)]
    return ranked[0] if ranked else None


def pair_truth(i: Iterable[int], j: Iterable[int], truth: tuple[np.ndarray, str] | None) -> dict[str, list[str]]:
    """The ground-truth column of a pair table: ``{"ground truth": ["", "A mixed", "B mixed", "both mixed"]}``
    per pair (i, j) (sample A, sample B), or ``{}`` without ground truth (the table then has no such column).

    Args:
        i, j: (P,) sample ids of each pair's two samples. truth: (mask (N,) bool, source) of :func:`ground_truth`.
    """
    if truth is None:
        return {}
    badge = describe(truth[1])[1]
    a, b = marks(i, truth[0]), marks(j, truth[0])
    words = {
        (False, False): "",
        (True, False): f"A {badge}",
        (False, True): f"B {badge}",
        (True, True): f"both {badge}",
    }
    return {"ground truth": [words[pair] for pair in zip(a, b, strict=True)]}
