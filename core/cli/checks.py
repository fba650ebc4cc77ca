"""Flag checks for the CLI handlers: each failure is a ``HardpairsError`` naming the flag, the value and
the allowed range (argparse only checks types; a handler calls these before any work)."""

from __future__ import annotations

import math

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
