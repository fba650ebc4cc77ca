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
def base_run(tmp_path_factory) -> Path:
    """One real digits run (quick preset, 2 epochs) with features, scores and pairs."""
    root = tmp_path_factory.mktemp("fault_runs")
    run = root / "base"
    assert main(["train", "--dataset", "digits", "--epochs", "2", "--run-dir", str(run), "--analyse"]) == 0
    return run


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

#: id -> (argv builder, a word the error message must contain)
CASES: dict[str, tuple[Callable[[Ctx], list[str]], str]] = {
    # containment: names and folders
    "run-dir-user-folder": (lambda c: [*T, "--run-dir", str(c.sentinel)], "not a Hardpairs run"),
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
        "not a Hardpairs run",
    ),
    "empty-folder-name-dot": (lambda c: ["train", "--dataset", _empty_folder(c), "--name", "."], "run name"),
    "run-dir-is-file": (lambda c: [*T, "--run-dir", str(c.sentinel / "thesis.txt")], "thesis.txt"),
    # flags
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
    "resume-not-a-run": (lambda c: ["train", "--resume", "--run-dir", str(c.sentinel)], "not a Hardpairs run"),
    # datasets
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
    # run folders and features
    "score-no-run": (lambda c: ["score", "--run-dir", str(c.work / "nope")], "run"),
    "score-user-folder": (lambda c: ["score", "--run-dir", str(c.sentinel)], "not a Hardpairs run"),
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
    # checkpoints
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
    # states and locks (E3): a run another process trains is refused at once, nothing written
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
}


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


def _nan_checkpoint(ctx: Ctx) -> str:
    import torch

    ckpt = torch.load(ctx.base / "checkpoints" / "last.pt", weights_only=True)
    for v in ckpt["model"].values():
        if v.is_floating_point():
            v.fill_(float("nan"))
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
