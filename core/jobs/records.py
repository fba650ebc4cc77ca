"""Background job records: a job folder read back as a :class:`Job` snapshot, listing, log tail and result.

The folder layout and the states are described in ``core.jobs.queue`` (which starts and cancels
jobs and re-exports everything here).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import HardpairsError
from core.io import read_json, read_json_line
from core.procs import pid_alive
from core.rundir.folder import runs_root
from core.rundir.names import child_path

HEAVY_KINDS = frozenset({"train", "retrain", "score", "umap", "import", "probe", "analyse"})
ACTIVE_STATES = ("queued", "running")
DEFAULT_GRACE_S = 20.0
#: the queue index under ``.jobs``: one JSON line per submitted job (job_id, sha256 of its job.json)
INDEX = ".index.jsonl"


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


def job_digest(job_dir: str | os.PathLike[str]) -> str | None:
    """sha256 of the job's ``job.json`` bytes, None when it cannot be read."""
    try:
        return hashlib.sha256((Path(job_dir) / "job.json").read_bytes()).hexdigest()
    except OSError:
        return None


def read_index(root: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """``{job_id: sha256 of its job.json}`` of every job :func:`core.jobs.queue.submit` recorded.

    Only these jobs are listed and ever run: a ``job.json`` put into ``.jobs`` by anything else is ignored.
    """
    out: dict[str, str] = {}
    try:
        lines = (jobs_root(root) / INDEX).read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        entry = read_json_line(line)
        if entry and isinstance(entry.get("job_id"), str) and isinstance(entry.get("sha256"), str):
            out[entry["job_id"]] = entry["sha256"]
    return out


def is_submitted(job_dir: str | os.PathLike[str], index: dict[str, str] | None = None) -> bool:
    """True when ``job_dir`` is a job the queue's own submit recorded, with its ``job.json`` unchanged."""
    job_dir = Path(job_dir)
    index = read_index(job_dir.parent.parent) if index is None else index
    digest = index.get(job_dir.name)
    return digest is not None and digest == job_digest(job_dir)


def _alive(info: dict[str, Any] | None, key: str = "pid", ticks: str = "ticks") -> bool:
    return bool(info) and pid_alive(info.get(key), info.get(ticks))  # type: ignore[union-attr]


def _state(job_dir: Path, launch: dict[str, Any] | None, exit_info: dict[str, Any] | None) -> tuple[str, str]:
    """(state, message) of a job from its files and processes (see ``core.jobs.queue``)."""
    cancelled = (job_dir / "cancel").exists()
    child = read_json(job_dir / "child.json")
    if exit_info is not None:
        code, sig = exit_info.get("exit_code"), exit_info.get("signal")
        if code == 0 and not cancelled:
            return "done", ""
        if cancelled:
            return "cancelled", "cancelled by the user"
        return "failed", f"killed by signal {sig}" if sig else f"exited with status {code}"
    if launch is None:
        return ("cancelled", "cancelled before it started") if cancelled else ("queued", "")
    if _alive(launch):
        return "running", ""
    if _alive(child, "recorder", "recorder_ticks"):
        return "running", "its wrapper process is gone; the job still records its own exit status"
    if _alive(child):
        return "running", "its wrapper process is gone; the exit status will not be recorded"
    if cancelled:
        return "cancelled", "cancelled by the user"
    return "failed", "the process died without recording an exit status"


def load_job(job_dir: str | os.PathLike[str]) -> Job:
    """Read one job folder and derive its state (see the module docstring)."""
    job_dir = Path(job_dir)
    spec = read_json(job_dir / "job.json")
    if spec is None:
        raise HardpairsError(f"{job_dir} is not a job folder (no job.json); list jobs with `python -m core jobs`.")
    launch = read_json(job_dir / "launch.json")
    exit_info = read_json(job_dir / "exit.json")
    state, message = _state(job_dir, launch, exit_info)
    return Job(
        job_id=spec["job_id"],
        kind=spec["kind"],
        argv=tuple(spec["argv"]),
        run_dir=spec.get("run_dir"),
        heavy=bool(spec.get("heavy")),
        state=state,
        created=float(spec["created"]),
        started=launch.get("launched") if launch else None,
        ended=exit_info.get("ended") if exit_info else None,
        exit_code=exit_info.get("exit_code") if exit_info else None,
        pid=launch.get("pid") if launch else None,
        message=message,
        job_dir=str(job_dir),
    )


def list_jobs(root: str | os.PathLike[str] | None = None) -> list[Job]:
    """Every submitted job under ``root``'s job folder, newest first. Starts nothing."""
    base = jobs_root(root)
    if not base.is_dir():
        return []
    index = read_index(root)
    jobs = [load_job(base / job_id) for job_id in index if is_submitted(base / job_id, index)]
    jobs.sort(key=lambda j: (j.created, j.job_id), reverse=True)
    return jobs


def job_path(job_id: str, root: str | os.PathLike[str] | None = None) -> Path:
    """``<root>/.jobs/<job_id>`` for a valid job id (one path component, resolving inside ``.jobs``)."""
    return child_path(jobs_root(root), job_id, "job id")


def get_job(job_id: str, root: str | os.PathLike[str] | None = None) -> Job:
    """The submitted job called ``job_id``, or a HardpairsError naming the fix."""
    path = job_path(job_id, root)
    if not (path / "job.json").exists() or not is_submitted(path):
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
