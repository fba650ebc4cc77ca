"""Runs: train a model (or import a checkpoint) as a background job, follow the jobs, list runs.

Every action is a ``python -m core ...`` job (core/jobs/queue.py); the command is shown beside it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from core.errors import HardpairsError
from core.jobs import queue as jobs
from core.jobs import records
from core.rundir.folder import list_runs
from core.training.presets import PRESETS, default_preset, preset_values
from ui.feedback import empty_state, error_box, show_command
from ui.frame import leave_legacy_pages_mode, runs_folder, select_run, selected_run
from ui.jobs_panel import render_jobs_panel
from ui.readers import run_json
from ui.tagging import export_widget, id_search, tag_widget
from ui.views.labels import fmt_acc
from ui.views.lossform import knob_inputs, mode_knobs, mode_select
from ui.views.runforms import (
    DATASETS,
    DOWNLOADABLE,
    dataset_spec,
    import_argv,
    import_run_name,
    planned_run_id,
    train_argv,
)
from ui.views.runtable import runs_frame

FLASH_KEY = "runs_flash"  # one-shot message shown after a job was submitted
EMPTY_MESSAGE = (
    "No runs yet — click Train to train and analyse the quick digits model (about two minutes on 2 CPU cores)"
)


def _dataset_spec() -> tuple[str | None, bool, str | None]:
    """Dataset widgets -> (spec, download flag, problem message or None)."""
    kind = st.selectbox("Dataset", list(DATASETS), format_func=DATASETS.__getitem__, key="train_dataset")
    download, path = False, ""
    if kind in DOWNLOADABLE:
        download = st.checkbox(
            "Download if missing (needs internet)",
            key="train_download",
            help="otherwise the files must already be in data/ ($HARDPAIRS_DATA)",
        )
    elif kind in ("folder", "npz"):
        label = "Folder path" if kind == "folder" else ".npz path"
        path = st.text_input(label, key=f"train_{kind}_path", placeholder="/path/to/data")
    spec, problem = dataset_spec(kind, path)
    return spec, download, problem


def train_section() -> None:
    """The train form: dataset, preset, loss mode and parameters, run settings; Train button."""
    with st.container(border=True):
        st.subheader("Train a model")
        c1, c2, c3 = st.columns(3, gap="large")
        with c1:
            spec, download, problem = _dataset_spec()
            mixed = st.checkbox(
                "Mixed-ω contamination",
                key="train_mixed",
                help="replace a share of training images by a blend with another class "
                "(the paper's Mixed CIFAR-10 experiment)",
            )
            mix, mix_lambda = 0.0, 0.5
            if mixed:
                mix = st.slider(
                    "Mixed share ω",
                    0.05,
                    0.5,
                    0.1,
                    0.05,
                    key="train_mix",
                    help="fraction of training images replaced by a blend",
                )
                mix_lambda = st.slider("Blend weight λ of the original", 0.05, 0.95, 0.5, 0.05, key="train_mix_lambda")
            noisy = st.checkbox(
                "Label noise",
                key="train_noisy",
                help="flip a share of training labels to another class (seeded): the flipped samples are a ground "
                "truth that Prune and Embeddings score against (`--label-noise`)",
            )
            label_noise = (
                st.slider("Flipped share W", 0.01, 0.5, 0.1, 0.01, key="train_label_noise", help="fraction of labels")
                if noisy
                else None
            )
        key_spec = spec or "digits"
        with c2:
            preset = st.radio(
                "Preset",
                PRESETS,
                index=PRESETS.index(default_preset(key_spec)),
                key=f"train_preset_{key_spec.split(':')[0]}",
                horizontal=True,
                help="quick: small CNN sized for a laptop CPU · paper: the appendix values",
            )
            defaults = preset_values(preset, key_spec)
            loss_mode = mode_select(st, "baseline", key="train_loss_mode")
            params = knob_inputs(
                mode_knobs(loss_mode),
                defaults,
                key=lambda name: f"train_{name}_{preset}_{key_spec}",
                columns=st.columns(2),
            )
        with c3:
            epochs = st.number_input(
                "Epochs", 1, 5000, int(defaults["epochs"]), key=f"train_epochs_{preset}_{key_spec}"
            )
            seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="train_seed")
            analyse = st.checkbox(
                "Analyse after training",
                value=True,
                key="train_analyse",
                help="scores, hardest pairs, UMAP map and theory estimates, so every page has content",
            )
            with st.expander("Advanced"):
                batch = st.number_input(
                    "Batch size", 2, 8192, int(defaults["batch_size"]), key=f"train_batch_{preset}_{key_spec}"
                )
                lr = st.number_input(
                    "Learning rate",
                    1e-6,
                    10.0,
                    float(defaults["lr"]),
                    format="%.4f",
                    key=f"train_lr_{preset}_{key_spec}",
                )
                temp = st.number_input(
                    "Temperature τ",
                    0.01,
                    5.0,
                    float(defaults["temperature"]),
                    0.01,
                    key=f"train_temp_{preset}_{key_spec}",
                )
                device = st.selectbox("Device", ["auto", "cpu", "cuda"], key="train_device")
        values = {
            "epochs": int(epochs),
            "batch_size": int(batch),
            "lr": float(lr),
            "temperature": float(temp),
            "loss_mode": loss_mode,
            **params,
            "seed": int(seed),
            "device": device,
            "mix": float(mix) if mixed else None,
            "mix_lambda": float(mix_lambda) if mixed else None,
            "label_noise": float(label_noise) if label_noise else None,
        }
        if spec is None or problem:
            st.warning(problem or "Choose a dataset.")
            return
        argv = train_argv(spec, preset, values, analyse=analyse, download=download)
        clicked = st.button("Train", type="primary", key="train_button", icon=":material/rocket_launch:")
        show_command(argv, caption="Same run from a terminal (the app adds `--run-dir` to pick the folder):")
        if clicked:
            try:
                run_dir = runs_folder() / planned_run_id(spec, preset, values)
                job = jobs.submit([*argv, "--run-dir", str(run_dir)], "train", run_dir=run_dir)
            except (HardpairsError, OSError) as err:
                error_box(err, "Starting the training job")
                return
            select_run(run_dir)
            st.session_state[FLASH_KEY] = (
                f"Training job `{job.job_id}` is {job.state}: it writes "
                f"`{run_dir.name}`. Follow it under **Jobs** below."
            )
            st.rerun()  # redraw everything (sidebar job count, empty states) with the new job


def import_section() -> None:
    """Load a checkpoint from a path into a new run folder (``import``)."""
    with st.expander("Load a checkpoint (Hardpairs, torchvision resnet18, SSL-library layouts)"):
        with st.form("import_form", border=False):
            ckpt = st.text_input("Checkpoint path", placeholder="/path/to/checkpoint.pt", key="import_path")
            c1, c2, c3 = st.columns(3)
            dataset = c1.text_input(
                "Dataset spec",
                "digits",
                key="import_dataset",
                help="digits, cifar10, cifar100, stl10, folder:PATH or npz:PATH",
            )
            arch = c2.selectbox("Architecture", ["auto", "small_cnn", "resnet18"], key="import_arch")
            name = c3.text_input("Run name (optional)", key="import_name")
            submitted = st.form_submit_button("Import")
        show_command(import_argv(ckpt, dataset, arch, name), caption="")
        if submitted:
            if not ckpt or not Path(ckpt).expanduser().is_file():
                error_box(f"Checkpoint {ckpt or '(empty)'} is not a file; enter the path of a .pt/.pth/.ckpt file.")
                return
            try:
                run_dir = runs_folder() / import_run_name(ckpt, name)
            except HardpairsError as err:  # e.g. "../x": shown here, nothing is queued
                error_box(err, "Run name")
                return
            if (run_dir / "config.json").exists():
                error_box(f"A run named {run_dir.name} already exists; choose another run name.")
                return
            argv = [*import_argv(ckpt, dataset, arch), "--run-dir", str(run_dir)]  # the folder names the run
            job = jobs.submit(argv, "import", run_dir=run_dir)
            select_run(run_dir)
            st.session_state[FLASH_KEY] = f"Import job `{job.job_id}` is {job.state}: it writes `{run_dir.name}`."
            st.rerun()


def _run_file(run: Path, name: str) -> dict:
    """A run file for the metrics row; {} when missing or unreadable (the runs table says which)."""
    try:
        return run_json(run, name)
    except HardpairsError:
        return {}


def runs_section(rows: list[dict]) -> None:
    st.subheader("Runs")
    if not rows:
        st.caption("Runs appear here as soon as a training job starts.")
        return
    st.dataframe(
        runs_frame(rows),
        hide_index=True,
        key="runs_table",
        column_config={
            "linear probe %": st.column_config.NumberColumn(format="%.2f"),
            "kNN %": st.column_config.NumberColumn(format="%.2f"),
            "train time (s)": st.column_config.NumberColumn(format="%.1f"),
            "note": st.column_config.TextColumn(width="large"),
        },
    )
    show_command(["runs"], caption="List them from a terminal:")
    run = selected_run()
    if run is None:
        return
    row = next((r for r in rows if r["run_dir"] == str(run)), {})
    state = row.get("state") or "?"
    st.markdown(f"**Selected run** `{run.name}` — {state}")
    if state == "unreadable":
        st.error(f"{row.get('message')} — the other runs are not affected.", icon=":material/broken_image:")
        show_command(["runs", "--show", str(run)], caption="This run's numbers and settings:")
        return
    metrics = _run_file(run, "metrics.json")
    manifest = _run_file(run, "manifest.json")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Linear probe", fmt_acc(metrics.get("linear_acc")))
    m2.metric("kNN", fmt_acc(metrics.get("knn_acc")))
    m3.metric("Training images", manifest.get("n_kept") or manifest.get("n_train") or "–")
    wall = manifest.get("wall_time_s")
    m4.metric("Wall time", f"{wall:.0f} s" if isinstance(wall, (int, float)) and wall else "–")
    if state in ("failed", "cancelled", "interrupted") and row.get("message"):
        st.caption(row["message"])
    show_command(["runs", "--show", str(run)], caption="This run's numbers and settings:")
    if manifest.get("n_train"):
        with st.expander("Audit: search a sample by id, tag it, export tagged ids"):
            sid = id_search(run, key="runs_search")
            if sid is not None:
                tag_widget(run, np.array([sid]), key="runs_one")
            export_widget(run, key="runs_export")


st.title("Runs")
st.caption(
    "Train SimCLR with or without the paper's difficult-pair losses, follow the jobs, "
    "and pick the run the other pages show (sidebar)."
)
leave_legacy_pages_mode()  # run inside app.py's frame even on a first deep link
flash = st.session_state.pop(FLASH_KEY, None)
if flash:
    st.success(flash, icon=":material/rocket_launch:")
rows = list_runs(runs_folder())
if not rows and not records.list_jobs():
    empty_state(EMPTY_MESSAGE, ["train", "--dataset", "digits", "--preset", "quick", "--analyse"])
try:
    train_section()
except HardpairsError as err:
    error_box(err)
st.subheader("Jobs")
render_jobs_panel(key="runs_jobs")
runs_section(rows)
import_section()
