"""Repeat a configuration over seeds: the ``python -m core`` commands that fill in its missing seeds.

A group of ``core.reports.compare.group_table`` lacks some of the seeds 0-2. A repeat fills the group
**and the pruned retrains that hang off it**, so that a comparison of pruned and unpruned runs has
every seed on both sides:

- an unpruned group: each missing seed S is ``train --config <a member>/config.json --seed S --name
  <member>-seedS``, then, on that new run, one ``prune ... --seed S --train`` per pruned configuration
  of the group's members (every score and ratio seen, the random-pruning twins included) that lacks S;
- a pruned group: for each missing seed S the parent of seed S (the run of the parent's configuration
  with seed S; trained first under a fixed ``--name`` when it does not exist), then ``prune ... --train``
  with the member's score, ratio and loss settings, and the same for its random-pruning twin
  configuration when it has one and lacks S.

The job queue runs heavy jobs one at a time in submission order, so a retrain finds its parent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.reports.compare import BASELINE_SCORE, config_key
from core.rundir.folder import runs_root
from core.training.lossmodes import RETRAIN_KNOBS

REPEAT_SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class PlannedJob:
    """One job of a repeat: ``python -m core <argv>``, its queue kind, the run folder it makes (if known)."""

    argv: list[str]
    kind: str
    run_dir: str | None = None


def missing_seeds(group: dict[str, Any], seeds: Sequence[int] = REPEAT_SEEDS) -> list[int]:
    """The seeds of ``seeds`` that the group does not have yet."""
    have = set(group.get("seeds") or [])
    return [s for s in seeds if s not in have]


def repeat_plan(
    group: dict[str, Any], records: Sequence[dict[str, Any]], root: str | Path | None = None,
    seeds: Sequence[int] = REPEAT_SEEDS,
) -> list[PlannedJob]:  # fmt: skip
    """The jobs that give ``group`` (a row of ``group_table`` as a dict), and the pruned configurations
    that go with it (see the module docstring), every seed in ``seeds``."""
    base = runs_root(root)
    by_id = {r["run_id"]: r for r in records}
    member = by_id[group["run_ids"][0]]
    if member.get("prune_score"):
        parent = by_id.get(_parent_name(member))
        if parent is None:
            return []  # the parent is gone: nothing to prune from
        kids = [member, *_random_twins(member, records)]
    else:
        parent = member
        ids = set(group["run_ids"])
        kids = [r for r in records if r.get("prune_score") and _parent_name(r) in ids]
    children = list({config_key(k): k for k in kids}.values())  # one record per pruned configuration
    pkey = config_key(parent)
    jobs: list[PlannedJob] = []
    for s in seeds:
        todo = [k for k in children if not _has_seed(config_key(k), s, records)]
        if not todo and _has_seed(pkey, s, records):
            continue
        twin = next((r for r in records if r.get("seed") == s and config_key(r) == pkey), None)
        if twin is not None:
            parent_dir = str(twin["run_dir"])
        else:
            name = f"{parent['run_id']}-seed{s}"
            parent_dir = str(base / name)
            cfg = str(Path(parent["run_dir"]) / "config.json")
            argv = ["train", "--config", cfg, "--seed", str(s), "--runs-root", str(base), "--name", name]
            jobs.append(PlannedJob(argv, "train", parent_dir))
        jobs += [PlannedJob(_retrain_argv(k, parent_dir, s), "retrain") for k in todo]
    return jobs


def _has_seed(key: str, seed: int, records: Sequence[dict[str, Any]]) -> bool:
    return any(r.get("seed") == seed and config_key(r) == key for r in records)


def _parent_name(rec: dict[str, Any]) -> str:
    return Path(str(rec.get("parent"))).name if rec.get("parent") else ""


def _random_twins(child: dict[str, Any], records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The random-pruning runs of the child's parent, ratio and loss mode (none for a random child)."""
    if child.get("prune_score") == BASELINE_SCORE:
        return []
    return [
        r
        for r in records
        if r.get("prune_score") == BASELINE_SCORE
        and _parent_name(r) == _parent_name(child)
        and math.isclose(float(r.get("prune_ratio") or 0), float(child.get("prune_ratio") or 0))
        and r.get("loss_mode") == child.get("loss_mode")
    ]


def _retrain_argv(member: dict[str, Any], parent_dir: str, seed: int) -> list[str]:
    """``prune ... --train`` with the member's score, ratio, loss mode, knobs and epochs."""
    cfg = member.get("config") or {}
    argv = ["prune", "--run-dir", parent_dir, "--score", str(member["prune_score"])]
    argv += ["--ratio", f"{float(member['prune_ratio']):g}", "--seed", str(seed), "--train"]
    if cfg.get("loss_mode"):
        argv += ["--loss-mode", str(cfg["loss_mode"])]
    for knob in RETRAIN_KNOBS:
        if cfg.get(knob) is not None:
            argv += ["--" + knob.replace("_", "-"), f"{cfg[knob]:g}"]
    if cfg.get("epochs"):
        argv += ["--epochs", str(cfg["epochs"])]
    return argv
