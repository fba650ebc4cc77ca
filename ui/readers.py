"""Cached readers of run-folder files, keyed by (path, mtime, size).

A corrupt or half-written file raises ``HardpairsError("unreadable: <file>: <reason> ...")``, which
the pages' ``ui.feedback.guard`` shows as an error box (never a traceback).

A rewritten file is re-read, and no big array is ever hashed (Streamlit hashes big arrays from a
sample -- see the team's streamlit notes, shared/docs/streamlit-notes.md outside this repository,
section 3): the cached functions take the file stamp only.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from core.errors import HardpairsError
from core.io import read_json, read_jsonl


def file_stamp(path: str | Path) -> tuple[str, int, int] | None:
    """``(path, mtime_ns, size)``, the cache key of a file; None when it does not exist."""
    try:
        stat = Path(path).stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return str(path), stat.st_mtime_ns, stat.st_size


def unreadable(path: str | Path, err: BaseException) -> HardpairsError:
    """``unreadable: <file>: <reason> (run folder <folder>)``, the error a page shows for a corrupt file."""
    path = Path(path)
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    return HardpairsError(
        f"unreadable: {path.name}: {reason} (run folder {path.parent}); the file is corrupt or half-written: "
        "recompute it with the command shown on the page, or delete the run"
    )


#: What reading a corrupt, truncated or foreign file raises (JSONDecodeError and UnicodeDecodeError are ValueErrors).
_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, pd.errors.ParserError, zipfile.BadZipFile)


@st.cache_data(max_entries=512, show_spinner=False)
def _json(path: str, mtime_ns: int, size: int) -> Any:
    try:
        return read_json(path)
    except _READ_ERRORS as err:
        raise unreadable(path, err) from None


@st.cache_data(max_entries=64, show_spinner=False)
def _csv(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except _READ_ERRORS as err:
        raise unreadable(path, err) from None


@st.cache_resource(max_entries=8, show_spinner=False)
def _npz(path: str, mtime_ns: int, size: int) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except _READ_ERRORS as err:
        raise unreadable(path, err) from None
    for arr in arrays.values():
        arr.setflags(write=False)  # shared by every session: never mutate
    return arrays


@st.cache_data(max_entries=16, show_spinner=False)
def _npy(path: str, mtime_ns: int, size: int) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except _READ_ERRORS as err:
        raise unreadable(path, err) from None


def read_json_cached(path: str | Path, default: Any = None) -> Any:
    """A JSON file's content (cached until the file changes), or ``default`` when missing."""
    stamp = file_stamp(path)
    return default if stamp is None else _json(*stamp)


def read_csv_cached(path: str | Path) -> pd.DataFrame | None:
    """A CSV as a DataFrame (a cached copy until the file changes), or None when missing."""
    stamp = file_stamp(path)
    return None if stamp is None else _csv(*stamp)


def load_npz_cached(path: str | Path) -> dict[str, np.ndarray] | None:
    """Read-only arrays of an .npz, shared across sessions until the file changes; None if missing."""
    stamp = file_stamp(path)
    return None if stamp is None else _npz(*stamp)


def read_npy(path: str | Path) -> np.ndarray | None:
    """An .npy array (cached until the file changes), or None when the file does not exist."""
    stamp = file_stamp(path)
    return None if stamp is None else _npy(*stamp)


def run_json(run_dir: Path, name: str) -> dict[str, Any]:
    """``run_dir/name`` parsed (cached until the file changes); {} when missing.

    Raises:
        HardpairsError: ``unreadable: <name>: <reason>`` for a corrupt file or one that is not a JSON object.
    """
    value = read_json_cached(Path(run_dir) / name, {}) or {}
    if not isinstance(value, dict):
        raise unreadable(Path(run_dir) / name, ValueError(f"a JSON object was expected, found {type(value).__name__}"))
    return value


def class_names(run_dir: Path, n_classes: int) -> list[str]:
    """Class names from the run's manifest.json, else ``"0".."C-1"``."""
    names = run_json(run_dir, "manifest.json").get("classes")
    if isinstance(names, list) and len(names) >= n_classes:
        return [str(c) for c in names]
    return [str(c) for c in range(n_classes)]


def run_progress(run_dir: Path) -> list[dict[str, Any]]:
    """progress.jsonl rows of the run ([] when missing)."""
    return read_jsonl(Path(run_dir) / "progress.jsonl")
