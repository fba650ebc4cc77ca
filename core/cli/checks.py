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
    """The ids of ``--ids`` and/or ``--ids-file`` (None when neither was given), parsed by ``core.runs.tags``."""
    from core.runs.tags import parse_ids

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
    return parse_ids(text)
