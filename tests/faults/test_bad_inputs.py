"""The fault suite: bad inputs against the CLI. Each case must end with exit status 2, one JSON
error line naming the problem, no traceback, and no byte changed in the runs root or in a sentinel
folder (a failed command leaves nothing behind, not even its own new run folder).

Cases build their inputs in ``ctx`` (a per-case folder beside the runs root) and return the argv.
``docs/reliability.md`` lists them with their outcome; keep the two in step.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from core.cli import main


def tree_digest(*roots: Path) -> dict[str, str]:
    """path -> sha1 of every file (and 'dir' for every folder) under ``roots``."""
    out: dict[str, str] = {}
    for root in roots:
        if not root.exists():
            continue
        for dirpath, _dirnames, filenames in os.walk(root):
            out[dirpath] = "dir"
            for name in filenames:
                p = Path(dirpath) / name
                out[str(p)] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


@dataclass
class Ctx:
    root: Path  # the runs root, holding one real run "base"
    work: Path  # scratch folder for this case's inputs
    sentinel: Path  # a user's folder that must survive everything

    @property
    def base(self) -> Path:
        return self.root / "base"


@pytest.fixture(scope="module")
def base_run(analysed_run) -> Path:
    """One real digits run (the session's, quick preset) with features, scores and pairs; each case copies it."""
    return analysed_run


@pytest.fixture
def ctx(base_run, tmp_path, monkeypatch, capsys) -> Ctx:
    root = tmp_path / "runs"
    shutil.copytree(base_run, root / "base")
    sentinel = tmp_path / "thesis"
    sentinel.mkdir()
    (sentinel / "thesis.txt").write_text("four years of work\n")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HARDPAIRS_RUNS", str(root))
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    return Ctx(root, work, sentinel)


def _npz(ctx: Ctx, name: str, **arrays: np.ndarray) -> str:
    path = ctx.work / name
    np.savez(path, **arrays)
    return f"npz:{path}"


def _digits_like(n: int = 40) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 255, (n, 8, 8), dtype=np.uint8),
        "y_train": np.arange(n) % 4,
        "x_test": rng.integers(0, 255, (n // 2, 8, 8), dtype=np.uint8),
        "y_test": np.arange(n // 2) % 4,
    }


def _file(ctx: Ctx, name: str, data: bytes) -> str:
    path = ctx.work / name
    path.write_bytes(data)
    return str(path)


def _corrupt_features(ctx: Ctx) -> str:
    (ctx.base / "features.npz").write_bytes(b"PK\x03\x04 not really a zip")
    return str(ctx.base)


def _empty_folder(ctx: Ctx) -> str:
    (ctx.work / "empty").mkdir()
    return f"folder:{ctx.work / 'empty'}"


T = ["train", "--dataset", "digits", "--epochs", "1"]


def _planted_job(ctx: Ctx) -> str:
    """A job.json put into .jobs by hand (not through the queue's submit): never listed, shown or run."""
    job = ctx.root / ".jobs" / "20990101-000000-train-planted"
    job.mkdir(parents=True)
    marker = ctx.work / "planted-ran"
    argv = [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('ran')"]
    (job / "job.json").write_text(json.dumps({"job_id": job.name, "kind": "train", "argv": argv, "created": 0}))
    return job.name


def _read_only(ctx: Ctx) -> Path:
    """A folder the user cannot write into (skipped as root, where chmod does not stop writes)."""
    if os.geteuid() == 0:
        pytest.skip("running as root: a chmod 0500 folder is still writable")
    folder = ctx.work / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


def _hold_lock(ctx: Ctx) -> str:
    """Hold the base run's trainer lock, as a live trainer would (released when ``ctx`` goes)."""
    import fcntl

    lock = open(ctx.base / ".lock", "rb")  # noqa: SIM115 - held for the whole case
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    ctx.held = lock  # type: ignore[attr-defined]
    return str(ctx.base)


def _corrupt(ctx: Ctx, name: str, data: bytes) -> str:
    (ctx.base / name).write_bytes(data)
    return str(ctx.base)


#: id -> (argv builder, a word the error message must contain)
CASES: dict[str, tuple[Callable[[Ctx], list[str]], str]] = {
    "run-dir-user-folder": (lambda c: [*T, "--run-dir", str(c.sentinel)], "not a run folder"),
    "name-dot": (lambda c: [*T, "--name", "."], "run name"),
    "name-dotdot": (lambda c: [*T, "--name", ".."], "run name"),
    "name-escape": (lambda c: [*T, "--name", "../escaped"], "run name"),
    "name-absolute": (lambda c: [*T, "--name", str(c.work / "abs")], "run name"),
    "name-slash": (lambda c: [*T, "--name", "a/b"], "run name"),
    "name-empty": (lambda c: [*T, "--name", ""], "run name"),
    "import-name-escape": (
        lambda c: ["import", "--checkpoint", str(c.base / "checkpoints" / "last.pt"), "--name", "../escaped"],
        "run name",
    ),
    "jobs-log-escape": (lambda c: ["jobs", "--log", "../../fakejob"], "job id"),
    "jobs-cancel-escape": (lambda c: ["jobs", "--cancel", "../base"], "job id"),
    "empty-folder-into-user-dir": (
        lambda c: ["train", "--dataset", _empty_folder(c), "--run-dir", str(c.sentinel)],
        "not a run folder",
    ),
    "empty-folder-name-dot": (lambda c: ["train", "--dataset", _empty_folder(c), "--name", "."], "run name"),
    "run-dir-is-file": (lambda c: [*T, "--run-dir", str(c.sentinel / "thesis.txt")], "thesis.txt"),
    "epochs-0": (lambda c: ["train", "--epochs", "0"], "--epochs"),
    "batch-size-1": (lambda c: [*T, "--batch-size", "1"], "--batch-size"),
    "lr-negative": (lambda c: [*T, "--lr", "-1"], "--lr"),
    "log-every-0": (lambda c: [*T, "--log-every", "0"], "--log-every"),
    "checkpoint-every-0": (lambda c: [*T, "--checkpoint-every", "0"], "--checkpoint-every"),
    "out-size-0": (lambda c: [*T, "--out-size", "0"], "--out-size"),
    "image-size-huge": (lambda c: [*T, "--image-size", "4096"], "--image-size"),
    "device-cuda-no-gpu": (lambda c: [*T, "--device", "cuda"], "cuda"),
    "device-bogus": (lambda c: [*T, "--device", "tpu"], "--device"),
    "sigma-nan": (lambda c: [*T, "--loss-mode", "margin", "--sigma", "nan"], "--sigma"),
    "temperature-0": (lambda c: [*T, "--temperature", "0"], "--temperature"),
    "band-inverted": (lambda c: [*T, "--pos-high", "0.5", "--pos-low", "0.2"], "pos"),
    "loss-mode-bogus": (lambda c: [*T, "--loss-mode", "bogus"], "loss mode"),
    "arch-bogus": (lambda c: [*T, "--arch", "vgg"], "arch"),
    "mix-above-1": (lambda c: [*T, "--mix", "1.5"], "mix"),
    "rho-0": (lambda c: [*T, "--loss-mode", "temperature", "--rho", "0"], "rho"),
    "config-corrupt": (lambda c: [*T, "--config", _file(c, "config.json", b'{"epochs": 3')], "--config"),
    "config-missing": (lambda c: [*T, "--config", str(c.work / "nope.json")], "--config"),
    "keep-missing": (lambda c: [*T, "--keep", str(c.work / "nope.npy")], "--keep"),
    "keep-out-of-range": (
        lambda c: [*T, "--keep", (np.save(c.work / "k.npy", np.array([0, 5, 10**7])), str(c.work / "k.npy"))[1]],
        "--keep",
    ),
    "resume-without-run-dir": (lambda c: ["train", "--resume"], "--run-dir"),
    "resume-not-a-run": (lambda c: ["train", "--resume", "--run-dir", str(c.sentinel)], "not a run folder"),
    "dataset-bogus": (lambda c: ["train", "--dataset", "imagenet22k"], "dataset"),
    "folder-missing": (lambda c: ["train", "--dataset", f"folder:{c.work / 'nope'}"], "does not exist"),
    "folder-empty": (lambda c: ["train", "--dataset", _empty_folder(c)], "folder"),
    "folder-one-class": (
        lambda c: (
            (c.work / "one" / "cat").mkdir(parents=True),
            [_file(c, f"one/cat/{i}.png", _png(8)) for i in range(4)],
            ["train", "--dataset", f"folder:{c.work / 'one'}"],
        )[2],
        "class",
    ),
    "folder-corrupt-images": (
        lambda c: (
            [(c.work / "bad" / k).mkdir(parents=True) for k in ("a", "b")],
            [_file(c, f"bad/{k}/{i}.png", b"\x89PNG garbage") for k in ("a", "b") for i in range(3)],
            ["train", "--dataset", f"folder:{c.work / 'bad'}"],
        )[2],
        "image",
    ),
    "cifar10-offline": (lambda c: ["train", "--dataset", "cifar10"], "download"),
    "npz-random-bytes": (lambda c: ["train", "--dataset", "npz:" + _file(c, "r.npz", os.urandom(4096))], "npz"),
    "npz-truncated": (
        lambda c: ["train", "--dataset", "npz:" + _truncated(c, _npz(c, "t.npz", **_digits_like())[4:])],
        "npz",
    ),
    "npz-huge-label": (
        lambda c: ["train", "--dataset", _npz(c, "h.npz", **{**_digits_like(), "y_train": np.full(40, 10**9)})],
        "label",
    ),
    "npz-missing-keys": (lambda c: ["train", "--dataset", _npz(c, "m.npz", x_train=np.zeros((4, 8, 8)))], "y_train"),
    "npz-bad-shape": (
        lambda c: ["train", "--dataset", _npz(c, "s.npz", **{**_digits_like(), "x_train": np.zeros((40, 2, 8, 8, 3))})],
        "shape",
    ),
    "npz-pickled-object": (
        lambda c: [
            "train",
            "--dataset",
            _npz(c, "o.npz", **{**_digits_like(), "classes": np.array([{}], dtype=object)}),
        ],
        "pickle",
    ),
    "score-no-run": (lambda c: ["score", "--run-dir", str(c.work / "nope")], "run"),
    "score-user-folder": (lambda c: ["score", "--run-dir", str(c.sentinel)], "not a run folder"),
    "score-corrupt-features": (lambda c: ["score", "--run-dir", _corrupt_features(c), "--force"], "features.npz"),
    "pairs-corrupt-features": (lambda c: ["pairs", "--run-dir", _corrupt_features(c)], "features.npz"),
    "theory-corrupt-features": (lambda c: ["theory", "--run-dir", _corrupt_features(c), "--force"], "features.npz"),
    "umap-corrupt-features": (lambda c: ["umap", "--run-dir", _corrupt_features(c)], "features.npz"),
    "pairs-top-negative": (lambda c: ["pairs", "--run-dir", str(c.base), "--top", "-5"], "--top"),
    "pairs-k-0": (lambda c: ["pairs", "--run-dir", str(c.base), "--k", "0"], "--k"),
    "prune-ratio-1.5": (lambda c: ["prune", "--run-dir", str(c.base), "--score", "band", "--ratio", "1.5"], "--ratio"),
    "prune-score-bogus": (lambda c: ["prune", "--run-dir", str(c.base), "--score", "vibes", "--ratio", "0.1"], "score"),
    "prune-out-escape": (
        lambda c: ["prune", "--run-dir", str(c.base), "--score", "band", "--ratio", "0.1", "--out", str(c.sentinel)],
        "--out",
    ),
    "umap-neighbors-0": (lambda c: ["umap", "--run-dir", str(c.base), "--neighbors", "0"], "--neighbors"),
    "theory-share-2": (lambda c: ["theory", "--run-dir", str(c.base), "--difficult-share", "2"], "--difficult-share"),
    "import-missing": (lambda c: ["import", "--checkpoint", str(c.work / "nope.pt")], "does not exist"),
    "import-random-bytes": (lambda c: ["import", "--checkpoint", _file(c, "r.pt", os.urandom(2048))], "checkpoint"),
    "import-malicious-pickle": (
        lambda c: ["import", "--checkpoint", _file(c, "evil.pt", _evil_pickle(c))],
        "weights_only",
    ),
    "import-empty-state": (lambda c: ["import", "--checkpoint", _torch_save(c, "e.pt", {})], "checkpoint"),
    "import-no-arch": (
        lambda c: ["import", "--checkpoint", _torch_save(c, "n.pt", {"format": "hardpairs-1", "model": {}})],
        "checkpoint",
    ),
    "import-nan-weights": (lambda c: ["import", "--checkpoint", _nan_checkpoint(c)], "NaN"),
    "device-cuda-index": (lambda c: [*T, "--device", "cuda:7"], "cuda"),
    "device-cuda-colon": (lambda c: [*T, "--device", "cuda:"], "--device"),
    "lr-nan": (lambda c: [*T, "--lr", "nan"], "--lr"),
    "sigma-inf": (lambda c: [*T, "--loss-mode", "margin", "--sigma", "inf"], "--sigma"),
    "temperature-inf": (lambda c: [*T, "--temperature", "inf"], "--temperature"),
    "pos-low-nan": (lambda c: [*T, "--pos-low", "nan"], "--pos-low"),
    "beta-negative": (lambda c: [*T, "--loss-mode", "hard_ucl", "--beta", "-1"], "--beta"),
    "tau-plus-1": (lambda c: [*T, "--loss-mode", "hard_ucl", "--tau-plus", "1"], "--tau-plus"),
    "removal-bogus": (lambda c: [*T, "--loss-mode", "removal", "--removal", "drop"], "--removal"),
    "out-size-huge": (lambda c: [*T, "--out-size", "5000"], "--out-size"),
    "image-size-0": (lambda c: [*T, "--image-size", "0"], "--image-size"),
    "seed-negative": (lambda c: [*T, "--seed", "-1"], "--seed"),
    "warmup-negative": (lambda c: [*T, "--warmup-epochs", "-1"], "--warmup-epochs"),
    "mix-lambda-0": (lambda c: [*T, "--mix", "0.1", "--mix-lambda", "0"], "--mix-lambda"),
    "checkpoint-every-negative": (lambda c: [*T, "--checkpoint-every", "-3"], "--checkpoint-every"),
    "weight-decay-negative": (lambda c: [*T, "--weight-decay", "-0.1"], "--weight-decay"),
    "config-not-object": (lambda c: [*T, "--config", _file(c, "list.json", b"[1, 2]")], "--config"),
    "config-bad-type": (lambda c: [*T, "--config", _file(c, "typed.json", b'{"log_every": "often"}')], "--log-every"),
    "config-binary": (lambda c: [*T, "--config", _file(c, "bin.json", b"\xff\xfe\x00garbage")], "--config"),
    "npz-test-label-unseen": (
        lambda c: ["train", "--dataset", _npz(c, "u.npz", **{**_digits_like(), "y_test": np.full(20, 9)})],
        "label",
    ),
    "npz-is-npy": (lambda c: ["train", "--dataset", "npz:" + _npy_as_npz(c)], ".npy"),
    "npz-classes-too-few": (
        lambda c: ["train", "--dataset", _npz(c, "c.npz", **{**_digits_like(), "classes": np.array(["a", "b"])})],
        "classes",
    ),
    "npz-negative-label": (
        lambda c: ["train", "--dataset", _npz(c, "n.npz", **{**_digits_like(), "y_train": np.arange(40) % 4 - 1})],
        "y_train",
    ),
    "npz-float-labels": (
        lambda c: ["train", "--dataset", _npz(c, "f.npz", **{**_digits_like(), "y_train": np.zeros(40) + 0.5})],
        "y_train",
    ),
    "score-k-0": (lambda c: ["score", "--run-dir", str(c.base), "--k", "0", "--force"], "--k"),
    "score-band-reference-1": (
        lambda c: ["score", "--run-dir", str(c.base), "--band-reference", "1"],
        "--band-reference",
    ),
    "score-features-missing-keys": (lambda c: ["score", "--run-dir", _features_without_test(c), "--force"], "lacks"),
    "pairs-k-negative": (lambda c: ["pairs", "--run-dir", str(c.base), "--k", "-2", "--force"], "--k"),
    "pairs-top-0": (lambda c: ["pairs", "--run-dir", str(c.base), "--top", "0", "--force"], "--top"),
    "prune-ratio-nan": (lambda c: ["prune", "--run-dir", str(c.base), "--score", "band", "--ratio", "nan"], "--ratio"),
    "prune-ratio-negative": (
        lambda c: ["prune", "--run-dir", str(c.base), "--score", "band", "--ratio", "-0.1"],
        "--ratio",
    ),
    "prune-epochs-0": (
        lambda c: ["prune", "--run-dir", str(c.base), "--score", "band", "--ratio", "0.1", "--train", "--epochs", "0"],
        "--epochs",
    ),
    "umap-min-dist-2": (lambda c: ["umap", "--run-dir", str(c.base), "--min-dist", "2"], "--min-dist"),
    "umap-subset-1": (lambda c: ["umap", "--run-dir", str(c.base), "--subset", "1"], "--subset"),
    "umap-epochs-0": (lambda c: ["umap", "--run-dir", str(c.base), "--epochs", "0"], "--epochs"),
    "theory-share-0": (lambda c: ["theory", "--run-dir", str(c.base), "--difficult-share", "0"], "--difficult-share"),
    "theory-share-nan": (
        lambda c: ["theory", "--run-dir", str(c.base), "--difficult-share", "nan"],
        "--difficult-share",
    ),
    "theory-delta-1": (lambda c: ["theory", "--run-dir", str(c.base), "--delta", "1"], "--delta"),
    "theory-max-pairs-0": (lambda c: ["theory", "--run-dir", str(c.base), "--max-pairs", "0"], "--max-pairs"),
    "probe-checkpoint-other-arch": (lambda c: ["probe", "--run-dir", _other_arch_checkpoint(c)], "resnet18"),
    "probe-nan-checkpoint": (lambda c: ["probe", "--run-dir", _nan_last_checkpoint(c)], "NaN"),
    "import-own-no-arch": (
        lambda c: ["import", "--checkpoint", _own_checkpoint(c, "na.pt", config={}, model=None)],
        "arch",
    ),
    "import-own-empty-model": (
        lambda c: ["import", "--checkpoint", _own_checkpoint(c, "em.pt", config=None, model={})],
        "backbone",
    ),
    "import-out-size-0": (
        lambda c: ["import", "--checkpoint", str(c.base / "checkpoints" / "last.pt"), "--out-size", "0"],
        "--out-size",
    ),
    "import-arch-mismatch": (
        lambda c: ["import", "--checkpoint", str(c.base / "checkpoints" / "last.pt"), "--arch", "resnet18"],
        "--arch",
    ),
    "import-inf-weights": (lambda c: ["import", "--checkpoint", _nan_checkpoint(c, float("inf"))], "inf"),
    "run-dir-proc": (lambda c: [*T, "--run-dir", "/proc/hardpairs"], "/proc"),
    "run-dir-unwritable-parent": (lambda c: [*T, "--run-dir", str(_read_only(c) / "run")], "writ"),
    "run-dir-existing-run": (lambda c: [*T, "--run-dir", str(c.base)], "already exists"),
    "run-dir-under-a-file": (lambda c: [*T, "--run-dir", str(c.sentinel / "thesis.txt" / "run")], "cannot create"),
    "runs-root-is-file": (lambda c: [*T, "--runs-root", str(c.sentinel / "thesis.txt")], "--runs-root"),
    "name-nul": (lambda c: [*T, "--name", "a\x00b"], "run name"),
    "name-newline": (lambda c: [*T, "--name", "a\nb"], "run name"),
    "name-space": (lambda c: [*T, "--name", "my run"], "run name"),
    "name-too-long": (lambda c: [*T, "--name", "x" * 300], "run name"),
    "name-home": (lambda c: [*T, "--name", "~"], "run name"),
    "name-backslash": (lambda c: [*T, "--name", "..\\x"], "run name"),
    "name-symlink-out": (lambda c: (os.symlink(c.sentinel, c.root / "link"), [*T, "--name", "link"])[1], "outside"),
    "name-user-folder-in-root": (
        lambda c: (
            (c.root / "notes").mkdir(),
            (c.root / "notes" / "a.txt").write_text("mine"),
            [*T, "--name", "notes"],
        )[2],
        "not a run folder",
    ),
    "name-existing-run": (lambda c: [*T, "--name", "base"], "already exists"),
    "empty-folder-new-run-dir-removed": (
        lambda c: ["train", "--dataset", _empty_folder(c), "--run-dir", str(c.root / "new")],
        "folder",
    ),
    "empty-folder-nested-run-dir-removed": (
        lambda c: ["train", "--dataset", _empty_folder(c), "--run-dir", str(c.root / "a" / "b" / "c")],
        "folder",
    ),
    "empty-folder-new-runs-root-removed": (
        lambda c: ["train", "--dataset", _empty_folder(c), "--runs-root", str(c.root / "sub"), "--name", "x"],
        "folder",
    ),
    "empty-folder-into-empty-user-dir": (
        lambda c: (
            (c.sentinel / "empty").mkdir(),
            ["train", "--dataset", _empty_folder(c), "--run-dir", str(c.sentinel / "empty")],
        )[1],
        "not a run folder",
    ),
    "import-name-dotdot": (
        lambda c: ["import", "--checkpoint", str(c.base / "checkpoints" / "last.pt"), "--name", ".."],
        "run name",
    ),
    "import-name-absolute": (
        lambda c: ["import", "--checkpoint", str(c.base / "checkpoints" / "last.pt"), "--name", str(c.sentinel)],
        "run name",
    ),
    "import-run-dir-user-folder": (
        lambda c: ["import", "--checkpoint", str(c.base / "checkpoints" / "last.pt"), "--run-dir", str(c.sentinel)],
        "not a run folder",
    ),
    "import-run-dir-is-file": (
        lambda c: [
            "import",
            "--checkpoint",
            str(c.base / "checkpoints" / "last.pt"),
            "--run-dir",
            str(c.sentinel / "thesis.txt"),
        ],
        "is a file",
    ),
    "import-run-dir-proc": (
        lambda c: ["import", "--checkpoint", str(c.base / "checkpoints" / "last.pt"), "--run-dir", "/proc/x"],
        "/proc",
    ),
    "jobs-log-absolute": (lambda c: ["jobs", "--log", "/etc/passwd"], "job id"),
    "jobs-log-dotdot": (lambda c: ["jobs", "--log", ".."], "job id"),
    "jobs-log-empty": (lambda c: ["jobs", "--log", ""], "job id"),
    "jobs-log-unknown": (lambda c: ["jobs", "--log", "nope"], "no job"),
    "jobs-log-planted": (lambda c: ["jobs", "--log", _planted_job(c)], "no job"),
    "jobs-cancel-planted": (lambda c: ["jobs", "--cancel", _planted_job(c)], "no job"),
    "prune-out-runs-root": (
        lambda c: ["prune", "--run-dir", str(c.base), "--score", "band", "--ratio", "0.1", "--out", str(c.root)],
        "--out",
    ),
    "prune-out-run-folder": (
        lambda c: ["prune", "--run-dir", str(c.base), "--score", "band", "--ratio", "0.1", "--out", str(c.base)],
        "--out",
    ),
    "prune-out-user-folder-in-root": (
        lambda c: (
            (c.root / "mine").mkdir(),
            (c.root / "mine" / "notes.txt").write_text("mine"),
            ["prune", "--run-dir", str(c.base), "--score", "band", "--ratio", "0.1", "--out", str(c.root / "mine")],
        )[2],
        "--out",
    ),
    "prune-out-dotdot": (
        lambda c: ["prune", "--run-dir", str(c.base), "--score", "band", "--ratio", "0.1", "--out", str(c.root / "..")],
        "--out",
    ),
    "report-out-missing-folder": (lambda c: ["report", "--out", str(c.work / "nope" / "r.html")], "does not exist"),
    "report-out-is-folder": (lambda c: ["report", "--out", str(c.sentinel)], "is a folder"),
    "report-csv-missing-folder": (
        lambda c: ["report", "--out", str(c.work / "r.html"), "--csv", str(c.work / "no" / "x.csv")],
        "--csv",
    ),
    "resume-locked": (lambda c: ["train", "--resume", "--run-dir", _hold_lock(c)], "being trained by process"),
    "train-into-locked-run": (lambda c: [*T, "--run-dir", _hold_lock(c)], "being trained by process"),
    "resume-epochs-into-locked-run": (
        lambda c: ["train", "--resume", "--run-dir", _hold_lock(c), "--epochs", "9", "--device", "cpu"],
        "being trained by process",
    ),
    "resume-corrupt-config": (
        lambda c: ["train", "--resume", "--run-dir", _corrupt(c, "config.json", b'{"epochs": 3')],
        "unreadable: config.json",
    ),
    "show-run-without-config": (lambda c: ["runs", "--show", str(c.work)], "not a run folder"),
    # found by hand after the suite was written
    "npz-dev-null": (lambda c: ["train", "--dataset", "npz:/dev/null"], "not a regular file"),
    "folder-empty-path": (lambda c: ["train", "--dataset", "folder:"], "needs a path"),
    "argparse-bad-int": (lambda c: ["pairs", "--run-dir", str(c.base), "--top", "abc"], "--top"),
    "argparse-bad-choice": (lambda c: ["umap", "--run-dir", str(c.base), "--dim", "4"], "--dim"),
    "argparse-unknown-flag": (lambda c: [*T, "--bogus-flag", "3"], "unrecognized arguments"),
    "argparse-unknown-command": (lambda c: ["bogus-command"], "invalid choice"),
    "import-checkpoint-is-folder": (lambda c: ["import", "--checkpoint", str(c.base)], "is a folder"),
    "resume-fewer-epochs": (lambda c: ["train", "--resume", "--run-dir", str(c.base), "--epochs", "1"], "--epochs 1"),
}


def _npy_as_npz(ctx: Ctx) -> str:
    np.save(ctx.work / "a.npy", np.zeros((4, 8, 8), np.uint8))
    (ctx.work / "a.npy").rename(ctx.work / "a.npz")
    return str(ctx.work / "a.npz")


def _features_without_test(ctx: Ctx) -> str:
    with np.load(ctx.base / "features.npz") as f:
        np.savez(ctx.base / "features.npz", train=f["train"], y_train=f["y_train"])
    return str(ctx.base)


def _other_arch_checkpoint(ctx: Ctx) -> str:
    """Replace the base run's last.pt by a valid Hardpairs checkpoint of a resnet18 (config.json says small_cnn)."""
    import torch

    from core.models.models import build_backbone

    ckpt = torch.load(ctx.base / "checkpoints" / "last.pt", weights_only=True)
    ckpt["config"] = {**ckpt["config"], "arch": "resnet18"}
    ckpt["model"] = {f"backbone.{k}": v for k, v in build_backbone("resnet18", 1).state_dict().items()}
    torch.save(ckpt, ctx.base / "checkpoints" / "last.pt")
    return str(ctx.base)


def _nan_last_checkpoint(ctx: Ctx) -> str:
    shutil.copy(_nan_checkpoint(ctx), ctx.base / "checkpoints" / "last.pt")
    return str(ctx.base)


def _own_checkpoint(ctx: Ctx, name: str, config: dict | None, model: dict | None) -> str:
    import torch

    ckpt = torch.load(ctx.base / "checkpoints" / "last.pt", weights_only=True)
    ckpt["config"] = ckpt["config"] if config is None else config
    ckpt["model"] = ckpt["model"] if model is None else model
    torch.save(ckpt, ctx.work / name)
    return str(ctx.work / name)


def _png(side: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (side, side), 128).save(buf, format="PNG")
    return buf.getvalue()


def _truncated(ctx: Ctx, path: str) -> str:
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) // 2])
    return path


class _Evil:
    def __reduce__(self):  # would run a shell command if unpickled without weights_only
        return (os.system, ("echo pwned > /tmp/hardpairs-pwned",))


def _evil_pickle(ctx: Ctx) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({"model": _Evil()}, buf)
    return buf.getvalue()


def _torch_save(ctx: Ctx, name: str, obj: object) -> str:
    import torch

    torch.save(obj, ctx.work / name)
    return str(ctx.work / name)


def _nan_checkpoint(ctx: Ctx, value: float = float("nan")) -> str:
    import torch

    ckpt = torch.load(ctx.base / "checkpoints" / "last.pt", weights_only=True)
    for v in ckpt["model"].values():
        if v.is_floating_point():
            v.fill_(value)
    torch.save(ckpt, ctx.work / "nan.pt")
    return str(ctx.work / "nan.pt")


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gets_a_clear_error_and_changes_nothing(case, ctx, capsys):
    build, word = CASES[case]
    argv = build(ctx)
    before = tree_digest(ctx.root, ctx.sentinel)
    code = main(argv)
    captured = capsys.readouterr()
    after = tree_digest(ctx.root, ctx.sentinel)
    lines = [line for line in captured.out.splitlines() if line.strip()]
    assert code == 2, f"{case}: exit {code}, stdout tail {lines[-1:]}, stderr {captured.err[-500:]}"
    payload = json.loads(lines[-1])
    assert set(payload) == {"error"} and word.lower() in payload["error"].lower(), payload
    assert "Traceback" not in captured.err
    changed = sorted(set(before.items()) ^ set(after.items()))
    assert not changed, f"{case} changed files: {changed[:5]}"
    assert not Path("/tmp/hardpairs-pwned").exists()


def test_reliability_doc_lists_every_case():
    """docs/reliability.md's table of cases and this suite stay in step (same ids, same expected words)."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "reliability.md").read_text()
    table = doc.split("## Bad-input cases", 1)[1]
    rows = {
        cells[1].strip("` "): cells[3].strip()
        for cells in (line.split("|") for line in table.splitlines() if line.startswith("| `"))
    }
    assert set(rows) == set(CASES), f"add to / remove from docs/reliability.md: {sorted(set(rows) ^ set(CASES))}"
    wrong = {k: (rows[k], w) for k, (_, w) in CASES.items() if rows[k] != w}
    assert not wrong, f"docs/reliability.md names other words than the suite: {wrong}"
