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
