"""A button that queues ``python -m core <argv>`` as a background job, then shows that run's job panel.

The page never computes an artefact in the script thread; the jobs panel reruns the page when the
job ends, so the new artefact appears by itself. While any job for the run (the ``--run-dir`` of
``argv``) is queued or running -- including the retrain that trains and analyses it -- the button
is replaced by "analysis pending (job <id>, <state>)", so a page never offers a duplicate job
(``core.jobs.queue.submit`` refuses one anyway).
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.errors import HardpairsError
from core.jobs import describe, records
from core.jobs import queue as jobs
from ui.jobs_panel import render_jobs_panel


def job_button(label: str, argv: Sequence[object], *, kind: str, key: str, primary: bool = True) -> None:
    """A button queueing ``python -m core <argv>`` as a ``kind`` job, then the run's job panel.

    The job gets no ``run_dir``: analysis commands do not rewrite the run's status.json, so the
    panel's epoch progress would be the old training's. The run is read from ``--run-dir`` in ``argv``.
    """
    args = [str(a) for a in argv]
    run = describe.flag_value(args, "--run-dir")
    pending = describe.active_for_run(records.list_jobs(), run) if run else []
    if pending:
        st.info(
            describe.pending_text(pending[0]) + ". This page fills in when it is done.", icon=":material/hourglass_top:"
        )
    elif st.button(label, key=key, type="primary" if primary else "secondary"):
        try:
            job = jobs.submit(args, kind)
        except HardpairsError as err:
            st.error(str(err))
            return
        st.success(f"Queued job `{job.job_id}`. This page fills in when it is done.")
    listed = records.list_jobs()
    if run is not None:
        if describe.jobs_for_run(listed, run):
            render_jobs_panel(key=f"{key}_panel", limit=3, run=run)
    elif any(j.kind == kind for j in listed):
        render_jobs_panel(key=f"{key}_panel", limit=3, kinds=(kind,))
