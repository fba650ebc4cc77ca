"""CLI: ``difficulty --run-dir R [--run-dir R2 ...] [--json]`` -- difficulty over training (the paper's Fig. 4c).

Prints, per run and epoch, the cross-class share of the flagged pairs, their mean similarity and the flagged
share, read from ``progress.jsonl`` by ``core.runs.progress.difficulty_series`` under each run's label
(``core.reports.difficulty``): the numbers the Theory page shows. A field a run did not log is named with the
reason. The result line holds the full series; ``--json`` prints only that line.
"""

from __future__ import annotations

import argparse
from typing import Any

from core.reports.difficulty import display_table, labelled_series, missing_notes
from core.rundir.folder import require_run


def cmd_difficulty(args: argparse.Namespace) -> dict[str, Any]:
    """``difficulty``: each run's per-epoch series, a table on stdout (unless ``--json``) and the JSON line."""
    runs = labelled_series([require_run(d) for d in args.run_dir])
    if not args.json:
        table = display_table(runs)
        print(table.to_string(index=False) if not table.empty else "no epoch logged by any of these runs")
        for note in missing_notes(runs):
            print(note)
    return {"runs": [{"label": label} | s.as_dict() for label, s in runs]}


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``difficulty``."""
    p.add_argument("--run-dir", action="append", required=True, help="a run folder; repeat to overlay runs")
    p.add_argument("--json", action="store_true", help="print only the JSON result line")
    p.set_defaults(func=cmd_difficulty)
