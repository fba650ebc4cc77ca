"""CLI: ``jobs`` -- list / cancel / log tail of the app's background jobs (the Runs page's job table).

Jobs live under ``<runs_root>/.jobs`` (see ``core.jobs.queue``).
"""

from __future__ import annotations

import argparse
from typing import Any

from core.cli.checks import int_at_least
from core.jobs import queue as jobs
from core.jobs import records


def run_jobs(args: argparse.Namespace) -> dict[str, Any]:
    """List jobs (starts nothing); or cancel / show one; ``--start-queued`` starts what the queue allows."""
    int_at_least("--lines", args.lines, 0)
    if args.cancel is not None:
        job = jobs.cancel(args.cancel, args.runs_root)
        return {"cancelled": job.job_id, "job": records.job_summary(job)}
    if args.log is not None:
        job = records.get_job(args.log, args.runs_root)
        return {"job": records.job_summary(job), "log_tail": records.log_tail(job, args.lines)}
    if args.start_queued:
        jobs.start_queued(args.runs_root)
    listed = records.list_jobs(args.runs_root)
    return {"jobs": [records.job_summary(j) for j in listed], **records.counts(listed)}


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``jobs``."""
    p.description = "List background jobs (newest first), cancel one, or show its log tail."
    p.add_argument("--cancel", metavar="JOB_ID", help="cancel a queued or running job")
    p.add_argument("--log", metavar="JOB_ID", help="print the last --lines lines of a job's log")
    p.add_argument("--lines", type=int, default=40, help="log lines for --log (default 40)")
    p.add_argument(
        "--start-queued",
        action="store_true",
        help="also start the queued jobs the queue allows (after every process of a running job was killed)",
    )
    p.add_argument("--runs-root", default=None, help="runs folder (default $HARDPAIRS_RUNS or cache/runs)")
    p.set_defaults(func=run_jobs)
