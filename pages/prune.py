"""Prune & retrain: pick a difficulty score and a ratio, see what goes, launch the retrains.

Reads ``scores.csv`` (``python -m core score --run-dir R``). The preview uses the same
``core.analysis.prune.select_keep`` / ``per_class_counts`` as ``python -m core prune``, so what the page
shows is what the job removes. Launch queues one background job (``prune ... --train``) per
(score or random, seed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis.prune import per_class_counts, select_keep
from core.data.thumbs import caption
from core.errors import HardpairsError
from core.jobs import queue as jobs
from ui.actions import class_names, job_button, reset_on_run_change, run_json
from ui.common import command_text, guard, read_csv_cached, selected_run, show_command
from ui.figures import per_class_bar, score_histogram
from ui.jobs_panel import render_jobs_panel
from ui.thumbs import GRID_BORDER, image_grid, thumbs_for

LOSS_MODES = ("baseline", "removal", "margin", "temperature", "combined", "hard_ucl", "scl", "hard_scl")
NON_SCORE_COLUMNS = ("index", "label", "mixed")
BAND_MODES = ("removal", "margin", "temperature", "combined")


def loss_flags(loss: dict) -> list[str]:
    """``--loss-mode M`` plus the band / margin / temperature knobs that mode uses."""
    mode = loss["loss_mode"]
    flags = ["--loss-mode", mode]
    if mode in BAND_MODES:
        flags += ["--pos-high", f"{loss['pos_high']:g}", "--pos-low", f"{loss['pos_low']:g}"]
    if mode in ("margin", "combined"):
        flags += ["--sigma", f"{loss['sigma']:g}"]
    if mode in ("temperature", "combined"):
        flags += ["--rho", f"{loss['rho']:g}"]
    if mode in ("hard_ucl", "hard_scl"):
        flags += ["--beta", f"{loss['beta']:g}"]
    if mode == "hard_ucl":
        flags += ["--tau-plus", f"{loss['tau_plus']:g}"]
    return flags


def retrain_argv(run_dir: Path, score: str, ratio: float, seed: int, loss: dict) -> list[str]:
    """``python -m core`` arguments of one pruned retrain: ``prune ... --train <loss flags>``."""
    return [
        "prune",
        "--run-dir",
        str(run_dir),
        "--score",
        score,
        "--ratio",
        f"{ratio:g}",
        "--seed",
        str(int(seed)),
        "--train",
        *loss_flags(loss),
    ]


def planned_jobs(
    run_dir: Path, score: str, ratio: float, seeds: list[int], loss: dict, with_random: bool
) -> list[list[str]]:
    """One retrain per (score or random, seed); random only if it is not the score."""
    chosen = [score] + (["random"] if with_random and score != "random" else [])
    return [retrain_argv(run_dir, s, ratio, seed, loss) for s in chosen for seed in seeds]


def _preview(run_dir: Path, scores: pd.DataFrame, score: str, ratio: float, seed: int, names: list[str]) -> None:
    values = scores[score].to_numpy(np.float64)
    labels = scores["label"].to_numpy(np.int64)
    ids = scores["index"].to_numpy(np.int64)
    kept, pruned = select_keep(values, ratio, seed)
    kept, pruned = np.asarray(kept, np.int64), np.asarray(pruned, np.int64)
    m = st.columns(3)
    m[0].metric("training samples", f"{len(values)}")
    m[1].metric("pruned", f"{len(pruned)}")
    m[2].metric("kept", f"{len(kept)}")
    st.plotly_chart(score_histogram(values, pruned, score, ratio), key="pr_hist")
    counts = per_class_counts(labels, pruned, names)
    left, right = st.columns([3, 2])
    pruned_per_class = np.bincount(labels[pruned], minlength=len(names))[: len(names)]
    total = np.bincount(labels, minlength=len(names))[: len(names)]
    left.plotly_chart(per_class_bar(names, pruned_per_class, total - pruned_per_class), key="pr_bar")
    right.dataframe(counts, hide_index=True, key="pr_counts")
    st.subheader("A sample of what goes")
    if len(pruned) == 0:
        st.info("Nothing is pruned at 0%. Move the slider.")
        return
    order = pruned[np.argsort(-values[pruned], kind="stable")] if score != "random" else pruned
    sample = order[:240]
    thumbs = thumbs_for(run_json(run_dir, "config.json"), border=GRID_BORDER)
    caps = [caption(int(ids[p]), names[int(labels[p])], float(values[p])) for p in sample]
    what = (
        f"The {len(sample)} highest-{score} samples of the {len(pruned)} pruned"
        if score != "random"
        else f"{len(sample)} of the {len(pruned)} randomly pruned"
    )
    st.caption(f"{what}. Captions: id · class · {score}.")
    image_grid(thumbs, [int(ids[p]) for p in sample], caps, key="pr_grid", page_size=60)


def _loss_inputs(cfg: dict) -> dict:
    st.subheader("Retrain")
    modes = list(LOSS_MODES)
    default_mode = cfg.get("loss_mode") if cfg.get("loss_mode") in modes else "baseline"
    c = st.columns(5)
    mode = c[0].selectbox(
        "Loss mode",
        modes,
        index=modes.index(default_mode),
        key="pr_mode",
        help="baseline = plain SimCLR on the kept samples; the others also "
        "treat the remaining difficult pairs in each batch (paper Alg. 1).",
    )
    band = mode in BAND_MODES
    loss = {
        "loss_mode": mode,
        "pos_high": c[1].number_input(
            "posHigh",
            0.0,
            1.0,
            float(cfg.get("pos_high", 0.1)),
            0.01,
            key="pr_pos_high",
            disabled=not band,
            help="Top share of each row's similarities treated as probable same-class, never flagged.",
        ),
        "pos_low": c[2].number_input(
            "posLow",
            0.0,
            1.0,
            float(cfg.get("pos_low", 0.17)),
            0.01,
            key="pr_pos_low",
            disabled=not band,
            help="Lower end of the flagged band.",
        ),
        "sigma": c[3].number_input(
            "sigma",
            0.0,
            5.0,
            float(cfg.get("sigma", 0.1)),
            0.01,
            key="pr_sigma",
            disabled=mode not in ("margin", "combined"),
            help="Margin added to difficult pairs' similarity.",
        ),
        "rho": c[4].number_input(
            "rho",
            0.01,
            5.0,
            float(cfg.get("rho", 0.7)),
            0.01,
            key="pr_rho",
            disabled=mode not in ("temperature", "combined"),
            help="Temperature factor on difficult pairs (< 1 sharpens).",
        ),
    }
    if mode in ("hard_ucl", "hard_scl"):
        h = st.columns(5)
        loss["beta"] = h[1].number_input(
            "beta",
            0.0,
            10.0,
            float(cfg.get("beta", 1.0)),
            0.1,
            key="pr_beta",
            help="Hardness: weight exp(beta * s / tau) on negatives.",
        )
        loss["tau_plus"] = h[2].number_input(
            "tau+",
            0.0,
            0.99,
            float(cfg.get("tau_plus", 0.0)),
            0.01,
            key="pr_tau_plus",
            disabled=mode != "hard_ucl",
            help="Class prior of the debiasing estimator (H-UCL).",
        )
    if band and loss["pos_low"] <= loss["pos_high"]:
        raise HardpairsError(
            f"posLow ({loss['pos_low']:g}) must be above posHigh "
            f"({loss['pos_high']:g}): the flagged band is (posHigh, posLow]."
        )
    return loss


def main() -> None:
    st.title("Prune & retrain")
    run_dir = selected_run()
    if run_dir is None:
        st.info("No run selected. Train one on the **Runs** page, then pick it in the sidebar.")
        return
    reset_on_run_change(run_dir, "pr_")
    score_argv = ["score", "--run-dir", str(run_dir)]
    scores = read_csv_cached(run_dir / "scores.csv")
    if scores is None:
        st.info(f"{run_dir.name} has no difficulty scores yet (scores.csv). Compute them first:")
        show_command(score_argv)
        job_button("Compute the scores now", score_argv, kind="score", key="pr_score_job")
        return
    cols = [c for c in scores.columns if c not in NON_SCORE_COLUMNS and pd.api.types.is_numeric_dtype(scores[c])]
    if not cols or not {"index", "label"} <= set(scores.columns):
        st.error(
            f"{run_dir / 'scores.csv'} has no score columns (or no index/label); recompute it "
            f"with `{command_text(score_argv)}`."
        )
        return
    cfg = run_json(run_dir, "config.json")
    names = class_names(run_dir, int(scores["label"].max()) + 1)
    c1, c2 = st.columns([1, 2])
    default = cols.index("band") if "band" in cols else 0
    score = c1.selectbox(
        "Score",
        cols,
        index=default,
        key="pr_score",
        help="Higher = more difficult; the highest-scoring samples are pruned.",
    )
    pct = c2.slider("Pruning ratio (%)", 0, 60, 10, 1, key="pr_ratio")
    ratio = pct / 100.0
    seed = int(cfg.get("seed") or 0)
    preview_argv = ["prune", "--run-dir", str(run_dir), "--score", score, "--ratio", f"{ratio:g}", "--seed", str(seed)]
    show_command(preview_argv)
    with guard("The pruning preview"):
        _preview(run_dir, scores, score, ratio, seed, names)
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
        plan = planned_jobs(run_dir, score, ratio, seeds, loss, with_random)
        st.code(
            "\n".join(command_text(j) for j in plan) or "# pick at least one seed", language="bash", wrap_lines=True
        )
        blocked = "pick at least one seed" if not seeds else ("move the slider above 0%" if ratio == 0 else "")
        if blocked:
            st.caption(f"To launch, {blocked}.")
        if st.button(
            f"Launch {len(plan)} retrain job{'s' * (len(plan) != 1)}",
            type="primary",
            key="pr_launch",
            disabled=bool(blocked),
        ):
            queued = [jobs.submit(j, "retrain") for j in plan]
            st.success(
                f"Queued {len(queued)} jobs: "
                + ", ".join(j.job_id for j in queued)
                + ". They run one at a time; results appear on the Compare page."
            )
        if any(j.kind == "retrain" for j in jobs.list_jobs()):
            render_jobs_panel(key="pr_jobs", limit=4, kinds=("retrain",))


with guard("The Prune & retrain page"):
    main()
