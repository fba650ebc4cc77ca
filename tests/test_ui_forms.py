"""AppTest of both loss-mode forms (Runs: train, Prune & retrain: retrain) for every mode of the table.

Each mode renders without error and the command the form shows carries exactly that mode's knobs
(hand-written below), so a mode added to core/training/lossmodes.py shows up in both forms.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.io import write_json
from core.training.lossmodes import LOSS_MODES
from ui.frame import RUN_KEY
from ui.views.lossform import MODE_LABELS

REPO = Path(__file__).resolve().parent.parent
#: train flags each mode adds at the quick digits preset's defaults (values equal to the preset are left out)
TRAIN_FLAGS = {
    "baseline": [],
    "removal": ["--removal", "zero"],
    "margin": [],
    "temperature": [],
    "combined": [],
    "hard_ucl": ["--beta", "1", "--tau-plus", "0"],
    "scl": [],
    "hard_scl": ["--beta", "1"],
    "hard_scl_thr": ["--hard-threshold", "0"],
    "hard_ucl_thr": ["--hard-threshold", "0"],
}
#: retrain flags each mode adds, from the parent config below (prune --train passes no --removal)
BAND = ["--pos-high", "0.12", "--pos-low", "0.2"]
RETRAIN_FLAGS = {
    "baseline": [],
    "removal": BAND,
    "margin": [*BAND, "--sigma", "0.3"],
    "temperature": [*BAND, "--rho", "0.6"],
    "combined": [*BAND, "--sigma", "0.3", "--rho", "0.6"],
    "hard_ucl": ["--beta", "1.5", "--tau-plus", "0.1"],
    "scl": [],
    "hard_scl": ["--beta", "1.5"],
    "hard_scl_thr": [],
    "hard_ucl_thr": [],
}


def test_flag_tables_cover_every_mode():
    assert set(TRAIN_FLAGS) == set(RETRAIN_FLAGS) == set(LOSS_MODES)


def test_train_form_every_mode(runs_root):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert at.selectbox(key="train_loss_mode").options == [MODE_LABELS[m] for m in LOSS_MODES]
    for mode, flags in TRAIN_FLAGS.items():
        at.selectbox(key="train_loss_mode").set_value(mode).run()
        assert not at.exception and not at.error, mode
        head = "python -m core train --dataset digits --preset quick"
        expected = " ".join([head, "--loss-mode", mode, *flags, "--seed", "0", "--analyse"])
        assert expected in [c.value for c in at.code], mode


@pytest.fixture
def parent(runs_root) -> Path:
    run = runs_root / "parent"
    config = {"dataset": "digits", "preset": "quick", "loss_mode": "removal", "seed": 0}
    write_json(run / "config.json", config | {"pos_high": 0.12, "pos_low": 0.2, "sigma": 0.3, "rho": 0.6})
    write_json(run / "manifest.json", {"created": 1.0})
    write_json(run / "status.json", {"state": "done"})
    rng = np.random.default_rng(0)
    n = 40
    frame = pd.DataFrame({"index": np.arange(n), "label": np.arange(n) % 4, "band": rng.random(n)})
    frame.to_csv(run / "scores.csv", index=False)
    return run


def test_retrain_form_every_mode(parent):
    at = AppTest.from_file(str(REPO / "pages" / "prune_retrain.py"), default_timeout=60)
    at.session_state[RUN_KEY] = str(parent)
    at.session_state["pr_beta"] = 1.5
    at.session_state["pr_tau_plus"] = 0.1
    at.run()
    assert at.selectbox(key="pr_mode").value == "removal"  # the parent's mode
    assert "keeps the parent run's removal = zero" in " ".join(c.value for c in at.caption)
    for mode, flags in RETRAIN_FLAGS.items():
        at.selectbox(key="pr_mode").set_value(mode).run()
        assert not at.exception and not at.error, mode
        first = at.code[-1].value.split("\n")[0]
        prune = f"python -m core prune --run-dir {parent} --score band --ratio 0.1 --seed 0 --train"
        assert first == " ".join([prune, "--loss-mode", mode, *flags, "--analyse"]), mode  # issue 11: analysed
