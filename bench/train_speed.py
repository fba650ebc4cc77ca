"""Training throughput: Hardpairs' trainer step against a reference SSL pipeline, same device/model/batch.

(a) Hardpairs: ``core.training.loop`` internals -- images resident on the device as uint8, batched device
    augmentation, bf16 autocast + channels_last + fused optimizer on CUDA, optional torch.compile,
    host sync only on log steps (every ``--log-every`` steps, as the trainer).
(b) Reference, in the style of the common SSL libraries: torchvision.transforms.v2 per PIL image
    (RandomResizedCrop, flip, ColorJitter p=0.8, RandomGrayscale, ToImage/ToDtype, Normalize) in a
    DataLoader with ``--workers`` processes, float32 NCHW model, plain NT-Xent, SGD (foreach), no
    per-step host sync (kinder to the reference than per-step ``loss.item()`` logging).

FLOPs: ``torch.utils.flop_counter.FlopCounterMode`` over one forward *and* backward of the model
(counted directly, not forward x 3) on a few views, scaled to 2B views; the loss is not counted.
Peak: the dense bf16 tensor-core rate of known GPUs (``--peak-tflops`` overrides; none on a CPU).
Timing: both pipelines are warmed up, then timed in ``--rounds`` alternating rounds of ``--steps``
steps (the median round is reported), which spreads the load of a shared machine over both. Also
times ``select_difficult_pairs`` and each paper loss mode (forward + backward) on (2B, D) features
against the Hardpairs baseline step.

Examples::

    python bench/train_speed.py --device cpu --arch small_cnn --batch-size 128 --steps 10 --warmup 3
    python bench/train_speed.py --device cuda --arch resnet18 --batch-size 512 --steps 100 --warmup 20 \\
        --data folder:/data/cifar10 --workers 8 --compile --epochs-estimate --json bench/h100.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.io import write_json
from core.models.models import FEATURE_DIMS, SimCLRModel  # noqa: E402
from core.training.config import make_config  # noqa: E402
from core.training.loss import contrastive_loss, pair_stats, select_difficult_pairs  # noqa: E402
from core.training.step import StepContext, augment_config, make_views, prepare_model, run_step  # noqa: E402

CIFAR10_TRAIN = 50_000
#: Dense bf16 tensor-core peaks in TFLOP/s, matched against torch.cuda.get_device_name() in order.
PEAKS = (
    ("H100 PCIe", 756.0),
    ("H100", 989.0),
    ("H200", 989.0),
    ("GH200", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("A10G", 70.0),
    ("RTX 4090", 165.0),
    ("RTX 3090", 71.0),
)
PAPER_MODES = ("removal", "margin", "temperature", "combined")


def load_images(spec: str, n_synthetic: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x (N, 3, H, W) uint8, y (N,) int64, mean (3,), std (3,))``; 1-channel data is repeated to RGB."""
    if spec == "synthetic":
        rng = np.random.default_rng(seed)
        x = rng.integers(0, 256, (n_synthetic, 3, 32, 32), dtype=np.uint8)
        y = rng.integers(0, 10, n_synthetic).astype(np.int64)
    else:
        from core.data.sources import load_dataset

        data = load_dataset(spec)
        x, y = data.x_train, data.y_train.astype(np.int64)
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    flat = x.reshape(len(x), 3, -1)[:10_000].astype(np.float32) / 255.0
    return np.ascontiguousarray(x), y, flat.mean(axis=(0, 2)), flat.std(axis=(0, 2)) + 1e-6


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], object], device: torch.device, reps: int, warmup: int = 2) -> float:
    """Mean milliseconds of ``fn()`` over ``reps`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    sync(device)
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    sync(device)
    return (time.perf_counter() - t) / reps * 1e3


def hardpairs_step(
    x: np.ndarray, y: np.ndarray, mean: np.ndarray, std: np.ndarray, cfg, device: torch.device
) -> Callable[[], None]:
    """One step of the trainer's own loop (``core.training.loop.make_views`` + ``run_step``) per call."""
    torch.manual_seed(cfg.seed)
    model, forward, opt = prepare_model(cfg, x.shape[1], device, log=lambda m: print(m, file=sys.stderr))
    model.train()
    ctx = StepContext(
        cfg,
        forward,
        opt,
        augment_config(cfg),
        torch.as_tensor(mean, device=device),
        torch.as_tensor(std, device=device),
        device,
    )
    xd, yd = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    b = cfg.batch_size
    per_epoch = len(xd) // b
    g = torch.Generator(device=device).manual_seed(cfg.seed)
    state = {
        "i": 0,
        "perm": torch.randperm(len(xd), generator=g, device=device),
        "loss": torch.zeros((), device=device),
    }

    def step() -> None:
        i = state["i"]
        state["i"] += 1
        s = i % per_epoch
        if s == 0 and i:
            state["perm"] = torch.randperm(len(xd), generator=g, device=device)
        bidx = state["perm"][s * b : (s + 1) * b]
        lv = torch.cat([yd[bidx], yd[bidx]])
        log = (i + 1) % cfg.log_every == 0
        loss, pairs, _ = run_step(ctx, make_views(ctx, xd[bidx], g), lv, cfg.lr, log)
        state["loss"] += loss
        if log:  # what the trainer does on a log step
            float(state["loss"])
            pair_stats(pairs, lv)

    return step


class _TwoViews(torch.utils.data.Dataset):
    """torchvision-style dataset: uint8 array -> PIL image -> two independently transformed views."""

    def __init__(self, x: np.ndarray, transform: Callable):
        self.x, self.transform = x, transform

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        from PIL import Image

        img = Image.fromarray(self.x[i].transpose(1, 2, 0))
        return self.transform(img), self.transform(img)


def reference_transform(size: int, mean: np.ndarray, std: np.ndarray):
    """The SimCLR CIFAR augmentation as torchvision.transforms.v2 on PIL images."""
    from torchvision.transforms import v2

    return v2.Compose(
        [
            v2.RandomResizedCrop(size, scale=(0.2, 1.0), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
            v2.RandomGrayscale(p=0.2),
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean.tolist(), std.tolist()),
        ]
    )


def nt_xent(z: torch.Tensor, tau: float) -> torch.Tensor:
    """Plain SimCLR NT-Xent over (2B, P) projections ordered [z_1..z_B, z'_1..z'_B]."""
    z = F.normalize(z, dim=1)
    n2 = z.shape[0]
    logits = (z @ z.T / tau).fill_diagonal_(float("-inf"))
    return F.cross_entropy(logits, (torch.arange(n2, device=z.device) + n2 // 2) % n2)


def reference_step(
    x: np.ndarray, mean: np.ndarray, std: np.ndarray, cfg, device: torch.device, workers: int
) -> Callable[[], None]:
    """One step of per-image CPU augmentation in DataLoader workers feeding a float32 model per call."""
    loader = torch.utils.data.DataLoader(
        _TwoViews(x, reference_transform(cfg.out_size, mean, std)),
        batch_size=cfg.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
    )
    torch.manual_seed(cfg.seed)
    model = SimCLRModel(cfg.arch, x.shape[1], cfg.proj_hidden, cfg.proj_dim).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)

    def batches():
        while True:
            yield from loader

    it = batches()

    def step() -> None:
        v1, v2 = next(it)
        views = torch.cat([v1.to(device, non_blocking=True), v2.to(device, non_blocking=True)])
        _, z = model(views)
        loss = nt_xent(z, cfg.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def measure(
    steps_fns: dict[str, Callable[[], None]], device: torch.device, steps: int, warmup: int, rounds: int
) -> dict[str, list[float]]:
    """Warm every pipeline up, then time ``steps`` steps of each in ``rounds`` alternating rounds.

    Returns seconds per round for each pipeline (alternation spreads a shared machine's load).
    """
    for fn in steps_fns.values():
        for _ in range(warmup):
            fn()
        sync(device)
    out: dict[str, list[float]] = {k: [] for k in steps_fns}
    for r in range(rounds):
        order = list(steps_fns) if r % 2 == 0 else list(steps_fns)[::-1]
        for name in order:
            sync(device)
            t = time.perf_counter()
            for _ in range(steps):
                steps_fns[name]()
            sync(device)
            out[name].append(time.perf_counter() - t)
    return out


def model_flops_per_view(cfg, channels: int) -> float:
    """Forward + backward FLOPs of the model per view (FlopCounterMode, CPU, 8 views)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = SimCLRModel(cfg.arch, channels, cfg.proj_hidden, cfg.proj_dim).train()
    views = torch.randn(8, channels, cfg.out_size, cfg.out_size)
    with FlopCounterMode(display=False) as counter:
        h, z = model(views)
        (z.sum() + h.sum()).backward()
    return counter.get_total_flops() / 8


def device_peak(device: torch.device, override: float | None) -> tuple[float | None, str]:
    if override:
        return override, "given"
    if device.type != "cuda":
        return None, "cpu"
    name = torch.cuda.get_device_name(device)
    for key, peak in PEAKS:
        if key in name:
            return peak, name
    return None, name


def overhead(cfg, device: torch.device, reps: int) -> dict:
    """Milliseconds of the selection and of each loss mode (forward + backward) on (2B, D) features."""
    n2, d = 2 * cfg.batch_size, FEATURE_DIMS[cfg.arch]
    gen = torch.Generator(device=device).manual_seed(0)
    h = torch.randn(n2, d, device=device, generator=gen)
    z0 = torch.randn(n2, cfg.proj_dim, device=device, generator=gen)
    pairs = select_difficult_pairs(h, cfg.pos_high, cfg.pos_low, cfg.per_row)
    out = {
        "select_ms": time_calls(lambda: select_difficult_pairs(h, cfg.pos_high, cfg.pos_low, cfg.per_row), device, reps)
    }
    for mode in ("baseline", *PAPER_MODES):
        z = z0.clone().requires_grad_(True)

        def fwd_bwd(mode=mode, z=z):
            contrastive_loss(
                z, cfg.temperature, None if mode == "baseline" else pairs, mode, sigma=cfg.sigma, rho=cfg.rho
            ).backward()

        out[f"loss_{mode}_ms"] = time_calls(fwd_bwd, device, reps)
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--arch", default="small_cnn", choices=("small_cnn", "resnet18"))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=10, help="timed steps per pipeline")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation, cuDNN autotuning, workers)")
    p.add_argument(
        "--rounds", type=int, default=3, help="alternating timed rounds per pipeline; the median is reported"
    )
    p.add_argument(
        "--data", default="synthetic", help="synthetic | digits | folder:PATH (train/ and test/ class folders)"
    )
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="reference DataLoader workers")
    p.add_argument("--compile", action="store_true", help="torch.compile the Hardpairs model")
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--overhead-reps", type=int, default=20)
    p.add_argument("--peak-tflops", type=float, help="device peak for the %% column (default: known GPUs)")
    p.add_argument("--epochs-estimate", action="store_true", help="print seconds per CIFAR-10 epoch implied")
    p.add_argument("--skip-reference", action="store_true")
    p.add_argument(
        "--threads",
        type=int,
        help="torch intra-op threads of the main process (1 is steadier on a "
        "loaded CPU, where 2+ OpenMP threads wait on each other); DataLoader workers use 1 each",
    )
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from core.device import pick_device

    device = pick_device(args.device)
    cfg = make_config(
        "cifar10",
        "paper",
        arch=args.arch,
        batch_size=args.batch_size,
        device=str(device),
        compile=args.compile,
        log_every=args.log_every,
        loss_mode="baseline",
    )
    x, y, mean, std = load_images(args.data, args.batch_size * 8)
    if len(x) < args.batch_size:
        raise SystemExit(f"--data {args.data} has {len(x)} images, fewer than --batch-size {args.batch_size}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    flops_view = model_flops_per_view(cfg, x.shape[1])
    peak, device_name = device_peak(device, args.peak_tflops)
    res = {
        "device": device_name,
        "torch": torch.__version__,
        "arch": args.arch,
        "batch_size": args.batch_size,
        "views_per_step": 2 * args.batch_size,
        "steps": args.steps,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "data": args.data,
        "n_images": len(x),
        "workers": args.workers,
        "compile": args.compile,
        "cpu_threads": torch.get_num_threads(),
        "load_avg_1min_before": load,
        "model_gflop_per_view_fwd_bwd": flops_view / 1e9,
        "peak_tflops": peak,
    }
    fns = {"hardpairs": hardpairs_step(x, y, mean, std, cfg, device)}
    if not args.skip_reference:
        fns["reference"] = reference_step(x, mean, std, cfg, device, args.workers)
    secs = measure(fns, device, args.steps, args.warmup, args.rounds)
    rows = {}
    for name, s in secs.items():
        med = float(np.median(s))
        rows[name] = {
            "views_per_s": 2 * args.batch_size * args.steps / med,
            "step_ms": med / args.steps * 1e3,
            "round_views_per_s": [2 * args.batch_size * args.steps / v for v in s],
        }
    for r in rows.values():
        r["tflops"] = r["views_per_s"] * flops_view / 1e12
        r["peak_share"] = r["tflops"] / peak if peak else None
        r["cifar10_epoch_s"] = 2 * CIFAR10_TRAIN / r["views_per_s"]
    res.update(rows)
    if "reference" in rows:
        res["speedup"] = rows["hardpairs"]["views_per_s"] / rows["reference"]["views_per_s"]
    ov = overhead(cfg, device, args.overhead_reps)
    base_ms = rows["hardpairs"]["step_ms"]
    ov["modes"] = {
        m: {
            "extra_ms": ov["select_ms"] + ov[f"loss_{m}_ms"] - ov["loss_baseline_ms"],
            "share_of_step": (ov["select_ms"] + ov[f"loss_{m}_ms"] - ov["loss_baseline_ms"]) / base_ms,
        }
        for m in PAPER_MODES
    }
    res["overhead"] = ov
    res["load_avg_1min_after"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    _print_tables(res, rows, args)
    if args.json:
        write_json(args.json, res)
    return res


def _print_tables(res: dict, rows: dict, args: argparse.Namespace) -> None:
    pk = f"{res['peak_tflops']:.0f}" if res["peak_tflops"] else "n/a"
    print(
        f"\n{res['device']}, {res['arch']}, batch {res['batch_size']} ({res['views_per_step']} views/step), "
        f"data {res['data']}, median of {res['rounds']} rounds of {res['steps']} steps after {res['warmup']}, "
        f"{res['workers']} workers, "
        f"model {res['model_gflop_per_view_fwd_bwd']:.3f} GFLOP/view fwd+bwd (FlopCounterMode), peak {pk} TFLOP/s, "
        f"load {res['load_avg_1min_before']:.1f} -> {res['load_avg_1min_after']:.1f}\n"
    )
    print("| pipeline | views/s | step ms | TFLOP/s | % of peak | s / CIFAR-10 epoch |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        share = f"{100 * r['peak_share']:.1f}" if r["peak_share"] is not None else "n/a"
        print(
            f"| {name} | {r['views_per_s']:.0f} | {r['step_ms']:.1f} | {r['tflops']:.3f} | {share} "
            f"| {r['cifar10_epoch_s']:.1f} |"
        )
    if "speedup" in res:
        print(f"\nHardpairs / reference views/s: {res['speedup']:.2f}x")
    ov = res["overhead"]
    print(f"\n| part (2B = {res['views_per_step']}) | ms | share of Hardpairs baseline step |")
    print("|---|---:|---:|")
    base = rows["hardpairs"]["step_ms"]
    print(f"| select_difficult_pairs | {ov['select_ms']:.3f} | {100 * ov['select_ms'] / base:.2f}% |")
    print(f"| baseline loss fwd+bwd | {ov['loss_baseline_ms']:.3f} | {100 * ov['loss_baseline_ms'] / base:.2f}% |")
    for m, v in ov["modes"].items():
        print(f"| {m}: selection + loss - baseline loss | {v['extra_ms']:.3f} | {100 * v['share_of_step']:.2f}% |")
    if args.epochs_estimate:
        parts = [
            f"{n} {r['cifar10_epoch_s']:.1f} s ({200 * r['cifar10_epoch_s'] / 60:.1f} min for 200 epochs)"
            for n, r in rows.items()
        ]
        print(f"\nepochs-estimate: seconds per CIFAR-10 epoch (50,000 images, 2 views): {'; '.join(parts)}")


if __name__ == "__main__":
    main()
