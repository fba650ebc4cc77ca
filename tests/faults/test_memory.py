"""Bounded memory: datasets are sized before they are decoded or allocated, and huge images decode one by one."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.data.memory import MEMORY_ENV, available_bytes, check_memory, memory_limit
from core.data.sources import load_dataset
from core.errors import HardpairsError

REPO = Path(__file__).resolve().parents[2]


def _peak_rss_mb(code: str) -> float:
    """Run ``code`` in a fresh Python and return its peak resident memory in MB (ru_maxrss)."""
    script = (
        textwrap.dedent(code) + "\nimport resource; print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    line = [x for x in out.stdout.splitlines() if x.startswith("PEAK")][-1]
    return int(line.split()[1]) / 1024


@pytest.mark.slow
def test_six_6000px_pngs_at_image_size_8_load_with_bounded_memory(tmp_path):
    from PIL import Image

    big = tmp_path / "big.png"
    Image.new("RGB", (6000, 6000), (200, 30, 90)).save(big)
    for cls in ("a", "b"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "imgs" / cls / f"{i}.png").write_bytes(big.read_bytes())
    # as on an 8-core machine, where up to 8 images used to decode at once
    prelude = "import os, numpy, torch, PIL.Image, core.data.sources as s\nos.cpu_count = lambda: 8\n"
    base = _peak_rss_mb(prelude)
    load = f"d = s.load_dataset('folder:{tmp_path / 'imgs'}', image_size=SIZE, cache_dir='{tmp_path / 'cache'}')\n"
    peak = _peak_rss_mb(
        prelude
        + load.replace("SIZE", "8")
        + "assert d.x_train.shape[1:] == (3, 8, 8) and len(d.x_train) + len(d.x_test) == 6\n"
        + "assert (d.x_train[:, 0] == 200).all() and (d.x_train[:, 1] == 30).all()\n"
    )
    # one 6000x6000 RGB image is 103 MiB decoded (+ its converted copy); six at once would be > 1.2 GB
    assert peak - base < 450, f"loading took {peak - base:.0f} MB above the imports"
    cache_bytes = sum(p.stat().st_size for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert cache_bytes < 5 * 2**20
    # at full size the output is 6 x 103 MiB = 618 MiB: the peak is that plus about one image, not several copies
    full = _peak_rss_mb(prelude + load.replace("SIZE", "None") + "assert d.x_train.shape[1:] == (3, 6000, 6000)\n")
    print(f"peak above imports: {peak - base:.0f} MB at 8x8, {full - base:.0f} MB at full size")
    assert full - base < 648 + 350, f"loading at full size took {full - base:.0f} MB above the imports"


def test_memory_limit_comes_from_meminfo_or_the_env(monkeypatch):
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = [int(x.split()[1]) for x in meminfo.read_text().splitlines() if x.startswith("MemAvailable:")][0]
        assert abs(available_bytes() - kb * 1024) < 2**30  # the same number, give or take the time between reads
    assert memory_limit()[0] == available_bytes() or abs(memory_limit()[0] - available_bytes()) < 2**30
    monkeypatch.setenv(MEMORY_ENV, "0.5")
    assert memory_limit() == (2**29, f"allowed by {MEMORY_ENV}=0.5")
    check_memory("x", 2**29)  # exactly the limit is fine
    with pytest.raises(HardpairsError) as err:
        check_memory("decoding something", 2**30, "pass a smaller --image-size")
    text = str(err.value)
    assert "1.00 GiB" in text and "0.50 GiB" in text and "--image-size" in text and f"{MEMORY_ENV}=N" in text
    for bad in ("-1", "lots", "inf", "0"):
        monkeypatch.setenv(MEMORY_ENV, bad)
        with pytest.raises(HardpairsError, match=MEMORY_ENV):
            memory_limit()


def test_image_size_beyond_memory_streams_and_only_the_working_set_is_refused(monkeypatch, runs_root, capsys):
    monkeypatch.setenv(MEMORY_ENV, "0.001")  # 1 MiB: digits at 256x256 (1797 images, ~112 MiB) goes to the store
    code = main(["train", "--dataset", "digits", "--epochs", "1", "--image-size", "256", "--batch-size", "256"])
    payload = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert code == 2  # refused for the batches it holds (256 images x 2 views), not for the 0.11 GiB dataset
    assert "streaming training batches of 256 images" in payload["error"] and MEMORY_ENV in payload["error"]
    assert "0.11 GiB" not in payload["error"] and "streams from disk" in payload["error"]


def test_npz_beyond_memory_is_refused_before_loading(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "d.npz",
        x_train=rng.integers(0, 255, (600, 3, 32, 32), dtype=np.uint8),
        y_train=np.arange(600) % 2,
        x_test=rng.integers(0, 255, (100, 3, 32, 32), dtype=np.uint8),
        y_test=np.arange(100) % 2,
    )
    monkeypatch.setenv(MEMORY_ENV, "0.001")
    loaded = []
    monkeypatch.setattr(np, "load", lambda *a, **k: loaded.append(a) or (_ for _ in ()).throw(AssertionError))
    with pytest.raises(HardpairsError, match=f"loading .*d.npz.*{MEMORY_ENV}"):
        load_dataset(f"npz:{tmp_path / 'd.npz'}")
    assert not loaded


def test_folder_beyond_memory_streams_from_the_store_and_only_the_working_set_is_checked(tmp_path, monkeypatch):
    from PIL import Image

    from core.data.storebuild import WORKERS_ENV

    for cls in ("a", "b"):
        (tmp_path / "f" / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (16, 16), 10 * i).save(tmp_path / "f" / cls / f"{i}.png")
    monkeypatch.setenv(MEMORY_ENV, "0.001")  # 1 MiB: one 1024x1024 row in flight per worker is already more
    with pytest.raises(HardpairsError) as err:
        load_dataset(f"folder:{tmp_path / 'f'}", image_size=1024, cache_dir=tmp_path / "cache")
    assert "building the image store of folder:" in str(err.value) and MEMORY_ENV in str(err.value)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").glob("folder-*"))  # nothing written
    monkeypatch.setenv(MEMORY_ENV, "0.004")  # 4 MiB: the 6 decoded images (6 MiB) do not fit, one row does
    monkeypatch.setenv(WORKERS_ENV, "1")
    ds = load_dataset(f"folder:{tmp_path / 'f'}", image_size=1024, cache_dir=tmp_path / "cache")
    assert ds.x_train.shape[1:] == (1, 1024, 1024) and isinstance(ds.x_train, np.memmap)  # streamed, not refused
    monkeypatch.delenv(MEMORY_ENV)
    ds = load_dataset(f"folder:{tmp_path / 'f'}", image_size=8, cache_dir=tmp_path / "cache")
    assert ds.x_train.shape[1:] == (1, 8, 8)


def test_sparse_npz_labels_are_remapped_and_named(tmp_path):
    rng = np.random.default_rng(1)
    y = np.array([3, 7, 1_000_000, 7, 3, 1_000_000])
    np.savez(
        tmp_path / "s.npz",
        x_train=rng.integers(0, 255, (6, 8, 8), dtype=np.uint8),
        y_train=y,
        x_test=rng.integers(0, 255, (3, 8, 8), dtype=np.uint8),
        y_test=np.array([1_000_000, 3, 7]),
    )
    ds = load_dataset(f"npz:{tmp_path / 's.npz'}")
    assert ds.classes == ["3", "7", "1000000"]
    np.testing.assert_array_equal(ds.y_train, [0, 1, 2, 1, 0, 2])
    np.testing.assert_array_equal(ds.y_test, [2, 0, 1])
    # a label of 10**9 next to small ones: remapped, nothing sized by the label value
    np.savez(
        tmp_path / "h.npz",
        x_train=np.zeros((4, 8, 8), np.uint8),
        y_train=np.array([0, 10**9, 0, 10**9]),
        x_test=np.zeros((2, 8, 8), np.uint8),
        y_test=np.array([10**9, 0]),
    )
    h = load_dataset(f"npz:{tmp_path / 'h.npz'}")
    assert h.classes == ["0", "1000000000"] and h.y_train.max() == 1


def test_dense_npz_labels_and_a_classes_array_are_kept(tmp_path):
    np.savez(
        tmp_path / "c.npz",
        x_train=np.zeros((4, 8, 8), np.uint8),
        y_train=np.array([0, 2, 0, 2]),
        x_test=np.zeros((2, 8, 8), np.uint8),
        y_test=np.array([2, 0]),
        classes=np.array(["cat", "dog", "eel"]),
    )
    ds = load_dataset(f"npz:{tmp_path / 'c.npz'}")
    assert ds.classes == ["cat", "dog", "eel"]
    np.testing.assert_array_equal(ds.y_train, [0, 2, 0, 2])
