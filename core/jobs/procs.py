"""Process bookkeeping for background jobs: is a recorded pid still our process, and signals to
a whole process group. Linux ``/proc`` is used to guard against pid reuse where it exists.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.rundir.folder import pid_alive as pid_exists


def start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (Linux ``/proc``), None if unknown/gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):  # zombie: finished, not yet reaped
            return None
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def pid_alive(pid: int | None, ticks: int | None) -> bool:
    """True when ``pid`` is a live process that started at ``ticks`` (guards against pid reuse)."""
    if not pid:
        return False
    try:  # reap our own finished children so they do not linger as zombies
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass
    if Path("/proc/self/stat").exists():
        now = start_ticks(pid)
        return now is not None and (ticks is None or now == ticks)
    return pid_exists(pid)  # no /proc: existence only


def signal_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to process group ``pgid``; a group that is gone (or not ours) is ignored."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
