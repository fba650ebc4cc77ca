"""Repeat a configuration over seeds: the ``python -m core`` commands that fill in its missing seeds.

A group of ``core.reports.compare.group_table`` lacks some of the seeds 0-2. For an unpruned group each
missing seed is ``train --config <a member>/config.json --seed S``. For a pruned group each missing
seed S is ``prune --run-dir <parent of seed S> --score .. --ratio .. --seed S --train`` with the
member's loss settings, where the parent of seed S is the run of the parent's configuration with
seed S; when that run does not exist either, it is trained first under a fixed ``--name`` (the job
queue runs heavy jobs one at a time in submission order, so the retrain finds it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.reports.compare import config_key
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
    """The jobs that give ``group`` (a row of ``group_table`` as a dict) every seed in ``seeds``."""
    base = runs_root(root)
    by_id = {r["run_id"]: r for r in records}
    member = by_id[group["run_ids"][0]]
    todo = missing_seeds(group, seeds)
    if not member.get("prune_score"):
        config = str(Path(member["run_dir"]) / "config.json")
        return [
            PlannedJob(["train", "--config", config, "--seed", str(s), "--runs-root", str(base)], "train") for s in todo
        ]
    parent = by_id.get(Path(str(member.get("parent"))).name)
    if parent is None:
        return []  # the parent is gone: nothing to prune from
    pkey = config_key(parent)
    jobs: list[PlannedJob] = []
    for s in todo:
        twin = next((r for r in records if r.get("seed") == s and config_key(r) == pkey), None)
        if twin is not None:
            parent_dir = str(twin["run_dir"])
        else:
            name = f"{parent['run_id']}-seed{s}"
            parent_dir = str(base / name)
            cfg = str(Path(parent["run_dir"]) / "config.json")
            argv = ["train", "--config", cfg, "--seed", str(s), "--runs-root", str(base), "--name", name]
            jobs.append(PlannedJob(argv, "train", parent_dir))
        jobs.append(PlannedJob(_retrain_argv(member, parent_dir, s), "retrain"))
    return jobs


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
