"""Prune a run by a tag: keep every sample that does not carry it; optionally retrain as a child run.

``prune_by_tag`` writes ``keep.npy``, ``pruned.npy``, ``per_class.csv`` and ``prune.json`` into
``<run>/prune/tag_<name>_seed<seed>/`` -- the same files as a prune by score, by the same writer
(``core.runs.pruning.write_prune_outputs``) -- and with
``train=True`` retrains on the kept samples (``core.runs.pruning.retrain_pruned``) as a child whose
``prune_score`` is ``tag:<name>`` and ``prune_ratio`` the share removed. Its control is a random
pruning at that same ratio: :func:`random_baseline_args` (``prune --score random --ratio r``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from core.analysis.prune import per_class_counts
from core.audit.tags import check_tag, n_samples, tag_ids
from core.errors import HardpairsError
from core.idsets import complement_ids
from core.io import read_json
from core.rundir.featurefile import feature_labels
from core.rundir.folder import require_run
from core.runs.pruning import retrain_pruned, write_prune_outputs


def ratio_text(ratio: float) -> str:
    """``--ratio`` text precise enough that ``round(ratio * N)`` gives back the same count."""
    return f"{ratio:.10g}"


def random_baseline_args(run_dir: str | os.PathLike[str], n_pruned: int, n: int, seed: int) -> list[str]:
    """``python -m core`` arguments of the random pruning that removes as many samples (no retrain flags)."""
    return ["prune", "--run-dir", str(run_dir), "--score", "random", "--ratio", ratio_text(n_pruned / n)] + [
        "--seed",
        str(int(seed)),
    ]


def prune_by_tag(
    run_dir: str | os.PathLike[str],
    tag: str,
    seed: int | None = None,
    train: bool = False,
    retrain: dict[str, Any] | None = None,
    analyse: bool = False,
) -> dict[str, Any]:
    """Remove the samples tagged ``tag`` from a run's training set; optionally retrain without them.

    Returns:
        ``run_dir, out, score ("tag:<name>"), tag, ratio, seed, n, n_kept, n_pruned, per_class,
        random_baseline`` (the command of the random control) and, with ``train``, ``train``.
    """
    run = require_run(run_dir)
    name = check_tag(tag)
    n = n_samples(run)
    pruned = tag_ids(run, name)
    kept = complement_ids(n, pruned)
    if len(kept) < 2:  # as --ratio < 1 does: a training set needs samples
        raise HardpairsError(
            f"tag {name!r} covers {len(pruned)} of the run's {n} samples, so pruning it would keep {len(kept)}; "
            "at least 2 must stay -- remove some samples from the tag"
        )
    if seed is None:
        seed = int((read_json(run / "config.json") or {}).get("seed", 0))
    folder = run / "prune" / f"tag_{name}_seed{seed}"
    manifest = read_json(run / "manifest.json", {}) or {}
    labels = feature_labels(run)  # the labels only, memory-mapped (None: no features yet)
    ratio = len(pruned) / n
    result: dict[str, Any] = {
        "run_dir": str(run),
        "out": str(folder),
        "score": f"tag:{name}",
        "tag": name,
        "ratio": ratio,
        "seed": seed,
        "n": n,
        "n_kept": int(len(kept)),
        "n_pruned": int(len(pruned)),
        "random_baseline": "python -m core " + " ".join(random_baseline_args(run, len(pruned), n, seed)),
    }
    known = labels is not None and bool((labels >= 0).all())  # per_class.csv only for a labelled dataset
    counts = per_class_counts(labels, pruned, manifest.get("classes")) if known and labels is not None else None
    result = write_prune_outputs(folder, kept, pruned, counts, result)
    if train:
        result["train"] = retrain_pruned(
            run, Path(folder / "keep.npy"), f"tag:{name}", ratio, seed, retrain or {}, analyse
        )
    return result
