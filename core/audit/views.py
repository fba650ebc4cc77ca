"""Saved views of a run: named page states and stored selections, in ``<run>/views.json``.

``views.json`` = ``{"views": {name: {"page": url_path, "params": {param: value}}}, "selections": {key:
{"regions": [[kind, xs, ys], ...]} | {"ids": [...]}}}``. A selection (an Embeddings lasso/box, or clicked
points) is stored under a short content key (the sha1 of its JSON, 12 hex digits) so that the page's URL
carries ``sel=<key>`` instead of the polygon; a named view is a page plus its URL parameters (the app lists
them per run and links to them). Every write is one read-modify-write under
``core.rundir.lock.edit_lock(run, "views")``, written atomically (``core.io.write_json``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from core.errors import HardpairsError
from core.io import read_json, write_json
from core.rundir.folder import require_run
from core.rundir.lock import edit_lock

VIEWS_FILE = "views.json"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")
PathLike = str | os.PathLike[str]


def read_views(run_dir: PathLike) -> dict[str, dict[str, Any]]:
    """``{"views": {...}, "selections": {...}}`` of the run (both empty without ``views.json``).

    Raises:
        HardpairsError: the file is unreadable (named, with the fix).
    """
    path = Path(run_dir) / VIEWS_FILE
    try:
        data = read_json(path, {}) or {}
    except (OSError, ValueError) as err:
        raise HardpairsError(f"{path} is unreadable ({err}); delete it (it only holds saved views)") from None
    if not isinstance(data, dict):
        raise HardpairsError(f"{path} is not a JSON object; delete it (it only holds saved views)")
    return {part: dict(data.get(part) or {}) for part in ("views", "selections")}


def _edit(run_dir: PathLike, part: str, key: str, value: dict[str, Any]) -> None:
    run = require_run(run_dir)
    with edit_lock(run, "views"):
        data = read_views(run)
        data[part][key] = value
        write_json(run / VIEWS_FILE, data)


def selection_key(selection: dict[str, Any]) -> str:
    """The 12-hex-digit content key of a selection (equal selections share one key)."""
    return hashlib.sha1(json.dumps(selection, sort_keys=True).encode()).hexdigest()[:12]


def save_selection(run_dir: PathLike, selection: dict[str, Any]) -> str:
    """Store ``{"regions": [[kind, xs, ys], ...]}`` or ``{"ids": [...]}``; returns its key (for ``sel=``)."""
    if not ({"regions", "ids"} & set(selection)):
        raise HardpairsError("a stored selection needs regions or ids")
    key = selection_key(selection)
    if key not in read_views(run_dir)["selections"]:
        _edit(run_dir, "selections", key, selection)
    return key


def stored_selection(run_dir: PathLike, key: str) -> dict[str, Any] | None:
    """The selection stored under ``key``, or None (an unknown key, e.g. a link to another run)."""
    found = read_views(run_dir)["selections"].get(str(key))
    return found if isinstance(found, dict) else None


def save_view(run_dir: PathLike, name: str, page: str, params: dict[str, str]) -> dict[str, Any]:
    """Save (or replace) the named view ``name``: the page's ``url_path`` and its URL parameters.

    Raises:
        HardpairsError: a name that is not one short line of letters, digits, spaces, '.', '_', '-'.
    """
    text = name.strip() if isinstance(name, str) else ""
    if not _NAME.fullmatch(text):
        raise HardpairsError(
            f"view name {name!r} is not allowed: use letters, digits, spaces, '.', '_', '-' (at most 64 characters)"
        )
    view = {"page": str(page), "params": {str(k): str(v) for k, v in params.items()}}
    _edit(run_dir, "views", text, view)
    return {"run_dir": str(run_dir), "view": text, **view}


def list_views(run_dir: PathLike) -> dict[str, dict[str, Any]]:
    """The run's named views, by name (``{}`` when none)."""
    return read_views(run_dir)["views"]
