"""Equal steps, said out loud (issue 22, point 5): the Compare page and the report state, for every pruned
retrain, whether it trained its parent's epochs (fewer optimiser steps: N vs M) or ``--match-steps``, from the
manifest's ``optimiser_steps``; one helper (``core.reports.compare_tables.steps_sentences``) for both."""

from __future__ import annotations

from pathlib import Path

import pytest
from markupsafe import escape
from streamlit.testing.v1 import AppTest

from core.io import read_json, write_json
from core.reports.compare_tables import steps_sentences
from core.reports.records import load_records
from core.reports.report import html_report
from tests.helpers import fake_run
from ui.views.compareview import md_escape

APP = str(Path(__file__).resolve().parents[1] / "app.py")
SAME = "band-s0: same epochs as its parent, fewer optimiser steps: 4 vs 5."
MATCHED = "rand-s0: --match-steps: 6 optimiser steps, as its parent's 5 (more epochs)."
OLD = "old-s0: same epochs as its parent, fewer optimiser steps: 12 vs 15 (computed: its manifest predates the record)."


def _family(root: Path) -> None:
    parent = fake_run(root, "b0", linear=0.9, knn=0.8, created=1)
    for name, steps in (("band-s0", (4, 5, False)), ("rand-s0", (6, 5, True)), ("old-s0", None)):
        score = "random" if name.startswith("rand") else "band"
        child = fake_run(root, name, linear=0.91, knn=0.8, parent=str(parent), score=score, ratio=0.2, n_kept=1150)
        if steps:
            manifest = read_json(child / "manifest.json", {})
            record = {"total": steps[0], "parent_total": steps[1], "matched": steps[2], "epochs": 3}
            write_json(child / "manifest.json", manifest | {"optimiser_steps": record})
    # a config with a batch size: 1437 // 256 = 5 steps per epoch for the parent, 1150 // 256 = 4 for old-s0
    for name in ("b0", "old-s0"):
        write_json(root / name / "config.json", read_json(root / name / "config.json", {}) | {"batch_size": 256})
    write_json(root / "b0" / "config.json", read_json(root / "b0" / "config.json", {}) | {"epochs": 3})


def test_one_sentence_per_pruned_retrain_from_its_manifest(runs_root):
    _family(runs_root)
    got = sorted(steps_sentences(load_records(runs_root)))
    assert got == sorted([SAME, MATCHED, OLD])


@pytest.mark.slow
def test_report_and_compare_page_say_it(runs_root):
    _family(runs_root)
    recs = load_records(runs_root)
    html = html_report(recs)
    assert "Training length of the pruned retrains" in html
    for sentence in (SAME, MATCHED, OLD):
        name, rest = sentence.split(": ", 1)
        assert str(escape(f"({name}): {rest}")) in html  # the report names runs R1 (run id), escaped
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/compare_runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    text = "\n".join(md.value for md in at.markdown)
    for sentence in (SAME, MATCHED, OLD):
        assert md_escape(sentence) in text
