import json

import pytest

from core.errors import HardpairsError
from core.training.config import TrainConfig, make_config
from core.training.presets import default_preset, preset_values


def test_digits_defaults_to_quick_and_cifar_to_paper_values():
    assert default_preset("digits") == "quick"
    cfg = make_config("digits")
    assert (cfg.preset, cfg.arch, cfg.out_size, cfg.flip) == ("quick", "small_cnn", 16, False)
    paper = make_config("cifar10")
    # App. A.3 / A.5 of the paper
    assert (paper.batch_size, paper.lr, paper.temperature) == (512, 0.25, 0.5)
    assert (paper.pos_high, paper.pos_low, paper.sigma, paper.rho) == (0.15, 0.22, 0.03, 0.6)
    c100 = make_config("cifar100")
    assert (c100.temperature, c100.pos_high, c100.pos_low, c100.sigma, c100.rho) == (0.1, 0.013, 0.5, 0.1, 0.7)
    assert make_config("stl10").batch_size == 256


def test_overrides_win_and_none_is_ignored():
    cfg = make_config("digits", loss_mode="combined", epochs=5, sigma=None)
    assert cfg.loss_mode == "combined" and cfg.epochs == 5
    assert cfg.sigma == preset_values("quick", "digits")["sigma"]


def test_json_round_trip_keeps_tuples():
    cfg = make_config("cifar10", loss_mode="removal")
    back = TrainConfig.from_dict(json.loads(cfg.to_json()))
    assert back == cfg and isinstance(back.crop_scale, tuple)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"loss_mode": "nope"}, "loss mode 'nope' is unknown"),
        ({"pos_high": 0.3, "pos_low": 0.2}, "--pos-high < --pos-low"),
        ({"mix": 1.0}, "--mix must be in [0, 1)"),
        ({"epochs": 0}, "--epochs must be >= 1"),
        ({"arch": "vit"}, "arch 'vit' is unknown"),
    ],
)
def test_bad_values_name_the_flag(bad, message):
    with pytest.raises(HardpairsError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        make_config("digits", **bad)


def test_unknown_config_key_is_reported():
    with pytest.raises(HardpairsError, match="unknown config keys \\['colour'\\]"):
        TrainConfig.from_dict({"colour": 1})
    with pytest.raises(HardpairsError, match="unknown preset"):
        make_config("digits", "fast")


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"log_every": 0}, "--log-every must be >= 1 step (got 0)"),
        ({"checkpoint_every": 0}, "--checkpoint-every must be >= 1 epoch (got 0)"),
        ({"out_size": 0}, "--out-size must be in [8, 1024] pixels (got 0)"),
        ({"out_size": 4096}, "--out-size must be in [8, 1024] pixels (got 4096)"),
        ({"image_size": 4096}, "--image-size must be an integer in [8, 1024] pixels (got 4096)"),
        ({"sigma": float("nan")}, "--sigma must be a finite number (got nan)"),
        ({"lr": float("inf")}, "--lr must be a finite number (got inf)"),
        ({"mix_lambda": float("nan")}, "--mix-lambda must be a finite number (got nan)"),
        ({"tau_plus": 1.0}, "--tau-plus must be in [0, 1) (got 1.0)"),
        ({"beta": -0.5}, "--beta must be >= 0 (got -0.5)"),
        ({"removal": "drop"}, "--removal 'drop' is unknown; use one of zero, mask"),
        ({"device": "tpu"}, "--device must be auto, cpu, cuda or cuda:N (got 'tpu')"),
        ({"device": "cuda:x"}, "--device must be auto, cpu, cuda or cuda:N (got 'cuda:x')"),
        ({"seed": -1}, "--seed must be in [0, 2**32) (got -1)"),
        ({"epochs": "ten"}, "--epochs must be an integer (got 'ten')"),
        ({"prune_ratio": 1.5}, "--prune-ratio must be in [0, 1) (got 1.5)"),
        ({"crop_scale": (0.8, 0.2)}, "crop_scale must be (lo, hi) with 0 < lo <= hi <= 1"),
    ],
)
def test_every_flag_is_checked_with_its_range(bad, message):
    with pytest.raises(HardpairsError) as err:
        make_config("digits", **bad)
    assert message in str(err.value)


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_device_syntax_is_accepted_without_touching_a_gpu(device):
    assert make_config("digits", device=device).device == device  # availability is checked by pick_device


def test_removal_variants_come_from_the_loss_module():
    from core.training import config, loss

    assert config.REMOVAL_VARIANTS is loss.REMOVAL_VARIANTS


def test_pick_device_refuses_bad_names_and_invisible_gpus(monkeypatch):
    import torch

    from core.device import pick_device

    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(HardpairsError, match="--device must be auto, cpu, cuda or cuda:N"):
        pick_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto") == torch.device("cpu")
    with pytest.raises(HardpairsError) as err:
        pick_device("cuda")
    assert str(err.value) == "--device cuda: no CUDA GPU is visible to torch; use --device cpu or auto"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert pick_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(HardpairsError, match=r"--device cuda:2: torch sees 2 CUDA GPU\(s\) \(cuda:0..cuda:1\)"):
        pick_device("cuda:2")


def test_nan_loss_message_is_truthful_about_the_checkpoint(tmp_path):
    from types import SimpleNamespace

    from core.training.loop import _nan_message

    run = SimpleNamespace(run_dir=tmp_path)
    text = _nan_message(run, float("nan"), 0, 4)  # type: ignore[arg-type]
    assert "epoch 1, step 5" in text and "no checkpoint was written yet, so no last good checkpoint is kept" in text
    assert "the last good checkpoint" not in text
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.pt").write_bytes(b"x")
    assert f"the last good checkpoint ({tmp_path / 'checkpoints' / 'last.pt'}) is kept" in _nan_message(
        run, float("inf"), 2, 0
    )
