"""Flag checks for the CLI handlers: each failure is a ``HardpairsError`` naming the flag, the value and
the allowed range (argparse only checks types; a handler calls these before any work); and the id flags
that ``tag`` and ``export`` share."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from core.errors import HardpairsError


def int_at_least(flag: str, value: int | None, low: int, hint: str = "") -> None:
    """``value`` (None = not given, fine) must be an integer >= ``low``."""
    if value is not None and value < low:
        raise HardpairsError(f"{flag} must be >= {low} (got {value}){hint}")


def number_in(
    flag: str, value: float | None, low: float, high: float, low_open: bool = False, high_open: bool = False
) -> None:
    """``value`` (None = not given, fine) must be finite and in the interval ``low``..``high``.

    ``low_open`` / ``high_open`` exclude that end; the message writes the interval the usual way
    (``[0, 1)``, ``(0, 1]``, ...).
    """
    if value is None:
        return
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (math.isfinite(value) and above and below):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise HardpairsError(f"{flag} {value} is outside {interval}; pass a number in {interval}")


def add_id_flags(p: argparse.ArgumentParser) -> None:
    """``--ids`` and ``--ids-file`` (``tag``, ``export``); read them with :func:`ids_from_flags`."""
    p.add_argument("--ids", help="sample ids, e.g. 1,2,3")
    p.add_argument("--ids-file", help="a text/CSV file of sample ids (one per line or comma-separated)")


def ids_from_flags(args: argparse.Namespace) -> list[int] | None:
    """The ids of ``--ids`` and/or ``--ids-file`` (None when neither was given), parsed by ``core.audit.tags``."""
    from core.audit.tags import parse_ids
    from core.outputs import read_text_input

    if args.ids is None and args.ids_file is None:
        return None
    text = args.ids or ""
    if args.ids_file is not None:  # bounded, never blocks, text only (core.outputs.read_text_input)
        text += "\n" + read_text_input(args.ids_file, "--ids-file")
    return parse_ids(text)


def add_runs_root_flag(p: argparse.ArgumentParser) -> None:
    """``--runs-root`` of the commands that edit one run (``tag``, ``export``, ``prune``)."""
    p.add_argument("--runs-root", default=None, help="runs folder (default $HARDPAIRS_RUNS or cache/runs)")


def run_in_root(run_dir: str, root: str | None = None) -> Path:
    """``run_dir`` when it is a run folder inside the runs root (``root``, ``$HARDPAIRS_RUNS`` or cache/runs).

    ``tag``, ``prune --tag`` and ``export`` edit only runs there: a folder elsewhere that happens to hold a
    ``config.json`` and a ``manifest.json`` is never written into.
    """
    from core.rundir.folder import require_run, runs_root
    from core.rundir.names import is_inside

    run = require_run(run_dir)
    base = runs_root(root)
    if not is_inside(run, base) or run.resolve() == base.resolve():
        raise HardpairsError(
            f"--run-dir {run_dir} is not inside the runs root {base}; these commands only touch runs there: "
            f"pass --runs-root {run.resolve().parent} (or set HARDPAIRS_RUNS) if that folder holds your runs"
        )
    return run
