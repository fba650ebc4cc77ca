"""``python -m core <command>``: the CLI twin of every page action.

``COMMANDS`` is the one table of commands: each name, with the one line ``python -m core --help`` shows, is
registered by the module named after it, ``core.cli.<name>`` (``core.cli.run.import_`` for ``import``, a Python
keyword), whose ``register(parser)`` adds the flags and ``set_defaults(func=handler)`` with
``handler(args) -> dict``. Only the module of the command being run is imported (``--help`` imports none),
so a command loads only what it needs; a module that fails to import raises. The dict is printed as the last
stdout line (one JSON object) so scripts and tests can read it. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import keyword
import sys
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from core.errors import HardpairsError

#: command -> its one-line help, in ``--help`` order; ``core.cli.<command>`` registers its flags
COMMANDS: dict[str, str] = {
    "train": "train SimCLR (optionally with the paper's difficult-pair losses), then probe",
    "probe": "linear-probe and kNN accuracy of a run's frozen features",
    "import": "import a checkpoint (Hardpairs; torchvision/timm ResNet-18/50; lightly, solo-learn/Lightning "
    "layouts; timm/DINO ViT) as a run; grayscale data into an RGB backbone repeats the channel",
    "runs": "list run folders, or show one",
    "score": "per-sample difficulty scores -> scores.csv",
    "pairs": "hardest cross-class pairs and the class-pair map",
    "prune": "kept/pruned indices by a score (and retrain)",
    "umap": "2D/3D UMAP map of a run's features -> umap_<dim>d.csv",
    "theory": "alpha/beta/gamma, Welch t-test and the bounds -> theory.json",
    "difficulty": "difficulty over training (Fig. 4c): per epoch, flagged pairs' cross-class share and similarity",
    "jobs": "list background jobs started by the app; --cancel ID stops one",
    "report": "write the comparison report (HTML, offline) and CSVs of every run",
    "compare": "mean ± std and 95%% intervals over seeds; paired tests of pruned runs vs parent and random",
    "tag": "named tags of samples (run/tags.csv): --add/--remove/--list",
    "export": "write selected/tagged/kept/pruned sample ids as CSV",
    "similar": "the training samples most similar to one (cosine, exact); --tag NAME tags them",
    "label-issues": "label-error suggestions (out-of-fold probe + kNN votes) -> label_issues.csv; --top N prints them",
    "reproduce": "the paper's tables as recipes: --dry-run (commands, GPU time) or --tiny (one tiny real step each)",
    "longtail": "build TinyImageNet-LT (the paper's Table 6) as a folder: dataset of links, with its manifest",
    "store": "decode an image folder once into the on-disk image store (--dry-run: size and time; --list)",
    "extract": "extract a run's features into features/{train,test}_rank{r}.npy + index.json; under "
    "`torchrun --nproc_per_node=G -m core extract` each process writes one shard",
}


#: the subpackage of ``core.cli`` that holds each command's module, by the room of ``core`` it drives
ROOMS: dict[str, tuple[str, ...]] = {
    "run": ("train", "probe", "import", "runs", "extract", "jobs", "longtail", "store"),
    "analyse": ("score", "pairs", "prune", "umap", "theory", "difficulty"),
    "audit": ("tag", "export", "similar", "label-issues"),
    "reports": ("report", "compare", "reproduce"),
}


def command_module(command: str) -> str:
    """The module that registers ``command``: ``core.cli.<room>.<command>`` (``-`` read as ``_``, ``_`` appended
    to a Python keyword); a command in no room is looked up as ``core.cli.<command>``."""
    module = command.replace("-", "_")  # label-issues -> label_issues
    module = f"{module}_" if keyword.iskeyword(module) else module
    room = next((r for r, commands in ROOMS.items() if command in commands), None)
    return f"core.cli.{room}.{module}" if room else f"core.cli.{module}"


class UsageError(HardpairsError):
    """A command line argparse cannot parse (unknown flag, wrong type, bad choice)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line like every other error: one JSON line, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser (subparsers inherit :class:`_Parser`): every command listed, the flags of ``commands``
    only (every command's when None), so that only their modules are imported."""
    parser = _Parser(
        prog="python -m core",
        description="Hardpairs: difficult pairs in contrastive learning. "
        "Each command prints its result as one JSON object on the last stdout line.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = set(COMMANDS if commands is None else commands)
    for name, help_text in COMMANDS.items():
        command = sub.add_parser(name, help=help_text)
        if name in wanted:
            importlib.import_module(command_module(name)).register(command)
    return parser


def _print_result(result: dict[str, Any]) -> None:
    """The result line, written with one ``write`` so that processes sharing a pipe (torchrun ranks) cannot
    interleave it, even with unbuffered stdout (``PYTHONUNBUFFERED=1``, where ``print`` writes the newline apart)."""
    sys.stderr.flush()
    sys.stdout.write(json.dumps(result, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit status (0 ok, 2 user error, 1 bug)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[:1])  # the command's flags only (none for --help or an unknown command)
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
