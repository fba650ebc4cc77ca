"""Background jobs: ``python -m core ...`` commands run as separate processes with a small queue.

Jobs outlive widget clicks, page reloads, a second tab and a restart of the app, because
everything about a job lives in files and its process runs in its own session. Layout::

    <runs_root>/.jobs/<job_id>/
        job.json      what to run (written once): job_id, kind, argv, run_dir, heavy, created, grace_s
        launch.json   written when the queue starts it: wrapper pid, launched (unix time)
        child.json    written by the recorder: child pid (= its process group id), started,
                      recorder pid
        exit.json     written atomically by the recorder when the command ends:
                      exit_code, signal (or null), ended
        cancel        marker written by :func:`cancel` (the time, as text)
        log.txt       stdout + stderr of the command
    <runs_root>/.jobs/.queue.lock   flock that serialises submitting and starting jobs
    <runs_root>/.jobs/.index.jsonl  one line per job :func:`submit` recorded (job_id, sha256 of job.json)

Only jobs in the index, with their ``job.json`` unchanged, are listed or ever started; listing
(:func:`list_jobs`, ``python -m core jobs``, the app) never starts a process.

Each job runs under a wrapper process (``python -m core.jobs.runner JOB_DIR``, core/jobs/runner.py,
its pid in ``launch.json``) that handles cancelling. The wrapper starts a *recorder* in its own
session, which starts the command in a new process group, waits for it, records ``exit.json``
and then starts the next queued job (:func:`start_queued`) -- so the job's outcome is recorded
by the process that waited on it, and the queue moves on when the app is closed or the wrapper
was killed. At most one *heavy* job (training, scoring, UMAP, ...) runs at a time; light jobs
start at once.

Starting a job goes through one seam, the *launcher* (:class:`Launcher`): by default
:func:`launch_wrapper` starts the wrapper process; :func:`using_launcher` swaps it for a block
(tests record the job folders instead of starting processes). The choice is per process.

The state is derived from the files and the processes: ``queued`` (not launched),
``running`` (wrapper, recorder or command alive), ``done`` (exit 0), ``cancelled`` (cancel marker)
or ``failed`` (non-zero exit, or every process died without recording an exit status).

This module starts and cancels jobs; reading a job folder back (:class:`Job`, :func:`load_job`,
:func:`list_jobs`, :func:`log_tail`, :func:`job_result`) is ``core.jobs.records``, re-exported here.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from core.errors import HardpairsError
from core.io import REPO_ROOT, append_jsonl, read_json, write_json
from core.jobs.describe import concerns, flag_value, same_command
from core.jobs.records import (
    DEFAULT_GRACE_S,
    HEAVY_KINDS,
    INDEX,
    Job,
    core_command,
    get_job,
    job_digest,
    jobs_root,
    list_jobs,
    load_job,
)
from core.procs import pid_alive, signal_group, start_ticks


@contextmanager
def _queue_lock(base: Path) -> Iterator[None]:
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".queue.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Launcher(Protocol):
    """Starts one queued job, given its folder; called with the queue lock held, once per job."""

    def __call__(self, job_dir: Path, /) -> None: ...


def launch_wrapper(job_dir: Path) -> None:
    """The default launcher: start the wrapper for ``job_dir`` in its own session, write ``launch.json``."""
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


_launcher: Launcher = launch_wrapper


@contextmanager
def using_launcher(launcher: Launcher) -> Iterator[Launcher]:
    """Start jobs with ``launcher`` inside the block (in this process), then restore the previous one.

    A launcher that writes no ``launch.json`` leaves its jobs ``queued``: tests pass ``list.append``
    to keep the job records real while no process starts.
    """
    global _launcher
    previous, _launcher = _launcher, launcher
    try:
        yield launcher
    finally:
        _launcher = previous


def start_queued(root: str | os.PathLike[str] | None = None) -> int:
    """Start the submitted queued jobs the queue allows (one heavy job at a time); return how many.

    Safe to call from several processes: starting is serialised by a file lock, so a queued
    job is never started twice. Called by :func:`submit` and by a job's recorder when it ends.
    """
    base = jobs_root(root)
    if not base.is_dir():
        return 0
    started = 0
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
            _launcher(Path(job.job_dir))
            started += 1
    return started


def poll(root: str | os.PathLike[str] | None = None) -> list[Job]:
    """:func:`start_queued`, then :func:`list_jobs` (an explicit kick; listing alone starts nothing)."""
    start_queued(root)
    return list_jobs(root)


def _new_job_id(base: Path, kind: str) -> str:
    safe_kind = re.sub(r"[^A-Za-z0-9_.-]+", "-", kind) or "job"
    while True:
        job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{safe_kind}-{secrets.token_hex(4)}"
        if not (base / job_id).exists():
            return job_id


def _refuse_duplicate(
    full: Sequence[str], kind: str, run_dir: str | os.PathLike[str] | None, root: str | os.PathLike[str] | None
) -> None:
    """Refuse a job for a run while the same kind with the same command is queued or running for that run.

    Jobs that concern no run (no ``run_dir``, no ``--run-dir``) are never refused. Caller holds the queue lock.
    """
    target = str(run_dir) if run_dir else flag_value(full, "--run-dir")
    if not target:
        return
    for job in list_jobs(root):
        if job.active and job.kind == kind and same_command(job.argv, full) and concerns(job, target):
            raise HardpairsError(
                f"the same {kind} job for {Path(target).name} is already {job.state} (job {job.job_id}); "
                f"wait for it or cancel it with `python -m core jobs --cancel {job.job_id}`"
            )


def submit(
    argv: Sequence[str],
    kind: str,
    run_dir: str | os.PathLike[str] | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
    heavy: bool | None = None,
    raw: bool = False,
    grace_s: float = DEFAULT_GRACE_S,
) -> Job:
    """Queue a command (recorded in the queue index) and start it when the queue allows.

    Args:
        argv: arguments of ``python -m core`` (e.g. ``["train", "--dataset", "digits"]``),
            or with ``raw=True`` a full command line.
        kind: job kind; kinds in HEAVY_KINDS share the single device slot.
        run_dir: the run folder the command writes (its status.json feeds the progress bar).
        root: runs root (default: ``$HARDPAIRS_RUNS`` or ``cache/runs``).
        heavy: override the kind-based rule.
        grace_s: seconds between SIGTERM and SIGKILL when cancelled.

    Returns:
        The job snapshot after the queue was kicked (state queued or running).

    Raises:
        HardpairsError: an identical job (same run, kind and command) is already queued or running.
    """
    full = [str(a) for a in argv] if raw else core_command(argv)
    if not full:
        raise HardpairsError("empty command; pass the arguments of `python -m core`, e.g. ['runs'].")
    base = jobs_root(root)
    with _queue_lock(base):  # two tabs submitting at once get two jobs and one consistent index
        _refuse_duplicate(full, kind, run_dir, root)
        job_id = _new_job_id(base, kind)
        job_dir = base / job_id
        job_dir.mkdir()
        spec = {
            "job_id": job_id,
            "kind": kind,
            "argv": full,
            "run_dir": str(run_dir) if run_dir else None,
            "heavy": kind in HEAVY_KINDS if heavy is None else bool(heavy),
            "created": time.time(),
            "grace_s": float(grace_s),
        }
        write_json(job_dir / "job.json", spec)
        append_jsonl(base / INDEX, {"job_id": job_id, "sha256": job_digest(job_dir)})
    start_queued(root)
    return load_job(job_dir)


def cancel(job_id: str, root: str | os.PathLike[str] | None = None) -> Job:
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
