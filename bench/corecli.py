"""``python -m core ...`` as a subprocess for the bench scripts (run them as ``python bench/X.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_core(*argv: str) -> dict:
    """Run ``python -m core ARGV`` from the repository root; return its last stdout line (the
    command's JSON result). Exits with the command, its error and the stderr tail on failure."""
    cmd = [sys.executable, "-m", "core", *map(str, argv)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    out = json.loads(lines[-1]) if lines else {}
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {out.get('error') or proc.stderr[-2000:]}")
    return out
