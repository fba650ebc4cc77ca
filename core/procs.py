"""Processes: is a recorded pid still the process that was recorded, and signals to a process group.

The one ``pid_alive`` of the project: run folders (a ``queued`` status whose writer is gone reads
``interrupted``, ``core.rundir.folder.true_state``) and background jobs (``core.jobs``) both ask it.
Linux ``/proc`` guards against pid reuse where it exists (the process's start time in clock ticks).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


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


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def pid_alive(pid: Any, ticks: int | None = None) -> bool:
    """Whether ``pid`` is a live process (that started at ``ticks``, when given: guards against pid reuse).

    False for a missing or invalid pid (None, 0, negative, not an int) and for a zombie. Our own
    finished children are reaped first so they do not linger as zombies. Without ``/proc`` only the
    pid's existence is checked.
    """
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass
    if Path("/proc/self/stat").exists():
        now = start_ticks(pid)
        return now is not None and (ticks is None or now == ticks)
    return _exists(pid)


def signal_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to process group ``pgid``; a group that is gone (or not ours) is ignored."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
