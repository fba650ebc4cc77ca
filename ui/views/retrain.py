"""What the Prune & retrain page shows and launches: the pruning preview and the retrain commands.

Pure functions (no Streamlit calls). The preview uses ``core.analysis.prune.select_keep`` and
``per_class_counts``, as ``python -m core prune`` does, so what the page shows is what the job removes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.analysis.prune import per_class_counts, select_keep
from core.audit.tagprune import random_baseline_args
from core.data.thumbs import caption
from core.jobs.records import Job
from ui.views.lossform import RETRAIN_KNOBS, loss_flags


def prune_argv(run_dir: Path, score: str, ratio: float, seed: int) -> list[str]:
    """``python -m core`` arguments of the pruning the page previews (no retrain)."""
    return ["prune", "--run-dir", str(run_dir), "--score", score, "--ratio", f"{ratio:g}", "--seed", str(int(seed))]


def retrain_argv(run_dir: Path, score: str, ratio: float, seed: int, loss: Mapping[str, Any]) -> list[str]:
    """``python -m core`` arguments of one pruned retrain: ``prune ... --train <loss flags>``.

    Only the knobs ``prune --train`` passes on (``RETRAIN_KNOBS``) become flags; the others keep
    the parent run's value. ``--analyse``: the child arrives with scores, pairs, map and theory.
    """
    return [*prune_argv(run_dir, score, ratio, seed), "--train", *loss_flags(loss, RETRAIN_KNOBS), "--analyse"]


def tag_retrain_argv(run_dir: Path, tag: str, seed: int, loss: Mapping[str, Any]) -> list[str]:
    """``python -m core`` arguments of a retrain without the samples tagged ``tag`` (analysed too)."""
    head = ["prune", "--run-dir", str(run_dir), "--tag", tag, "--seed", str(int(seed)), "--train"]
    return [*head, *loss_flags(loss, RETRAIN_KNOBS), "--analyse"]


def tag_plan(
    run_dir: Path, tag: str, n_tagged: int, n: int, seeds: Sequence[int], loss: Mapping[str, Any], with_random: bool
) -> list[list[str]]:
    """One retrain without the tagged samples per seed, then (optionally) random pruning of as many samples."""
    plan = [tag_retrain_argv(run_dir, tag, seed, loss) for seed in seeds]
    if with_random:
        for seed in seeds:
            args = random_baseline_args(run_dir, n_tagged, n, seed)
            plan.append([*args, "--train", *loss_flags(loss, RETRAIN_KNOBS), "--analyse"])
    return plan


def active_launches(plan: Sequence[Sequence[str]], listed: Sequence[Job]) -> list[Job]:
    """The queued/running jobs whose ``python -m core`` arguments are one of ``plan`` (the launch in flight)."""
    wanted = [list(map(str, argv)) for argv in plan]
    return [j for j in listed if j.active and list(j.argv[3:]) in wanted]


def launch_state(active: Sequence[Job]) -> str:
    """``2 of these retrains are queued or running (job a: running, job b: queued)``; "" when none."""
    if not active:
        return ""
    states = ", ".join(f"job {j.job_id}: {j.state}" for j in active)
    return f"{len(active)} of these retrains {'is' if len(active) == 1 else 'are'} queued or running ({states})"


def planned_jobs(
    run_dir: Path, score: str, ratio: float, seeds: Sequence[int], loss: Mapping[str, Any], with_random: bool
) -> list[list[str]]:
    """One retrain per (score or random, seed), score first; random only if it is not the score."""
    chosen = [score] + (["random"] if with_random and score != "random" else [])
    return [retrain_argv(run_dir, s, ratio, seed, loss) for s in chosen for seed in seeds]


def launch_blocker(seeds: Sequence[int], ratio: float) -> str:
    """Why the launch button is disabled ("" when it is not)."""
    if not seeds:
        return "pick at least one seed"
    return "move the slider above 0%" if ratio == 0 else ""


def launch_label(n_jobs: int) -> str:
    """``Launch 1 retrain job`` / ``Launch 4 retrain jobs``."""
    return f"Launch {n_jobs} retrain job{'s' * (n_jobs != 1)}"


@dataclass(frozen=True)
class PrunePreview:
    """What a (score, ratio, seed) prunes. Positions index the rows of scores.csv.

    values: (N,) float64 scores; labels, ids: (N,) int64; kept, pruned: int64 row positions;
    counts: per-class table of core.analysis.prune; pruned_per_class, kept_per_class: (C,) int64;
    sample: row positions shown (highest score first; the pruning order for random);
    captions: one per sample; what: the sentence that introduces the sample.
    """

    values: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    kept: np.ndarray
    pruned: np.ndarray
    counts: pd.DataFrame
    pruned_per_class: np.ndarray
    kept_per_class: np.ndarray
    sample: np.ndarray
    captions: list[str]
    what: str


def prune_preview(
    scores: pd.DataFrame, score: str, ratio: float, seed: int, names: Sequence[str], sample_size: int | None = None
) -> PrunePreview:
    """The preview of pruning ``ratio`` of scores.csv's rows by ``score`` (see :class:`PrunePreview`).

    ``sample_size``: most samples shown (None = every pruned sample; the page paginates them).
    """
    values = scores[score].to_numpy(np.float64)
    labels = scores["label"].to_numpy(np.int64)
    ids = scores["index"].to_numpy(np.int64)
    kept, pruned = select_keep(values, ratio, seed)
    kept, pruned = np.asarray(kept, np.int64), np.asarray(pruned, np.int64)
    n_classes = len(names)
    pruned_per_class = np.bincount(labels[pruned], minlength=n_classes)[:n_classes]
    total = np.bincount(labels, minlength=n_classes)[:n_classes]
    order = pruned[np.argsort(-values[pruned], kind="stable")] if score != "random" else pruned
    sample = order[:sample_size]
    captions = [caption(int(ids[p]), names[int(labels[p])], float(values[p])) for p in sample]
    what = (
        f"The {len(sample)} highest-{score} samples of the {len(pruned)} pruned"
        if score != "random"
        else f"{len(sample)} of the {len(pruned)} randomly pruned"
    )
    return PrunePreview(
        values=values,
        labels=labels,
        ids=ids,
        kept=kept,
        pruned=pruned,
        counts=per_class_counts(labels, pruned, list(names)),
        pruned_per_class=pruned_per_class,
        kept_per_class=total - pruned_per_class,
        sample=sample,
        captions=captions,
        what=what,
    )
