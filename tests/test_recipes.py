"""Every recipe: its dry run (commands, GPU-time estimate) and one tiny real step of each row on generated data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from core.cli import main
from core.paper.recipes import RECIPES_DIR, Row, list_recipes, load_recipe, row_config
from core.training.config import TrainConfig

#: TrainConfig overrides of a tiny step (CPU-sized: a small CNN on 16 px images, a 16-key MoCo queue)
TINY_STEP = {"epochs": 1, "batch_size": 8, "arch": "small_cnn", "out_size": 16, "queue_size": 16, "device": "cpu"}


def tiny_config(row: Row) -> TrainConfig:
    """A train row's config with its dataset's paper values and :data:`TINY_STEP` on top (no data is loaded)."""
    from core.training.presets import PAPER_KEYS, dataset_key

    cfg = row_config(row)
    key = dataset_key(cfg.dataset)
    origin = {"preset_from": key} if key in PAPER_KEYS and cfg.preset_from is None else {}
    values = {**cfg.to_dict(), **TINY_STEP, **origin, "image_size": None}
    return TrainConfig.from_dict({k: v for k, v in values.items() if k != "created"})


def tiny_step(cfg: TrainConfig, seed: int = 0) -> float:
    """One real optimisation step of ``cfg`` on generated (16, 3, 16, 16) views of 8 images in 4 classes; its loss."""
    import torch

    from core.training.moco import MoCoState
    from core.training.step import StepContext, augment_config, optimise_step, prepare_model

    torch.manual_seed(seed)
    device = torch.device("cpu")
    model, forward, opt = prepare_model(cfg, 3, device)
    moco = MoCoState(model, cfg.queue_size, cfg.moco_momentum, seed) if cfg.method == "moco" else None
    mean, std = torch.full((3,), 0.5), torch.full((3,), 0.25)
    ctx = StepContext(cfg, forward, opt, augment_config(cfg), mean, std, device, moco=moco, model=model)
    y = torch.arange(8) % 4
    loss, _, _ = optimise_step(ctx, torch.randn(16, 3, 16, 16), torch.cat([y, y]), cfg.lr, True)
    return float(loss)


def tiny_prune(cfg: TrainConfig, ratio: float, seed: int = 0) -> tuple[int, int]:
    """The oracle removal of a prune row on a generated Mixed set of 40 images: (pruned, mixed) counts must agree."""
    import numpy as np
    import pandas as pd

    from core.analysis.prune import oracle_score, select_keep
    from core.data.sources import mix_images

    rng = np.random.default_rng(seed)
    y = np.arange(40, dtype=np.int64) % 4
    x = rng.integers(0, 256, (40, 3, 8, 8), dtype=np.uint8)
    _, mixed, _ = mix_images(x, y, cfg.mix if cfg.mix > 0 else ratio, cfg.mix_lambda, cfg.mix_seed)
    _, pruned = select_keep(oracle_score(pd.DataFrame({"mixed": mixed}), "mixed"), ratio, seed)
    return int(np.isin(pruned, np.flatnonzero(mixed)).sum()), int(mixed.sum())


def tiny_longtail(row: Row) -> int:
    """A longtail row's build, with its flags, on a generated 3-class tiny-imagenet-200 layout: training images."""
    import tempfile

    from core.data.longtail import build_longtail, longtail_counts
    from tests.test_datasets_paper import make_tiny_imagenet

    flags = row.flags
    assert str(flags["dataset"]).startswith("tinyimagenet:") and float(flags["imbalance"]) == 100
    with tempfile.TemporaryDirectory() as tmp:
        src = make_tiny_imagenet(Path(tmp) / "tin", per_class=4, val_per_class=1)
        got = build_longtail(f"tinyimagenet:{src}", float(flags["imbalance"]), Path(tmp) / "lt", int(flags["seed"]))
    assert got["n_train"] == sum(longtail_counts(4, 3, 100.0)) == 4 + 1 + 1
    return int(got["n_train"])


EXPECTED = {
    "table1",
    "table2",
    "table3",
    "table4",
    "table5",
    "table7",
    "table8",
    "table9",
    "table10",
    "table6",
    "table11",
    "fig2",
    "fig4ab",
    "fig4c",
    "fig5",
    "fig6",
    "hscl_jiang",
}


def test_every_paper_table_has_a_recipe_with_three_seeds():
    assert EXPECTED <= set(list_recipes())
    for table in list_recipes():
        text = (RECIPES_DIR / f"{table}.sh").read_text()
        assert "for seed in ${SEEDS:-0 1 2}; do" in text, table
        rows = load_recipe(table, seed=2)
        assert rows and all("2" in r.argv for r in rows if r.argv[0] != "longtail"), table  # a build runs once
        assert len({r.row for r in rows}) == len(rows), table


@pytest.mark.parametrize("table", sorted(EXPECTED))
def test_dry_run_prints_commands_and_gpu_time(table, capsys):
    assert main(["reproduce", table, "--dry-run"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["table"] == table and "A100-class" in out["basis"]
    assert [r["row"] for r in out["rows"]] == [r.row for r in load_recipe(table)]
    assert all(r["command"].startswith("python -m core ") for r in out["rows"])
    if table != "hscl_jiang":  # like with like: every row of this paper's tables is probed as the paper probes
        trains = [r["command"] for r in out["rows"] if r["command"].startswith("python -m core train ")]
        assert trains and all(" --protocol paper " in c for c in trains)
    per_seed = sum(r["gpu_hours_per_seed"] for r in out["rows"])
    assert out["gpu_hours_total"] == pytest.approx(3 * per_seed, abs=0.2) and per_seed > 0


def test_gpu_time_estimate_by_hand():
    row = next(r for r in load_recipe("table1") if r.row == "cifar10/baseline")
    cfg = row_config(row)
    assert (cfg.epochs, cfg.arch, cfg.out_size) == (200, "resnet18", 32)
    from core.paper.recipes import gpu_hours

    assert gpu_hours(cfg) == pytest.approx(200 * 50000 / 4000 / 3600)


@pytest.mark.parametrize("table", sorted(EXPECTED))
def test_tiny_real_step_of_every_row(table):
    rows = load_recipe(table)
    configs = {}
    for row in rows:
        if row.argv[0] == "longtail":
            assert tiny_longtail(row) > 0
            continue
        if row.argv[0] == "prune":
            parent = configs[Path(str(row.flags["run_dir"])).name]
            assert row.flags["score"] == "mixed" and parent.mix == float(row.flags["ratio"])
            hit, n_mixed = tiny_prune(parent, float(row.flags["ratio"]))
            assert hit == n_mixed > 0  # the oracle removes exactly the mixed images
            continue
        cfg = tiny_config(row)
        configs[str(row.flags["name"])] = cfg
        full = row_config(row)
        for flag, value in row.flags.items():  # the row's own flags survive into the tiny config
            if flag in ("loss_mode", "method", "selection", "select_on"):
                assert getattr(cfg, flag) == value == getattr(full, flag)
        assert (cfg.pos_high, cfg.sigma, cfg.rho, cfg.temperature) == (
            full.pos_high,
            full.sigma,
            full.rho,
            full.temperature,
        )
        assert math.isfinite(tiny_step(cfg)), row.row


@pytest.mark.slow
def test_tiny_cli_runs_fig2_end_to_end(tmp_path, capsys):
    assert main(["reproduce", "fig2", "--tiny", "--runs-root", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["row"] for r in out["rows"]] == [r.row for r in load_recipe("fig2")]
    oracle = out["rows"][-1]
    child = json.loads((Path(oracle["run_dir"]) / "config.json").read_text())
    assert child["prune_score"] == "mixed" and child["mix_seed"] == 0 and child["seed"] == 0
    manifest = json.loads((Path(oracle["run_dir"]) / "manifest.json").read_text())
    assert manifest["mix_seed"] == 0 and manifest["n_kept"] == 40 - round(0.2 * 40)
    assert "npz: paper preset with cifar10's values" in manifest["preset_note"]
    prune = json.loads((Path(out["rows"][1]["run_dir"]) / "prune" / "mixed_0.1_seed0" / "prune.json").read_text())
    assert prune["mixed_share_pruned"] == 1.0 and "oracle" in prune["score_label"]


def test_beside_paper_mean_interval_and_delta(tmp_path):
    from scipy import stats

    from core.paper.numbers import beside_paper, mean_interval, paper_numbers

    assert {"table", "row", "dataset", "method", "metric", "value"} <= set(paper_numbers()[0])
    paper = {"protocol": "paper"}
    runs = {f"table1-cifar10-baseline-s{i}": {"linear_acc": v} | paper for i, v in enumerate((0.88, 0.89, 0.87))}
    runs["table1-cifar10-baseline-s0-copy"] = {"linear_acc": 0.1}  # not a recipe name: ignored
    runs["table9-cifar100-rho_1e9-s0"] = {"linear_acc": 0.6} | paper
    runs["table9-cifar100-rho_1e9-s1"] = {"linear_acc": 0.9}  # no protocol recorded: L-BFGS, never averaged in
    df = beside_paper(runs)
    assert df["row"].tolist() == ["cifar10/baseline", "cifar100/rho_1e9", "cifar100/rho_1e9"]
    assert df["protocol"].tolist() == ["paper", "paper", "lbfgs"]
    lbfgs = df.iloc[2]
    assert lbfgs["n_seeds"] == 1 and lbfgs["mean"] == pytest.approx(90.0) and math.isnan(lbfgs["delta"])
    assert lbfgs["note"] == "not comparable: probed with lbfgs, the paper with minibatch SGD"
    first = df.iloc[0]
    half = stats.t.ppf(0.975, 2) * 1.0 / 3**0.5  # std of 88, 89, 87 is 1.0
    assert (first["n_seeds"], first["mean"], first["std"]) == (3, pytest.approx(88.0), pytest.approx(1.0))
    assert first["ci95_high"] - first["mean"] == pytest.approx(half)
    assert first["delta"] == pytest.approx(88.0 - 88.26) and first["paper"] == 88.26
    assert df.iloc[1]["delta"] == pytest.approx(60.0 - 60.31) and math.isnan(df.iloc[1]["std"])
    assert math.isnan(mean_interval([1.0])[1])


def test_paper_view_table(tmp_path):
    from core.io import write_json
    from ui.views.paperview import paper_table

    write_json(
        tmp_path / "table7-cifar10-after_projector-s0" / "metrics.json",
        {"linear_acc": 0.8, "protocol": "paper"},
    )
    frame = paper_table([tmp_path / "table7-cifar10-after_projector-s0", tmp_path / "other"])
    assert frame["row"].tolist() == ["cifar10/after_projector"] and frame["delta"].iloc[0] == pytest.approx(80 - 87.86)


@pytest.mark.slow
def test_threshold_run_records_assumption1_share_per_epoch(tmp_path, capsys):
    from core.cli.reports.reproduce import tiny_dataset
    from core.io import read_jsonl

    data = tiny_dataset(tmp_path)
    argv = ["train", "--dataset", f"npz:{data}", "--loss-mode", "hard_ucl_thr", "--hard-threshold", "-0.5"]
    argv += ["--temperature", "0.5", "--epochs", "2", "--batch-size", "16", "--arch", "small_cnn", "--out-size", "16"]
    argv += ["--warmup-epochs", "0", "--log-every", "1", "--device", "cpu", "--no-probe", "--runs-root", str(tmp_path)]
    assert main([*argv, "--name", "thr"]) == 0
    progress = read_jsonl(tmp_path / "thr" / "progress.jsonl")
    epochs = [r for r in progress if "assumption1_share" in r]
    assert len(epochs) == 2 and all(0.0 <= r["assumption1_share"] <= 1.0 for r in epochs)
    assert all("flagged_similarity" in r for r in epochs)
    assert main([*argv[:4], "baseline", *argv[7:], "--name", "base"]) == 0  # other modes: no such key
    assert not any("assumption1_share" in r for r in read_jsonl(tmp_path / "base" / "progress.jsonl"))


def test_dry_run_shows_the_image_store_of_a_file_based_dataset():
    # issue 23.4: Table 8's ImageNet decodes once into a 96 px store; the dry run gives its size and build time
    from core.data.imagestore import BUILD_RATE_PER_CORE, store_disk_bytes
    from core.paper.recipes import estimate

    (store,) = estimate("table8")["image_stores"]
    n = 1281167 + 50000
    assert store["dataset"] == "imagenet:IMAGENET" and store["image_size"] == 96 and store["rows"] == n
    assert store["bytes"] == store_disk_bytes(n, 3, 96) and store["gib"] == pytest.approx(34.3, abs=0.05)
    assert store["seconds"] == pytest.approx(n / (BUILD_RATE_PER_CORE * store["workers"]), rel=1e-3)
    assert "image_stores" not in estimate("table5")  # CIFAR from torchvision's files: nothing to store
