"""The one rule for files the user names as outputs (``report --out/--csv/--runs-csv/--pdf``, ``export --out``).

:func:`check_output` is called by every command that writes a file at a path the user typed, before
anything is computed or written. An output is a regular file, or a new name in a folder that exists and
is writable. Refused, each with a message naming the flag, the path and the fix:

- a path under ``/proc``, ``/sys`` or ``/dev`` (``/dev/null`` included: it would be replaced by a file);
- a symbolic link (the atomic rename would replace the link, and its target may lie anywhere);
- a folder, a device, a FIFO or a socket (never replaced, not even with ``--force``);
- an existing file without ``force``;
- a file inside a run folder (a folder holding ``config.json`` and ``manifest.json``, or one under
  ``runs_root``): a run's own files are written only by the commands that own them;
- two outputs of one command at one path (``report --out r.html --csv r.html``);
- a missing or read-only folder.

A full disk is caught by the writers themselves (``core.io.atomic_write_bytes``). This module imports
only ``core.errors``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from core.errors import HardpairsError

SYSTEM_DIRS = ("/proc", "/sys", "/dev")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _run_folder_of(path: Path, runs_root: Path | None) -> Path | None:
    """The run folder that holds ``path`` (resolved), or None."""
    if runs_root is not None:
        root = Path(os.path.realpath(runs_root))
        if root in path.parents and path.parent != root:
            return root / path.relative_to(root).parts[0]
    for parent in path.parents:
        if (parent / "config.json").is_file() and (parent / "manifest.json").is_file():
            return parent
    return None


def _same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def check_output(
    path: str | os.PathLike[str],
    *,
    force: bool,
    flag: str = "--out",
    others: Iterable[tuple[str, str | os.PathLike[str] | None]] = (),
    runs_root: str | os.PathLike[str] | None = None,
) -> Path:
    """``path`` as a Path when it may be written (see the module docstring); else a HardpairsError.

    Args:
        path: the output file the user named.
        force: whether an existing regular file may be replaced (``--force``).
        flag: the flag that named it, for the message.
        others: ``(flag, path)`` of the command's other outputs (None entries are skipped); the same
            file named twice is refused.
        runs_root: the runs root; files inside any of its run folders are refused.
    """
    p = Path(path)
    if not str(path).strip():
        raise HardpairsError(f"{flag} is empty; pass a file name, e.g. {flag} report.html")
    absolute, real = Path(os.path.abspath(p)), Path(os.path.realpath(p))
    system = next((d for d in SYSTEM_DIRS if _inside(absolute, Path(d)) or _inside(real, Path(d))), None)
    if system:
        raise HardpairsError(
            f"{flag} {p} is under {system}, a system folder that holds no user files; "
            f"write into a folder of yours, e.g. {flag} ./{p.name or 'out'}"
        )
    if p.is_symlink():
        raise HardpairsError(
            f"{flag} {p} is a symbolic link (to {os.readlink(p)}); outputs are never written through a link: "
            "pass the real path, or a new file name"
        )
    _check_existing(p, flag, force)
    parent = absolute.parent
    if not parent.is_dir():
        raise HardpairsError(f"{flag} {p}: the folder {parent} does not exist; create it or pass another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise HardpairsError(f"{flag} {p}: the folder {parent} is read-only; write into a folder you can write")
    run = _run_folder_of(real, Path(runs_root) if runs_root is not None else None)
    if run is not None:
        raise HardpairsError(
            f"{flag} {p} lies inside the run folder {run}; a run's files are written only by the commands that "
            "own them: write the output outside the run folder"
        )
    for other_flag, other in others:
        if other is not None and str(other) and _same_file(p, other):
            raise HardpairsError(
                f"{flag} {p} and {other_flag} {other} are the same file, so one would overwrite the other; "
                "give each output its own name"
            )
    return p


def _check_existing(p: Path, flag: str, force: bool) -> None:
    """Refuse a folder, a special file, or (without ``force``) an existing regular file at ``p``."""
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as err:
        raise HardpairsError(f"{flag} {p}: {err.strerror or err}; pass another path") from None
    if stat.S_ISDIR(mode):
        raise HardpairsError(f"{flag} {p} is a folder; pass a file name, e.g. {flag} {p / 'report.html'}")
    if not stat.S_ISREG(mode):
        kind = (
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a socket"
        )
        raise HardpairsError(
            f"{flag} {p} is {kind}, not a regular file; it is never replaced (not even with --force): pass a file name"
        )
    if not force:
        raise HardpairsError(f"{flag} {p} already exists; pass --force to overwrite it or choose another name")


#: the largest text file read as an input list (``--ids-file``, ``--fit-include``): 64 MB of ids
MAX_TEXT_BYTES = 64 * 2**20


def read_text_input(path: str | os.PathLike[str], flag: str, limit: int = MAX_TEXT_BYTES) -> str:
    """A small text file the user named as an input (an ids list), read without blocking and with a size cap.

    Opened with ``O_NONBLOCK`` and refused unless it is a regular file (a FIFO, ``/dev/zero`` or a socket
    would block or never end); refused above ``limit`` bytes and when it is not UTF-8 text.

    Raises:
        HardpairsError: naming ``flag``, the file and the fix.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise HardpairsError(f"{flag} {path}: {err.strerror or err}; pass a readable text file") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise HardpairsError(f"{flag} {path} is not a regular file (a device, FIFO or socket); pass a text file")
        if info.st_size > limit:
            raise HardpairsError(
                f"{flag} {path} is {info.st_size / 2**20:.0f} MB, above the {limit / 2**20:.0f} MB a list of ids "
                "can need; pass the ids file itself"
            )
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, 1 << 20)):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)[: limit + 1]
    try:
        if b"\0" in data:
            raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL byte")
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise HardpairsError(f"{flag} {path} is a binary file, not text; pass a text file of ids") from None
