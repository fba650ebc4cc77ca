"""THE on-disk image store: a dataset decoded once into a memory-mapped (N, C, S, S) uint8 array.

A store is the folder ``<root>/<key>/`` (root: :func:`store_root`, default ``<repo>/cache/images``):
``images.npy`` (train rows first, then test), ``labels.npy`` (N,) int64 and ``meta.json`` (``n_train``,
classes, skipped files, source, image size, the content sha1, :data:`FORMAT_VERSION`). The key is a
fingerprint of the source (for folders: the resolved path, ``image_size`` and every file's relative path,
size and mtime), so a changed source gets a new store; the older store of the same tag (folder and size) is
removed once the new one is complete. Builds (``core.data.storebuild``) resume after a kill; one per key
at a time (an ``fcntl`` lock); under ``torchrun`` ranks build disjoint chunk ranges. Eviction above
``$HARDPAIRS_IMAGE_STORE_GB``: ``core.store``. Details: ``docs/caches.md``; memory or store: ``core.data.residency``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from core.data import storebuild as sb
from core.data.decode import GRAY_MODES, read_headers
from core.data.storebuild import WAIT_ENV as WAIT_ENV  # public here: a rank's wait
from core.data.storebuild import dist, locked, wait_for
from core.errors import HardpairsError
from core.io import REPO_ROOT
from core.store import BUILDING, drop_versions, evict_stores, hold

FORMAT_VERSION = 1
#: Environment variable that moves every store (``$HARDPAIRS_CACHE_DIR/images``); ``cache_dir`` overrides it.
CACHE_ENV = "HARDPAIRS_CACHE_DIR"
#: Measured folder build rate, images per second per worker process (256 px JPEG -> 224 px; BENCHMARKS.md).
BUILD_RATE_PER_CORE = 200.0
_HEADER_BYTES = 256  # the .npy header of images.npy, rounded up

MakePlan = Callable[[set[int]], sb.Plan]
BuildChunks = Callable[[Path, sb.Plan, Sequence[int], int, sb.Bar], None]


@dataclass(frozen=True)
class StoredImages:
    """An open, complete store: read-only memmap views of its rows (never read whole) and its labels."""

    path: Path
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    skipped: list[str]
    sha1: str


def store_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where stores live: ``cache_dir``, else ``$HARDPAIRS_CACHE_DIR/images``, else ``<repo>/cache/images``."""
    if cache_dir:
        return Path(cache_dir)
    env = os.environ.get(CACHE_ENV, "").strip()
    return Path(env).expanduser() / "images" if env else REPO_ROOT / "cache" / "images"


def store_disk_bytes(n: int, c: int, s: int, w: int | None = None) -> int:
    """Bytes on disk of a store of ``n`` images of ``c`` x ``s`` x ``s`` (``w`` wide if given; + labels, headers)."""
    return n * c * s * (w or s) + n * 8 * 2 + 3 * _HEADER_BYTES


def estimate_build(n: int, c: int, s: int, root: Path, workers: int | None = None) -> dict[str, Any]:
    """A dry run's figures: ``{"rows", "bytes", "free_bytes", "workers", "seconds"}`` (seconds at
    :data:`BUILD_RATE_PER_CORE` per worker)."""
    workers = workers or min(16, os.cpu_count() or 1)
    return {
        "rows": n,
        "bytes": store_disk_bytes(n, c, s),
        "free_bytes": _free_bytes(root),
        "workers": workers,
        "seconds": round(n / (BUILD_RATE_PER_CORE * workers), 1),
    }


def _free_bytes(root: Path) -> int:
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return int(shutil.disk_usage(probe).free)


def check_disk(root: Path, need: int, what: str) -> None:
    """Refuse (before anything is written) a store of ``need`` more bytes that does not fit the free space."""
    free = _free_bytes(root)
    if need > free:
        raise HardpairsError(
            f"{what} needs {need / 1e9:.2f} GB on disk but {root} has {free / 1e9:.2f} GB free; free some space, "
            f"pass a smaller --image-size, or put the store on a bigger disk ({CACHE_ENV}=DIR or --cache-dir DIR)"
        )


def open_store(path: Path) -> StoredImages | None:
    """The complete store at ``path`` (marked as used by this process), or None (missing, partial, old format)."""
    try:
        meta = json.loads((path / "meta.json").read_text())
        if meta.get("format") != FORMAT_VERSION:
            return None
        images = np.load(path / "images.npy", mmap_mode="r")
        labels = np.load(path / "labels.npy")
    except (OSError, ValueError):
        return None
    hold(path, images)
    n = int(meta["n_train"])
    return StoredImages(
        path, images[:n], labels[:n], images[n:], labels[n:], list(meta["classes"]), list(meta["skipped"]), meta["sha1"]
    )


def _start(root: Path, key: str, make_plan: MakePlan, what: str) -> tuple[sb.Plan, int]:
    """The plan of the build of ``key``: resumed from ``<key>.building`` or made afresh (after the disk check)."""
    bdir = root / f"{key}{BUILDING}"
    state = sb.read_plan(bdir)
    if state is not None:
        plan, rows = state
        left = len(plan.rows) - len(sb.done_chunks(bdir)) * rows
        check_disk(root, max(0, left) * int(np.prod(plan.shape)), what)
        return plan, rows
    plan = make_plan(set())
    c, h, w = plan.shape
    check_disk(root, store_disk_bytes(len(plan.rows), c, h, w), what)
    shutil.rmtree(bdir, ignore_errors=True)
    rows = sb.chunk_rows(int(np.prod(plan.shape)))
    sb.write_plan(bdir, plan, rows)
    return plan, rows


def _build_rank(
    root: Path,
    key: str,
    plan: sb.Plan,
    rows: int,
    build: BuildChunks,
    ranks: tuple[int, int],
    progress: sb.Progress | None,
) -> None:
    rank, world = ranks
    bdir = root / f"{key}{BUILDING}"
    total = sb.n_chunks(len(plan.rows), rows)
    done = sb.done_chunks(bdir)
    todo = [c for c in sb.rank_chunks(total, rank, world) if c not in done]
    n_done = sum(min(rows, len(plan.rows) - c * rows) for c in done)
    bar = sb.Bar(f"image store {key}" + (f" rank {rank}" if world > 1 else ""), len(plan.rows), n_done, progress)
    build(bdir, plan, todo, rows, bar)


def _finish(root: Path, key: str, tag: str, plan: sb.Plan) -> None:
    """Complete the build (``meta.json``, rename), then drop older versions of ``tag`` and evict to the limit."""
    sb.finish(root / f"{key}{BUILDING}", root / key, plan, {"format": FORMAT_VERSION, "key": key, "tag": tag})
    drop_versions(root, tag, key)
    evict_stores(root, keep=key)


def build_store(
    root: Path,
    key: str,
    tag: str,
    make_plan: MakePlan,
    build: BuildChunks,
    what: str,
    progress: sb.Progress | None = None,
) -> StoredImages:
    """Open the store ``key`` under ``root``, building (or resuming) it first when it is not complete.

    Args:
        make_plan: ``failed source indices -> Plan`` (the caller's layout rules and errors; called again with
            the files that failed to decode when some did, and the build then restarts without them).
        build: writes the given chunks of a plan (``core.data.storebuild``'s folder or array builder).
        what: names the data in messages. progress: called with ``(rows done, rows)`` after each chunk.
    """
    done = root / key
    stored = open_store(done)
    if stored is not None:
        drop_versions(root, tag, key)  # one left by a process that had it open
        return stored
    rank, world = dist()
    if world > 1 and rank != 0:  # rank 0 plans and finalises; this rank builds its chunk range
        bdir = root / f"{key}{BUILDING}"
        state = wait_for(lambda: (done / "meta.json").is_file() or sb.read_plan(bdir), f"rank 0 to plan {key}")
        if isinstance(state, tuple):
            _build_rank(root, key, state[0], state[1], build, (rank, world), progress)
        return wait_for(lambda: open_store(done), f"rank 0 to finish {key}")  # type: ignore[no-any-return]
    with locked(root, key):
        stored = open_store(done)
        if stored is not None:
            return stored
        plan, rows = _start(root, key, make_plan, what)
        bdir = root / f"{key}{BUILDING}"
        total = sb.n_chunks(len(plan.rows), rows)
        while True:
            _build_rank(root, key, plan, rows, build, (rank, world), progress)
            marks = wait_for(partial(sb.all_done, bdir, total), f"every chunk of {key} to be marked done")
            failed = {int(plan.rows[r]) for rows_failed in marks.values() for r in rows_failed}
            if not failed:
                break
            plan = make_plan(failed)  # rare: a file whose header read but whose pixels did not; restart without it
            shutil.rmtree(bdir, ignore_errors=True)
            sb.write_plan(bdir, plan, rows)
            total, world = sb.n_chunks(len(plan.rows), rows), 1
        _finish(root, key, tag, plan)
    stored = open_store(done)
    if stored is None:
        raise HardpairsError(f"image store {done} did not open after its build; delete it and rerun")
    return stored


def folder_store(
    files: Sequence[str],
    labels: np.ndarray,
    layout: Callable[[np.ndarray], tuple[np.ndarray, int]],
    image_size: int | None,
    cache_dir: str | os.PathLike[str] | None,
    where: str,
    *,
    key: str,
    tag: str,
    classes: list[str],
    progress: sb.Progress | None = None,
) -> StoredImages:
    """The store of image files, decoded by ``core.data.decode``'s rules, built in worker processes when missing.

    Args:
        files: every image file; labels: (len(files),) int64.
        layout: ``readable (len(files),) bool -> (order, n_train)``: the files' indices in store order (train
            first) and the train count; it raises the caller's errors (empty classes, unreadable files).
        image_size: square size, or None for the most common size of the readable files.
        where: names the data in messages (``folder:PATH``). key, tag: the store's key and its version tag.
    """
    from collections import Counter

    from core.data.memory import check_memory

    heads: list[Any] = []

    def make_plan(failed: set[int]) -> sb.Plan:
        if not heads:
            heads.extend(read_headers(list(files), max(1, min(8, os.cpu_count() or 1))))
        good = [hd for hd in heads if hd is not None]
        ok = np.array([hd is not None and i not in failed for i, hd in enumerate(heads)], bool)
        sizes = Counter(s for s, _ in good).most_common(1)
        w, h = (image_size, image_size) if image_size else (sizes[0][0] if sizes else (1, 1))
        mode = "RGB" if any(m not in GRAY_MODES for _, m in good) else "L"
        order, n_train = layout(ok)
        skipped = [files[int(i)] for i in np.flatnonzero(~ok)]
        biggest = max((sw * sh for (sw, sh), _ in good), default=1)
        meta = {"classes": list(classes), "skipped": skipped, "source": where, "largest_source_pixels": biggest}
        plan = sb.Plan(order, labels[order], n_train, (3 if mode == "RGB" else 1, h, w), mode, meta)
        workers(plan)
        return plan

    def workers(plan: sb.Plan) -> int:  # checked before the plan is written, and again on a resume
        biggest = int(plan.meta["largest_source_pixels"]) * 12  # decoded source + converted copy (RGBA worst case)
        n = sb.folder_workers(plan, biggest)
        in_flight = n * (biggest + int(np.prod(plan.shape)))  # rows go to the page cache, one at a time
        check_memory(f"building the image store of {where} ({n} workers)", in_flight, f"set {sb.WORKERS_ENV}=1")
        return n

    def build(bdir: Path, plan: sb.Plan, chunks: Sequence[int], rows: int, bar: sb.Bar) -> None:
        sb.build_folder_chunks(bdir, plan, files, chunks, rows, workers(plan), bar)

    return build_store(store_root(cache_dir), key, tag, make_plan, build, where, progress)


def array_store(
    key: str,
    x_train: Any,
    y_train: np.ndarray,
    x_test: Any,
    y_test: np.ndarray,
    classes: Sequence[str],
    image_size: int,
    cache_dir: str | os.PathLike[str] | None,
    progress: sb.Progress | None = None,
) -> StoredImages:
    """The store of in-memory (or memory-mapped) images resized to ``image_size`` chunk by chunk
    (``core.data.sources.resize_images``); ``key`` fingerprints the source (the size is added here)."""
    name = "array-" + hashlib.sha1(f"{key}|{image_size}".encode()).hexdigest()[:24]
    n_train, n = len(x_train), len(x_train) + len(x_test)

    def make_plan(failed: set[int]) -> sb.Plan:
        labels = np.concatenate([np.asarray(y_train), np.asarray(y_test)]).astype(np.int64)
        meta = {"classes": [str(c) for c in classes], "skipped": [], "source": f"arrays {key}"}
        return sb.Plan(
            np.arange(n, dtype=np.int64), labels, n_train, (int(x_train.shape[1]), image_size, image_size), "", meta
        )

    def build(bdir: Path, plan: sb.Plan, chunks: Sequence[int], rows: int, bar: sb.Bar) -> None:
        sb.build_array_chunks(bdir, plan, (x_train, x_test), chunks, rows, bar)

    return build_store(store_root(cache_dir), name, name, make_plan, build, f"{n} images", progress)
