"""The processes of one background job: ``python -m core.jobs.runner JOB_DIR`` (the wrapper) and
``python -m core.jobs.runner --record JOB_DIR`` (the recorder).

The queue (``core.jobs.queue``) starts the wrapper in its own session; its pid is in ``launch.json``.
The wrapper starts the recorder in a session of its own and turns a cancel marker into SIGTERM
and, after the job's grace period, SIGKILL of the command's process group. The recorder starts
the command in a new process group (``child.json``), waits for it, records ``exit.json`` and
starts the next queued job (``core.jobs.queue.start_queued``). So the outcome is recorded by the
process that waited on the command, and a ``kill -9`` of the wrapper changes neither the result
nor when the queue moves on. Both refuse a job the queue's own submit did not record.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from core.io import REPO_ROOT, read_json, write_json
from core.jobs.queue import start_queued
from core.jobs.records import DEFAULT_GRACE_S, display_command, is_submitted
from core.procs import pid_alive, signal_group, start_ticks


def _spec(job_dir: Path) -> dict[str, Any] | None:
    """The job's ``job.json`` when the queue submitted it unchanged, else None (with a log line)."""
    if not is_submitted(job_dir):
        print(f"[job] {job_dir} was not submitted through the queue (or its job.json changed); not run", flush=True)
        return None
    spec: dict[str, Any] = read_json(job_dir / "job.json")
    return spec


def run_recorder(job_dir: Path) -> int:
    """Run the command, record ``exit.json`` when it ends, then start the next queued job."""
    spec = _spec(job_dir)
    if spec is None:
        return 2
    root = job_dir.parent.parent
    try:
        child = subprocess.Popen(spec["argv"], cwd=REPO_ROOT, start_new_session=True, stdin=subprocess.DEVNULL)
    except OSError as err:
        print(f"[job] could not start the command: {err}", flush=True)
        write_json(job_dir / "exit.json", {"exit_code": 127, "signal": None, "ended": time.time()})
        start_queued(root)
        return 127
    me = os.getpid()
    write_json(
        job_dir / "child.json",
        {
            "pid": child.pid,
            "ticks": start_ticks(child.pid),
            "started": time.time(),
            "recorder": me,
            "recorder_ticks": start_ticks(me),
        },
    )
    code = child.wait()
    signal_group(child.pid, signal.SIGKILL)  # stray grandchildren (data loader workers)
    sig = -code if code < 0 else None
    print(f"[job] exit status {code}" + (f" (signal {sig})" if sig else ""), flush=True)
    write_json(job_dir / "exit.json", {"exit_code": code, "signal": sig, "ended": time.time()})
    start_queued(root)
    return 0


def _watch(job_dir: Path, recorder: subprocess.Popen[bytes], grace: float) -> None:
    """Until the job has ended: turn the cancel marker into SIGTERM, then SIGKILL after ``grace`` s."""
    termed_at: float | None = None
    while not (job_dir / "exit.json").exists():
        if recorder.poll() is not None:  # the recorder is gone without an exit status
            child = read_json(job_dir / "child.json") or {}
            while pid_alive(child.get("pid"), child.get("ticks")):
                time.sleep(0.2)
            start_queued(job_dir.parent.parent)
            return
        child = read_json(job_dir / "child.json")
        if child and (job_dir / "cancel").exists():
            if termed_at is None:
                termed_at = time.monotonic()
                signal_group(child["pid"], signal.SIGTERM)
            elif time.monotonic() - termed_at > grace:
                print(f"[job] still running {grace:.1f} s after SIGTERM; sending SIGKILL", flush=True)
                signal_group(child["pid"], signal.SIGKILL)
                termed_at = float("inf")
        time.sleep(0.1)


def run_wrapper(job_dir: Path) -> int:
    """Body of ``python -m core.jobs.runner JOB_DIR``: start the recorder, handle cancelling."""
    spec = _spec(job_dir)
    if spec is None:
        return 2
    grace = float(spec.get("grace_s", DEFAULT_GRACE_S))
    cancel_marker = job_dir / "cancel"
    signal.signal(signal.SIGTERM, lambda *_: cancel_marker.exists() or cancel_marker.write_text(f"{time.time()}\n"))
    print(f"[job {spec['job_id']}] $ {display_command(spec['argv'])}", flush=True)
    recorder = subprocess.Popen(
        [sys.executable, "-m", "core.jobs.runner", "--record", str(job_dir)],
        cwd=REPO_ROOT,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )
    _watch(job_dir, recorder, grace)
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--record":
        sys.exit(run_recorder(Path(sys.argv[2])))
    sys.exit(run_wrapper(Path(sys.argv[1])))
