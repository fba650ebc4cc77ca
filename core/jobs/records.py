"""Background job records: a job folder read back as a :class:`Job` snapshot, listing, log tail and result.

The folder layout and the states are described in ``core.jobs.queue`` (which starts and cancels
jobs and re-exports everything here).
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import HardpairsError
from core.jobs.procs import pid_alive
from core.runs.folder import read_json, read_json_line, runs_root

HEAVY_KINDS = frozenset({"train", "retrain", "score", "umap", "import", "probe", "analyse"})
ACTIVE_STATES = ("queued", "running")
DEFAULT_GRACE_S = 20.0


@dataclass(frozen=True)
class Job:
    """A snapshot of one job, derived from its folder.

    Attributes:
        job_id: folder name, sortable by submission time.
        kind: e.g. "train", "retrain", "score", "umap", "import".
        argv: the full command line (tuple of str).
        run_dir: the run folder the job writes, or None.
        heavy: whether it takes the single device slot.
        state: queued | running | done | failed | cancelled.
        created, started, ended: unix times (None when not reached).
        exit_code: the command's exit status (negative = killed by that signal), or None.
        pid: the wrapper pid once launched.
        message: a one-line explanation for failed/cancelled jobs ("" otherwise).
        job_dir: the job's folder.
    """

    job_id: str
    kind: str
    argv: tuple[str, ...]
    run_dir: str | None
    heavy: bool
    state: str
    created: float
    started: float | None
    ended: float | None
    exit_code: int | None
    pid: int | None
    message: str
    job_dir: str

    @property
    def command(self) -> str:
        """The command as a shell line, with ``python -m core`` for our own CLI."""
        return display_command(self.argv)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


def job_summary(job: Job) -> dict[str, Any]:
    """The JSON fields of a job that ``python -m core jobs`` prints (no pid, no job folder)."""
    return {
        "job_id": job.job_id,
        "kind": job.kind,
        "state": job.state,
        "run_dir": job.run_dir,
        "command": job.command,
        "created": job.created,
        "started": job.started,
        "ended": job.ended,
        "exit_code": job.exit_code,
        "message": job.message,
    }


def jobs_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Folder holding job records: ``<runs_root>/.jobs`` (``root`` = a runs root)."""
    return runs_root(root) / ".jobs"


def core_command(args: Sequence[str]) -> list[str]:
    """``[python, -m, core, *args]`` for the interpreter running this code."""
    return [sys.executable, "-m", "core", *map(str, args)]


def display_command(argv: Sequence[str]) -> str:
    """Shell line for ``argv``, writing this interpreter as ``python``."""
    parts = list(map(str, argv))
    if parts and parts[0] == sys.executable:
        parts[0] = "python"
    return shlex.join(parts)


def load_job(job_dir: str | os.PathLike[str]) -> Job:
    """Read one job folder and derive its state (see the module docstring)."""
    job_dir = Path(job_dir)
    spec = read_json(job_dir / "job.json")
    if spec is None:
        raise HardpairsError(f"{job_dir} is not a job folder (no job.json); list jobs with `python -m core jobs`.")
    launch = read_json(job_dir / "launch.json")
    child = read_json(job_dir / "child.json")
    exit_info = read_json(job_dir / "exit.json")
    cancelled = (job_dir / "cancel").exists()
    pid = launch.get("pid") if launch else None
    started = launch.get("launched") if launch else None
    ended = exit_info.get("ended") if exit_info else None
    code = exit_info.get("exit_code") if exit_info else None
    message = ""
    if exit_info is not None:
        if code == 0 and not cancelled:
            state = "done"
        elif cancelled:
            state, message = "cancelled", "cancelled by the user"
        else:
            state = "failed"
            sig = exit_info.get("signal")
            message = f"killed by signal {sig}" if sig else f"exited with status {code}"
    elif launch is None:
        state = "cancelled" if cancelled else "queued"
        message = "cancelled before it started" if cancelled else ""
    elif pid_alive(pid, launch.get("ticks")):
        state = "running"
    elif child and pid_alive(child.get("pid"), child.get("ticks")):
        state, message = "running", "its wrapper process is gone; the exit status will not be recorded"
    elif cancelled:
        state, message = "cancelled", "cancelled by the user"
    else:
        state, message = "failed", "the process died without recording an exit status"
    return Job(
        job_id=spec["job_id"],
        kind=spec["kind"],
        argv=tuple(spec["argv"]),
        run_dir=spec.get("run_dir"),
        heavy=bool(spec.get("heavy")),
        state=state,
        created=float(spec["created"]),
        started=started,
        ended=ended,
        exit_code=code,
        pid=pid,
        message=message,
        job_dir=str(job_dir),
    )


def list_jobs(root: str | os.PathLike[str] | None = None) -> list[Job]:
    """Every job under ``root``'s job folder, newest first."""
    base = jobs_root(root)
    if not base.exists():
        return []
    jobs = [load_job(p) for p in base.iterdir() if (p / "job.json").exists()]
    jobs.sort(key=lambda j: (j.created, j.job_id), reverse=True)
    return jobs


def get_job(job_id: str, root: str | os.PathLike[str] | None = None) -> Job:
    """The job called ``job_id``, or a HardpairsError naming the fix."""
    path = jobs_root(root) / job_id
    if not (path / "job.json").exists():
        raise HardpairsError(f"no job {job_id!r} under {jobs_root(root)}; list jobs with `python -m core jobs`.")
    return load_job(path)


def log_tail(job: Job, n: int = 40) -> str:
    """The last ``n`` lines of the job's log (reads at most the last 64 KiB)."""
    path = Path(job.job_dir) / "log.txt"
    if not path.exists():
        return ""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 65536))
        text = fh.read().decode(errors="replace")
    return "\n".join(text.splitlines()[-n:])


def job_result(job: Job) -> dict[str, Any] | None:
    """The command's result: the last log line that is a JSON object (our CLI's contract)."""
    for line in reversed(log_tail(job, 200).splitlines()):
        result = read_json_line(line)
        if result is not None:
            return result
    return None


def counts(jobs: Sequence[Job]) -> dict[str, int]:
    """``{"running": n, "queued": m}`` for a job list."""
    return {s: sum(j.state == s for j in jobs) for s in ACTIVE_STATES}
