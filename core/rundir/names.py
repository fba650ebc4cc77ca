"""Names that become one path component under a fixed folder: run names (``--name``, the app's
Import "Run name") and job ids (``jobs --log/--cancel``). One rule, checked here only:
letters, digits, ``.``, ``_`` and ``-``, not ``.`` or ``..``, at most 200 characters.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from core.errors import HardpairsError

_NAME = re.compile(r"[A-Za-z0-9._-]{1,200}")


def check_name(name: str, what: str = "run name") -> str:
    """``name`` unchanged when it is one safe path component, else a HardpairsError naming the rule.

    Args:
        name: the user's text (a run name or a job id).
        what: how the message calls it ("run name", "job id").
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name in (".", ".."):
        raise HardpairsError(
            f"{what} {name!r} is not allowed: use one path component of letters, digits, '.', '_', '-' "
            "(not '.' or '..', at most 200 characters)"
        )
    return name


def check_run_name(name: str) -> str:
    """``name`` when it is a valid run folder name (see :func:`check_name`)."""
    return check_name(name, "run name")


def child_path(base: str | os.PathLike[str], name: str, what: str = "run name") -> Path:
    """``base/name`` for a checked ``name``, refused unless it resolves directly inside ``base``.

    Guards against a symlink named ``name`` pointing elsewhere.
    """
    path = Path(base) / check_name(name, what)
    if path.resolve().parent != Path(base).resolve():
        raise HardpairsError(f"{what} {name!r} resolves to {path.resolve()}, outside {base}; choose another {what}")
    return path


def is_inside(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """True when ``path`` (resolved, symlinks followed) is ``folder`` or lies under it."""
    target, top = Path(path).resolve(), Path(folder).resolve()
    return target == top or top in target.parents
