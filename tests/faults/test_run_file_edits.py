"""Read-modify-write of run files under a lock, and ids read from run files validated (issue 24, 2 and 7).

Real processes: eight ``python -m core tag --add`` at once on one run keep all eight tags.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.audit import tags
from core.errors import HardpairsError
from tests.helpers import fake_run

REPO = Path(__file__).resolve().parents[2]


def test_eight_concurrent_tag_adds_keep_every_tag(tmp_path):
    run = fake_run(tmp_path, "r1", linear=0.9)
    env = os.environ | {"PYTHONPATH": str(REPO), "HARDPAIRS_RUNS": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "core", "tag", "--run-dir", str(run), "--add", f"t{k}", "--ids", f"{k},{k + 10}"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for k in range(8)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err for _, err in results]
    assert [json.loads(out.strip().splitlines()[-1])["added"] for out, _ in results] == [2] * 8
    assert tags.list_tags(run) == {f"t{k}": 2 for k in range(8)}
    for k in range(8):
        assert tags.tag_ids(run, f"t{k}").tolist() == [k, k + 10]


@pytest.mark.parametrize("planted", [-5, 99999999])
def test_a_planted_id_in_tags_csv_is_refused_not_pruned(tmp_path, planted):
    run = fake_run(tmp_path, "r1", linear=0.9)
    (run / "tags.csv").write_text(f"id,tag\n3,odd\n{planted},odd\n")
    with pytest.raises(HardpairsError, match=rf"tags sample {planted} as 'odd'.*ids run from 0 to 1436"):
        tags.tag_ids(run, "odd")


def test_a_corrupt_keep_file_is_a_clear_error(tmp_path):
    run = fake_run(tmp_path, "r1", linear=0.9)
    (run / "keep.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(HardpairsError, match=r"keep.npy is unreadable .*re-run the prune"):
        tags.select_ids(run, "kept")
    np.save(run / "keep.npy", np.array([1, 2, 3]))
    assert tags.select_ids(run, "kept").tolist() == [1, 2, 3]


@pytest.mark.parametrize("name", ["../../tmp/evil", "table1/../table1", "/etc/passwd", "nosuchtable"])
def test_a_recipe_name_is_a_name_not_a_path_and_leaves_no_folder(tmp_path, name, capsys):
    from core.cli import main

    (tmp_path / "evil.sh").write_text("# row: x\npython -m core train --dataset digits\n")
    before = sorted(tmp_path.rglob("*"))
    for extra in (["--dry-run"], ["--tiny", "--runs-root", str(tmp_path)]):
        assert main(["reproduce", name, *extra]) == 2
        assert f"no recipe {name!r}" in capsys.readouterr().err
    assert sorted(tmp_path.rglob("*")) == before
