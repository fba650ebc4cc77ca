"""Building one image store (``<root>/<key>.building/``, renamed to ``<key>`` once complete) chunk by chunk:

* ``images.npy`` -- (N, C, S, S) uint8, created sparse by ``numpy.lib.format.open_memmap``;
* ``labels.npy`` (N,) int64 and ``rows.npy`` (N,) int64 (the source index of each store row);
* ``plan.json`` -- written last and atomically: a building folder without it is started afresh;
* ``done/<chunk>`` -- one file per finished chunk (rows ``[i*R, (i+1)*R)``), written atomically after
  the chunk's rows were flushed; it lists the rows whose file failed to decode (usually ``[]``).

A killed build leaves chunks without markers: the next build with the same key decodes only those.
Under ``torchrun`` rank ``r`` of ``W`` decodes the contiguous chunk range :func:`rank_chunks`.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.data.decode import DECODE_BUDGET, decode_one, resize_images
from core.errors import HardpairsError
from core.io import atomic_write_bytes

#: Rows per chunk (one done-marker each; fewer for big rows); ``$HARDPAIRS_STORE_CHUNK`` overrides it.
CHUNK_ROWS = 1024
CHUNK_ENV = "HARDPAIRS_STORE_CHUNK"
#: Worker processes of a folder build; ``$HARDPAIRS_STORE_WORKERS`` overrides the default (CPU count, max 16).
WORKERS_ENV = "HARDPAIRS_STORE_WORKERS"
#: Seconds each decoded chunk waits before its marker (fault tests only; unset in normal use).
DELAY_ENV = "HARDPAIRS_STORE_TEST_DELAY"
#: Seconds a ``torchrun`` rank waits for the others (``$HARDPAIRS_STORE_WAIT_S``).
WAIT_ENV = "HARDPAIRS_STORE_WAIT_S"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Plan:
    """What a build writes: ``rows`` (N,) source index of each store row (train rows first), their
    ``labels``, ``n_train``, the ``shape`` (C, S, S) of a row, the PIL ``mode`` (folders) and ``meta``
    (classes, skipped files, source: copied into ``meta.json``)."""

    rows: np.ndarray
    labels: np.ndarray
    n_train: int
    shape: tuple[int, int, int]
    mode: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@contextmanager
def locked(root: Path, key: str) -> Iterator[None]:
    """One builder of ``key`` at a time (an exclusive ``fcntl`` lock on ``<root>/.locks/<key>``)."""
    try:
        (root / ".locks").mkdir(parents=True, exist_ok=True)
        fd = os.open(root / ".locks" / key, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise HardpairsError(f"cannot write the image store in {root} ({err}); set HARDPAIRS_CACHE_DIR=DIR") from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def dist() -> tuple[int, int]:
    """``(rank, world size)`` from torchrun's environment (``(0, 1)`` outside it)."""
    return int(os.environ.get("RANK", "0") or 0), max(1, int(os.environ.get("WORLD_SIZE", "1") or 1))


def wait_for(test: Callable[[], Any], what: str) -> Any:
    """Poll ``test`` until it returns a truthy value; a clear error after ``$HARDPAIRS_STORE_WAIT_S`` (3600) s."""
    limit = float(os.environ.get(WAIT_ENV) or 3600)
    deadline = time.monotonic() + limit
    while not (got := test()):
        if time.monotonic() > deadline:
            raise HardpairsError(
                f"image store: waited {limit:.0f} s for {what}; a rank may have died -- rerun (the build resumes), "
                f"or raise {WAIT_ENV}"
            )
        time.sleep(0.2)
    return got


def all_done(bdir: Path, total: int) -> dict[int, list[int]] | None:
    done = done_chunks(bdir)
    return done if len(done) >= total else None


def finish(bdir: Path, dest: Path, plan: Plan, meta: dict[str, Any]) -> None:
    """Write ``meta.json`` (``meta``, the plan's, the sha1 of the two files' bytes); rename ``bdir`` to ``dest``."""
    import hashlib
    import shutil

    h = hashlib.sha1()
    for name in ("images.npy", "labels.npy"):  # plain reads, 64 MiB at a time: no mapped pages stay resident
        with open(bdir / name, "rb") as fh:
            for block in iter(lambda: fh.read(64 << 20), b""):
                h.update(block)
    meta = meta | {"n_train": plan.n_train, "n": len(plan.rows), "shape": list(plan.shape), "sha1": h.hexdigest()}
    meta |= {"image_size": plan.shape[1], "classes": [], "skipped": []} | plan.meta
    atomic_write_bytes(bdir / "meta.json", json.dumps(meta, indent=1).encode())
    shutil.rmtree(bdir / "done", ignore_errors=True)
    os.replace(bdir, dest)  # atomic: the store appears complete or not at all


def chunk_rows(row_bytes: int) -> int:
    """Rows per chunk: ``$HARDPAIRS_STORE_CHUNK``, else :data:`CHUNK_ROWS` but at most 32 MiB of rows."""
    return max(1, int(os.environ.get(CHUNK_ENV) or min(CHUNK_ROWS, (32 << 20) // max(1, row_bytes))))


def n_chunks(n: int, rows: int) -> int:
    return -(-n // rows)


def rank_chunks(total: int, rank: int, world: int) -> range:
    """The contiguous chunk range rank ``rank`` of ``world`` builds (disjoint, together all ``total``)."""
    return range(total * rank // world, total * (rank + 1) // world)


def write_plan(bdir: Path, plan: Plan, rows_per_chunk: int) -> None:
    """Start a build in ``bdir`` (emptied by the caller): the sparse image file, labels, rows, then ``plan.json``."""
    from numpy.lib.format import open_memmap

    (bdir / "done").mkdir(parents=True, exist_ok=True)
    images = open_memmap(bdir / "images.npy", mode="w+", dtype=np.uint8, shape=(len(plan.rows), *plan.shape))
    del images  # allocated (sparse); the workers fill it
    np.save(bdir / "labels.npy", plan.labels.astype(np.int64))
    np.save(bdir / "rows.npy", plan.rows.astype(np.int64))
    info = {"n_train": plan.n_train, "shape": list(plan.shape), "mode": plan.mode, "chunk_rows": rows_per_chunk}
    atomic_write_bytes(bdir / "plan.json", json.dumps(info | {"meta": plan.meta}).encode())


def read_plan(bdir: Path) -> tuple[Plan, int] | None:
    """``(plan, rows per chunk)`` of an interrupted build in ``bdir``; None when it has no complete plan."""
    try:
        info = json.loads((bdir / "plan.json").read_text())
        rows, labels = np.load(bdir / "rows.npy"), np.load(bdir / "labels.npy")
    except (OSError, ValueError):
        return None
    shape = (int(info["shape"][0]), int(info["shape"][1]), int(info["shape"][2]))
    plan = Plan(rows, labels, int(info["n_train"]), shape, str(info["mode"]), dict(info["meta"]))
    return plan, int(info["chunk_rows"])


def done_chunks(bdir: Path) -> dict[int, list[int]]:
    """Finished chunk -> the store rows of it whose file failed to decode."""
    out: dict[int, list[int]] = {}
    for marker in (bdir / "done").glob("[0-9]*"):
        try:
            out[int(marker.name)] = [int(r) for r in json.loads(marker.read_text())]
        except (OSError, ValueError):
            continue  # a marker being replaced: counted on the next look
    return out


def _mark_done(bdir: Path, chunk: int, failed: list[int]) -> None:
    atomic_write_bytes(bdir / "done" / f"{chunk:07d}", json.dumps(failed).encode())


def decode_chunk(bdir: str, chunk: int, lo: int, paths: Sequence[str], mode: str, w: int, h: int) -> int:
    """Worker: decode ``paths`` into store rows ``lo...`` of ``bdir/images.npy``, flush, mark the chunk done.

    Returns the number of rows written (a file that fails to decode is left zero and listed in the marker).
    """
    out = np.load(Path(bdir) / "images.npy", mmap_mode="r+")
    failed = []
    for r, path in enumerate(paths):
        try:
            out[lo + r] = decode_one(path, mode, w, h)
        except Exception:  # noqa: BLE001 - an unreadable file is skipped (and re-planned), never fatal here
            failed.append(lo + r)
    out.flush()
    del out
    if os.environ.get(DELAY_ENV):  # fault tests: a build slow enough to be killed mid-way
        time.sleep(float(os.environ[DELAY_ENV]))
    _mark_done(Path(bdir), chunk, failed)
    return len(paths)


class Bar:
    """A tqdm-style progress line on stderr (at most one a second) plus an optional callback."""

    def __init__(self, label: str, total: int, done: int, callback: Progress | None) -> None:
        self.label, self.total, self.done, self.callback = label, total, done, callback
        self.start, self.first, self.shown = time.monotonic(), done, 0.0

    def update(self, rows: int) -> None:
        self.done += rows
        if self.callback is not None:
            self.callback(self.done, self.total)
        now = time.monotonic()
        if now - self.shown >= 1.0 or self.done >= self.total:
            self.shown = now
            rate = (self.done - self.first) / max(now - self.start, 1e-9)
            pct = 100 * self.done // max(self.total, 1)
            end = "\n" if self.done >= self.total else ""
            print(
                f"\r{self.label}: {self.done}/{self.total} images ({pct}%) {rate:.0f} img/s", end=end, file=sys.stderr
            )


def folder_workers(plan: Plan, biggest: int) -> int:
    """Worker processes: ``$HARDPAIRS_STORE_WORKERS`` or the CPU count (max 16), fewer for huge images."""
    env = os.environ.get(WORKERS_ENV)
    workers = int(env) if env else min(16, os.cpu_count() or 1)
    return max(1, min(workers, DECODE_BUDGET // max(biggest, 1)))


def build_folder_chunks(
    bdir: Path, plan: Plan, files: Sequence[str], chunks: Sequence[int], rows: int, workers: int, bar: Bar
) -> None:
    """Decode ``chunks`` of a folder plan in ``workers`` worker processes (in this one when 1 or one chunk).

    Workers are plain ``python`` child processes (:func:`worker_main`) fed one chunk at a time on stdin: no
    fork of a process holding threads, no re-import of the caller's ``__main__``; killed with their parent,
    they stop at the end of their chunk (stdin closes).
    """
    n, (h, w) = len(plan.rows), plan.shape[1:]

    def job(c: int) -> list[Any]:
        lo, hi = c * rows, min((c + 1) * rows, n)
        return [str(bdir), c, lo, [files[int(i)] for i in plan.rows[lo:hi]], plan.mode, w, h]

    if workers <= 1 or len(chunks) <= 1:
        for c in chunks:
            bar.update(decode_chunk(*job(c)))
        return
    import selectors
    import subprocess

    from core.io import REPO_ROOT

    cmd = [sys.executable, "-c", "from core.data.storebuild import worker_main; worker_main()"]
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    procs = [
        subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT)
        for _ in range(min(workers, len(chunks)))
    ]
    todo, busy = list(chunks)[::-1], 0
    sel = selectors.DefaultSelector()
    try:
        for proc in procs:
            assert proc.stdin is not None and proc.stdout is not None
            sel.register(proc.stdout, selectors.EVENT_READ, proc)
            proc.stdin.write(json.dumps(job(todo.pop())) + "\n")
            proc.stdin.flush()
            busy += 1
        while busy:
            for key, _ in sel.select():
                proc = key.data
                line = proc.stdout.readline()
                if not line:
                    raise HardpairsError(f"an image store worker exited ({proc.wait()}); rerun: the build resumes")
                bar.update(int(line))
                busy -= 1
                if todo:
                    proc.stdin.write(json.dumps(job(todo.pop())) + "\n")
                    proc.stdin.flush()
                    busy += 1
    finally:
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in procs:
            proc.wait()


def worker_main() -> None:
    """A build worker: one JSON job per stdin line (:func:`decode_chunk`'s arguments), rows written per stdout line."""
    for line in sys.stdin:
        print(decode_chunk(*json.loads(line)), flush=True)


def build_array_chunks(
    bdir: Path, plan: Plan, parts: tuple[Any, Any], chunks: Sequence[int], rows: int, bar: Bar
) -> None:
    """Resize ``chunks`` of two source arrays (train, test; rows in plan order) into the store, in this process."""
    out = np.load(bdir / "images.npy", mmap_mode="r+")
    n_train, size = plan.n_train, plan.shape[1]
    for c in chunks:
        lo, hi = c * rows, min((c + 1) * rows, len(plan.rows))
        pieces = []
        if lo < n_train:
            pieces.append(np.ascontiguousarray(parts[0][lo : min(hi, n_train)]))
        if hi > n_train:
            pieces.append(np.ascontiguousarray(parts[1][max(lo, n_train) - n_train : hi - n_train]))
        out[lo:hi] = resize_images(np.concatenate(pieces) if len(pieces) > 1 else pieces[0], size)
        out.flush()
        _mark_done(bdir, c, [])
        bar.update(hi - lo)
    del out
