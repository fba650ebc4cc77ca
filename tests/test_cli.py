"""The CLI contract: last stdout line is JSON; import/probe/runs; clear errors; one module per command, each
imported only when run; ``train``'s flags made from ``TrainConfig``."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import core.cli as cli
from core.analysis.scoretable import SCORE_NAMES
from core.cli import build_parser, main
from core.cli.run.train import _config_from_args, config_flags
from core.data.downloads import TORCHVISION_SOURCES
from core.data.sources import DATASET_SPECS, load_dataset
from core.errors import HardpairsError
from core.io import read_json
from core.models.checkpoints import load_checkpoint_file
from core.models.models import FEATURE_DIMS, build_backbone
from core.training.config import ARCHS, TrainConfig
from tests.helpers import run_cli


def test_imported_ssl_checkpoint_reproduces_the_run(tiny_run, runs_root, tmp_path, capsys):
    """A Lightning/solo-learn style file of the same weights gives the same features and accuracy."""
    own = load_checkpoint_file(tiny_run / "checkpoints" / "last.pt")["model"]
    foreign = {"state_dict": {k: v for k, v in own.items()}, "epoch": 3}  # keys keep 'backbone.'/'projector.'
    torch.save(foreign, tmp_path / "solo.ckpt")
    code, out = run_cli(
        [
            "import",
            "--checkpoint",
            tmp_path / "solo.ckpt",
            "--dataset",
            "digits",
            "--out-size",
            "16",
            "--name",
            "imported",
        ],
        capsys,
    )
    assert code == 0 and out["arch"] == "small_cnn"
    run_dir = runs_root / "imported"
    assert read_json(run_dir / "manifest.json")["imported_from"].endswith("solo.ckpt")
    with np.load(tiny_run / "features.npz") as a, np.load(run_dir / "features.npz") as b:
        np.testing.assert_allclose(a["train"], b["train"], rtol=1e-5, atol=1e-5)
    assert out["linear_acc"] == read_json(tiny_run / "metrics.json")["linear_acc"]


def test_import_channel_mismatch_and_bad_file(runs_root, tmp_path, capsys):
    # issue 13: 1-channel data into a 3-channel backbone now repeats the channel (tests/test_checkpoint_layouts.py);
    # a channel count that cannot be repeated is still refused
    torch.save(build_backbone("resnet18", 2).state_dict(), tmp_path / "r18.pt")
    code, out = run_cli(["import", "--checkpoint", tmp_path / "r18.pt", "--dataset", "digits"], capsys)
    assert code == 2 and "expects 2-channel images but digits has 1" in out["error"]
    assert list(runs_root.iterdir()) == []  # nothing half-made
    code, out = run_cli(["import", "--checkpoint", tmp_path / "missing.pt"], capsys)
    assert code == 2 and "does not exist" in out["error"]


def test_probe_and_runs_commands(tiny_run_copy, capsys, monkeypatch):
    code, out = run_cli(["probe", "--run-dir", tiny_run_copy], capsys)
    metrics = read_json(tiny_run_copy / "metrics.json")
    assert code == 0 and out["linear_acc"] == metrics["linear_acc"] and out["knn_acc"] == metrics["knn_acc"]
    monkeypatch.setenv("HARDPAIRS_RUNS", str(tiny_run_copy.parent))
    code, out = run_cli(["runs"], capsys)
    row = next(r for r in out["runs"] if r["run_id"] == tiny_run_copy.name)
    assert row["state"] == "done" and row["linear_acc"] == metrics["linear_acc"] and row["dataset"] == "digits"
    code, out = run_cli(["runs", "--show", tiny_run_copy], capsys)
    assert out["config"]["epochs"] == 3 and out["manifest"]["n_train"] == 1438


def test_user_errors_exit_2_with_json(runs_root, tmp_path, capsys):
    code, out = run_cli(["probe", "--run-dir", tmp_path], capsys)
    assert code == 2 and "is not a run folder" in out["error"] and "python -m core train" in out["error"]
    code, out = run_cli(["train", "--dataset", "imagenet22k", "--run-dir", runs_root / "x"], capsys)
    assert code == 2 and "imagenet22k" in out["error"]
    assert not (runs_root / "x").exists()
    code, out = run_cli(["train", "--loss-mode", "bogus"], capsys)
    assert code == 2 and "loss mode 'bogus' is unknown" in out["error"]
    code, out = run_cli(["train", "--resume"], capsys)
    assert code == 2 and "--resume needs --run-dir" in out["error"]


def test_module_entry_point_prints_json_last(tiny_run):
    proc = subprocess.run(
        [sys.executable, "-m", "core", "runs", "--show", str(tiny_run)], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert json.loads(proc.stdout.strip().splitlines()[-1])["run_id"] == tiny_run.name


HEAVY = ("torch", "faiss", "numba", "scipy")


def _imported(argv: list[str], cwd) -> set[str]:
    """The top-level packages ``python -X importtime -m core ARGV`` imports."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "core", *argv], capture_output=True, text=True, cwd=cwd
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]
    return {name.split(".")[0] for name in rows}


def test_help_and_runs_import_no_torch_faiss_numba_or_scipy(tmp_path):
    """Only the command being run is imported: ``--help`` and ``runs`` start without the heavy libraries."""
    root = Path(__file__).resolve().parents[1]
    for argv in (["--help"], ["runs", "--runs-root", str(tmp_path)]):
        imported = _imported(argv, root)
        assert "core" in imported and not imported & set(HEAVY), (argv, imported & set(HEAVY))


def test_every_command_lives_in_the_module_named_after_it():
    here = Path(cli.__file__).parent
    modules = {f"core.cli.{p.parent.name}.{p.stem}" for p in here.glob("*/*.py") if p.stem != "__init__"}
    assert {cli.command_module(c) for c in cli.COMMANDS} == modules  # one module per command, no other
    assert sorted(c for cs in cli.ROOMS.values() for c in cs) == sorted(cli.COMMANDS)  # each command in one room
    assert cli.command_module("import") == "core.cli.run.import_"
    assert cli.command_module("label-issues") == "core.cli.audit.label_issues"
    parser = cli.build_parser()  # every module imports and registers its flags
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == list(cli.COMMANDS)
    for name, command in sub.choices.items():
        assert command.get_default("func") is not None, name


def test_a_command_module_that_fails_to_import_raises(monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "nosuch", "a command whose module is missing")
    with pytest.raises(ModuleNotFoundError, match="core.cli.nosuch"):
        cli.build_parser()


def _help(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_train_help_lists_every_architecture_and_dataset_spec(capsys):
    text = _help(["train"], capsys)
    assert set(ARCHS) == set(FEATURE_DIMS)  # validation and the model builder accept the same architectures
    assert set(TORCHVISION_SOURCES) <= set(DATASET_SPECS)
    for name in (*ARCHS, *DATASET_SPECS):
        assert f" {name}," in text or f" {name} " in text, name


def test_every_dataset_spec_is_dispatched_by_load_dataset(tmp_path):
    """Each spec of the table reaches its reader (it fails on the empty data root, but not as unknown)."""
    for spec in DATASET_SPECS:
        concrete = spec.replace("[:PATH]", "").replace("PATH", str(tmp_path / "missing"))
        try:
            load_dataset(concrete, data_root=tmp_path, cache_dir=tmp_path / "cache")
        except HardpairsError as err:
            assert "unknown dataset" not in str(err), spec
    with pytest.raises(HardpairsError, match="unknown dataset 'nope'"):
        load_dataset("nope", data_root=tmp_path)


def test_train_flags_are_made_from_the_config_fields(runs_root, capsys):
    flagged = {n for n, f in TrainConfig.__dataclass_fields__.items() if "help" in f.metadata}
    assert set(config_flags()) == flagged and {"lr", "monitor", "arch", "preset"} <= flagged
    parser = build_parser(["train"])
    args = parser.parse_args(["train", "--lr", "0.5", "--monitor", "--preset", "quick", "--mix-seed", "3"])
    cfg = _config_from_args(args)
    assert (cfg.lr, cfg.monitor, cfg.compile, cfg.preset, cfg.mix_seed) == (0.5, True, False, "quick", 3)
    text = _help(["prune"], capsys)
    assert all(f" {name}," in text or f" {name} " in text for name in SCORE_NAMES)
