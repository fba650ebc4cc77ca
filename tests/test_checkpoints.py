import pickle

import pytest
import torch
from torchvision.models import resnet18

from core.errors import HardpairsError
from core.training.checkpoints import (
    FORMAT,
    detect_arch,
    load_backbone_state,
    load_checkpoint_file,
    load_into_backbone,
    save_checkpoint,
)
from core.training.models import SimCLRModel, build_backbone


def _cifar_resnet_state(prefix=""):
    net = build_backbone("resnet18", 3)
    return {prefix + k: v for k, v in net.state_dict().items()}, net


def test_own_checkpoint_round_trip(tmp_path):
    model = SimCLRModel("small_cnn", 1, 32, 16)
    path = tmp_path / "ck.pt"
    save_checkpoint(
        path,
        {
            "format": FORMAT,
            "version": 1,
            "config": {"arch": "small_cnn"},
            "epoch": 3,
            "model": model.state_dict(),
            "optimizer": {},
            "metrics": {},
        },
    )
    arch, in_ch, state, cfg = load_backbone_state(path)
    assert (arch, in_ch, cfg) == ("small_cnn", 1, {"arch": "small_cnn"})
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(state[k], v)
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temp file


@pytest.mark.parametrize("layout", ["plain", "backbone.", "module.backbone.", "nested"])
def test_ssl_library_layouts_are_detected(tmp_path, layout):
    state, net = _cifar_resnet_state("" if layout in ("plain", "nested") else layout)
    state[("" if layout in ("plain", "nested") else layout) + "fc.weight"] = torch.zeros(10, 512)
    state["projector.0.weight"] = torch.zeros(3, 3)
    obj = {"state_dict": state, "epoch": 5} if layout == "nested" else state
    torch.save(obj, tmp_path / "x.ckpt")
    arch, in_ch, loaded, _ = load_backbone_state(tmp_path / "x.ckpt")
    assert (arch, in_ch) == ("resnet18", 3)
    fresh = build_backbone(arch, in_ch)
    load_into_backbone(fresh, loaded, "x.ckpt")
    x = torch.randn(2, 3, 32, 32)
    net.eval(), fresh.eval()
    assert torch.allclose(net(x), fresh(x))


def test_plain_torchvision_resnet18_is_the_imagenet_stem(tmp_path):
    torch.save(resnet18(weights=None).state_dict(), tmp_path / "tv.pth")
    arch, in_ch, state, _ = load_backbone_state(tmp_path / "tv.pth")
    assert (arch, in_ch) == ("resnet18_imagenet", 3)
    load_into_backbone(build_backbone(arch, in_ch), state, "tv.pth")


def test_architecture_mismatch_is_explained(tmp_path):
    state, _ = _cifar_resnet_state()
    with pytest.raises(HardpairsError, match="does not match the architecture: .*missing keys"):
        load_into_backbone(build_backbone("small_cnn", 3), state, "r18.pt")
    with pytest.raises(HardpairsError, match="shape mismatches .*conv1.weight"):
        load_into_backbone(build_backbone("resnet18", 1), state, "r18.pt")
    with pytest.raises(HardpairsError, match="unrecognised architecture"):
        detect_arch({"encoder.weird.weight": torch.zeros(1)})


class _Evil:
    def __reduce__(self):
        return (open, ("/tmp/hardpairs_pwned_marker", "w"))


def test_malicious_pickle_is_refused_without_running(tmp_path):
    import os

    marker = "/tmp/hardpairs_pwned_marker"
    if os.path.exists(marker):
        os.remove(marker)
    torch.save({"model": _Evil()}, tmp_path / "evil.pt")
    if os.path.exists(marker):  # torch.save itself does not unpickle, but be sure
        os.remove(marker)
    with pytest.raises(HardpairsError, match="not a safe weights-only checkpoint"):
        load_checkpoint_file(tmp_path / "evil.pt")
    assert not os.path.exists(marker)


def test_missing_corrupt_and_foreign_files(tmp_path):
    with pytest.raises(HardpairsError, match="does not exist"):
        load_checkpoint_file(tmp_path / "nope.pt")
    state, _ = _cifar_resnet_state()
    torch.save(state, tmp_path / "ok.pt")
    data = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 3])
    with pytest.raises(HardpairsError, match="could not be read as a PyTorch checkpoint"):
        load_checkpoint_file(tmp_path / "cut.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(HardpairsError):
        load_checkpoint_file(tmp_path / "text.pt")
    torch.save({"epoch": 3, "note": "no tensors"}, tmp_path / "empty.pt")
    with pytest.raises(HardpairsError, match="holds no state dict"):
        load_backbone_state(tmp_path / "empty.pt")
    with open(tmp_path / "plain.pkl", "wb") as fh:
        pickle.dump({"a": 1}, fh)
    with pytest.raises(HardpairsError):
        load_checkpoint_file(tmp_path / "plain.pkl")
