"""Compare: every configuration's probe accuracies over seeds (mean ± std, 95 % interval, n),
accuracy vs pruning ratio per score (random baseline dashed), paired tests of each pruned run against
its parent and random pruning, "Repeat over seeds 0–2", and the reviewer export (HTML + CSV).

The numbers come from core.reports.compare and core.reports.report_tables (pure, tested; one record loader,
core.reports.records, and one grouping rule, compare.group_table); `python -m core compare`
and `python -m core report` print/write the same.
"""

from __future__ import annotations

import time

import streamlit as st

from core.figures import accuracy
from core.jobs import queue as jobs
from core.reports import compare, report, report_tables
from core.reports.compare_tables import PAIR_CAPTION, pair_display, pair_notes, steps_sentences, why_two_numbers
from core.reports.noise import add_seed_noise, detect_note, seed_noise
from core.reports.records import load_records
from core.reports.repeat import repeat_plan
from core.reports.summary import comparison_sentence, comparisons
from ui.feedback import command_text, empty_state, guard, show_command
from ui.frame import leave_legacy_pages_mode, runs_folder
from ui.views import compareview as cv
from ui.views.compareview import delta_view, group_of, has_random_baseline, md_escape, panel_choices
from ui.views.paperview import paper_expander

# format_func must be picklable (AppTest keeps it in session state): plain dict lookups
METRICS = {"linear": "linear probe", "knn": "kNN"}

leave_legacy_pages_mode()  # run inside app.py's frame even on a first deep link
st.title("Compare")
st.caption(
    "Linear-probe and kNN accuracy of every configuration (all settings but the seed): mean ± std over "
    "seeds, the Student-t 95 % interval of the mean, and n. With one seed the spread is unknown."
)

with guard("Comparing runs"):
    records = load_records(runs_folder())
    unreadable = [r for r in records if r["state"] == "unreadable"]
    if unreadable:
        st.warning(
            f"{len(unreadable)} unreadable run(s) left out of the comparison: "
            + "; ".join(f"`{r['run_id']}` — {r['message']}" for r in unreadable),
            icon=":material/broken_image:",
        )
    table = report_tables.runs_table(records)
    groups = compare.group_table(records)
    if groups.empty:
        empty_state(
            "No run has probe accuracies yet. Train one on the **Runs** page; runs appear here "
            "when their linear probe and kNN accuracy are written (metrics.json).",
            ["train", "--dataset", "digits", "--preset", "quick", "--analyse"],
        )
        st.stop()

    datasets = sorted(groups["dataset"].unique())
    c1, c2, c3 = st.columns([3, 1, 1])
    chosen = c1.multiselect("Datasets", datasets, default=datasets, key="compare_datasets")
    metric = c2.radio("Accuracy", list(METRICS), horizontal=True, key="compare_metric", format_func=METRICS.__getitem__)
    zoom = c3.toggle("Zoom the axis", value=False, key="compare_zoom", help="Off: accuracy axis from 0 %.")
    shown = groups[groups["dataset"].isin(chosen)]
    probes = cv.pick_probe(shown) if not shown.empty else []
    if len(probes) > 1:
        st.warning(
            f"These runs were probed in {len(probes)} different ways ({'; '.join(probes)}); accuracies of "
            "different probe protocols are not comparable, so the page shows one at a time. Re-probe with "
            "`python -m core probe --run-dir R --protocol P` to put them side by side.",
            icon=":material/warning:",
        )
        probe = st.selectbox("Probe protocol shown", probes, key="compare_probe")
        shown = shown[shown["probe"] == probe]
    for line in cv.image_worth(shown):
        st.caption(line)

    st.subheader("Accuracy over seeds")
    if not shown.empty:
        st.caption(f"Probe: {md_escape(shown['probe'].iloc[0])}. Accuracies in %, mean ± std over seeds.")
    st.table(cv.as_text(cv.summary_view(shown)))
    for note in cv.group_notes(shown):
        st.caption(md_escape(note))
    paper_expander(runs_folder(), [str(r["run_id"]) for r in records])

    panels = report_tables.curve_panels(shown)
    st.caption((cv.AXIS_ZOOMED if zoom else cv.AXIS_FROM_ZERO) + " " + cv.ERROR_BARS)
    if panels:
        st.subheader("Accuracy vs pruning ratio")
        names = panel_choices(panels)
        panel = names[st.selectbox("Dataset · loss mode of the retrains", list(names), key="compare_panel")]
        fig = accuracy.ratio_figure(
            shown, panel[0], panel[1], metric, zoom, unpruned=compare.UNPRUNED, baseline=compare.BASELINE_SCORE
        )
        st.plotly_chart(fig, key="compare_curve", config={"displaylogo": False})
        if not has_random_baseline(shown, *panel):
            st.caption(
                "No random-pruning baseline at these ratios yet: tick “also train a random-pruning "
                "baseline” on **Prune & retrain**."
            )
    else:
        st.info(
            "No pruned retrains yet. Prune the selected run on **Prune & retrain** to see accuracy "
            "against the pruning ratio here.",
            icon=":material/info:",
        )
    if (shown["prune_score"] == compare.UNPRUNED).any():
        fig = accuracy.bars_figure(shown, metric, zoom, unpruned=compare.UNPRUNED)
        st.plotly_chart(fig, key="compare_bars", config={"displaylogo": False})

    pairs = compare.pair_table(records)
    pairs = pairs[pairs["dataset"].isin(chosen) & (pairs["metric"] == metric)]
    if not pairs.empty:
        pairs = add_seed_noise(pairs, groups)
        st.subheader(f"Pruned vs unpruned and vs random pruning ({METRICS[metric]})")
        found = comparisons(pairs, groups, metric).to_dict(orient="records")
        lines = [f"{comparison_sentence(r)} {detect_note(seed_noise(r))}".strip() for r in found]
        st.markdown("\n".join(f"- {md_escape(t)}" for t in lines))
        st.caption(PAIR_CAPTION)
        st.caption(md_escape(why_two_numbers(pairs)))
        if pairs["protocol_mismatch"].any():
            st.warning("Some pairs were probed differently (see the notes below).", icon=":material/warning:")
        st.table(cv.as_text(pair_display(pairs)))
        for note in pair_notes(pairs):
            st.caption(md_escape(note))

    retrains = steps_sentences([r for r in records if (r.get("config") or {}).get("dataset") in chosen])
    if retrains:
        st.subheader("Training length of the pruned retrains")
        st.caption(
            "A pruned retrain trains its parent's epochs on fewer samples, so it takes fewer optimiser steps, "
            "unless it was started with `prune --train --match-steps` (the parent's number of steps)."
        )
        st.markdown("  \n".join(md_escape(t) for t in retrains))  # one line each

    deltas = report_tables.parent_deltas(table)
    deltas = deltas[deltas["dataset"].isin(chosen)]
    if not deltas.empty:
        st.subheader("Change vs the unpruned parent, run by run")
        st.table(cv.as_text(delta_view(deltas, group_of(groups))))
    show_command(["compare", "--runs-root", str(runs_folder())])

    choices = cv.repeat_choices(groups)
    if choices:
        st.subheader("Repeat over seeds 0–2")
        label = st.selectbox("Configuration", list(choices), key="compare_repeat_group")
        plan = repeat_plan(choices[label], records, runs_folder())
        st.code("\n".join(command_text(j.argv) for j in plan) or "# nothing to run", language="bash")
        if st.button("Repeat over seeds 0–2", key="compare_repeat", disabled=not plan):
            queued = [jobs.submit(j.argv, j.kind, run_dir=j.run_dir) for j in plan]
            st.success(f"Queued {len(queued)} jobs: " + ", ".join(j.job_id for j in queued))

    with st.expander(f"All {len(table)} runs"):
        st.dataframe(table, hide_index=True, key="compare_runs")

    st.subheader("Export for reviewers")
    stamp = time.strftime("%Y%m%d-%H%M")
    downloads = (  # label, data (the HTML is built on click), file name, mime, icon, key
        (
            "HTML report (offline, interactive)",
            lambda: report.html_report(records),
            "report",
            "html",
            "description",
            "compare_html",
        ),
        (
            "Summary CSV (over seeds)",
            report_tables.summary_csv(records),
            "summary",
            "csv",
            "table_chart",
            "compare_csv",
        ),
        ("Per-run CSV", report_tables.runs_csv(records), "runs", "csv", "table_rows", "compare_runs_csv"),
    )
    for col, (label, data, name, ext, icon, key) in zip(st.columns(len(downloads)), downloads, strict=True):
        col.download_button(
            label,
            data,
            file_name=f"hardpairs-{name}-{stamp}.{ext}",
            mime=f"text/{ext}",
            on_click="ignore",
            icon=f":material/{icon}:",
            key=key,
        )
    show_command(["report", "--out", "report.html", "--csv", "summary.csv", "--runs-csv", "runs.csv"])
