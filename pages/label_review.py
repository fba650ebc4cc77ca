"""Label review: the suggested label errors of a run, most likely first, each accepted as mislabelled, ambiguous or
fine (a tag in the run's tags.csv), then exported or pruned.

The list is ``label_issues.csv`` from ``python -m core label-issues --run-dir R`` (the out-of-fold linear probe and
kNN votes, ``core.analysis.labelerrors``). A verdict is a tag (``core.audit.labelerrors.review``: ``mislabelled``,
``ambiguous`` or ``label-ok``, one per sample); its CLI twin is ``python -m core tag --add``. Keyboard shortcuts
are Streamlit's own (``st.button(shortcut=...)``): M, A, F for the verdicts, N and P to move.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st

from core.audit import tags
from core.audit.labelerrors import VERDICTS, describe_issue, read_issues, review, review_queue, verdicts
from core.errors import HardpairsError
from ui.feedback import guard, show_command
from ui.frame import reset_on_run_change, selected_run_or_hint
from ui.jobbutton import job_button
from ui.readers import class_names, run_json
from ui.tagging import export_widget, tag_argv
from ui.thumbs import GRID_BORDER, grid_html, thumbs_for

SCOPES = {"to review": "flagged, not reviewed yet", "flagged": "every flagged sample", "all": "every sample, ranked"}
#: verdict -> (button label, keyboard shortcut)
BUTTONS = {"mislabelled": ("Mislabelled", "M"), "ambiguous": ("Ambiguous", "A"), "fine": ("Fine", "F")}
IMAGE_PX = 160
NEXT_SHOWN = 12


def _queue(frame: pd.DataFrame, reviewed: dict[int, str], scope: str) -> list[int]:
    if scope == "to review":
        return review_queue(frame, reviewed)
    return review_queue(frame, {}, flagged_only=scope == "flagged")


def _on_verdict(run_dir: str, sid: int, verdict: str) -> None:
    try:
        res = review(run_dir, sid, verdict)
    except HardpairsError as err:
        st.session_state["lr_flash"] = ("error", str(err))
        return
    moved = f" (was {', '.join(res['removed'])})" if res["removed"] else ""
    st.session_state["lr_flash"] = ("ok", f"#{sid} tagged '{res['tag']}'{moved}.")
    st.session_state["lr_last"] = (sid, res["tag"])
    if st.session_state.get("lr_scope") != "to review":
        st.session_state["lr_pos"] = int(st.session_state.get("lr_pos", 0)) + 1  # the item stays listed: move on


def _move(step: int) -> None:
    st.session_state["lr_pos"] = max(0, int(st.session_state.get("lr_pos", 0)) + step)


def _item(run_dir: Path, row: dict, names: list[str], verdict: str | None, thumbs, position: str) -> None:
    """The current sample: its image, the suggestion and both signals, the verdict buttons."""
    sid = int(row["id"])
    left, right = st.columns([1, 4], gap="medium")
    try:
        left.image(thumbs.png(sid), width=IMAGE_PX)
    except HardpairsError as err:
        left.caption(f"no image: {err}")
    link = "sample?" + urlencode({"run": run_dir.name, "sample": sid})
    right.markdown(f"#### {describe_issue(row, names)}")
    right.markdown(
        f"Sample **#{sid}** · {position} · rank {int(row['rank'])} · verdict: **{verdict or 'not reviewed'}** · "
        f"[open in the sample view]({link})"
    )
    right.caption(
        f"Out-of-fold probe says {names[int(row['probe_pred'])]} · the kNN vote says {names[int(row['knn_pred'])]} · "
        f"p of {names[int(row['suggested'])]}: probe {float(row['probe_p']):.2f}, kNN {float(row['knn_p']):.2f} · "
        f"p of the given label {names[int(row['label'])]}: {float(row['p_label']):.2f}"
    )
    bar = right.container(horizontal=True)
    for v, (label, key) in BUTTONS.items():
        bar.button(
            label,
            key=f"lr_{v}",
            shortcut=key,
            type="primary" if v == "mislabelled" else "secondary",
            on_click=_on_verdict,
            args=(str(run_dir), sid, v),
            help=f"tag #{sid} '{VERDICTS[v]}' (key {key})",
        )
    bar.button("Previous", key="lr_prev", shortcut="P", on_click=_move, args=(-1,), help="back one item (key P)")
    bar.button("Next", key="lr_next", shortcut="N", on_click=_move, args=(1,), help="skip for now (key N)")
    right.caption("Keys: M mislabelled · A ambiguous · F fine · N next · P previous (when no text box has focus).")


def _neighbours(row: dict, labels: dict[int, int], names: list[str], thumbs) -> None:
    ids = [int(i) for i in str(row["neighbors"]).split()]
    if not ids:
        return
    st.caption(f"Its {len(ids)} nearest neighbours (cosine, most similar first) and their given labels:")
    caps = [f"#{i} · {names[labels[i]]}" for i in ids]
    st.html(grid_html(thumbs.pngs(ids), caps, width=64))


def _flash() -> None:
    kind, text = st.session_state.pop("lr_flash", (None, None))
    if kind == "ok":
        st.success(text)
    elif kind == "error":
        st.error(text)


def _summary(frame: pd.DataFrame, reviewed: dict[int, str]) -> None:
    m = st.columns(5)
    m[0].metric("flagged", f"{int(frame['flagged'].sum())}", help="another class is more probable than the label")
    m[1].metric("reviewed", f"{len(reviewed)}")
    for col, v in zip(m[2:], VERDICTS, strict=True):
        col.metric(VERDICTS[v], f"{sum(1 for x in reviewed.values() if x == v)}")


def _export_and_prune(run_dir: Path) -> None:
    st.subheader("Export and prune")
    export_widget(run_dir, key="lr_export")
    n = tags.list_tags(run_dir).get(VERDICTS["mislabelled"], 0)
    seed = int(run_json(run_dir, "config.json").get("seed") or 0)
    show_command(
        ["prune", "--run-dir", str(run_dir), "--tag", VERDICTS["mislabelled"], "--seed", str(seed)],
        caption="Remove the samples accepted as mislabelled (add --train to retrain without them):",
    )
    if n:
        st.page_link(
            "pages/prune_retrain.py",
            label=f"Prune the {n} mislabelled samples (with a random baseline) on Prune & retrain",
            icon=":material/content_cut:",
            query_params={"run": run_dir.name, "tag": VERDICTS["mislabelled"]},
        )


def _review(run_dir: Path, frame: pd.DataFrame, queue: list[int], names: list[str], reviewed: dict[int, str]) -> None:
    """The current item of ``queue``, its neighbours, the CLI twin of the last verdict, and the next items."""
    pos = min(int(st.session_state.get("lr_pos", 0)), len(queue) - 1)
    st.session_state["lr_pos"] = pos
    by_id = frame.set_index("id", drop=False)
    row = by_id.loc[queue[pos]].to_dict()
    config = run_json(run_dir, "config.json")
    small = thumbs_for(config, size=64, border=GRID_BORDER)
    _item(
        run_dir,
        row,
        names,
        reviewed.get(int(row["id"])),
        thumbs_for(config, size=IMAGE_PX),
        f"{pos + 1} of {len(queue)}",
    )
    labels = dict(zip(frame["id"].astype(int), frame["label"].astype(int), strict=True))
    _neighbours(row, labels, names, small)
    last = st.session_state.get("lr_last")
    sid, tag = last if last else (int(row["id"]), VERDICTS["mislabelled"])
    caption = "The last verdict from a terminal:" if last else "'Mislabelled' from a terminal:"
    show_command(tag_argv(run_dir, tag, [sid]), caption=caption)
    upcoming = queue[pos + 1 : pos + 1 + NEXT_SHOWN]
    if upcoming:
        st.caption("Up next (label → suggestion):")
        caps = [f"#{i} {names[labels[i]]}→{names[int(by_id.loc[i, 'suggested'])]}" for i in upcoming]
        st.html(grid_html(small.pngs(upcoming), caps, width=64))


def main() -> None:
    st.title("Label review")
    st.caption(
        "Samples whose label the features disagree with: an out-of-fold linear probe and the votes of the nearest "
        "neighbours suggest another class. Most likely label errors first; each verdict is a tag."
    )
    run_dir = selected_run_or_hint()
    if run_dir is None:
        return
    reset_on_run_change(run_dir, "lr_")
    argv = ["label-issues", "--run-dir", str(run_dir)]
    frame = read_issues(run_dir)
    if frame is None:
        st.info(
            f"{run_dir.name} has no label-error suggestions yet (label_issues.csv). Compute them from its features:"
        )
        show_command(argv)
        job_button("Find label errors now", argv, kind="analyse", key="lr_job")
        return
    names = class_names(run_dir, int(frame[["label", "suggested"]].to_numpy().max()) + 1)
    reviewed = verdicts(run_dir)
    _summary(frame, reviewed)
    scope = st.radio("Queue", list(SCOPES), format_func=SCOPES.__getitem__, horizontal=True, key="lr_scope")
    queue = _queue(frame, reviewed, scope)
    _flash()
    if queue:
        _review(run_dir, frame, queue, names, reviewed)
    else:
        st.info("Nothing left to review here: every flagged sample has a verdict. Pick another queue above.")
    show_command(argv, caption="The list from a terminal (label_issues.csv; --top N prints the first N):")
    with st.expander(f"The whole list ({int(frame['flagged'].sum())} flagged)"):
        shown = frame[frame["flagged"].astype(bool)]
        st.dataframe(
            pd.DataFrame(
                {
                    "rank": shown["rank"],
                    "id": shown["id"],
                    "label": [names[int(c)] for c in shown["label"]],
                    "suggested": [names[int(c)] for c in shown["suggested"]],
                    "p": np.round(shown["confidence"], 3),
                    "verdict": [reviewed.get(int(i), "") for i in shown["id"]],
                }
            ),
            hide_index=True,
            key="lr_table",
        )
    with guard("Export and prune"):
        _export_and_prune(run_dir)


with guard("The Label review page"):
    main()
