"""Runs: train a model (or import a checkpoint) as a background job, follow the jobs, list runs.

Every action is a ``python -m core ...`` job (core/jobs/queue.py); the command is shown beside it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core.errors import HardpairsError
from core.jobs import queue as jobs
from core.runs.folder import list_runs
from core.training.presets import PRESETS, default_preset, preset_values
from ui.common import (
    empty_state,
    error_box,
    fmt_acc,
    leave_legacy_pages_mode,
    read_json_cached,
    runs_folder,
    select_run,
    selected_run,
    show_command,
)
from ui.jobs_panel import render_jobs_panel

DATASETS = {
    "digits": "digits — 8×8 handwritten digits, embedded (offline, CPU-friendly)",
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "stl10": "STL-10",
    "folder": "Image folder (one sub-folder per class)",
    "npz": ".npz file (x_train, y_train, x_test, y_test)",
}
LOSS_MODES = {
    "baseline": "SimCLR (InfoNCE), no special treatment of difficult pairs",
    "removal": "remove difficult pairs from the loss (paper Eq. 13)",
    "margin": "add a margin σ to difficult-pair logits (Eq. 14)",
    "temperature": "scale the temperature of difficult pairs by ρ (Eq. 15)",
    "combined": "margin + temperature scaling: the paper's method (Eq. 16)",
    "hard_ucl": "hard-negative UCL (Jiang et al.), strength β, debiasing τ+",
    "scl": "supervised contrastive (uses labels; an upper reference)",
    "hard_scl": "hard-negative supervised contrastive (uses labels)",
}
LOSS_LABELS = {m: f"{m} — {text}" for m, text in LOSS_MODES.items()}  # picklable format_func
#: loss-mode parameter -> (label, which modes use it, min, max, step, help)
LOSS_PARAMS: dict[str, tuple[str, tuple[str, ...], float, float, float, str]] = {
    "pos_high": (
        "posHigh",
        ("removal", "margin", "temperature", "combined"),
        0.0,
        1.0,
        0.005,
        "pairs in the top posHigh share of a row's similarities are taken as same-class",
    ),
    "pos_low": (
        "posLow",
        ("removal", "margin", "temperature", "combined"),
        0.0,
        1.0,
        0.005,
        "pairs between posHigh and posLow are the difficult (cross-class) ones",
    ),
    "sigma": ("margin σ", ("margin", "combined"), 0.0, 1.0, 0.01, "added to difficult-pair logits"),
    "rho": (
        "temperature factor ρ",
        ("temperature", "combined"),
        0.05,
        2.0,
        0.05,
        "difficult pairs use temperature ρ·τ (paper: 0.6–0.7)",
    ),
    "beta": ("β (hardness)", ("hard_ucl", "hard_scl"), 0.0, 10.0, 0.1, "0 = no tilt towards hard negatives"),
    "tau_plus": ("τ+ (class prior)", ("hard_ucl",), 0.0, 0.99, 0.01, "debiasing for false negatives"),
}
FLASH_KEY = "runs_flash"  # one-shot message shown after a job was submitted
EMPTY_MESSAGE = "No runs yet — click Train to train the quick digits model (about a minute on a laptop CPU)"


def planned_run_id(spec: str, loss_mode: str, seed: int, mix: float) -> str:
    """``<dataset>[-mix<m>]-<loss_mode>-s<seed>-<YYYYmmdd-HHMMSS>``, filesystem-safe."""
    head, _, rest = spec.partition(":")
    name = head if not rest else f"{head}-{Path(rest).name or 'data'}"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
    mix_part = f"-mix{mix:g}" if mix else ""
    return f"{name}{mix_part}-{loss_mode}-s{seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def train_argv(spec: str, preset: str, values: dict[str, Any], *, analyse: bool, download: bool) -> list[str]:
    """``train`` arguments: dataset, preset, and every value that differs from the preset."""
    base = preset_values(preset, spec)
    argv = ["train", "--dataset", spec, "--preset", preset]
    for key, value in values.items():
        if value is None:
            continue
        if key in base and base[key] == value:
            continue
        if key in ("mix", "mix_lambda") and not values.get("mix"):
            continue
        if key == "device" and value == "auto":
            continue
        argv += ["--" + key.replace("_", "-"), f"{value:g}" if isinstance(value, float) else str(value)]
    if analyse:
        argv.append("--analyse")
    if download:
        argv.append("--download")
    return argv


def _dataset_spec() -> tuple[str | None, bool, str | None]:
    """Dataset widgets -> (spec, download flag, problem message or None)."""
    kind = st.selectbox("Dataset", list(DATASETS), format_func=DATASETS.__getitem__, key="train_dataset")
    download, problem = False, None
    if kind in ("cifar10", "cifar100", "stl10"):
        download = st.checkbox(
            "Download if missing (needs internet)",
            key="train_download",
            help="otherwise the files must already be in data/ ($HARDPAIRS_DATA)",
        )
        return kind, download, None
    if kind in ("folder", "npz"):
        label = "Folder path" if kind == "folder" else ".npz path"
        path = st.text_input(label, key=f"train_{kind}_path", placeholder="/path/to/data")
        if not path.strip():
            return None, False, f"Enter the {label.lower()} of the dataset."
        if not Path(path).expanduser().exists():
            problem = f"{path} does not exist; enter an existing {'folder' if kind == 'folder' else '.npz file'}."
        return f"{kind}:{path.strip()}", False, problem
    return kind, False, None


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
            loss_mode = st.selectbox(
                "Loss mode", list(LOSS_MODES), key="train_loss_mode", format_func=LOSS_LABELS.__getitem__
            )
            params: dict[str, Any] = {}
            shown = [k for k, v in LOSS_PARAMS.items() if loss_mode in v[1]]
            cols = st.columns(2)
            for i, name in enumerate(shown):
                label, _, lo, hi, step, help_text = LOSS_PARAMS[name]
                params[name] = cols[i % 2].number_input(
                    label,
                    lo,
                    hi,
                    float(defaults.get(name, 1.0 if name == "beta" else 0.0)),
                    step,
                    key=f"train_{name}_{preset}_{key_spec}",
                    help=help_text,
                    format="%.3f",
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
        }
        if spec is None or problem:
            st.warning(problem or "Choose a dataset.")
            return
        argv = train_argv(spec, preset, values, analyse=analyse, download=download)
        clicked = st.button("Train", type="primary", key="train_button", icon=":material/rocket_launch:")
        show_command(argv, caption="Same run from a terminal (the app adds `--run-dir` to pick the folder):")
        if clicked:
            run_dir = runs_folder() / planned_run_id(spec, loss_mode, int(seed), float(mix) if mixed else 0.0)
            try:
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
        argv = ["import", "--checkpoint", ckpt or "CHECKPOINT.pt", "--dataset", dataset or "digits"]
        if arch != "auto":
            argv += ["--arch", arch]
        show_command(argv + (["--name", name] if name else []), caption="")
        if submitted:
            if not ckpt or not Path(ckpt).expanduser().is_file():
                error_box(f"Checkpoint {ckpt or '(empty)'} is not a file; enter the path of a .pt/.pth/.ckpt file.")
                return
            run_dir = runs_folder() / (name or f"import-{Path(ckpt).stem}-{time.strftime('%Y%m%d-%H%M%S')}")
            if (run_dir / "config.json").exists():
                error_box(f"A run named {run_dir.name} already exists; choose another run name.")
                return
            job = jobs.submit([*argv, "--run-dir", str(run_dir)], "import", run_dir=run_dir)
            select_run(run_dir)
            st.session_state[FLASH_KEY] = f"Import job `{job.job_id}` is {job.state}: it writes `{run_dir.name}`."
            st.rerun()


def runs_frame(rows: list[dict]) -> pd.DataFrame:
    """The runs table: key numbers per run (accuracies in percent)."""
    frame = pd.DataFrame(rows)
    out = pd.DataFrame(
        {
            "run": frame["run_id"],
            "dataset": frame["dataset"],
            "loss mode": frame["loss_mode"],
            "seed": frame["seed"],
            "epochs": frame["epochs"],
            "state": frame["state"],
            "linear probe %": pd.to_numeric(frame["linear_acc"], errors="coerce") * 100,
            "kNN %": pd.to_numeric(frame["knn_acc"], errors="coerce") * 100,
            "pruning": [
                f"{s} {100 * float(r):.0f}%" if s else "" for s, r in zip(frame["prune_score"], frame["prune_ratio"])
            ],
            "kept": pd.to_numeric(frame["n_kept"], errors="coerce"),
            "train time (s)": pd.to_numeric(frame["wall_time_s"], errors="coerce"),
        }
    )
    return out


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
        },
    )
    show_command(["runs"], caption="List them from a terminal:")
    run = selected_run()
    if run is None:
        return
    metrics = read_json_cached(run / "metrics.json", {}) or {}
    manifest = read_json_cached(run / "manifest.json", {}) or {}
    status = read_json_cached(run / "status.json", {}) or {}
    st.markdown(f"**Selected run** `{run.name}` — {status.get('state', '?')}")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Linear probe", fmt_acc(metrics.get("linear_acc")))
    m2.metric("kNN", fmt_acc(metrics.get("knn_acc")))
    m3.metric("Training images", manifest.get("n_kept") or manifest.get("n_train") or "–")
    wall = manifest.get("wall_time_s")
    m4.metric("Wall time", f"{wall:.0f} s" if wall else "–")
    if status.get("state") in ("failed", "cancelled") and status.get("message"):
        st.caption(status["message"])
    show_command(["runs", "--show", str(run)], caption="This run's numbers and settings:")


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
if not rows and not jobs.list_jobs():
    empty_state(EMPTY_MESSAGE, ["train", "--dataset", "digits", "--preset", "quick", "--analyse"])
try:
    train_section()
except HardpairsError as err:
    error_box(err)
st.subheader("Jobs")
render_jobs_panel(key="runs_jobs")
runs_section(rows)
import_section()
