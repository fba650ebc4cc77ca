"""Is this GPU box ready? One command (<= 5 min on one GPU) that prints one verdict table.

(1) the training-speed bench (``bench/train_speed.py``: Hardpairs' step vs a reference SSL pipeline);
(2) a 2-epoch CIFAR-10 run streamed from the image store (``HARDPAIRS_IMAGE_STORE=always``; CIFAR-10
    from ``--data-root`` -- torchvision files or a ``train/``+``test/`` folder -- else a synthetic
    CIFAR-sized npz); (3) JPEG decode throughput: nvJPEG (``torchvision.io.decode_jpeg(device="cuda")``)
    against a PIL loop on the CPU, and that both decode the same pixels; (4) each speed branch of
    ``core.models.speed`` really on: forward dtype under autocast, memory format of views and weights,
    fused optimizer, pinned copy, a compiled first step that did not fall back.

Without CUDA it says so and runs the CPU twins instead (``HARDPAIRS_SPEED`` = every branch), so the
command itself is tested on a CPU (``tests/test_gpu_twins.py``); those are not GPU figures.
Exit status 0 when every row passes, 1 otherwise.

Examples::

    python bench/gpu_check.py --data-root data --json bench/gpu_check_h100.json   # on the GPU box
    python bench/gpu_check.py --quick                                           # small sizes, any machine
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

import train_speed  # noqa: E402  (bench/train_speed.py: reused, not copied)

from core.io import write_json  # noqa: E402
from core.models.speed import SPEED_ENV, speed_settings, to_device  # noqa: E402
from core.training.config import make_config  # noqa: E402
from core.training.step import (  # noqa: E402
    CompiledForward,
    StepContext,
    augment_config,
    make_views,
    prepare_model,
    run_step,
)

#: what the CPU twins run with (compile is added in the branch check unless --no-compile)
TWINS = "bf16,channels_last,fused,pin"
Row = dict[str, Any]


def row(check: str, value: Any, threshold: str, ok: bool) -> Row:
    return {"check": check, "value": value, "threshold": threshold, "verdict": "PASS" if ok else "FAIL"}


def check_branches(device: torch.device, compile: bool) -> list[Row]:
    """(4) one step of a small CNN on CIFAR-sized RGB uint8 data with the device's speed settings."""
    speed = speed_settings(device, compile)
    cfg = make_config("cifar10", "quick", arch="small_cnn", batch_size=32, device=str(device), compile=compile)
    logs: list[str] = []
    torch.manual_seed(0)
    model, forward, opt = prepare_model(cfg, 3, device, log=logs.append, speed=speed)
    half = torch.full((3,), 0.5, device=device)
    ctx = StepContext(cfg, forward, opt, augment_config(cfg), half, half, device, speed=speed, model=model)
    x = torch.randint(0, 256, (32, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    g = torch.Generator(device=device).manual_seed(0)
    views = make_views(ctx, to_device(x, device, speed), g)
    with speed.autocast(device):
        _, z = model(views)
    loss, _, _ = run_step(ctx, views, torch.zeros(64, dtype=torch.long, device=device), cfg.lr, True)
    conv = [p for p in model.parameters() if p.ndim == 4][-1]
    nhwc = views.is_contiguous(memory_format=torch.channels_last) and conv.is_contiguous(
        memory_format=torch.channels_last
    )
    pinned = device.type == "cuda" and to_device(x, torch.device("cpu"), speed).is_pinned()
    rows = [
        row(
            "bf16 autocast: projection dtype", str(z.dtype).replace("torch.", ""), "bfloat16", z.dtype == torch.bfloat16
        ),
        row("channels_last: views + conv weights", "NHWC" if nhwc else "NCHW", "NHWC", nhwc),
        row("fused optimizer", f"fused={opt.defaults.get('fused')}", "fused=True", opt.defaults.get("fused") is True),
        row("one step's loss", round(float(loss), 4), "finite", math.isfinite(float(loss))),
    ]
    if device.type == "cuda":
        rows.append(row("pinned host batch", "pinned" if pinned else "pageable", "pinned", pinned))
    else:
        rows.append(row("pinned host batch (twin)", "copy only (no CUDA driver)", "values kept", True))
    if compile:
        failed = [m for m in logs if m.startswith("torch.compile failed")]
        kept = isinstance(forward, CompiledForward) and forward.fn is not forward.eager
        rows.append(row("torch.compile: first step", failed[0][:60] if failed else "compiled", "compiled", kept))
    return rows


def check_train_speed(device: torch.device, quick: bool, data: str) -> list[Row]:
    """(1) ``bench/train_speed.py``: Hardpairs' step (and on a GPU the reference pipeline)."""
    if quick:
        argv = ["--arch", "small_cnn", "--batch-size", "64", "--steps", "3", "--warmup", "1", "--rounds", "1"]
        argv += ["--skip-reference", "--overhead-reps", "2", "--data", "synthetic"]
    else:
        argv = ["--arch", "resnet18", "--batch-size", "512", "--steps", "40", "--warmup", "10", "--rounds", "3"]
        argv += ["--workers", str(min(8, os.cpu_count() or 1)), "--overhead-reps", "20", "--data", data]
    res = train_speed.main(["--device", str(device), "--epochs-estimate", *argv])
    hp = res["hardpairs"]
    rows = [
        row("train speed: Hardpairs views/s", round(hp["views_per_s"]), "> 0", hp["views_per_s"] > 0),
        row("train speed: s per CIFAR-10 epoch", round(hp["cifar10_epoch_s"], 1), "reported", True),
    ]
    if "speedup" in res:
        rows.append(row("train speed: Hardpairs / reference", round(res["speedup"], 2), ">= 1.0", res["speedup"] >= 1))
    share = res["overhead"]["modes"]["combined"]["share_of_step"]
    rows.append(row("combined mode: selection + loss share", f"{100 * share:.2f}%", "<= 5%", share <= 0.05))
    return rows


def find_cifar(data_root: str | None) -> str | None:
    """The dataset spec of real CIFAR-10 under ``data_root`` (torchvision files or a folder), or None."""
    root = Path(data_root or "/nonexistent")
    if (root / "cifar-10-batches-py").is_dir():
        os.environ["HARDPAIRS_DATA"] = str(root)  # this process (train_speed) and the store run
        return "cifar10"
    for folder in (root, root / "cifar10"):
        if (folder / "train").is_dir():
            return f"folder:{folder.resolve()}"
    return None


def cifar_source(data_root: str | None, work: Path, quick: bool) -> str:
    """The store run's dataset: real CIFAR-10 under ``data_root`` if there, else a synthetic npz."""
    spec = find_cifar(data_root)
    if spec:
        return spec
    n_train, n_test = (512, 128) if quick else (50_000, 10_000)
    rng = np.random.default_rng(0)
    path = work / "cifar_synthetic.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (n_train, 3, 32, 32), dtype=np.uint8),
        y_train=rng.integers(0, 10, n_train),
        x_test=rng.integers(0, 256, (n_test, 3, 32, 32), dtype=np.uint8),
        y_test=rng.integers(0, 10, n_test),
    )
    return f"npz:{path}"


def check_store_run(device: torch.device, quick: bool, data_root: str | None, work: Path) -> list[Row]:
    """(2) ``python -m core train --epochs 2`` streamed from the image store, in a child process."""
    spec = cifar_source(data_root, work, quick)
    size = ["--preset", "quick", "--arch", "small_cnn", "--batch-size", "64"]
    if not quick:  # the paper's CIFAR-10 recipe (ResNet-18, batch 512) whatever the spec's name
        size = ["--preset", "paper", "--preset-from", "cifar10"]
    argv = ["train", "--dataset", spec, *size, "--epochs", "2"]
    argv += ["--device", str(device), "--no-probe", "--run-dir", str(work / "run")]
    env = {"HARDPAIRS_IMAGE_STORE": "always", "HARDPAIRS_CACHE_DIR": str(work / "cache"), "PYTHONPATH": str(REPO)}
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "core", *argv], cwd=REPO, env=os.environ | env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t
    progress_path = work / "run" / "progress.jsonl"
    progress = [json.loads(s) for s in progress_path.read_text().splitlines()] if progress_path.exists() else []
    losses = [p["loss"] for p in progress]
    stores = list((work / "cache" / "images").rglob("*")) if (work / "cache" / "images").is_dir() else []
    err = (proc.stderr.strip().splitlines() or [""])[-1][:80]
    rows = [
        row(f"store run ({spec.split(':')[0]}): exit status", proc.returncode, "0", proc.returncode == 0),
        row("store run: epochs, final loss", f"{len(progress)}, {losses[-1]:.4f}" if losses else err, "2, finite",
            len(losses) == 2 and all(math.isfinite(v) for v in losses)),
        row("store run: image store written", f"{len(stores)} files", ">= 1 file", bool(stores)),
    ]  # fmt: skip
    if progress:
        ips = progress[-1]["images_per_s"]
        rows.append(row("store run: images/s (epoch 2)", round(ips), "reported", True))
    rows.append(row("store run: wall s (incl. store build, features)", round(wall, 1), "reported", True))
    return rows


def _jpegs(n: int, size: int) -> list[torch.Tensor]:
    """``n`` smooth synthetic RGB images (gradients + noise, like photos compress) as JPEG bytes."""
    from torchvision.io import encode_jpeg

    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, size, dtype=np.float32)
    out = []
    for _ in range(n):
        a, b = rng.uniform(0, 255, (2, 3, 1, 1))
        img = a * ramp[None, :, None] + b * ramp[None, None, :] + rng.normal(0, 12, (3, size, size))
        out.append(encode_jpeg(torch.from_numpy(np.clip(img / 2, 0, 255).astype(np.uint8)), quality=90))
    return out


def check_jpeg(device: torch.device, quick: bool) -> list[Row]:
    """(3) decode throughput: ``decode_jpeg`` on ``device`` (nvJPEG on CUDA) vs a PIL loop on the CPU."""
    from PIL import Image
    from torchvision.io import decode_jpeg

    n, size = (32, 128) if quick else (512, 256)
    data = _jpegs(n, size)
    t = time.perf_counter()
    pil = [np.asarray(Image.open(io.BytesIO(d.numpy().tobytes())).convert("RGB")) for d in data]
    pil_rate = n / (time.perf_counter() - t)
    where = "cuda" if device.type == "cuda" else "cpu"
    decode_jpeg(data[:8], device=where)  # warm-up (nvJPEG handles, CUDA context)
    train_speed.sync(device)
    t = time.perf_counter()
    dec = decode_jpeg(data, device=where)
    train_speed.sync(device)
    rate = n / (time.perf_counter() - t)
    diff = float(
        np.mean(
            [
                np.abs(d.cpu().numpy().transpose(1, 2, 0).astype(np.int16) - p).mean()
                for d, p in zip(dec, pil, strict=True)
            ]
        )
    )
    name = "nvJPEG decode_jpeg(cuda)" if where == "cuda" else "decode_jpeg(cpu) twin"
    need = 2.0 if where == "cuda" else 0.0
    return [
        row(f"JPEG {size} px: PIL img/s (CPU, 1 thread)", round(pil_rate), "reported", True),
        row(f"JPEG {size} px: {name} img/s", round(rate), f">= {need:g}x PIL" if need else "reported",
            rate >= need * pil_rate),
        row("JPEG: mean abs. difference to PIL (levels)", round(diff, 3), "<= 2", diff <= 2),
    ]  # fmt: skip


def print_table(rows: list[Row], header: str) -> None:
    print(f"\n{header}\n")
    print("| check | value | threshold | verdict |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['check']} | {r['value']} | {r['threshold']} | {r['verdict']} |")
    failed = [r["check"] for r in rows if r["verdict"] == "FAIL"]
    print(f"\nverdict: {'PASS' if not failed else 'FAIL (' + '; '.join(failed) + ')'} -- {len(rows)} checks")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a CPU or a smoke test), same checks")
    p.add_argument("--data-root", help="CIFAR-10: torchvision files or a train/+test/ folder (default: synthetic)")
    p.add_argument("--device", default="auto", help="auto (CUDA when there is one), cuda or cpu")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile (the slowest CPU check)")
    p.add_argument("--json", help="also write the rows and the device here")
    args = p.parse_args(argv)
    from core.device import pick_device

    device = pick_device(args.device)
    if device.type == "cuda":
        header = f"CUDA: {torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    else:  # every branch but compile (checked once, in the branch rows: it costs ~15 s per model here)
        os.environ[SPEED_ENV] = TWINS
        compiled = "" if args.no_compile else " + compile in the branch check"
        header = (
            f"NO CUDA DEVICE -- these are NOT GPU figures: ran the CPU twins ({SPEED_ENV}={TWINS}{compiled}), "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads"
        )
        print(header, flush=True)
    spec = find_cifar(args.data_root)
    data = spec if spec and (spec.startswith("folder:") or spec == "cifar10") else "synthetic"
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        work = Path(tmp)
        rows = check_branches(device, compile=not args.no_compile)
        rows += check_train_speed(device, args.quick, data)
        rows += check_store_run(device, args.quick, args.data_root, work)
        rows += check_jpeg(device, args.quick)
    print_table(rows, header)
    if args.json:
        write_json(args.json, {"device": header, "cuda": device.type == "cuda", "quick": args.quick, "rows": rows})
    return 0 if all(r["verdict"] == "PASS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
