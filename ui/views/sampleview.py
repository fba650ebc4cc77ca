"""What the sample view shows (pages/sample_view.py): links to it, a sample's score ranks, the kNN vote.

Pure functions (no Streamlit calls). A sample is a training sample id of the run; the view's URL is
``sample?run=<run folder name>&sample=<id>`` (:func:`sample_href`, relative to the app's page URLs, so a
thumbnail or pair-row link works under any base path).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

import numpy as np
import pandas as pd

SAMPLE_PAGE = "sample"  # the sample view's url_path (app.py PAGES)
NEIGHBOURS = 8  # same-class and other-class neighbours shown by default


def sample_params(run: str, sid: int) -> dict[str, str]:
    """The sample view's query parameters for run folder name ``run`` and sample ``sid``."""
    return {"run": str(run), "sample": str(int(sid))}


def sample_href(run: str, sid: int) -> str:
    """``sample?run=<run>&sample=<sid>`` (URL-encoded): the link to the sample view of ``sid``."""
    return f"{SAMPLE_PAGE}?{urlencode(sample_params(run, sid))}"


def parse_sample(value: str | None, n: int) -> int | None:
    """A ``sample=`` URL value as an id in ``0..n-1``; None when absent or not such an id."""
    if value is None or not str(value).strip().isdigit():
        return None
    sid = int(str(value).strip())
    return sid if 0 <= sid < n else None


def score_ranks(scores: pd.DataFrame, columns: Sequence[str], sid: int) -> pd.DataFrame:
    """One row per score of sample ``sid``: ``score``, ``value``, ``rank`` (1 = the most difficult, i.e. the
    highest; ties share the best rank), ``of`` (samples with that score) and ``percentile`` (the share of the
    other samples scoring strictly lower, in %). Empty when ``sid`` is not in ``scores``."""
    rows = []
    mine = scores.loc[scores["index"] == int(sid)]
    if mine.empty:
        return pd.DataFrame(columns=["score", "value", "rank", "of", "percentile"])
    for col in columns:
        values = scores[col].to_numpy(np.float64)
        values = values[np.isfinite(values)]
        v = float(mine[col].iloc[0])
        if not np.isfinite(v) or not len(values):
            continue
        rank = 1 + int((values > v).sum())
        below = int((values < v).sum())
        pct = 100.0 * below / max(len(values) - 1, 1)
        rows.append({"score": col, "value": round(v, 4), "rank": rank, "of": len(values), "percentile": round(pct, 1)})
    return pd.DataFrame(rows, columns=["score", "value", "rank", "of", "percentile"])


def knn_vote(labels: np.ndarray) -> tuple[int, float] | None:
    """The majority label of neighbour labels (K,) and its share of the votes (ties: the smaller label);
    None without labelled neighbours (label -1 = unlabelled)."""
    labels = np.asarray(labels, np.int64)
    labels = labels[labels >= 0]
    if not len(labels):
        return None
    counts = np.bincount(labels)
    best = int(np.argmax(counts))
    return best, float(counts[best]) / len(labels)


def vote_text(vote: tuple[int, float] | None, names: Sequence[str], k: int, label: int | None) -> str:
    """The prediction line: ``kNN vote of its 10 nearest neighbours: 3 (7 of 10)`` (+ agrees / differs)."""
    if vote is None:
        return "No prediction: its neighbours have no labels."
    best, share = vote
    name = names[best] if 0 <= best < len(names) else str(best)
    verdict = ""
    if label is not None and label >= 0:
        verdict = " — agrees with its label" if best == label else " — differs from its label"
    return f"kNN vote of its {k} nearest training neighbours: **{name}** ({round(share * k)} of {k}){verdict}."
