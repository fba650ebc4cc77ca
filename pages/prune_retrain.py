"""Prune & retrain: pick a difficulty score and a ratio, see what goes, launch the retrains.

Reads ``scores.csv`` (``python -m core score --run-dir R``). The preview uses the same
``core.analysis.prune.select_keep`` / ``per_class_counts`` as ``python -m core prune``, so what the page
shows is what the job removes. Launch queues one background job (``prune ... --train``) per
(score or random, seed).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import streamlit as st

from core.audit import tags
from core.audit.groundtruth import best_score, caught
from core.data.thumbs import caption
from core.errors import HardpairsError
from core.figures.prune import per_class_bar, score_histogram
from core.jobs import describe, records
from core.jobs import queue as jobs
from ui.feedback import command_text, guard, plain, show_command
from ui.frame import keep_widget, new_url_value, reset_on_run_change, selected_run_or_hint, to_url
from ui.jobbutton import job_button
from ui.jobs_panel import render_jobs_panel
from ui.readers import class_names, read_csv_cached, run_json
from ui.tagging import export_widget, id_search, tag_widget
from ui.thumbs import GRID_BORDER, image_grid, thumbs_for
from ui.truthpanel import Truth, auroc_table, pick_truth
from ui.views.lossform import RETRAIN_KNOBS, check_band, knob_default, knob_inputs, mode_knobs, mode_select
from ui.views.retrain import (
    active_launches,
    launch_blocker,
    launch_label,
    launch_state,
    planned_jobs,
    prune_argv,
    prune_preview,
    tag_plan,
)
from ui.views.scoreview import score_columns
from ui.views.truthview import caught_line, ranked_scores, score_option


def _preview(run_dir: Path, scores, score: str, ratio: float, seed: int, names: list[str], truth: Truth | None) -> None:
    pv = prune_preview(scores, score, ratio, seed, names)
    m = st.columns(5 if truth else 3)
    m[0].metric("training samples", f"{len(pv.values)}")
    m[1].metric("pruned", f"{len(pv.pruned)}")
    m[2].metric("kept", f"{len(pv.kept)}")
    if truth is not None:
        hit = caught(pv.ids[pv.pruned], truth.mask, pv.ids)
        m[3].metric(
            "precision (caught)", f"{hit.precision:.0%}" if hit.pruned else "–", help=caught_line(hit, truth.badge)
        )
        m[4].metric(
            "recall (caught)", f"{hit.recall:.0%}" if hit.positives else "–", help=caught_line(hit, truth.badge)
        )
        st.caption(f"Caught at this ratio: {caught_line(hit, truth.badge)}")
    st.plotly_chart(score_histogram(pv.values, pv.pruned, score, ratio), key="pr_hist")
    left, right = st.columns([3, 2])
    left.plotly_chart(per_class_bar(names, pv.pruned_per_class, pv.kept_per_class), key="pr_bar")
    right.dataframe(pv.counts, hide_index=True, key="pr_counts")
    st.subheader("What goes")
    if len(pv.pruned) == 0:
        st.info("Nothing is pruned at 0%. Move the slider.")
        return
    thumbs = thumbs_for(run_json(run_dir, "config.json"), border=GRID_BORDER)
    mark = f" A red border and a '{truth.badge}' badge mark the {truth.what}." if truth else ""
    st.caption(f"{pv.what} (all of them, 60 per page). Captions: id · class · {score}.{mark}")
    shown = [int(pv.ids[p]) for p in pv.sample]
    image_grid(thumbs, shown, pv.captions, key="pr_grid", page_size=60, **_marking(truth))
    with st.expander(f"Tag these {len(pv.pruned)} samples"):
        tag_widget(run_dir, pv.ids[pv.pruned], key="pr_pruned")


def _marking(truth: Truth | None) -> dict:
    """``image_grid`` keywords that mark the ground truth's true positives (none without ground truth)."""
    return {"truth": truth.mask, "badge": truth.badge} if truth else {}


def _tag_preview(run_dir: Path, scores, tag: str, names: list[str], truth: Truth | None) -> int:
    """Metrics, per-class counts and the grid of the samples tagged ``tag``; returns how many."""
    tagged = tags.tag_ids(run_dir, tag)
    labels = scores.set_index("index")["label"]
    m = st.columns(3)
    m[0].metric("training samples", f"{len(scores)}")
    m[1].metric("pruned", f"{len(tagged)}")
    m[2].metric("kept", f"{len(scores) - len(tagged)}")
    st.caption(
        f"Keep = every sample not tagged '{plain(tag)}'; the random baseline removes {len(tagged)} samples at random."
    )
    thumbs = thumbs_for(run_json(run_dir, "config.json"), border=GRID_BORDER)
    caps = [caption(int(i), names[int(labels.get(int(i), 0))]) for i in tagged]
    image_grid(thumbs, tagged.tolist(), caps, key="pr_tag_grid", page_size=60, **_marking(truth))
    return len(tagged)


def _loss_inputs(cfg: dict[str, Any]) -> dict[str, Any]:
    st.subheader("Retrain")
    c = st.columns(5)
    mode = mode_select(
        c[0],
        cfg.get("loss_mode"),
        key="pr_mode",
        help="baseline = plain SimCLR on the kept samples; the others also "
        "treat the remaining difficult pairs in each batch (paper Alg. 1).",
    )
    knobs = mode_knobs(mode, RETRAIN_KNOBS)
    loss = {"loss_mode": mode, **knob_inputs(knobs, cfg, key=lambda name: f"pr_{name}", columns=c[1:])}
    inherited = [k for k in mode_knobs(mode) if k not in knobs]
    if inherited:
        kept = ", ".join(f"{k} = {knob_default(k, cfg)}" for k in inherited)
        st.caption(f"`prune --train` keeps the parent run's {kept}.")
    check_band(loss)
    return loss


def main() -> None:
    st.title("Prune & retrain")
    run_dir = selected_run_or_hint()
    if run_dir is None:
        return
    reset_on_run_change(run_dir, "pr_")
    score_argv = ["score", "--run-dir", str(run_dir)]
    scores = read_csv_cached(run_dir / "scores.csv")
    if scores is None:
        st.info(f"{run_dir.name} has no difficulty scores yet (scores.csv). Compute them first:")
        show_command(score_argv)
        job_button("Compute the scores now", score_argv, kind="score", key="pr_score_job")
        return
    cols = score_columns(scores)
    if not cols or not {"index", "label"} <= set(scores.columns):
        st.error(
            f"{run_dir / 'scores.csv'} has no score columns (or no index/label); recompute it "
            f"with `{command_text(score_argv)}`."
        )
        return
    cfg = run_json(run_dir, "config.json")
    names = class_names(run_dir, int(scores["label"].max()) + 1)
    seed = int(cfg.get("seed") or 0)
    have = tags.list_tags(run_dir)
    with guard("The ground truth"):
        truth = pick_truth(run_dir, scores, key="pr")
    aurocs = truth.aurocs if truth else {}
    _tag_from_url(have)
    source = st.radio(
        "Prune by",
        ["a score", "a tag"] if have else ["a score"],
        horizontal=True,
        key="pr_source",
        help="a tag: remove exactly the samples you tagged (Embeddings lasso, Hard pairs, id search)",
    )
    tag, n_tagged = None, 0
    if source == "a tag":
        labels = {f"{t} ({have[t]} samples)": t for t in have}
        tag = labels[st.selectbox("Tag", list(labels), key="pr_tag")]
        to_url("tag", tag)
        show_command(["prune", "--run-dir", str(run_dir), "--tag", tag, "--seed", str(seed)])
        with guard("The tag preview"):
            n_tagged = _tag_preview(run_dir, scores, tag, names, truth)
        score, ratio = f"tag:{tag}", n_tagged / len(scores)
    else:
        c1, c2 = st.columns([2, 3])
        _score_ratio_from_url(cols, best_score(aurocs))
        score = c1.selectbox(
            "Score",
            ranked_scores(cols, aurocs),
            key="pr_score",
            format_func=partial(score_option, aurocs=aurocs),
            help="Higher = more difficult; the highest-scoring samples are pruned."
            + (" Ordered by AUROC against the ground truth, best first." if aurocs else ""),
        )
        pct = c2.slider("Pruning ratio (%)", 0, 60, step=1, key="pr_ratio")
        to_url("score", score)
        to_url("ratio", str(pct))
        ratio = pct / 100.0
        show_command(prune_argv(run_dir, score, ratio, seed))
        if truth is not None:
            auroc_table(truth, score, key="pr_auroc")
        with guard("The pruning preview"):
            _preview(run_dir, scores, score, ratio, seed, names, truth)
    with guard("The retrain form"):
        loss = _loss_inputs(cfg)
        s1, s2 = st.columns([1, 1], vertical_alignment="bottom")
        seeds = s1.multiselect(
            "Seeds",
            list(range(10)),
            default=[seed],
            key="pr_seeds",
            help="One retrain per seed; the paper reports the mean of 3.",
        )
        with_random = s2.checkbox(
            "Also train a random-pruning baseline at the same ratio",
            value=True,
            key="pr_random",
            help="Random pruning removes as many samples, chosen at "
            "random: the control that shows whether the score matters.",
        )
        if tag is not None:
            plan = tag_plan(run_dir, tag, n_tagged, len(scores), seeds, loss, with_random)
        else:
            plan = planned_jobs(run_dir, score, ratio, seeds, loss, with_random)
        st.code(
            "\n".join(command_text(j) for j in plan) or "# pick at least one seed", language="bash", wrap_lines=True
        )
        _launch(run_dir, plan, launch_blocker(seeds, ratio))
    with st.expander("Tags, export and sample search"):
        export_widget(run_dir, key="pr_export")
        id_search(run_dir, key="pr_search")


def _tag_from_url(have: dict[str, int]) -> None:
    """``?tag=NAME`` (e.g. from Hard pairs' "Prune by this tag") preselects "a tag" and that tag; the choice is kept
    across a visit to another page."""
    name = new_url_value("tag")
    if name in have:
        st.session_state["pr_source"] = "a tag"
        st.session_state["pr_tag"] = f"{name} ({have[name]} samples)"
    keep_widget("pr_source")
    keep_widget("pr_tag")
    if st.session_state.get("pr_tag") not in {f"{t} ({have[t]} samples)" for t in have}:
        st.session_state.pop("pr_tag", None)  # a kept label whose count changed (more samples tagged since)
    if st.session_state.get("pr_source") == "a tag" and not have:
        st.session_state["pr_source"] = "a score"
    if st.session_state.get("pr_source") != "a tag":
        to_url("tag", None)


def _score_ratio_from_url(cols: list[str], best: str | None = None) -> None:
    """``?score=band&ratio=20`` from a pasted link, a reload or a new tab sets the pickers; a stale URL in a burst
    of slider reruns is not news (:func:`ui.frame.new_url_value`) and cannot undo a move. Defaults: the best score
    against the ground truth (``best``), else band; 10 %."""
    score, pct = new_url_value("score"), new_url_value("ratio")
    if score in cols:
        st.session_state["pr_score"] = score
    if pct is not None and pct.isdigit() and 0 <= int(pct) <= 60:
        st.session_state["pr_ratio"] = int(pct)
    keep_widget("pr_score")  # across a visit to another page (the sidebar navigation drops ?score=&ratio=)
    keep_widget("pr_ratio")
    if st.session_state.get("pr_score") not in cols:
        st.session_state["pr_score"] = best if best in cols else "band" if "band" in cols else cols[0]
    st.session_state.setdefault("pr_ratio", 10)


def _launch(run_dir: Path, plan: list[list[str]], blocked: str) -> None:
    """The Launch button: disabled while this launch's jobs are queued or running (their state shown)."""
    in_flight = launch_state(active_launches(plan, records.list_jobs()))
    if blocked:
        st.caption(f"To launch, {blocked}.")
    elif in_flight:
        st.caption(f"{in_flight}; Launch is enabled again when they end.")
    if st.button(launch_label(len(plan)), type="primary", key="pr_launch", disabled=bool(blocked or in_flight)):
        try:
            queued = [jobs.submit(j, "retrain") for j in plan]
        except HardpairsError as err:
            st.error(str(err))
            return
        st.session_state["pr_flash"] = (
            f"Queued {len(queued)} jobs: "
            + ", ".join(j.job_id for j in queued)
            + ". Each trains and analyses its child run, one at a time; results appear on the Compare page."
        )
        st.rerun()  # redraw with the button disabled
    flash = st.session_state.pop("pr_flash", None)
    if flash:
        st.success(flash)
    if describe.jobs_for_run(records.list_jobs(), run_dir):
        render_jobs_panel(key="pr_jobs", limit=6, run=run_dir)


with guard("The Prune & retrain page"):
    main()
