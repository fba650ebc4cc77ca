"""``python -m core <command>``: the CLI twin of every page action.

Each command module listed in ``COMMAND_MODULES`` exposes ``register(subparsers)``; its parsers
``set_defaults(func=handler)`` with ``handler(args) -> dict``. The dict is printed as the last
stdout line (one JSON object) so scripts and tests can read it. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from core.errors import HardpairsError

COMMAND_MODULES = (
    "core.cli.train",
    "core.cli.runs",
    "core.cli.analysis",
    "core.cli.maps",
    "core.cli.jobs",
    "core.cli.compare",
    "core.cli.tags",
    "core.cli.reproduce",
    "core.cli.extract",
)


class UsageError(HardpairsError):
    """A command line argparse cannot parse (unknown flag, wrong type, bad choice)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line like every other error: one JSON line, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered subcommand (subparsers inherit :class:`_Parser`)."""
    parser = _Parser(
        prog="python -m core",
        description="Hardpairs: difficult pairs in contrastive learning. "
        "Each command prints its result as one JSON object on the last stdout line.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:  # module not written yet; its commands are simply absent
                continue
            raise
        module.register(sub)
    return parser


def _print_result(result: dict[str, Any]) -> None:
    """The result line, written with one ``write`` so that processes sharing a pipe (torchrun ranks) cannot
    interleave it, even with unbuffered stdout (``PYTHONUNBUFFERED=1``, where ``print`` writes the newline apart)."""
    sys.stderr.flush()
    sys.stdout.write(json.dumps(result, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit status (0 ok, 2 user error, 1 bug)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        result = args.func(args)
    except HardpairsError as err:
        print(f"error: {err}", file=sys.stderr)
        _print_result({"error": str(err)})
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        _print_result({"error": "interrupted"})
        return 130
    _print_result(result if isinstance(result, dict) else {"result": result})
    return 0
