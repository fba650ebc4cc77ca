"""CLI: ``tag`` (named tags of samples, ``<run>/tags.csv``), ``export`` (id lists as CSV) and the
``prune --tag NAME`` branch of ``prune``. The work is done by ``core.runs.tags`` and
``core.runs.tagprune``; these handlers only parse.

- ``tag --run-dir R --add NAME --ids 1,2,3`` (or ``--ids-file FILE``: ids separated by commas,
  spaces or newlines, an ``id`` header allowed); ``--remove NAME`` (all its samples, or only
  ``--ids``); ``--list`` (or no action): ``{tag: count}``.
- ``export --run-dir R --what tagged:NAME|kept|pruned|selected --out FILE [--ids ...] [--prune-dir D] [--force]``.
- ``prune --run-dir R --tag NAME [--train ...]``: keep every sample not tagged NAME.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.errors import HardpairsError
from core.runs import tags


def _ids(args: argparse.Namespace) -> list[int] | None:
    """The ids of ``--ids`` and/or ``--ids-file`` (None when neither was given)."""
    if args.ids is None and args.ids_file is None:
        return None
    text = args.ids or ""
    if args.ids_file is not None:
        try:
            text += "\n" + Path(args.ids_file).read_text()
        except OSError as err:
            raise HardpairsError(
                f"--ids-file {args.ids_file}: {err.strerror or err}; pass a readable text file"
            ) from None
    return tags.parse_ids(text)


def cmd_tag(args: argparse.Namespace) -> dict[str, Any]:
    """``tag``: add, remove or list tags of a run's samples."""
    ids = _ids(args)
    if args.add is not None:
        if ids is None:
            raise HardpairsError("--add NAME needs the samples: --ids 1,2,3 or --ids-file FILE")
        return tags.add_tag(args.run_dir, args.add, ids)
    if args.remove is not None:
        return tags.remove_tag(args.run_dir, args.remove, ids)
    return {"run_dir": str(args.run_dir), "tags": tags.list_tags(args.run_dir)}


def cmd_export(args: argparse.Namespace) -> dict[str, Any]:
    """``export``: selected / tagged / kept / pruned ids as CSV to the file the user typed."""
    return tags.export_ids(
        args.run_dir, args.what, args.out, ids=_ids(args), prune_dir=args.prune_dir, force=args.force
    )


def cmd_prune_tag(args: argparse.Namespace) -> dict[str, Any]:
    """``prune --tag NAME``: :func:`core.runs.tagprune.prune_by_tag` (refuses --score/--ratio/--out)."""
    from core.runs.pruning import RETRAIN_FIELDS
    from core.runs.tagprune import prune_by_tag

    clash = [f for f, v in (("--score", args.score), ("--ratio", args.ratio), ("--out", args.out)) if v is not None]
    if clash:
        raise HardpairsError(f"--tag prunes exactly the tagged samples; drop {', '.join(clash)}")
    if args.seed is not None and args.seed < 0:
        raise HardpairsError(f"--seed must be >= 0 (got {args.seed})")
    return prune_by_tag(
        args.run_dir,
        args.tag,
        seed=args.seed,
        train=args.train,
        retrain={name: getattr(args, name, None) for name in RETRAIN_FIELDS},
        analyse=args.analyse,
    )


def _id_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ids", help="sample ids, e.g. 1,2,3")
    p.add_argument("--ids-file", help="a text/CSV file of sample ids (one per line or comma-separated)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``tag`` and ``export``."""
    p = subparsers.add_parser("tag", help="named tags of samples (run/tags.csv): --add/--remove/--list")
    p.add_argument("--run-dir", required=True)
    action = p.add_mutually_exclusive_group()
    action.add_argument("--add", metavar="NAME", help="tag --ids/--ids-file with NAME")
    action.add_argument("--remove", metavar="NAME", help="untag NAME (all its samples, or only --ids)")
    action.add_argument("--list", action="store_true", help="list the tags and their sizes (the default)")
    _id_flags(p)
    p.set_defaults(func=cmd_tag)
    p = subparsers.add_parser("export", help="write selected/tagged/kept/pruned sample ids as CSV")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--what", required=True, help="tagged:NAME, kept, pruned or selected (with --ids)")
    p.add_argument("--out", required=True, help="the CSV file to write (refused if it exists, unless --force)")
    p.add_argument("--prune-dir", help="for kept/pruned: a prune output folder (default: the run's own keep.npy)")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    _id_flags(p)
    p.set_defaults(func=cmd_export)
