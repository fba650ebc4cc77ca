"""Compare: every run's probe accuracies grouped over seeds, accuracy vs pruning ratio per score
(random baseline dashed), change vs the unpruned parent, and the reviewer export (HTML + CSV).

The numbers come from core.runs.report (pure, tested); `python -m core report` writes the same files.
"""

from __future__ import annotations

import time

import streamlit as st

from core.runs import report
from ui.compareview import delta_view, has_random_baseline, panel_choices
from ui.feedback import empty_state, guard, show_command
from ui.frame import leave_legacy_pages_mode, runs_folder
from ui.paperview import paper_expander

# format_func must be picklable (AppTest keeps it in session state): plain dict lookups
METRICS = {"linear": "linear probe", "knn": "kNN"}

leave_legacy_pages_mode()  # run inside app.py's frame even on a first deep link
st.title("Compare")
st.caption(
    "Linear-probe and kNN accuracy of every run, mean ± std over seeds, grouped by dataset, "
    "loss mode, pruning score and ratio."
)

with guard("Comparing runs"):
    records = report.collect(runs_folder())
    unreadable = [r for r in records if r["state"] == "unreadable"]
    if unreadable:
        st.warning(
            f"{len(unreadable)} unreadable run(s) left out of the comparison: "
            + "; ".join(f"`{r['run_id']}` — {r['message']}" for r in unreadable),
            icon=":material/broken_image:",
        )
    table = report.runs_table(records)
    grouped = report.group_runs(table)
    if grouped.empty:
        empty_state(
            "No run has probe accuracies yet. Train one on the **Runs** page; runs appear here "
            "when their linear probe and kNN accuracy are written (metrics.json).",
            ["train", "--dataset", "digits", "--preset", "quick", "--analyse"],
        )
        st.stop()

    datasets = sorted(grouped["dataset"].unique())
    c1, c2 = st.columns([3, 1])
    chosen = c1.multiselect("Datasets", datasets, default=datasets, key="compare_datasets")
    metric = c2.radio("Accuracy", list(METRICS), horizontal=True, key="compare_metric", format_func=METRICS.__getitem__)
    shown = grouped[grouped["dataset"].isin(chosen)]

    st.subheader("Accuracy over seeds")
    st.dataframe(report.summary_display(shown), hide_index=True, key="compare_summary")
    paper_expander(runs_folder(), [str(r["run_id"]) for r in records])

    panels = report.curve_panels(shown)
    if panels:
        st.subheader("Accuracy vs pruning ratio")
        names = panel_choices(panels)
        panel = names[st.selectbox("Dataset · loss mode of the retrains", list(names), key="compare_panel")]
        st.plotly_chart(
            report.ratio_figure(shown, panel[0], panel[1], metric), key="compare_curve", config={"displaylogo": False}
        )
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
    if (shown["prune_score"] == report.UNPRUNED).any():
        st.plotly_chart(report.accuracy_figure(shown, metric), key="compare_bars", config={"displaylogo": False})

    deltas = report.parent_deltas(table)
    deltas = deltas[deltas["dataset"].isin(chosen)]
    if not deltas.empty:
        st.subheader("Change vs the unpruned parent")
        st.dataframe(
            delta_view(deltas),
            hide_index=True,
            key="compare_deltas",
            column_config={
                "prune_ratio": st.column_config.NumberColumn("pruned %", format="%.0f"),
                "linear Δ (pp)": st.column_config.NumberColumn(format="%+.2f"),
                "kNN Δ (pp)": st.column_config.NumberColumn(format="%+.2f"),
            },
        )

    with st.expander(f"All {len(table)} runs"):
        st.dataframe(table, hide_index=True, key="compare_runs")

    st.subheader("Export for reviewers")
    stamp = time.strftime("%Y%m%d-%H%M")
    e1, e2, e3 = st.columns(3)
    e1.download_button(
        "HTML report (offline, interactive)",
        lambda: report.html_report(records),
        file_name=f"hardpairs-report-{stamp}.html",
        mime="text/html",
        on_click="ignore",
        icon=":material/description:",
        key="compare_html",
    )
    e2.download_button(
        "Summary CSV (over seeds)",
        report.summary_csv(records),
        on_click="ignore",
        file_name=f"hardpairs-summary-{stamp}.csv",
        mime="text/csv",
        icon=":material/table_chart:",
        key="compare_csv",
    )
    e3.download_button(
        "Per-run CSV",
        report.runs_csv(records),
        on_click="ignore",
        file_name=f"hardpairs-runs-{stamp}.csv",
        mime="text/csv",
        icon=":material/table_rows:",
        key="compare_runs_csv",
    )
    show_command(["report", "--out", "report.html", "--csv", "summary.csv", "--runs-csv", "runs.csv"])
