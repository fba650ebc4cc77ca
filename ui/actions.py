"""Small helpers shared by the analysis pages (Embeddings, Hard pairs, Prune, Theory).

* :func:`job_button` queues ``python -m core <argv>`` as a background job (core.jobs.queue.submit) --
  the page never computes an artefact in the script thread -- and shows the job's progress;
  the jobs panel reruns the page when the job ends, so the new artefact appears by itself.
* :func:`class_names`, :func:`read_npy`, :func:`run_progress`: run-folder readers on top of
  ``ui.common``'s cached readers (keyed by path + mtime, nothing big is hashed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import streamlit as st

from core.errors import HardpairsError
from core.jobs import queue as jobs
from core.runs.folder import read_jsonl
from ui.common import file_stamp, read_json_cached
from ui.jobs_panel import render_jobs_panel


def job_button(label: str, argv: Sequence[object], *, kind: str, key: str, primary: bool = True) -> None:
    """A button queueing ``python -m core <argv>`` as a ``kind`` job, then that kind's job panel.

    The job gets no ``run_dir``: analysis commands do not rewrite the run's status.json, so the
    panel's epoch progress would be the old training's.
    """
    if st.button(label, key=key, type="primary" if primary else "secondary"):
        try:
            job = jobs.submit([str(a) for a in argv], kind)
        except HardpairsError as err:
            st.error(str(err))
            return
        st.success(f"Queued job `{job.job_id}`. This page fills in when it is done.")
    if any(j.kind == kind for j in jobs.list_jobs()):
        render_jobs_panel(key=f"{key}_panel", limit=3, kinds=(kind,))


def run_json(run_dir: Path, name: str) -> dict:
    """``run_dir/name`` parsed (cached until the file changes); {} when missing."""
    return read_json_cached(Path(run_dir) / name, {}) or {}


def class_names(run_dir: Path, n_classes: int) -> list[str]:
    """Class names from the run's manifest.json, else ``"0".."C-1"``."""
    names = run_json(run_dir, "manifest.json").get("classes")
    if isinstance(names, list) and len(names) >= n_classes:
        return [str(c) for c in names]
    return [str(c) for c in range(n_classes)]


@st.cache_data(max_entries=16, show_spinner=False)
def _npy(path: str, mtime_ns: int, size: int) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def read_npy(path: str | Path) -> np.ndarray | None:
    """An .npy array (cached until the file changes), or None when the file does not exist."""
    stamp = file_stamp(path)
    return None if stamp is None else _npy(*stamp)


def run_progress(run_dir: Path) -> list[dict]:
    """progress.jsonl rows of the run ([] when missing)."""
    return read_jsonl(Path(run_dir) / "progress.jsonl")


def reset_on_run_change(run_dir: Path, prefix: str) -> None:
    """Forget this page's widget values (keys starting with ``prefix``) when the run changes.

    Widget defaults come from the run's files (theory.json, config.json); a keyed widget would
    otherwise keep the previous run's value.
    """
    marker = f"{prefix}run"
    if st.session_state.get(marker) not in (None, str(run_dir)):
        for key in [k for k in st.session_state if str(k).startswith(prefix) and k != marker]:
            del st.session_state[key]
    st.session_state[marker] = str(run_dir)
