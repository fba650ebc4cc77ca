"""One exception type for every user-facing failure.

Every message names the problem *and* the fix, e.g.
``"run folder cache/runs/x already exists; pass --run-dir NEW or --resume"``.
The CLI prints it without a traceback and exits with status 2; the app shows it
in an error box.
"""

from __future__ import annotations


class HardpairsError(Exception):
    """A problem the user can fix. ``str(err)`` is the full, user-facing message."""
