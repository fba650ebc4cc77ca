"""CLI: ``report`` -- the Compare page's self-contained HTML report (and CSVs) of every run.

The report is built by ``core.reports.report``; ``--pdf`` prints it with ``core.reports.report_pdf``.
Progress goes to stderr, one ``report: <stage>`` line per stage (collecting runs, tables, per-run
sections, figures, writing HTML, printing PDF).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.io import atomic_write_bytes
from core.outputs import check_output
from core.rundir.folder import runs_root


def run_report(args: argparse.Namespace) -> dict[str, Any]:
    """Write the self-contained HTML report (and the CSVs) of every run under the runs root."""
    from core.reports import report
    from core.reports.records import load_records
    from core.reports.report_tables import runs_csv, summary_csv

    pdf = None if args.pdf is None else (args.pdf or str(Path(args.out).with_suffix(".pdf")))
    outputs = [("--out", args.out), ("--csv", args.csv), ("--runs-csv", args.runs_csv), ("--pdf", pdf)]
    for k, (flag, path) in enumerate(outputs):  # one output-path rule (core.outputs), before any work
        if path is not None:
            check_output(path, force=args.force, flag=flag, others=outputs[:k], runs_root=runs_root(args.runs_root))
    _say("collecting runs")
    records = load_records(args.runs_root)
    out = {"runs": len(records), "html": str(Path(args.out))}
    text = report.html_report(records, title=args.title, progress=_say)
    _say(f"writing HTML {args.out}")
    atomic_write_bytes(args.out, text.encode())
    if args.csv:
        atomic_write_bytes(args.csv, summary_csv(records).encode())
        out["csv"] = str(Path(args.csv))
    if args.runs_csv:
        atomic_write_bytes(args.runs_csv, runs_csv(records).encode())
        out["runs_csv"] = str(Path(args.runs_csv))
    if pdf is not None:
        from core.reports.report_pdf import print_pdf

        _say(f"printing PDF {pdf} (headless Chromium)")
        out["pdf"] = str(print_pdf(args.out, pdf))
    _say("done")
    return out


def _say(stage: str) -> None:
    """One progress line on stderr per stage (stdout keeps only the JSON line)."""
    print(f"report: {stage}", file=sys.stderr, flush=True)


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``report``."""
    p.description = (
        "A one-page summary (what was run, each pruning comparison as a sentence with its delta and "
        "interval), seed-grouped linear-probe/kNN accuracies, accuracy vs pruning ratio, deltas vs the "
        "unpruned parent and paired tests, and per run its settings and an audit (pair definitions, map, "
        "class-pair heatmap, hardest pairs with images, pruning comparisons, theory, AUROC), as one "
        "self-contained HTML file; --pdf prints it to an A4 PDF with headless Chromium."
    )
    p.add_argument("--out", default="hardpairs-report.html", help="HTML file to write")
    p.add_argument("--csv", help="also write the seed-grouped table as CSV")
    p.add_argument("--runs-csv", help="also write one CSV line per run (with deltas vs parents)")
    p.add_argument("--title", default="Hardpairs report", help="report title")
    p.add_argument(
        "--pdf",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="also print the report to PDF with headless Chromium (default FILE: --out with .pdf)",
    )
    p.add_argument("--runs-root", default=None, help="runs folder (default $HARDPAIRS_RUNS or cache/runs)")
    p.add_argument("--force", action="store_true", help="overwrite output files that exist (never a device or FIFO)")
    p.set_defaults(func=run_report)
