"""Auditing a folder larger than memory with an ImageNet checkpoint, end to end (issue 23's first benchmark).

Each step runs as its own ``python -m core`` process under ``/usr/bin/time -v`` with
``HARDPAIRS_MAX_MEMORY_GB=--limit-gb`` (peak RSS and wall time per step):

1. ``store --dataset folder:F --image-size S``: decodes the folder once into the on-disk image store
   (its rate in images/s is printed; ``--skip-store`` leaves the build to ``import``);
2. ``import --checkpoint resnet18.pt --dataset folder:F --image-size S --out-size S``: every train and
   test feature extracted chunk by chunk from the store, then probed;
3. ``score``, ``pairs`` and ``umap`` on the imported run.

The checkpoint is a torchvision ResNet-18 (``weights=None``, seeded: the features are random-network
features; the point is memory and time, not accuracy) saved as a state dict, unless ``--checkpoint``.
The folder: ``--folder`` (e.g. 50,000 synthetic 256 px JPEGs), or one generated with
``bench/stream_memory.py``'s ``make_folder`` (``--n``, ``--size``).

Example (the BENCHMARKS.md figures)::

    nice -n 5 python bench/folder_audit.py --folder /data/jpeg50k --image-size 224 --limit-gb 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from stream_memory import make_folder, timed  # noqa: E402  (bench/stream_memory.py: reused, not copied)


def _checkpoint(path: Path) -> Path:
    import torch
    import torchvision

    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, help="an existing folder:<class>/<image> source (else one is generated)")
    ap.add_argument("--n", type=int, default=2000, help="images to generate when --folder is not given")
    ap.add_argument("--size", type=int, default=256, help="side of each generated JPEG in px")
    ap.add_argument("--image-size", type=int, default=224, help="side the store holds (and the backbone's input)")
    ap.add_argument("--limit-gb", default="2", help="HARDPAIRS_MAX_MEMORY_GB for every step")
    ap.add_argument("--checkpoint", type=Path, help="a ResNet checkpoint (default: a seeded random ResNet-18)")
    ap.add_argument("--work", type=Path, help="where the store and the run go (default: a new temp folder)")
    ap.add_argument("--skip-store", action="store_true", help="let import build the store")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="hp-audit-"))
    work.mkdir(parents=True, exist_ok=True)
    folder = args.folder or work / "folder"
    if args.folder is None:
        make_folder(folder, args.n, args.size)
    n_files = sum(1 for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    ckpt = args.checkpoint or _checkpoint(work / "resnet18.pt")
    env = {**os.environ, "HARDPAIRS_MAX_MEMORY_GB": str(args.limit_gb), "HARDPAIRS_CACHE_DIR": str(work / "cache")}
    spec, size, run = f"folder:{folder}", str(args.image_size), str(work / "runs" / "audit")
    py = [sys.executable, "-m", "core"]
    steps = {
        "store": [*py, "store", "--dataset", spec, "--image-size", size],
        "import": [*py, "import", "--checkpoint", str(ckpt), "--dataset", spec, "--image-size", size,
                   "--out-size", size, "--run-dir", run],
        "score": [*py, "score", "--run-dir", run],
        "pairs": [*py, "pairs", "--run-dir", run],
        "umap": [*py, "umap", "--run-dir", run],
    }  # fmt: skip
    if args.skip_store:
        steps.pop("store")
    decoded = n_files * 3 * args.image_size**2
    print(f"{folder}: {n_files} files, {decoded / 1e9:.2f} GB decoded at {size} px; "
          f"HARDPAIRS_MAX_MEMORY_GB={args.limit_gb}; {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}")  # fmt: skip
    print("| step | peak RSS (GiB) | wall (s) | exit |")
    print("|---|---:|---:|---:|")
    out = {"files": n_files, "decoded_bytes": decoded, "limit_gb": args.limit_gb, "steps": {}}
    for name, cmd in steps.items():
        r = timed(cmd, env)
        out["steps"][name] = r
        rate = f" ({n_files / r['wall_s']:.0f} images/s)" if name == "store" else ""
        print(f"| {name}{rate} | {r['rss_gib']:.2f} | {r['wall_s']:.0f} | {r['rc']:.0f} |", flush=True)
        if r["rc"] != 0:
            break
    print("commands (each under /usr/bin/time -v):")
    for cmd in steps.values():
        print("  " + " ".join(cmd[1:]))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
