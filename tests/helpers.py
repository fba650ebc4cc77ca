"""Helpers shared by test modules (import as ``from tests.helpers import ...``; fixtures stay in conftest.py)."""
from __future__ import annotations

import json


def run_cli(argv: list, capsys) -> tuple[int, dict]:
    """Run ``python -m core`` in-process; return (exit status, the last stdout line as JSON)."""
    from core.cli import main

    code = main([str(a) for a in argv])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])
