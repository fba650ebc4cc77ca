"""The trainer's lock on a run folder, an exclusive ``fcntl.flock`` on ``<run>/.lock``, and the
SIGTERM flag (:func:`stop_on_sigterm`) that trainers and analyses poll.

A trainer (``train``, ``train --resume``, ``prune --train``, ``import``) holds the lock for its whole
life, including the probe and the analyses after training; the kernel releases it when the process
dies, even by ``kill -9``. So a run whose ``status.json`` says "running" while its lock is free
was interrupted (:func:`lock_is_held` is what ``core.rundir.folder.run_summary`` asks).

The lock file holds the holder's ``{"pid", "since", "command"}`` (rewritten in place, never
replaced: a new inode would be a second lock). It is never deleted, except by the invocation that
created it in a folder that did not become a run (no ``config.json``).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.errors import HardpairsError

LOCK_NAME = ".lock"

#: How long a trainer retries a busy lock before refusing (a reader probes it for microseconds).
_RETRY_S = 0.5


def lock_path(run_dir: str | os.PathLike[str]) -> Path:
    """``<run_dir>/.lock``."""
    return Path(run_dir) / LOCK_NAME


def lock_holder(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """What the lock file says about its holder (``pid``, ``since``, ``command``); {} when unknown."""
    try:
        info = json.loads(lock_path(run_dir).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def lock_is_held(run_dir: str | os.PathLike[str]) -> bool:
    """Whether a live process holds the run's lock (False when there is no lock file)."""
    try:
        fd = os.open(lock_path(run_dir), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:  # held (EWOULDBLOCK), or no flock on this file system: trust the recorded state
        return True
    finally:
        os.close(fd)  # closing releases the shared probe lock
    return False


def busy_message(run_dir: str | os.PathLike[str]) -> str:
    """``run R is being trained by process P (since ...); wait for it or cancel it``."""
    info = lock_holder(run_dir)
    since = info.get("since")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if isinstance(since, (int, float)) else "?"
    return (
        f"run {run_dir} is being trained by process {info.get('pid', '?')} (since {when}); "
        "wait for it or cancel it (`python -m core jobs --cancel JOB`, or stop that process)"
    )


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock (retrying briefly); False when another process holds it.

    A file system without ``flock`` support (some network mounts) cannot lock: the trainer then runs
    unlocked, with a warning, rather than not at all.
    """
    deadline = time.monotonic() + _RETRY_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        except OSError as err:
            print(
                f"warning: cannot lock the run folder ({err.strerror}); a second trainer would not be refused",
                file=sys.stderr,
            )
            return True


@contextmanager
def run_lock(run_dir: str | os.PathLike[str], command: str | None = None) -> Iterator[Path]:
    """Hold the run's exclusive lock for the ``with`` block; refuse at once when another process holds it.

    Raises:
        HardpairsError: another process holds the lock (nothing is written then).
    """
    path = lock_path(run_dir)
    created = not path.exists()
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:
        raise HardpairsError(f"cannot lock run folder {run_dir}: {err.strerror}; check that it is writable") from None
    try:
        if not _try_lock(fd):
            raise HardpairsError(busy_message(run_dir))
        info = {"pid": os.getpid(), "since": time.time(), "command": command or " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        try:
            yield path
        finally:
            if created and not (Path(run_dir) / "config.json").exists():
                path.unlink(missing_ok=True)  # this invocation made no run here: leave no lock file either
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def stop_on_sigterm() -> Iterator[Callable[[], bool]]:
    """Yield ``should_stop()``, True once SIGTERM arrived (the previous handler is restored afterwards).

    Trainers and analyses poll it at their step boundaries, so a cancel stops them cleanly.
    """
    stop = {"flag": False}
    try:
        old = signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    except ValueError:  # not the main thread: no signal handling, never stops
        old = None
    try:
        yield lambda: stop["flag"]
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


@contextmanager
def edit_lock(run_dir: str | os.PathLike[str], name: str, timeout_s: float = 30.0) -> Iterator[None]:
    """Hold ``<run_dir>/.<name>.lock`` (an exclusive ``flock``) around one read-modify-write of a run file.

    Writers of the same file (``tags.csv``: the CLI's ``tag`` and the app's tag widget) serialise on it, so
    concurrent edits lose nothing; it is separate from the trainer's ``.lock``, so a file can be edited while
    the run trains. Waits up to ``timeout_s``, then raises a HardpairsError naming the lock file.
    """
    path = Path(run_dir) / f".{name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise HardpairsError(
                        f"{path} stayed locked for {timeout_s:.0f} s by another edit of {name}; try again"
                    ) from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)  # closing releases the lock
