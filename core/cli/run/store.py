"""CLI: ``store`` -- decode an image dataset once into the on-disk image store (``core.data.imagestore``);
``--dry-run`` prints its rows, size on disk, the free space and a build-time estimate; ``--list`` lists stores."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from core.data.imagestore import estimate_build, store_disk_bytes, store_root
from core.errors import HardpairsError
from core.store import list_stores

_SPECS = "folder:PATH, imagenet:PATH or tinyimagenet[:PATH]"
_SAMPLE = 64  # headers read by a dry run (channels and the most common size)


def _files(spec: str, data_root: str | None) -> list[str]:
    """Every image file of ``spec``, in no particular order (a dry run counts and samples them)."""
    from core.data.folder import _scan_layout
    from core.data.paperdata import TINY_FOLDER, imagenet_files, tinyimagenet_files
    from core.data.sources import default_data_root

    kind, _, rest = spec.partition(":")
    if kind == "folder" and rest.strip():
        return [f[0] for _, _, f in _scan_layout(Path(rest).expanduser())[0]]
    if kind == "imagenet" and rest.strip():
        train, val, _ = imagenet_files(Path(rest).expanduser())
    elif kind == "tinyimagenet":
        root = Path(rest).expanduser() if rest.strip() else default_data_root(data_root) / TINY_FOLDER
        train, val, _ = tinyimagenet_files(root)
    else:
        raise HardpairsError(f"store: --dataset {spec!r} is not an image folder; pass {_SPECS}")
    return [p for p, _ in train + val]


def dry_run(spec: str, image_size: int | None, cache_dir: str | None, data_root: str | None) -> dict[str, Any]:
    """What a build of ``spec`` would take: rows, bytes on disk, free space, workers and seconds (nothing written)."""
    from core.data.decode import GRAY_MODES, read_headers

    files = _files(spec, data_root)
    sample = [h for h in read_headers(files[:: max(1, len(files) // _SAMPLE)][:_SAMPLE], 4) if h is not None]
    if not sample:
        raise HardpairsError(f"store: no readable image among the first files of {spec}; check the path")
    size = image_size or Counter(s for s, _ in sample).most_common(1)[0][0]
    w, h = (size, size) if isinstance(size, int) else size
    channels = 3 if any(m not in GRAY_MODES for _, m in sample) else 1
    root = store_root(cache_dir)
    est = estimate_build(len(files), channels, h, root) | {"image_size": [h, w], "channels": channels}
    est["bytes"] = store_disk_bytes(len(files), channels, h, w)
    est |= {"root": str(root), "fits": est["bytes"] <= est["free_bytes"], "dry_run": True}
    print(
        f"{spec}: {len(files)} images -> {channels}x{h}x{w} uint8, {est['bytes'] / 1e9:.2f} GB on disk in {root} "
        f"({est['free_bytes'] / 1e9:.2f} GB free); build ~{est['seconds']:.0f} s with {est['workers']} workers",
        file=sys.stderr,
    )
    return est


def _list(cache_dir: str | None) -> dict[str, Any]:
    import json

    rows = list_stores(store_root(cache_dir))
    for r in rows:
        meta_file = Path(r["path"]) / "meta.json"
        meta = json.loads(meta_file.read_text()) if r["complete"] else {}
        r |= {k: meta.get(k) for k in ("n", "shape", "source")}
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["last_used"]))
        state = "complete" if r["complete"] else "partial"
        print(
            f"{r['key']:<48} {state:<9} {r['bytes'] / 1e9:8.3f} GB  used {used}  {r['source'] or ''}", file=sys.stderr
        )
    return {"root": str(store_root(cache_dir)), "stores": rows}


def cmd_store(args: argparse.Namespace) -> dict[str, Any]:
    """``store``: build (or resume, or open) the store of ``--dataset``; ``--dry-run``; ``--list``."""
    if args.list:
        return _list(args.cache_dir)
    if not args.dataset:
        raise HardpairsError(f"store: pass --dataset ({_SPECS}) or --list")
    if args.image_size is not None and args.image_size < 1:
        raise HardpairsError(f"store: --image-size must be a positive number of pixels, got {args.image_size}")
    if args.dry_run:
        return dry_run(args.dataset, args.image_size, args.cache_dir, args.data_root)
    from core.data.folder import load_folder
    from core.data.paperdata import load_paper_folder
    from core.data.sources import default_data_root

    kind, _, rest = args.dataset.partition(":")
    if kind not in ("folder", "imagenet", "tinyimagenet"):
        raise HardpairsError(f"store: --dataset {args.dataset!r} is not an image folder; pass {_SPECS}")
    start = time.monotonic()
    if kind == "folder":
        parts = load_folder(Path(rest).expanduser(), args.image_size, args.cache_dir)
    else:
        parts = load_paper_folder(
            args.dataset, default_data_root(args.data_root), args.image_size, args.cache_dir, False
        )
    x_train, x_test = parts[0], parts[2]
    path = Path(getattr(x_train, "filename", None) or store_root(args.cache_dir)).parent
    seconds = round(time.monotonic() - start, 2)
    print(f"{args.dataset}: {len(x_train) + len(x_test)} images stored in {path}", file=sys.stderr)
    return {"store": str(path), "rows": len(x_train) + len(x_test), "n_train": len(x_train), "seconds": seconds}


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``store``."""
    p.add_argument("--dataset", help=f"the images to store: {_SPECS}")
    p.add_argument("--image-size", type=int, help="store every image at SxS (default: the most common size)")
    p.add_argument("--cache-dir", help="where stores live (default $HARDPAIRS_CACHE_DIR/images or cache/images)")
    p.add_argument("--data-root", help="where tinyimagenet lives (default $HARDPAIRS_DATA or data/)")
    p.add_argument("--dry-run", action="store_true", help="print rows, size on disk, free space and build time only")
    p.add_argument("--list", action="store_true", help="list the stores (size, complete or partial, last used)")
    p.set_defaults(func=cmd_store)
