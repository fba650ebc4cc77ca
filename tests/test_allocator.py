"""The allocator setting of CPU training (``core.training.allocator``): applied where glibc has ``mallopt``,
switched off by ``HARDPAIRS_KEEP_FREED=0``. The page faults it saves are measured, not asserted:
``python bench/allocator_faults.py`` (BENCHMARKS.md, "System time of folder training")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# the setting is process-wide: it is applied in a child process, never in the test process
_PROBE = "import json; from core.training.allocator import keep_freed_memory; print(json.dumps(keep_freed_memory()))"


def _applied(env_value: str | None) -> bool:
    env = {k: v for k, v in os.environ.items() if k != "HARDPAIRS_KEEP_FREED"}
    if env_value is not None:
        env["HARDPAIRS_KEEP_FREED"] = env_value
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only (a no-op elsewhere)")
def test_keep_freed_memory_is_applied_on_linux_unless_switched_off():
    assert _applied(None) is True
    assert _applied("1") is True
    assert _applied("0") is False
