"""Find similar: rank every training sample of a run by cosine similarity to one sample.

:func:`similarities_to` is exact brute force over the run's features, read through the one features
reader (``core.rundir.featurefile.open_features``, memory-mapped) and normalised block by block with
``core.analysis.neighbors.l2_normalise``: memory is one block of rows plus one float32 per sample,
whatever N is. :func:`rank_similar` orders them (most similar first, ties by id, the sample itself
left out); :func:`split_by_class` picks a sample's nearest same-class and other-class neighbours from
that ranking (the sample view). :func:`similar_for_run` is ``python -m core similar`` (core/cli/audit/similar.py):
the top N, optionally tagged with ``core.audit.tags.add_tag``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from core.analysis.neighbors import l2_normalise
from core.audit import tags
from core.errors import HardpairsError
from core.rundir.featurefile import open_features

#: Rows normalised and multiplied at once (65,536 x 512 float32 = 128 MiB).
BLOCK = 65_536


def similarities_to(x: Any, sid: int, block: int = BLOCK) -> np.ndarray:
    """(N,) float32 cosine similarity of every row of ``x`` (N, D) to row ``sid`` (itself included: 1.0).

    ``x`` may be a memory map or a ``ShardedArray``: it is read ``block`` rows at a time.

    Raises:
        HardpairsError: ``sid`` is not a row of ``x``, or a row has zero norm (collapsed features).
    """
    n = len(x)
    if not 0 <= int(sid) < n:
        raise HardpairsError(f"sample id {sid} is not a training sample id of this run; ids run from 0 to {n - 1}")
    query = l2_normalise(np.asarray(x[int(sid) : int(sid) + 1], np.float32))[0]
    out = np.empty(n, np.float32)
    for start in range(0, n, block):
        part = np.asarray(x[start : start + block], np.float32)
        out[start : start + len(part)] = _normalised(part) @ query
    return out


def _normalised(part: np.ndarray) -> np.ndarray:
    """One block of rows at unit norm; a block of identical rows is legitimate here (no 'constant' check)."""
    if len(part) > 1 and np.array_equal(part.min(axis=0), part.max(axis=0)):
        return np.repeat(l2_normalise(part[:1]), len(part), axis=0)
    return l2_normalise(part)


def rank_similar(sims: np.ndarray, sid: int, top: int | None = None) -> np.ndarray:
    """(K,) int64 ids ordered by ``sims`` (N,) descending, ties by ascending id, ``sid`` left out; K = ``top``
    (every other sample when None)."""
    sims = np.asarray(sims, np.float64)
    others = np.flatnonzero(np.arange(len(sims)) != int(sid))
    k = len(others) if top is None else max(0, min(int(top), len(others)))
    if k < len(others):  # only the top k are sorted: argpartition, then widened to keep ties at the edge
        cut = np.partition(sims[others], len(others) - k)[len(others) - k]
        others = others[sims[others] >= cut]
    order = np.lexsort((others, -sims[others]))
    return others[order][:k].astype(np.int64)


def split_by_class(ranked: np.ndarray, labels: np.ndarray, label: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` ids of ``ranked`` whose label (``labels`` (N,)) equals ``label``, and the first ``k`` other."""
    same = labels[ranked] == int(label)
    return ranked[same][:k], ranked[~same][:k]


def similar_for_run(run_dir: str | os.PathLike[str], sid: int, top: int = 50, tag: str | None = None) -> dict[str, Any]:
    """``python -m core similar``: the ``top`` training samples most similar to ``sid`` (cosine of the run's
    features, exact), most similar first; with ``tag`` they are tagged (``core.audit.tags.add_tag``).

    Returns:
        ``run_dir, sample, label, top, ids, similarities, labels`` (lists), and ``tagged`` (the add_tag
        result) when ``tag`` is given.

    Raises:
        HardpairsError: no features, a bad id or ``top``, or a bad tag name.
    """
    if int(top) < 1:
        raise HardpairsError(f"--top must be >= 1 (got {top})")
    if tag is not None:
        tags.check_tag(tag)
    feats = open_features(run_dir)
    sims = similarities_to(feats["train"], sid)
    ids = rank_similar(sims, sid, top)
    labels = np.asarray(feats["y_train"], np.int64)
    out: dict[str, Any] = {
        "run_dir": str(Path(run_dir)),
        "sample": int(sid),
        "label": int(labels[int(sid)]),
        "top": len(ids),
        "ids": ids.tolist(),
        "similarities": [round(float(s), 6) for s in sims[ids]],
        "labels": labels[ids].tolist(),
    }
    if tag is not None:
        out["tagged"] = tags.add_tag(run_dir, tag, ids.tolist())
    return out
