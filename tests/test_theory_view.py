"""Theory page fixes: sensible precision, "equal at this precision", vacuous bounds explained, delta
colours that agree with the verdict, and each error reason once."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.analysis import bounds
from core.io import write_json
from ui.frame import RUN_KEY
from ui.views import theoryview as tv

REPO = Path(__file__).resolve().parents[1]


def test_equal_at_precision_and_bound_text():
    assert tv.equal_at_precision(1.20002, 1.20001) and not tv.equal_at_precision(1.2, 1.21)
    assert tv.bound_text(1.200021) == "1.2000" and tv.bound_text(None) == "—"


def test_metric_delta_compares_removal_with_keeping_and_colours_lower_green():
    res = {"bound_clean": 1.2, "bound_difficult": 1.5, "bound_removal": 1.3}
    assert tv.metric_delta(res, "bound_clean") == (None, "off")
    assert tv.metric_delta(res, "bound_difficult") == ("+0.3000 vs Thm 3.3", "inverse")  # worse: red
    assert tv.metric_delta(res, "bound_removal") == ("-0.2000 vs keeping", "inverse")  # removal wins: green
    noise = {"bound_clean": 1.20001, "bound_difficult": 1.20002, "bound_removal": 1.200015}
    assert tv.metric_delta(noise, "bound_removal") == ("= keeping at this precision", "off")
    assert tv.metric_delta({"bound_difficult": None, "bound_removal": 1.0}, "bound_removal") == (None, "off")


def test_bound_error_message_states_each_reason_once():
    res = bounds.evaluate_bounds(0.2, 0.3, 0.4, 100, 8, 9)  # alpha < beta: every bound fails, two gammas quoted
    msg = tv.bound_error_message(res["bound_errors"])
    assert msg.count("the similarity model needs") == 1 and "gamma=0.4" in msg
    assert msg.startswith(
        "Not computable with these values: Thm 3.3, Thm 3.4, Cor 4.1, Thm 4.5, the removal threshold."
    )
    res = bounds.evaluate_bounds(0.6, 0.1, 0.3, 100, 0, 9)
    assert tv.bound_error_message(res["bound_errors"]).count("Thm 3.4 needs at least one difficult sample") == 1


@pytest.fixture
def theory_run(tmp_path):
    run = tmp_path / "t-run"
    write_json(run / "config.json", {"dataset": "digits"})
    write_json(run / "manifest.json", {"run_id": "t-run", "classes": [str(c) for c in range(10)]})
    theory = {"alpha": 0.6, "beta": 0.1, "gamma": 0.3, "gamma_minus_beta": 0.2, "t": -5.0, "p": 1e-6}
    write_json(run / "theory.json", theory | {"n": 143, "n_d": 11, "r": 9, "delta": 0.1})
    return run


def _theory(run: Path) -> AppTest:
    at = AppTest.from_file(str(REPO / "pages" / "theory_bounds.py"), default_timeout=60)
    at.session_state[RUN_KEY] = str(run)
    return at.run()


def test_theory_page_explains_vacuous_bounds_and_colours_deltas_like_the_verdict(theory_run):
    at = _theory(theory_run)
    assert not at.exception and not at.error
    res = bounds.evaluate_bounds(0.6, 0.1, 0.3, 143, 11, 9, 0.1)
    assert res["bound_clean"] > 1  # delta = 0.1 makes every bound vacuous
    assert any(tv.VACUOUS_NOTE == c.value for c in at.caption)
    removal = next(m for m in at.metric if m.label == "Cor 4.1: remove them")
    assert removal.value == f"{res['bound_removal']:.4f}"
    expected, colour = tv.metric_delta(res, "bound_removal")
    assert removal.delta == expected and colour == "inverse"
    beats = res["removal_beats_keeping"]
    assert (res["bound_removal"] < res["bound_difficult"]) == beats  # green (lower) <=> removal is smaller
    assert not at.success and not at.warning  # vacuous bounds: no "wins" call-out, either way
    (info,) = [i for i in at.info if "γ − β" in i.value]
    assert "above 1 (vacuous)" in info.value and "neither choice is supported" in info.value
    assert any(e.label == "Glossary" for e in at.expander)


def test_theory_page_states_the_t_test_with_its_p_value_and_whole_counts(theory_run):
    at = _theory(theory_run)
    assert any(c.value.startswith("Welch t-test, β vs γ: t = -5.00, p < 0.001.") for c in at.caption)
    assert at.number_input(key="th_n").value == 143 and at.number_input(key="th_nd").value == 11


def test_removal_verdict_calls_a_winner_only_when_the_bounds_say_something():
    base = {"removal_threshold": 0.05, "removal_beats_keeping": True}
    assert tv.removal_verdict(base | {"bound_difficult": 0.40, "bound_removal": 0.30}, 0.2)[0] == "success"
    assert tv.removal_verdict(base | {"bound_difficult": 1.20002, "bound_removal": 1.20001}, 0.2)[0] == "info"
    kind, text = tv.removal_verdict(base | {"bound_difficult": 0.50001, "bound_removal": 0.5}, 0.2)
    assert kind == "info" and "equal at this precision" in text and "**" not in text
    assert tv.removal_verdict(base | {"bound_difficult": None, "bound_removal": 0.5}, 0.2)[0] == "info"
    keep = {"removal_threshold": 0.5, "removal_beats_keeping": False, "bound_difficult": 0.3, "bound_removal": 0.4}
    assert tv.removal_verdict(keep, 0.2)[0] == "warning"


def test_p_text_and_narrow_axis_note():
    assert tv.p_text(2e-7) == "p < 0.001" and tv.p_text(0.0123) == "p = 0.012"
    import numpy as np

    note = tv.narrow_axis_note(np.array([1.20002, 1.2001, 1.20005]))
    assert note is not None and note.startswith("Zoomed axis: the curves span only 1.20002–1.20010")
    assert tv.narrow_axis_note(np.array([0.2, 0.5])) is None


def test_theory_page_shows_one_error_for_a_broken_model(theory_run):
    at = _theory(theory_run)
    at.slider(key="th_alpha").set_value(0.2).run()  # alpha below beta and gamma
    assert not at.exception
    (err,) = at.error
    assert err.value.count("the similarity model needs") == 1
