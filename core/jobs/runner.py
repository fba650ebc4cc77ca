"""The wrapper process of one background job: ``python -m core.jobs.runner JOB_DIR``.

Started by ``core.jobs.queue`` in its own session. It runs the job's command in a new process group,
records ``child.json`` and, when the command ends, ``exit.json``; it turns a cancel marker into
SIGTERM and, after the job's grace period, SIGKILL; then it starts the next queued job
(``core.jobs.queue.poll``), so the queue moves on with the app closed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from core.jobs.procs import signal_group, start_ticks
from core.jobs.queue import DEFAULT_GRACE_S, display_command, poll
from core.runs.folder import REPO_ROOT, read_json, write_json


def run_wrapper(job_dir: Path) -> int:
    """Body of ``python -m core.jobs.runner JOB_DIR``: run the command, record its exit, move the queue."""
    spec = read_json(job_dir / "job.json")
    grace = float(spec.get("grace_s", DEFAULT_GRACE_S))
    cancel_marker = job_dir / "cancel"
    signal.signal(signal.SIGTERM, lambda *_: cancel_marker.exists() or cancel_marker.write_text(f"{time.time()}\n"))
    print(f"[job {spec['job_id']}] $ {display_command(spec['argv'])}", flush=True)
    try:
        child = subprocess.Popen(spec["argv"], cwd=REPO_ROOT, start_new_session=True, stdin=subprocess.DEVNULL)
    except OSError as err:
        print(f"[job] could not start the command: {err}", flush=True)
        write_json(job_dir / "exit.json", {"exit_code": 127, "signal": None, "ended": time.time()})
        poll(Path(job_dir).parent.parent)
        return 127
    write_json(job_dir / "child.json", {"pid": child.pid, "ticks": start_ticks(child.pid), "started": time.time()})
    termed_at = None
    while True:
        try:
            code = child.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            pass
        if cancel_marker.exists():
            if termed_at is None:
                termed_at = time.monotonic()
                signal_group(child.pid, signal.SIGTERM)
            elif time.monotonic() - termed_at > grace:
                print(f"[job] still running {grace:.1f} s after SIGTERM; sending SIGKILL", flush=True)
                signal_group(child.pid, signal.SIGKILL)
                termed_at = float("inf")
    signal_group(child.pid, signal.SIGKILL)  # stray grandchildren (data loader workers)
    sig = -code if code < 0 else None
    print(f"[job] exit status {code}" + (f" (signal {sig})" if sig else ""), flush=True)
    write_json(job_dir / "exit.json", {"exit_code": code, "signal": sig, "ended": time.time()})
    poll(Path(job_dir).parent.parent)
    return 0


if __name__ == "__main__":
    sys.exit(run_wrapper(Path(sys.argv[1])))
