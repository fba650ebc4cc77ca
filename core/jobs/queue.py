"""Background jobs: ``python -m core ...`` commands run as separate processes with a small queue.

Jobs outlive widget clicks, page reloads, a second tab and a restart of the app, because
everything about a job lives in files and its process runs in its own session. Layout::

    <runs_root>/.jobs/<job_id>/
        job.json      what to run (written once): job_id, kind, argv, run_dir, heavy, created, grace_s
        launch.json   written when the queue starts it: wrapper pid, launched (unix time)
        child.json    written by the wrapper: child pid (= its process group id), started
        exit.json     written atomically by the wrapper when the command ends:
                      exit_code, signal (or null), ended
        cancel        marker written by :func:`cancel` (the time, as text)
        log.txt       stdout + stderr of the command
    <runs_root>/.jobs/.queue.lock   flock that serialises starting jobs

Each job runs under a wrapper process (``python -m core.jobs.runner JOB_DIR``, core/jobs/runner.py) that starts the command
in a new process group, waits for it, records ``exit.json`` and then starts the next queued
job -- so the queue moves on when the app is closed. At most one *heavy* job (training,
scoring, UMAP, ...) runs at a time; light jobs start at once.

The state is derived from the files and the processes: ``queued`` (not launched),
``running`` (wrapper alive), ``done`` (exit 0), ``cancelled`` (cancel marker) or ``failed``
(non-zero exit, or the wrapper died without recording an exit status).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.errors import HardpairsError
from core.jobs.procs import pid_alive, signal_group, start_ticks
from core.runs.folder import REPO_ROOT, read_json, runs_root, write_json

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


def jobs_root(root: str | os.PathLike | None = None) -> Path:
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


def load_job(job_dir: str | os.PathLike) -> Job:
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


def list_jobs(root: str | os.PathLike | None = None) -> list[Job]:
    """Every job under ``root``'s job folder, newest first."""
    base = jobs_root(root)
    if not base.exists():
        return []
    jobs = [load_job(p) for p in base.iterdir() if (p / "job.json").exists()]
    jobs.sort(key=lambda j: (j.created, j.job_id), reverse=True)
    return jobs


def get_job(job_id: str, root: str | os.PathLike | None = None) -> Job:
    """The job called ``job_id``, or a HardpairsError naming the fix."""
    path = jobs_root(root) / job_id
    if not (path / "job.json").exists():
        raise HardpairsError(f"no job {job_id!r} under {jobs_root(root)}; list jobs with `python -m core jobs`.")
    return load_job(path)


@contextmanager
def _queue_lock(base: Path) -> Iterator[None]:
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".queue.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _launch(job_dir: Path) -> None:
    """Start the wrapper for ``job_dir`` in its own session (caller holds the queue lock)."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    with open(job_dir / "log.txt", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "core.jobs.runner", str(job_dir)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    write_json(job_dir / "launch.json", {"pid": proc.pid, "ticks": start_ticks(proc.pid), "launched": time.time()})


def poll(root: str | os.PathLike | None = None) -> list[Job]:
    """Start whatever the queue allows (one heavy job at a time) and return :func:`list_jobs`.

    Safe to call from several processes: starting is serialised by a file lock, so a queued
    job is never started twice. The wrappers call it when their command ends.
    """
    base = jobs_root(root)
    if not base.exists():
        return []
    with _queue_lock(base):
        jobs = sorted(list_jobs(root), key=lambda j: (j.created, j.job_id))
        heavy_busy = any(j.heavy and j.state == "running" for j in jobs)
        for job in jobs:
            if job.state != "queued":
                continue
            if job.heavy:
                if heavy_busy:
                    continue
                heavy_busy = True
            _launch(Path(job.job_dir))
    return list_jobs(root)


def submit(
    argv: Sequence[str],
    kind: str,
    run_dir: str | os.PathLike | None = None,
    *,
    root: str | os.PathLike | None = None,
    heavy: bool | None = None,
    raw: bool = False,
    grace_s: float = DEFAULT_GRACE_S,
) -> Job:
    """Queue a command and start it when the queue allows.

    Args:
        argv: arguments of ``python -m core`` (e.g. ``["train", "--dataset", "digits"]``),
            or with ``raw=True`` a full command line.
        kind: job kind; kinds in HEAVY_KINDS share the single device slot.
        run_dir: the run folder the command writes (its status.json feeds the progress bar).
        root: runs root (default: ``$HARDPAIRS_RUNS`` or ``cache/runs``).
        heavy: override the kind-based rule.
        grace_s: seconds between SIGTERM and SIGKILL when cancelled.

    Returns:
        The job snapshot after the queue was polled (state queued or running).
    """
    full = [str(a) for a in argv] if raw else core_command(argv)
    if not full:
        raise HardpairsError("empty command; pass the arguments of `python -m core`, e.g. ['runs'].")
    base = jobs_root(root)
    job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{secrets.token_hex(3)}"
    job_dir = base / job_id
    job_dir.mkdir(parents=True)
    write_json(
        job_dir / "job.json",
        {
            "job_id": job_id,
            "kind": kind,
            "argv": full,
            "run_dir": str(run_dir) if run_dir else None,
            "heavy": kind in HEAVY_KINDS if heavy is None else bool(heavy),
            "created": time.time(),
            "grace_s": float(grace_s),
        },
    )
    poll(root)
    return load_job(job_dir)


def cancel(job_id: str, root: str | os.PathLike | None = None) -> Job:
    """Cancel a job: a queued one never starts; a running one gets SIGTERM, then SIGKILL.

    The SIGTERM goes to the command's whole process group (the trainer checkpoints and
    marks its run cancelled); the wrapper escalates to SIGKILL after the job's ``grace_s``.
    Finished jobs are left alone.
    """
    job = get_job(job_id, root)
    if not job.active:
        return job
    job_dir = Path(job.job_dir)
    (job_dir / "cancel").write_text(f"{time.time()}\n")
    child = read_json(job_dir / "child.json")
    if job.state == "running" and child:
        signal_group(child["pid"], signal.SIGTERM)
        launch = read_json(job_dir / "launch.json") or {}
        if not pid_alive(launch.get("pid"), launch.get("ticks")):  # no wrapper to escalate
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline and pid_alive(child["pid"], child.get("ticks")):
                time.sleep(0.1)
            signal_group(child["pid"], signal.SIGKILL)
    return load_job(job_dir)


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


def job_result(job: Job) -> dict | None:
    """The command's result: the last log line that is a JSON object (our CLI's contract)."""
    for line in reversed(log_tail(job, 200).splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def counts(jobs: Sequence[Job]) -> dict[str, int]:
    """``{"running": n, "queued": m}`` for a job list."""
    return {s: sum(j.state == s for j in jobs) for s in ACTIVE_STATES}
