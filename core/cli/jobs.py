"""The app's own CLI twins: ``jobs`` (list / cancel / log tail of background jobs, the Runs
page's job table) and ``report`` (the Compare page's HTML report and CSV).

Jobs live under ``<runs_root>/.jobs`` (see core.jobs.queue); the report is built by core.reports.report.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.errors import HardpairsError
from core.io import atomic_write_bytes
from core.jobs import queue as jobs


def run_jobs(args: argparse.Namespace) -> dict[str, Any]:
    """List jobs (starts nothing); or cancel / show one; ``--start-queued`` starts what the queue allows."""
    if args.cancel is not None:
        job = jobs.cancel(args.cancel, args.runs_root)
        return {"cancelled": job.job_id, "job": jobs.job_summary(job)}
    if args.log is not None:
        job = jobs.get_job(args.log, args.runs_root)
        return {"job": jobs.job_summary(job), "log_tail": jobs.log_tail(job, args.lines)}
    if args.start_queued:
        jobs.start_queued(args.runs_root)
    listed = jobs.list_jobs(args.runs_root)
    return {"jobs": [jobs.job_summary(j) for j in listed], **jobs.counts(listed)}


def _check_out_file(flag: str, path: Path) -> None:
    """Refuse an output file whose folder is missing or that is a folder itself."""
    if path.is_dir():
        raise HardpairsError(f"{flag} {path} is a folder; pass a file name, e.g. {flag} {path / 'report.html'}")
    if not path.parent.is_dir():
        raise HardpairsError(f"{flag} {path}: the folder {path.parent} does not exist; create it or pass another path")


def run_report(args: argparse.Namespace) -> dict[str, Any]:
    """Write the self-contained HTML report (and the CSVs) of every run under the runs root."""
    from core.reports import report

    for flag, path in (("--out", args.out), ("--csv", args.csv), ("--runs-csv", args.runs_csv), ("--pdf", args.pdf)):
        if path:
            _check_out_file(flag, Path(path))
    records = report.collect(args.runs_root)
    out = {"runs": len(records), "html": str(Path(args.out))}
    atomic_write_bytes(args.out, report.html_report(records, title=args.title).encode())
    if args.csv:
        atomic_write_bytes(args.csv, report.summary_csv(records).encode())
        out["csv"] = str(Path(args.csv))
    if args.runs_csv:
        atomic_write_bytes(args.runs_csv, report.runs_csv(records).encode())
        out["runs_csv"] = str(Path(args.runs_csv))
    if args.pdf is not None:
        from core.reports.report_pdf import print_pdf

        out["pdf"] = str(print_pdf(args.out, args.pdf or Path(args.out).with_suffix(".pdf")))
    return out


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``jobs`` and ``report`` commands."""
    parser = subparsers.add_parser(
        "jobs",
        help="list background jobs started by the app; --cancel ID stops one",
        description="List background jobs (newest first), cancel one, or show its log tail.",
    )
    parser.add_argument("--cancel", metavar="JOB_ID", help="cancel a queued or running job")
    parser.add_argument("--log", metavar="JOB_ID", help="print the last --lines lines of a job's log")
    parser.add_argument("--lines", type=int, default=40, help="log lines for --log (default 40)")
    parser.add_argument(
        "--start-queued",
        action="store_true",
        help="also start the queued jobs the queue allows (after every process of a running job was killed)",
    )
    parser.add_argument("--runs-root", default=None, help="runs folder (default $HARDPAIRS_RUNS or cache/runs)")
    parser.set_defaults(func=run_jobs)

    parser = subparsers.add_parser(
        "report",
        help="write the comparison report (HTML, offline) and CSVs of every run",
        description="Seed-grouped linear-probe/kNN accuracies, accuracy vs pruning ratio, deltas vs the "
        "unpruned parent, every run's settings and a per-run audit (provenance, score definitions, map, "
        "class-pair heatmap, hardest pairs with images, pruning comparisons, theory, AUROC), as one "
        "self-contained HTML file; --pdf prints it with headless Chromium.",
    )
    parser.add_argument("--out", default="hardpairs-report.html", help="HTML file to write")
    parser.add_argument("--csv", help="also write the seed-grouped table as CSV")
    parser.add_argument("--runs-csv", help="also write one CSV line per run (with deltas vs parents)")
    parser.add_argument("--title", default="Hardpairs report", help="report title")
    parser.add_argument(
        "--pdf",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="also print the report to PDF with headless Chromium (default FILE: --out with .pdf)",
    )
    parser.add_argument("--runs-root", default=None, help="runs folder (default $HARDPAIRS_RUNS or cache/runs)")
    parser.set_defaults(func=run_report)
