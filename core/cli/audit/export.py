"""CLI: ``export`` -- selected / tagged / kept / pruned sample ids as CSV (``core.audit.tags.export_ids``).

``export --run-dir R --what tagged:NAME|kept|pruned|selected --out FILE [--ids ...] [--prune-dir D] [--force]``.
"""

from __future__ import annotations

import argparse
from typing import Any

from core.audit import tags
from core.cli.checks import add_id_flags, add_runs_root_flag, ids_from_flags, run_in_root


def cmd_export(args: argparse.Namespace) -> dict[str, Any]:
    """``export``: selected / tagged / kept / pruned ids as CSV to the file the user typed."""
    run_in_root(args.run_dir, args.runs_root)  # containment: only runs inside the runs root
    return tags.export_ids(
        args.run_dir,
        args.what,
        args.out,
        ids=ids_from_flags(args),
        prune_dir=args.prune_dir,
        force=args.force,
        root=args.runs_root,
    )


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``export``."""
    p.add_argument("--run-dir", required=True)
    p.add_argument("--what", required=True, help="tagged:NAME, kept, pruned or selected (with --ids)")
    p.add_argument("--out", required=True, help="the CSV file to write (refused if it exists, unless --force)")
    p.add_argument("--prune-dir", help="for kept/pruned: a prune output folder (default: the run's own keep.npy)")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    add_id_flags(p)
    add_runs_root_flag(p)
    p.set_defaults(func=cmd_export)
