"""What a job is about: the run it concerns, a retrain's score/ratio/seed and its child, one line for people.

Pure functions over :class:`core.jobs.records.Job` snapshots (plus reads of run files). Used by the
queue (duplicate refusal), the job button ("analysis pending") and the job panels (only the
selected run's jobs, each by run name, score, ratio and result).

- The *target* of a job is its ``run_dir`` or, failing that, the value of ``--run-dir`` in its command.
  A retrain (``prune --run-dir PARENT ... --train``) targets the parent.
- The *child* of a retrain is the run it trains: its ``config.json`` records ``parent``,
  ``prune_score``, ``prune_ratio`` and ``seed`` equal to the job's; when the job is done its result
  (``train.run_dir``) names it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.io import read_json
from core.jobs.records import Job, job_result


def parsed_command(argv: Sequence[str]) -> tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """``argv`` as (words before the first flag, sorted ``(flag, values)`` pairs): flags in any order and
    ``--flag=value`` or ``--flag value`` give one command."""
    head: list[str] = []
    flags: list[tuple[str, tuple[str, ...]]] = []
    for token in map(str, argv):
        if token.startswith("--"):
            name, eq, value = token.partition("=")
            flags.append((name, (value,) if eq else ()))
        elif flags:
            flags[-1] = (flags[-1][0], (*flags[-1][1], token))
        else:
            head.append(token)
    return tuple(head), tuple(sorted(flags))


def same_command(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether two command lines are the same command (:func:`parsed_command`)."""
    return parsed_command(a) == parsed_command(b)


def flag_value(argv: Sequence[str], flag: str) -> str | None:
    """The value after ``flag`` in ``argv`` (``--flag V`` or ``--flag=V``), None when absent."""
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return str(argv[i + 1])
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _same_path(a: str | os.PathLike[str] | None, b: str | os.PathLike[str] | None) -> bool:
    if not a or not b:
        return False
    return Path(a).resolve() == Path(b).resolve()


def job_target(job: Job) -> str | None:
    """The run folder a job concerns: its ``run_dir``, else its ``--run-dir`` argument, else None."""
    return job.run_dir or flag_value(job.argv, "--run-dir")


def retrain_params(job: Job) -> dict[str, Any] | None:
    """``{parent, score, ratio, seed, tag}`` of a ``prune ... --train`` job; None for other jobs.

    ``score`` is ``tag:NAME`` for a prune by tag; ``ratio``/``seed`` are None when not in the command.
    """
    argv = list(job.argv)
    if "prune" not in argv or "--train" not in argv:
        return None
    tag = flag_value(argv, "--tag")
    ratio, seed = flag_value(argv, "--ratio"), flag_value(argv, "--seed")
    return {
        "parent": flag_value(argv, "--run-dir"),
        "score": f"tag:{tag}" if tag else flag_value(argv, "--score"),
        "ratio": float(ratio) if ratio is not None else None,
        "seed": int(seed) if seed is not None else None,
        "tag": tag,
    }


def _child_from_result(job: Job) -> str | None:
    result = job_result(job) if job.state == "done" else None
    train = (result or {}).get("train")
    return str(train["run_dir"]) if isinstance(train, dict) and train.get("run_dir") else None


def is_child_of(job: Job, run_dir: str | os.PathLike[str]) -> bool:
    """True when ``run_dir`` is the run that retrain ``job`` trains (or trained)."""
    params = retrain_params(job)
    if params is None:
        return False
    done_child = _child_from_result(job)
    if done_child:
        return _same_path(done_child, run_dir)
    cfg = read_json(Path(run_dir) / "config.json", {}) or {}
    if not _same_path(cfg.get("parent"), params["parent"]) or cfg.get("prune_score") != params["score"]:
        return False
    ratio = cfg.get("prune_ratio")
    if params["ratio"] is not None and (ratio is None or not math.isclose(float(ratio), params["ratio"])):
        return False
    return params["seed"] is None or cfg.get("seed") == params["seed"]


def concerns(job: Job, run_dir: str | os.PathLike[str]) -> bool:
    """True when ``job`` targets ``run_dir`` or is the retrain that trains it."""
    return _same_path(job_target(job), run_dir) or is_child_of(job, run_dir)


def jobs_for_run(jobs: Sequence[Job], run_dir: str | os.PathLike[str] | None) -> list[Job]:
    """The jobs of ``run_dir`` (those targeting it, including its retrains, and the retrain that made it)."""
    if run_dir is None:
        return []
    return [j for j in jobs if concerns(j, run_dir)]


def active_for_run(jobs: Sequence[Job], run_dir: str | os.PathLike[str] | None) -> list[Job]:
    """The queued or running jobs of ``run_dir`` (see :func:`jobs_for_run`), oldest first."""
    return sorted((j for j in jobs_for_run(jobs, run_dir) if j.active), key=lambda j: (j.created, j.job_id))


def pending_text(job: Job) -> str:
    """``analysis pending (job <id>, <state>)``: what a page shows instead of a duplicate "Compute" button."""
    return f"analysis pending (job {job.job_id}, {job.state})"


def job_title(job: Job) -> str:
    """One line naming a job for people: run name, and for a retrain its score, ratio, seed and child.

    e.g. ``retrain of digits-a · band 10% · seed 0 -> digits-a-band10`` or ``umap · digits-a``.
    """
    target = job_target(job)
    name = Path(target).name if target else job.job_id
    params = retrain_params(job)
    if params is None:
        return f"{job.kind} · {name}"
    ratio = f" {100 * params['ratio']:.4g}%" if params["ratio"] is not None else ""
    seed = f" · seed {params['seed']}" if params["seed"] is not None else ""
    child = _child_from_result(job)
    arrow = f" -> {Path(child).name}" if child else ""
    return f"retrain of {name} · {params['score']}{ratio}{seed}{arrow}"
