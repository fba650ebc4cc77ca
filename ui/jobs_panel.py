"""The job table: progress bars, log tails, cancel/resume buttons, polled while something runs.

The table is a fragment that reruns itself every ``POLL_S`` seconds only while a job is queued
or running, and triggers one full app rerun when a job finishes, so the rest of the page (run
list, selector, analysis pages) picks up the new files. Everything it shows comes from disk
(``core.jobs.queue`` records and the run's ``status.json``), so it is the same in every tab and after
a restart.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from core.errors import HardpairsError
from core.jobs import describe, records
from core.jobs import queue as jobs
from core.rundir.folder import read_run_json
from ui.feedback import show_command
from ui.frame import select_run
from ui.views.labels import STATE_ICONS

POLL_S = 1.5
RESUMABLE_KINDS = ("train", "retrain")


def fmt_duration(seconds: float | None) -> str:
    """``75`` -> ``"1:15"``, ``3725`` -> ``"1:02:05"``; ``"–"`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_of(job: records.Job) -> tuple[float | None, str]:
    """(fraction done in [0, 1] or None, one-line text) from the job's run ``status.json``."""
    try:
        status = read_run_json(job.run_dir, "status.json") if job.run_dir else {}
    except HardpairsError as err:
        return None, str(err)  # unreadable: status.json: <reason>
    epoch, epochs = status.get("epoch"), status.get("epochs")
    parts = []
    frac = None
    if epochs:
        frac = min(1.0, max(0.0, float(epoch or 0) / float(epochs)))
        parts.append(f"epoch {epoch or 0}/{epochs}")
    if status.get("loss") is not None:
        parts.append(f"loss {float(status['loss']):.4f}")
    if status.get("images_per_s"):
        parts.append(f"{float(status['images_per_s']):.0f} images/s")
    if job.state == "running" and status.get("eta_s") is not None:
        parts.append(f"ETA {fmt_duration(status.get('eta_s'))}")
    if status.get("message") and status.get("message") not in ("training", "done"):
        parts.append(str(status["message"]))
    return frac, " · ".join(parts)


def result_line(result: dict) -> str:
    """One line from a command's JSON result: accuracies and time when present (a retrain's under ``train``)."""
    if isinstance(result.get("train"), dict):
        result = result["train"]
    parts = []
    if result.get("linear_acc") is not None:
        parts.append(f"linear probe {100 * float(result['linear_acc']):.1f}%")
    if result.get("knn_acc") is not None:
        parts.append(f"kNN {100 * float(result['knn_acc']):.1f}%")
    if result.get("epochs"):
        parts.append(f"{result['epochs']} epochs")
    if result.get("wall_time_s"):
        parts.append(f"{fmt_duration(float(result['wall_time_s']))} in total")
    return " · ".join(parts)


def resume_argv(job: records.Job) -> list[str] | None:
    """``train --resume --run-dir R`` for a failed/cancelled training whose run folder exists."""
    if job.kind not in RESUMABLE_KINDS or job.state not in ("failed", "cancelled") or not job.run_dir:
        return None
    if not (Path(job.run_dir) / "config.json").exists():
        return None
    return ["train", "--resume", "--run-dir", job.run_dir]


def job_heading(job: records.Job) -> str:
    """``kind · `run` `` for a job; a retrain by parent, score, ratio, seed and (when known) its child run."""
    if describe.retrain_params(job) is not None:
        return describe.job_title(job)
    target = describe.job_target(job)
    return f"{job.kind} · `{Path(target).name if target else job.job_id}`"


def _cancel(job_id: str) -> None:
    jobs.cancel(job_id)


def _resume(job_id: str) -> None:
    job = records.get_job(job_id)
    argv = resume_argv(job)
    if argv:
        jobs.submit(argv, job.kind, run_dir=job.run_dir)
        select_run(job.run_dir)


def _render_job_card(job: records.Job, key: str) -> None:
    with st.container(border=True):
        head, buttons = st.columns([6, 1.4], vertical_alignment="center")
        elapsed = (job.ended or time.time()) - job.started if job.started else None
        head.markdown(
            f"{STATE_ICONS.get(job.state, '')} **{job.state}** · {job_heading(job)}"
            + (f" · {fmt_duration(elapsed)}" if elapsed is not None else "")
        )
        frac, text = progress_of(job)
        if job.state == "queued":
            head.caption("waiting for the device: one training/scoring job runs at a time")
        elif job.state == "done":
            head.caption(result_line(records.job_result(job) or {}) or text or "finished")
        elif frac is not None:
            head.progress(frac, text=text or None)
        elif text:
            head.caption(text)
        if job.state in ("failed", "cancelled"):
            result = records.job_result(job) or {}
            detail = result.get("error") or job.message
            head.markdown(f":red[{detail}]" if job.state == "failed" else f":orange[{detail}]")
        if job.active:
            buttons.button(
                "Cancel",
                key=f"{key}_cancel_{job.job_id}",
                on_click=_cancel,
                args=(job.job_id,),
                help="SIGTERM, then SIGKILL after a grace period; training keeps its last checkpoint",
            )
        elif resume_argv(job):
            buttons.button(
                "Resume",
                key=f"{key}_resume_{job.job_id}",
                on_click=_resume,
                args=(job.job_id,),
                type="primary",
                help="continue from the last checkpoint",
            )
        with st.expander("Command and log"):
            show_command(job.command, caption="")
            if resume_argv(job):
                show_command(resume_argv(job), caption="Resume from a terminal:")
            st.code(records.log_tail(job, 30) or "(no output yet)", language="text")


def _listed(kinds: Sequence[str] | None, run: str | None) -> list[records.Job]:
    listed = records.list_jobs()
    if run is not None:
        listed = describe.jobs_for_run(listed, run)
    if kinds:
        listed = [j for j in listed if j.kind in kinds]
    return listed


def _panel(key: str, limit: int, kinds: Sequence[str] | None, run: str | None = None) -> None:
    listed = _listed(kinds, run)
    active = {j.job_id for j in listed if j.active}
    seen = set(st.session_state.get(f"{key}_active", []))
    st.session_state[f"{key}_active"] = sorted(active)
    if seen - active:  # something finished: refresh the whole page once (run list, selector)
        st.rerun()
    if not listed:
        st.caption("No jobs yet.")
        return
    shown = [j for j in listed if j.active] + [j for j in listed if not j.active]
    for job in shown[:limit]:
        _render_job_card(job, key)
    if len(shown) > limit:
        st.caption(f"{len(shown) - limit} older jobs not shown — `python -m core jobs` lists them all.")


def render_jobs_panel(
    *, key: str = "jobs", limit: int = 8, kinds: Sequence[str] | None = None, run: str | Path | None = None
) -> None:
    """Draw the job table; it polls every ``POLL_S`` s while a job is queued or running.

    Args:
        key: session-state/widget key prefix (unique per page).
        limit: most rows shown (active jobs first, then newest).
        kinds: only these job kinds (None = all).
        run: only this run's jobs (``core.jobs.describe.jobs_for_run``: its own, its retrains, the
            retrain that made it); None = every run's.
    """
    run_key = str(run) if run is not None else None
    kinds_key = tuple(kinds) if kinds else None
    active = sorted(j.job_id for j in _listed(kinds_key, run_key) if j.active)
    st.session_state[f"{key}_active"] = active
    fragment = st.fragment(run_every=POLL_S if active else None)(_panel)
    fragment(key, limit, kinds_key, run_key)
