"""Keep freed memory in the process: the fix for the system time of CPU training.

Measured (BENCHMARKS.md, "System time of folder training"): a small-CNN step at batch 256 allocates
activations of 16-64 MB per layer. glibc serves every block above its mmap threshold (at most
32 MB, dynamic) with a fresh ``mmap`` and gives it back with ``munmap`` on free, so each step
re-faults every page of its activations: 2.5M minor page faults and 24 % of the CPU time in the
kernel for one epoch on 2,400 28x28 PNGs. With ``M_MMAP_MAX = 0`` (no mmap'd blocks: large blocks
come from the heap) and a high ``M_TRIM_THRESHOLD`` (freed heap is kept up to that much), the
next step reuses the same pages: faults / 12, system time / 13. Torch's and numba's thread counts
were not the cause (both 2 on 2 cores; involuntary context switches barely changed).

The price: a training process keeps up to :data:`TRIM_BYTES` of freed memory instead of returning it
(its peak is unchanged). Only training and extraction CLI processes opt in, never the app or tests.
``HARDPAIRS_KEEP_FREED=0`` in the environment turns it off (``bench/folder_systime.py`` measures both).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
#: Freed heap memory kept for reuse (above it glibc trims the heap top back to the OS).
TRIM_BYTES = 1 << 30


def keep_freed_memory(trim_bytes: int = TRIM_BYTES) -> bool:
    """Tell glibc's malloc to reuse freed large blocks instead of unmapping them (process-wide).

    Returns:
        True when applied; False where there is no glibc ``mallopt`` (macOS, Windows, musl) or
        ``HARDPAIRS_KEEP_FREED=0``: a no-op.
    """
    if not sys.platform.startswith("linux") or os.environ.get("HARDPAIRS_KEEP_FREED", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, min(trim_bytes, 2**31 - 1)))
