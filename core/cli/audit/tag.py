"""CLI: ``tag`` -- named tags of samples, ``<run>/tags.csv`` (``core.audit.tags``; this handler only parses).

``tag --run-dir R --add NAME --ids 1,2,3`` (or ``--ids-file FILE``: ids separated by commas, spaces or
newlines, an ``id`` header allowed); ``--remove NAME`` (all its samples, or only ``--ids``); ``--list``
(or no action): ``{tag: count}``. Pruning by a tag is ``prune --tag NAME`` (``core.cli.analyse.prune``).
"""

from __future__ import annotations

import argparse
from typing import Any

from core.audit import tags
from core.cli.checks import add_id_flags, add_runs_root_flag, ids_from_flags, run_in_root
from core.errors import HardpairsError


def cmd_tag(args: argparse.Namespace) -> dict[str, Any]:
    """``tag``: add, remove or list tags of a run's samples."""
    run_in_root(args.run_dir, args.runs_root)  # containment: only runs inside the runs root
    ids = ids_from_flags(args)
    if args.add is not None:
        if ids is None:
            raise HardpairsError("--add NAME needs the samples: --ids 1,2,3 or --ids-file FILE")
        return tags.add_tag(args.run_dir, args.add, ids)
    if args.remove is not None:
        return tags.remove_tag(args.run_dir, args.remove, ids)
    return {"run_dir": str(args.run_dir), "tags": tags.list_tags(args.run_dir)}


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``tag``."""
    p.add_argument("--run-dir", required=True)
    action = p.add_mutually_exclusive_group()
    action.add_argument("--add", metavar="NAME", help="tag --ids/--ids-file with NAME")
    action.add_argument("--remove", metavar="NAME", help="untag NAME (all its samples, or only --ids)")
    action.add_argument("--list", action="store_true", help="list the tags and their sizes (the default)")
    add_id_flags(p)
    add_runs_root_flag(p)
    p.set_defaults(func=cmd_tag)
