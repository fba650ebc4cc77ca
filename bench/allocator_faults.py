"""Minor page faults of a 64 MB allocate/touch/free loop, glibc's default vs ``keep_freed_memory``.

What a CPU training step does to the allocator, reduced to one loop: allocate a 64 MB tensor (above
glibc's largest mmap threshold), touch every page, free it. With glibc's default each block is a fresh
``mmap`` and every step faults its 16,384 pages again; with ``core.training.allocator.keep_freed_memory``
the freed block is reused and the steady-state loop faults ~none. Each mode runs in its own child
process (the setting is process-wide); prints one JSON line per mode and a markdown table.

    python bench/allocator_faults.py --steps 10

Linux with glibc only (elsewhere ``keep_freed_memory`` is a no-op and both rows are the default).
The figures of the full training run are in BENCHMARKS.md, "System time of folder training".
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_PROBE = """
import json, resource, sys
from core.training.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "fix" else None
import torch
steps = int(sys.argv[2])
def step():  # what a training step does: allocate big activations, touch them, free them
    a = torch.empty(16 * 2**20)  # 64 MB, above glibc's largest mmap threshold
    a.fill_(1.0)
    del a
for _ in range(steps):  # warm-up: the heap grows to its working size (first-touch faults are unavoidable)
    step()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(steps):
    step()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
print(json.dumps({"mode": sys.argv[1], "applied": applied, "steps": steps, "faults": faults}))
"""


def measure(mode: str, steps: int) -> dict:
    """Run the loop in a child process; ``mode`` is ``default`` (glibc) or ``fix`` (keep freed blocks)."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode, str(steps)], cwd=REPO, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="measured steps (after as many warm-up steps)")
    args = parser.parse_args()
    rows = [measure(mode, args.steps) for mode in ("default", "fix")]
    for row in rows:
        print(json.dumps(row))
    pages = args.steps * 16 * 2**20 * 4 // 4096
    print(f"\n| allocator | minor page faults over {args.steps} steps | pages touched |")
    print("|---|---:|---:|")
    for row, label in zip(rows, ("glibc default", "keep freed blocks"), strict=True):
        print(f"| {label} | {row['faults']} | {pages} |")


if __name__ == "__main__":
    main()
