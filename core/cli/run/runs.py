"""CLI: ``runs`` -- list the run folders under the runs root, or ``--show`` one (summary, config, manifest, metrics)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.errors import HardpairsError
from core.rundir.folder import list_runs, read_run_json, require_run, run_summary


def cmd_runs(args: argparse.Namespace) -> dict[str, Any]:
    """``runs``: one line per run on stderr, every run's summary in the JSON; ``--show``: one run in full."""
    if args.show:
        summary = run_summary(require_run(args.show))
        for name in ("config", "manifest", "metrics"):
            try:
                summary[name] = read_run_json(args.show, f"{name}.json")
            except HardpairsError:
                summary[name] = None  # the summary's state and message say why
        return summary
    rows = list_runs(args.runs_root)
    for r in rows:
        acc = f"{r['linear_acc']:.4f}" if isinstance(r["linear_acc"], (int, float)) else "-"
        line = f"{r['run_id']:<55} {str(r['state']):<11} {str(r['loss_mode']):<11} acc {acc}"
        if r["state"] in ("unreadable", "interrupted"):
            line += f"  ({r['message']})"
        print(line, file=sys.stderr)
    return {"runs": rows}


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``runs``."""
    p.add_argument("--show", metavar="RUN_DIR", help="show one run's summary, config, manifest and metrics")
    p.add_argument("--runs-root")
    p.set_defaults(func=cmd_runs)
