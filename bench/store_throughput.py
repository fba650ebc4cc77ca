"""Training throughput from the image store vs in memory, on the same data (issue 23's >= 0.9x target).

For each shape (digits-sized 1x8x8 and CIFAR-sized 3x32x32 synthetic uint8 arrays, saved as one
``npz:`` source) it loads the dataset twice through ``core.data.sources.load_dataset``: with
``HARDPAIRS_IMAGE_STORE=never`` (images in memory, device-resident batches) and ``=always``
(images in the on-disk store, batches gathered by ``core.training.batches.StreamedBatches``), then

- trains ``--epochs`` epochs of ``--arch`` with ``core.training.loop.train`` on each and reports the
  trainer's own images/s (``TrainResult.images_per_s``) -- rounds alternate between the two paths;
- times the batch source alone (every batch of one epoch, no model): the loader's ceiling.

Examples::

    python bench/store_throughput.py --rounds 2
    python bench/store_throughput.py --device cuda --arch resnet18 --cifar-n 50000 --epochs 1
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.data.residency import STORE_ENV, is_streamed  # noqa: E402
from core.data.sources import ImageDataset, load_dataset  # noqa: E402
from core.training.batches import make_batches  # noqa: E402
from core.training.config import make_config  # noqa: E402
from core.training.loop import train  # noqa: E402


def _write_npz(path: Path, n: int, c: int, s: int, seed: int = 0) -> None:
    """A synthetic 10-class source: smooth random images (compressible like photos), 80/20 split."""
    rng = np.random.default_rng(seed)
    n_test = n // 5
    base = rng.integers(0, 256, (n + n_test, c, max(2, s // 4), max(2, s // 4)), dtype=np.uint8)
    x = np.repeat(np.repeat(base, 4, axis=2), 4, axis=3)[:, :, :s, :s]
    y = rng.integers(0, 10, n + n_test).astype(np.int64)
    np.savez(path, x_train=x[:n], y_train=y[:n], x_test=x[n:], y_test=y[n:])


def _load(spec: str, mode: str, cache: Path) -> ImageDataset:
    os.environ[STORE_ENV] = mode
    data = load_dataset(spec, cache_dir=cache)
    assert is_streamed(data.x_train) == (mode == "always"), (mode, type(data.x_train))
    return data


def _loader_rate(data: ImageDataset, batch: int, device: torch.device) -> float:
    """Images/s of one epoch of batches from the batch source alone (no model)."""
    idx = np.arange(len(data.x_train))
    y = torch.from_numpy(data.y_train).to(device)
    src = make_batches(data.x_train, idx, y, device, batch, torch.nn.Linear(1, 1))
    perm = torch.randperm(len(idx), device=device)
    t0, seen = time.perf_counter(), 0
    with src.epoch(perm, batch) as it:
        for xb, _ in it:
            seen += int(xb.float().sum().item() >= 0) * len(xb)  # touch the batch on the device
    return seen / max(time.perf_counter() - t0, 1e-9)


def _train_rate(data: ImageDataset, args: argparse.Namespace, out: Path) -> float:
    cfg = make_config(
        "digits", arch=args.arch, epochs=args.epochs, batch_size=args.batch_size, device=args.device, log_every=50
    )
    return float(train(cfg, data, out).images_per_s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--digits-n", type=int, default=1438)
    ap.add_argument("--cifar-n", type=int, default=10_000)
    ap.add_argument("--arch", default="small_cnn")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds per path (median reported)")
    args = ap.parse_args()
    device = torch.device("cuda" if args.device == "cuda" else "cpu")
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, arch {args.arch}")
    table = ["| data | path | loader img/s | train img/s (median) | store/memory |", "|---|---|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for label, n, c, s in (("digits-sized", args.digits_n, 1, 8), ("CIFAR-sized", args.cifar_n, 3, 32)):
            src = root / f"{label}.npz"
            _write_npz(src, n, c, s)
            sets = {mode: _load(f"npz:{src}", mode, root / "cache") for mode in ("never", "always")}
            loader = {m: _loader_rate(d, args.batch_size, device) for m, d in sets.items()}
            rates: dict[str, list[float]] = {"never": [], "always": []}
            for r in range(args.rounds):
                for mode, data in sets.items():
                    rates[mode].append(_train_rate(data, args, root / f"run-{label}-{mode}-{r}"))
            med = {m: float(np.median(v)) for m, v in rates.items()}
            for mode, name in (("never", "in memory"), ("always", "store")):
                ratio = f"{med['always'] / med['never']:.2f}x" if mode == "always" else ""
                table.append(f"| {label} {n}x{c}x{s}x{s} | {name} | {loader[mode]:,.0f} | {med[mode]:,.0f} | {ratio} |")
    print("\n".join(table), flush=True)


if __name__ == "__main__":
    main()
