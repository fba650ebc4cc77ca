"""CLI: ``report`` -- the Compare page's self-contained HTML report (and CSVs) of every run.

The report is built by ``core.reports.report``; ``--pdf`` prints it with ``core.reports.report_pdf``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.errors import HardpairsError
from core.io import atomic_write_bytes


def _check_out_file(flag: str, path: Path) -> None:
    """Refuse an output file whose folder is missing or that is a folder itself."""
    if path.is_dir():
        raise HardpairsError(f"{flag} {path} is a folder; pass a file name, e.g. {flag} {path / 'report.html'}")
    if not path.parent.is_dir():
        raise HardpairsError(f"{flag} {path}: the folder {path.parent} does not exist; create it or pass another path")


def run_report(args: argparse.Namespace) -> dict[str, Any]:
    """Write the self-contained HTML report (and the CSVs) of every run under the runs root."""
    from core.reports import report
    from core.reports.records import load_records
    from core.reports.report_tables import runs_csv, summary_csv

    for flag, path in (("--out", args.out), ("--csv", args.csv), ("--runs-csv", args.runs_csv), ("--pdf", args.pdf)):
        if path:
            _check_out_file(flag, Path(path))
    records = load_records(args.runs_root)
    out = {"runs": len(records), "html": str(Path(args.out))}
    atomic_write_bytes(args.out, report.html_report(records, title=args.title).encode())
    if args.csv:
        atomic_write_bytes(args.csv, summary_csv(records).encode())
        out["csv"] = str(Path(args.csv))
    if args.runs_csv:
        atomic_write_bytes(args.runs_csv, runs_csv(records).encode())
        out["runs_csv"] = str(Path(args.runs_csv))
    if args.pdf is not None:
        from core.reports.report_pdf import print_pdf

        out["pdf"] = str(print_pdf(args.out, args.pdf or Path(args.out).with_suffix(".pdf")))
    return out


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``report``."""
    p.description = (
        "Seed-grouped linear-probe/kNN accuracies, accuracy vs pruning ratio, deltas vs the "
        "unpruned parent, every run's settings and a per-run audit (provenance, score definitions, map, "
        "class-pair heatmap, hardest pairs with images, pruning comparisons, theory, AUROC), as one "
        "self-contained HTML file; --pdf prints it with headless Chromium."
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
    p.set_defaults(func=run_report)
