"""The ground-truth picker shared by Prune and Embeddings: which samples are truly bad, and each score's AUROC.

:func:`pick_truth` reads the run's ground truth (``core.audit.groundtruth.ground_truth``: Mixed-omega, label
noise, or a user tag chosen here) and THE per-score AUROC (``core.audit.groundtruth.score_aurocs``, the
report's numbers). :func:`auroc_table` draws the ranking beside the score picker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.audit import tags
from core.audit.groundtruth import describe, ground_truth, score_aurocs
from core.errors import HardpairsError
from ui.views.truthview import auroc_frame, best_line, truth_options


@dataclass(frozen=True)
class Truth:
    """The chosen ground truth: mask (N,) bool by sample id, source, what it is, badge word, AUROC per score."""

    mask: np.ndarray
    source: str
    what: str
    badge: str
    aurocs: dict[str, float]


def truth_label(source: str) -> str:
    """The picker's label of a ground-truth source (a module-level function: session state is pickled)."""
    return describe(source)[0]


def pick_truth(run_dir: Path, scores: pd.DataFrame, key: str) -> Truth | None:
    """The run's ground truth (a picker when tags can stand in for it); None when there is none."""
    auto = ground_truth(run_dir, scores=scores)
    have = tags.list_tags(run_dir)
    options = truth_options(auto[1] if auto else None, have)
    if not options:
        return None
    source = options[0]
    if have:
        source = st.selectbox(
            "Ground truth",
            options,
            key=f"{key}_truth",
            format_func=truth_label,
            help="Which samples are truly bad: the run's Mixed-ω images or flipped labels, or a tag of yours "
            "(e.g. samples you reviewed). Every score's AUROC and the red-bordered thumbnails follow it.",
        )
    try:
        found = auto if auto and source == auto[1] else ground_truth(run_dir, tag=source[4:], scores=scores)
    except HardpairsError as err:
        st.warning(str(err))
        return None
    if found is None:
        return None
    mask = found[0]
    what, badge = describe(found[1])
    return Truth(mask, found[1], what, badge, score_aurocs(scores, mask))


def auroc_table(truth: Truth, chosen: str | None, key: str) -> None:
    """The line naming the best score beside the AUROC ranking (chosen score marked)."""
    left, right = st.columns([1, 1])
    left.markdown(best_line(truth.aurocs, truth.what, int(truth.mask.sum()), len(truth.mask)))
    left.caption(
        "AUROC: the chance that the score ranks a random bad sample above a random good one, computed by "
        "`core.audit.groundtruth.score_aurocs` (the report's numbers)."
    )
    right.dataframe(
        auroc_frame(truth.aurocs, chosen),
        hide_index=True,
        key=key,
        column_config={
            "AUROC": st.column_config.NumberColumn(
                "AUROC", format="%.3f", help=f"How well the score ranks the {truth.badge} samples first (0.5 = chance)"
            )
        },
    )
