"""Theory: the run's alpha, beta, gamma and the paper's bounds (Thm 3.3 / 3.4 / Cor 4.1), Thm 4.3's optimal
margin beside the run's sigma, Table 10's eigenvalue, and the difficult pairs over training (Fig. 4c).

Reads ``theory.json`` (``python -m core theory --run-dir R``) and, when the run logged them,
the per-epoch UCL / H-UCL / SCL / H-SCL monitor losses and the flagged pairs' series from ``progress.jsonl``
(``python -m core difficulty --run-dir R``). The difficulty view sits here, not on a page of its own: it is
the paper's check of its selection (Fig. 4c), read beside the alpha/beta/gamma it is about.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from core.analysis import bounds
from core.figures.theory import bounds_vs_gap, monitor_curves, monitor_frame
from core.figures.training import difficulty_figure
from core.reports.difficulty import display_table, figure_input, labelled_series, missing_notes
from core.rundir.folder import list_runs
from core.runs.progress import FIELDS
from ui.feedback import guard, show_command
from ui.frame import reset_on_run_change, runs_folder, selected_run_or_hint
from ui.glossary import glossary_expander, help_for
from ui.jobbutton import job_button
from ui.readers import run_json, run_progress
from ui.views.compareview import md_escape
from ui.views.theorymargin import EIGEN_NOTE, eigen_view, margin_view
from ui.views.theoryview import (
    BOUND_METRICS,
    VACUOUS_NOTE,
    bound_curve,
    bound_error_message,
    bound_text,
    calculator_defaults,
    finite_or,
    metric_delta,
    monitor_claim,
    narrow_axis_note,
    removal_verdict,
    t_test_text,
)


def _measured(th: dict) -> None:
    """Metrics row: the measured similarity model of this run."""
    cols = st.columns(5)
    cols[0].metric(
        "α (same class)",
        f"{finite_or(th.get('alpha'), float('nan')):.4f}",
        help=help_for("alpha"),
    )
    cols[1].metric(
        "β (easy cross-class)",
        f"{finite_or(th.get('beta'), float('nan')):.4f}",
        help=help_for("beta"),
    )
    cols[2].metric(
        "γ (difficult cross-class)",
        f"{finite_or(th.get('gamma'), float('nan')):.4f}",
        help=help_for("gamma"),
    )
    cols[3].metric("γ − β", f"{finite_or(th.get('gamma_minus_beta'), float('nan')):.4f}")
    cols[4].metric(
        "t-test (β vs γ)",
        f"{finite_or(th.get('t'), float('nan')):.2f}",
        help="Welch t statistic: negative when γ > β, as in the paper's Table 11.",
    )
    st.caption(t_test_text(th))


def _calculator(th: dict) -> None:
    """Sliders for the bound calculator and the resulting bounds + plot."""
    st.subheader("Bound calculator")
    st.caption(
        "Defaults come from this run's theory.json. The model needs 0 ≤ β ≤ γ < α < 1; "
        "n is samples per class, n_d difficult samples per class (means over classes, rounded), r + 1 "
        "classes, δ the label-recovery error (not measurable from features: compare the "
        "bounds with each other, not with accuracy)."
    )
    left, right = st.columns([1, 1.3])
    d = calculator_defaults(th)
    with left:
        alpha = st.slider("α", 0.0, 0.999, d["alpha"], 0.001, format="%.3f", key="th_alpha", help=help_for("alpha"))
        beta = st.slider("β", -1.0, 0.999, d["beta"], 0.001, format="%.3f", key="th_beta", help=help_for("beta"))
        gamma = st.slider("γ", -1.0, 0.999, d["gamma"], 0.001, format="%.3f", key="th_gamma", help=help_for("gamma"))
        c1, c2, c3 = st.columns(3)
        n = c1.number_input(
            "n", min_value=2.0, value=d["n"], step=1.0, format="%.0f", key="th_n", help="training samples per class"
        )
        n_d = c2.number_input(
            "n_d", min_value=0.0, value=d["n_d"], step=1.0, format="%.0f", key="th_nd",
            help="difficult samples per class",
        )  # fmt: skip
        r = c3.number_input("r", min_value=1, value=int(d["r"]), step=1, key="th_r")
        delta = st.slider("δ", 0.0, 0.5, d["delta"], 0.005, format="%.3f", key="th_delta")
    res = bounds.evaluate_bounds(alpha, beta, gamma, float(n), float(n_d), int(r), float(delta))
    with right:
        errors = res["bound_errors"]
        if errors:
            st.error(bound_error_message(errors))
        for col, (name, key) in zip(st.columns(3), BOUND_METRICS, strict=True):
            extra, colour = metric_delta(res, key)
            col.metric(
                name,
                bound_text(res.get(key)),
                delta=extra,
                delta_color=colour,
                delta_arrow="off" if extra is None or colour == "off" else "auto",
                help=help_for("error bound"),
            )
        shown = [res.get(key) for _, key in BOUND_METRICS if res.get(key) is not None]
        if any(v > 1 for v in shown):
            st.caption(VACUOUS_NOTE)
        thr = res.get("removal_threshold")
        kind, verdict = removal_verdict(res, gamma - beta)
        {"success": st.success, "warning": st.warning, "info": st.info}[kind](verdict)
        if thr is not None and res.get("bound_removal") is not None and n_d >= 1 and alpha > beta:
            curve = bound_curve(alpha, beta, float(n), float(n_d), int(r), float(delta), thr, gamma - beta)
            fig = bounds_vs_gap(curve.gaps, curve.clean, curve.difficult, curve.removal, thr, gamma - beta)
            st.plotly_chart(fig, key="th_bounds")
            shown_y = np.concatenate([curve.difficult, [curve.clean, curve.removal]])
            if (zoom := narrow_axis_note(shown_y)) is not None:
                st.caption(zoom)


def _monitor(run_dir) -> None:
    """UCL / H-UCL / SCL / H-SCL per epoch when progress.jsonl has them."""
    st.subheader("Hard-negative monitor (H-SCL paper, Fig. 5)")
    frame = monitor_frame(run_progress(run_dir))
    if frame.empty:
        st.info(
            "This run did not log monitor losses. Train with `--monitor` to log UCL, H-UCL, "
            "SCL and H-SCL per epoch on the same batches (needs labels), e.g."
        )
        show_command(["train", "--config", str(Path(run_dir) / "config.json"), "--monitor"], caption="")
        return
    st.plotly_chart(monitor_curves(frame), key="th_monitor")
    holds, logged = monitor_claim(frame)
    if logged:
        st.caption(f"Claim of Jiang et al.: H-SCL ≤ H-UCL. It holds in {holds} of {logged} logged epochs of this run.")
    st.dataframe(frame, hide_index=True)


def _margin(th: dict, run_dir: Path) -> None:
    """Thm 4.3's per-pair optimal margin at this run's quantities, beside the sigma it trained with."""
    st.subheader("Thm 4.3: the optimal margin beside σ")
    view = margin_view(th, run_json(run_dir, "config.json"))
    if view.error:
        st.info(md_escape(view.error))
        return
    st.markdown(md_escape(view.verdict))
    shown = view.table.assign(value=[f"{v:.4g}" if v is not None else "–" for v in view.table["value"]])
    st.dataframe(shown, hide_index=True)
    st.caption(
        "Eq. 7 gives m on the spectral loss, where it is O(1/n²); Thm 4.2 subtracts c1²·m from a difficult "
        "pair's similarity γ, which is the scale σ is added on (Eq. 14). Only pairs of two difficult samples "
        "of different classes get it; the theorem's corrections on the other pairs (Eq. 36) are, in the paper's "
        "words, higher-order infinitesimals."
    )
    ours, paper = eigen_view(th, run_dir)
    st.metric("(K+1)-th eigenvalue ×10⁻⁵ (Table 10: Thm 3.4's λₖ₊₁)", "—" if ours is None else f"{ours:.3f}")
    st.dataframe(paper, hide_index=True)
    st.caption(EIGEN_NOTE)


def _difficulty(run_dir: Path) -> None:
    """Per epoch: the cross-class share of the flagged pairs, their mean similarity, the flagged share."""
    st.subheader("Difficult pairs over training (Fig. 4c)")
    st.caption(
        "Per epoch, from progress.jsonl: of the pairs the band flags (posHigh/posLow), the share whose labels "
        "differ (the paper's Fig. 4c: it should approach 1), their mean cosine similarity, and the flagged "
        "share of all pairs. Overlay other runs to compare them."
    )
    names = {Path(r["run_dir"]).name: r["run_dir"] for r in list_runs(runs_folder())}
    names.pop(run_dir.name, None)
    chosen = st.multiselect("Overlay other runs", sorted(names), key="th_overlay")
    dirs = [run_dir, *(Path(names[n]) for n in chosen)]
    show_command(["difficulty", *(a for d in dirs for a in ("--run-dir", str(d)))])
    runs = labelled_series(dirs)
    for note in missing_notes(runs):
        st.info(md_escape(note))
    table = display_table(runs)
    if table.empty:
        return
    label, series = runs[0]
    st.caption(f"Last epoch of {md_escape(label)} (epoch {series.epochs[-1]}):")
    for col, (key, title) in zip(st.columns(len(FIELDS)), FIELDS.items(), strict=True):
        last = series.last(key)
        col.metric(title, "not logged" if last is None else f"{last:.4f}")
    st.plotly_chart(difficulty_figure(figure_input(runs)), key="th_difficulty")
    st.dataframe(table, hide_index=True)


def main() -> None:
    st.title("Theory")
    st.caption(
        "The paper's similarity model: same-class pairs α, easy cross-class pairs β, "
        "difficult cross-class pairs γ. Difficult pairs (γ > β) loosen the error bound; "
        "removing them helps once γ − β passes a threshold."
    )
    run_dir = selected_run_or_hint()
    if run_dir is None:
        return
    reset_on_run_change(run_dir, "th_")
    argv = ["theory", "--run-dir", str(run_dir)]
    th = run_json(run_dir, "theory.json")
    if not th:
        st.info(
            f"{run_dir.name} has no theory.json yet. Estimate α, β, γ from its features "
            "(needs features.npz, which training writes):"
        )
        show_command(argv)
        job_button("Estimate α, β, γ now", argv, kind="analyse", key="th_job")
    else:
        show_command(argv)
        _measured(th)
        with guard("The bound calculator"):
            _calculator(th)
        with guard("Thm 4.3's margin"):
            _margin(th, run_dir)
    with guard("Difficulty over training"):
        _difficulty(run_dir)
    with guard("The monitor plot"):
        _monitor(run_dir)
    glossary_expander(["theory", "loss mode"])


with guard("The Theory page"):
    main()
