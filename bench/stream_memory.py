"""Peak memory of ``train`` and ``import`` on a folder that does not fit the memory limit (issue 23).

Writes a synthetic ``folder:`` source of ``--n`` JPEGs at ``--size`` px in 10 class folders
(``--out``; kept and reused when it already holds them), saves a torchvision ResNet-18 built with
``weights=None`` as a state_dict checkpoint, then runs, each under ``/usr/bin/time -v`` with
``HARDPAIRS_MAX_MEMORY_GB=--limit-gb``:

1. ``python -m core train --dataset folder:OUT --epochs 1 --arch small_cnn ...`` (builds the image
   store on first use, then streams batches from it), and
2. ``python -m core import --checkpoint resnet18.pt --dataset folder:OUT --out-size S`` (extracts
   every feature chunk by chunk from the store),

and prints each command's peak RSS (``Maximum resident set size``) and wall time, and the decoded
size of the folder (N x 3 x size x size bytes). 20,000 images at 224 px decode to 3.0 GB.

Examples::

    python bench/stream_memory.py --n 2000 --size 96 --out /tmp/hp-stream-small
    nice -n 10 python bench/stream_memory.py --n 20000 --size 224 --out /tmp/hp-stream-3gb --limit-gb 1
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def make_folder(out: Path, n: int, size: int, classes: int = 10, seed: int = 0) -> None:
    """``out/<class>/<i>.jpg``: ``n`` smooth random RGB images (JPEG quality 90); skipped when complete."""
    from PIL import Image

    marker = out / f".complete-{n}-{size}"
    if marker.exists():
        return
    rng = np.random.default_rng(seed)
    for i in range(n):
        c = i % classes
        (out / f"c{c}").mkdir(parents=True, exist_ok=True)
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        small[..., c % 3] = np.clip(small[..., c % 3].astype(int) + 60, 0, 255)  # a class tint
        img = Image.fromarray(small).resize((size, size), Image.Resampling.BILINEAR)
        img.save(out / f"c{c}" / f"{i:07d}.jpg", quality=90)
    marker.write_text("done\n")


def timed(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run ``cmd`` under ``/usr/bin/time -v``; its peak RSS (GiB), wall time (s) and exit code."""
    t0 = time.time()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], env=env, cwd=REPO, capture_output=True, text=True)
    wall = time.time() - t0
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n", file=sys.stderr)
    return {"rss_gib": int(found.group(1)) / 2**20 if found else float("nan"), "wall_s": wall, "rc": proc.returncode}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="images (20000 at 224 px = 3.0 GB decoded)")
    ap.add_argument("--size", type=int, default=96, help="side of each JPEG in px")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "hp-stream-folder")
    ap.add_argument("--limit-gb", default="1", help="HARDPAIRS_MAX_MEMORY_GB for both commands")
    ap.add_argument("--out-size", type=int, default=64, help="import's --out-size (the backbone's input)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--store", default="auto", help="HARDPAIRS_IMAGE_STORE (auto: the rule decides)")
    args = ap.parse_args()
    t0 = time.time()
    make_folder(args.out, args.n, args.size)
    print(f"folder {args.out}: {args.n} JPEGs at {args.size} px ({time.time() - t0:.0f} s), decoded "
          f"{args.n * 3 * args.size**2 / 1e9:.2f} GB; HARDPAIRS_MAX_MEMORY_GB={args.limit_gb}")  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="hp-stream-"))
    ckpt = work / "resnet18.pt"
    import torch
    import torchvision

    torch.manual_seed(0)  # the same random ResNet-18 in every run: imports are comparable across runs
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), ckpt)
    env = {
        **os.environ,
        "HARDPAIRS_MAX_MEMORY_GB": str(args.limit_gb),
        "HARDPAIRS_IMAGE_STORE": args.store,
        "HARDPAIRS_CACHE_DIR": str(work / "cache"),
    }
    spec = f"folder:{args.out}"
    runs = str(work / "runs")
    py = [sys.executable, "-m", "core"]
    cmds = {
        "train": [*py, "train", "--dataset", spec, "--epochs", "1", "--arch", "small_cnn", "--batch-size",
                  str(args.batch_size), "--no-probe", "--runs-root", runs, "--name", "stream"],
        "import": [*py, "import", "--checkpoint", str(ckpt), "--dataset", spec, "--out-size", str(args.out_size),
                   "--runs-root", runs, "--name", "imported"],
    }  # fmt: skip
    print("| command | peak RSS (GiB) | wall (s) | exit |")
    print("|---|---:|---:|---:|")
    for name, cmd in cmds.items():
        r = timed(cmd, env)
        print(f"| {name} | {r['rss_gib']:.2f} | {r['wall_s']:.0f} | {r['rc']:.0f} |", flush=True)
    print(f"commands (under /usr/bin/time -v, env HARDPAIRS_MAX_MEMORY_GB={args.limit_gb}):")
    for cmd in cmds.values():
        print("  " + " ".join(cmd[1:]))


if __name__ == "__main__":
    main()
