"""The system-time fix of CPU training: freed large blocks are reused instead of unmapped and re-faulted."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

_PROBE = """
import json, resource, sys
import numpy as np
from core.training.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "fix" else None
import torch
def step():  # what a training step does: allocate big activations, touch them, free them
    a = torch.empty(16 * 2**20)  # 64 MB, above glibc's largest mmap threshold
    a.fill_(1.0)
    del a
for _ in range(10):  # warm-up: the heap grows to its working size (first-touch faults are unavoidable)
    step()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(json.dumps({"applied": applied, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0}))
"""


def _faults(mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], cwd=REPO, capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only (a no-op elsewhere)")
def test_keep_freed_memory_stops_refaulting_big_blocks():
    before, after = _faults("default"), _faults("fix")
    assert after["applied"] is True
    # 10 steps x 64 MB touched: 10 x 16384 page faults when each block is a fresh mmap, ~none when reused
    assert before["faults"] > 9 * 16384
    assert after["faults"] < 16384
