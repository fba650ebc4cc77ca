"""Memory estimates: refuse a dataset before decoding or allocating it when it cannot fit.

The limit is ``MemAvailable`` of ``/proc/meminfo`` (elsewhere ``os.sysconf`` free pages), or
``$HARDPAIRS_MAX_MEMORY_GB`` GiB when that is set (the override, named in every refusal).
"""

from __future__ import annotations

import os

from core.errors import HardpairsError

#: Environment variable that overrides the memory limit, in GiB (e.g. ``HARDPAIRS_MAX_MEMORY_GB=64``).
MEMORY_ENV = "HARDPAIRS_MAX_MEMORY_GB"


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def available_bytes() -> int:
    """Bytes the machine can still give: ``MemAvailable`` from ``/proc/meminfo``, else free physical pages."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 2**62  # unknown: never refuse


def memory_limit() -> tuple[int, str]:
    """(bytes allowed, where that number comes from) -- ``$HARDPAIRS_MAX_MEMORY_GB`` or the available memory."""
    text = os.environ.get(MEMORY_ENV, "").strip()
    if text:
        try:
            gb = float(text)
        except ValueError:
            gb = float("nan")
        if not gb > 0 or gb == float("inf"):
            raise HardpairsError(f"{MEMORY_ENV}={text!r} must be a positive number of GiB, e.g. {MEMORY_ENV}=32")
        return int(gb * 2**30), f"allowed by {MEMORY_ENV}={text}"
    return available_bytes(), "available (MemAvailable in /proc/meminfo)"


def check_memory(what: str, needed: int, hint: str = "") -> None:
    """Raise ``HardpairsError`` when ``needed`` bytes exceed the limit (see :func:`memory_limit`).

    Args:
        what: what would be allocated, e.g. ``"decoding folder:x (6 images at 6000x6000x3)"``.
        needed: the estimate in bytes.
        hint: how to need less, e.g. ``"pass a smaller --image-size"``.
    """
    limit, source = memory_limit()
    if needed <= limit:
        return
    fix = f"{hint}, or " if hint else ""
    raise HardpairsError(
        f"{what} needs about {gib(needed)} of memory but only {gib(limit)} is {source}; "
        f"{fix}set {MEMORY_ENV}=N to allow up to N GiB"
    )
