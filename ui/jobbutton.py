"""A button that queues ``python -m core <argv>`` as a background job, then shows that job kind's panel.

The page never computes an artefact in the script thread; the jobs panel reruns the page when the
job ends, so the new artefact appears by itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.errors import HardpairsError
from core.jobs import queue as jobs
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
