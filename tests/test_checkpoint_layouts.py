"""Checkpoints as the libraries people train with save them: each layout is built with the real library
(torchvision; timm where installed; lightly's layout is torchvision children in a Sequential), imported
into a run on digits-sized data, and its features are compared with the original module's forward pass."""

import argparse
import json
from pathlib import PurePosixPath

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models import resnet18, resnet50

from core.data.augment import prepare_eval
from core.data.sources import load_dataset
from core.errors import HardpairsError
from core.models.checkpoints import detect_arch, load_backbone_state, load_into_backbone
from core.models.models import FEATURE_DIMS, build_backbone
from core.runs.importing import import_run

timm = pytest.importorskip("timm")


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory):
    """48 train / 24 test grayscale 8x8 digits (1 channel: every 3-channel import repeats it)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16 * 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("npz") / "tiny.npz"
    np.savez(path, x_train=x[:48], y_train=d.target[:48], x_test=x[48:72], y_test=d.target[48:72])
    return path


def _cifar_stem(net):
    """solo-learn's CIFAR ResNet: a 3x3 stride-1 conv1 and no max-pool."""
    net.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    net.maxpool = nn.Identity()
    return net


def _randomise_bn(net):
    """Non-trivial BN statistics, so a checkpoint that was not really loaded gives other features."""
    g = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return net


class _LightlySimCLR(nn.Module):
    """lightly's SimCLR example: ``backbone = nn.Sequential(*list(resnet18().children())[:-1])`` + a head."""

    def __init__(self, resnet):
        super().__init__()
        self.backbone = nn.Sequential(*list(resnet.children())[:-1])
        self.projection_head = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 128))

    def forward(self, x):
        return self.backbone(x).flatten(start_dim=1)


def _lightning(state, prefix="backbone."):
    """A Lightning checkpoint as solo-learn writes it (weights_only-safe extras)."""
    sd = {prefix + k: v for k, v in state.items()}
    sd.update({"projector.0.weight": torch.zeros(8, 8), "classifier.weight": torch.zeros(10, 8)})
    sd.update({"momentum_" + prefix + k: v.clone() for k, v in list(state.items())[:3]})
    return {
        "epoch": 399,
        "global_step": 1000,
        "pytorch-lightning_version": "2.4.0",
        "state_dict": sd,
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 0.1}]}],
        "hyper_parameters": {"method": "simclr", "backbone": {"name": "resnet18"}},
    }


def _layout(name):
    """(object to torch.save, reference module mapping (B, 3, H, W) -> (B, D), expected arch)."""
    if name == "lightly_sequential_resnet18":
        model = _LightlySimCLR(_randomise_bn(resnet18(weights=None)))
        return model.state_dict(), model, "resnet18_imagenet"
    if name == "lightly_in_lightning":
        model = _LightlySimCLR(_randomise_bn(resnet18(weights=None)))
        return {"state_dict": model.state_dict(), "epoch": 3}, model, "resnet18_imagenet"
    if name == "solo_learn_resnet18_cifar":
        net = _randomise_bn(_cifar_stem(resnet18(weights=None)))
        net.fc = nn.Identity()
        return _lightning(net.state_dict()), net, "resnet18"
    if name == "solo_learn_resnet50_cifar":
        net = _randomise_bn(_cifar_stem(resnet50(weights=None)))
        net.fc = nn.Identity()
        return _lightning(net.state_dict()), net, "resnet50"
    if name == "solo_learn_with_namespace_hparams":  # hyper-parameters as a pickled object, as Lightning keeps them
        net = _randomise_bn(_cifar_stem(resnet18(weights=None)))
        net.fc = nn.Identity()
        ckpt = _lightning(net.state_dict())
        ckpt["hyper_parameters"] = argparse.Namespace(method="simclr", data_dir=PurePosixPath("/data/cifar"), lr=0.3)
        return ckpt, net, "resnet18"
    if name == "dino_training_checkpoint_resnet18":  # DINO's checkpoint.pth: student, teacher, args Namespace
        net = _randomise_bn(resnet18(weights=None))
        state = {k: v for k, v in net.state_dict().items() if not k.startswith("fc.")}
        net.fc = nn.Identity()
        return (
            {
                "student": {"module.backbone." + k: torch.zeros_like(v) for k, v in state.items()},
                "teacher": {"backbone." + k: v for k, v in state.items()} | {"head.mlp.0.weight": torch.zeros(2, 2)},
                "epoch": 100,
                "args": argparse.Namespace(arch="resnet18", out_dim=65536, output_dir=PurePosixPath("/ckpt")),
            },
            net,
            "resnet18_imagenet",
        )
    if name == "torch_save_whole_model":  # torch.save(model), not its state dict: the classes are pickled too
        net = _randomise_bn(resnet18(weights=None))
        ref = _randomise_bn(resnet18(weights=None))
        ref.load_state_dict(net.state_dict())
        ref.fc = nn.Identity()
        return net, ref, "resnet18_imagenet"
    if name in ("torchvision_resnet18", "torchvision_resnet50"):
        net = _randomise_bn((resnet18 if name.endswith("18") else resnet50)(weights=None))
        state = net.state_dict()
        net.fc = nn.Identity()
        return state, net, f"resnet{name[-2:]}_imagenet"
    if name in ("timm_resnet18", "timm_resnet50"):
        net = _randomise_bn(timm.create_model(name[5:], pretrained=False))
        state = net.state_dict()
        net.reset_classifier(0)
        return state, net, f"{name[5:]}_imagenet"
    if name == "timm_vit_tiny":
        net = timm.create_model("vit_tiny_patch16_224", pretrained=False, dynamic_img_size=True)
        state = net.state_dict()
        net.reset_classifier(0)
        return state, net, "vit_tiny_patch16_224"
    raise AssertionError(name)


_SLOW = pytest.mark.slow
LAYOUTS = [
    "lightly_sequential_resnet18",
    "lightly_in_lightning",
    "solo_learn_resnet18_cifar",
    pytest.param("solo_learn_resnet50_cifar", marks=_SLOW),  # ResNet-50: the 18s cover the layout in the fast tier
    "torchvision_resnet18",
    pytest.param("torchvision_resnet50", marks=_SLOW),  # ResNet-50: the 18s cover the layout in the fast tier
    "timm_resnet18",
    pytest.param("timm_resnet50", marks=_SLOW),  # ResNet-50: the 18s cover the layout in the fast tier
    "solo_learn_with_namespace_hparams",
    "dino_training_checkpoint_resnet18",
    "torch_save_whole_model",
    pytest.param("timm_vit_tiny", marks=_SLOW),
]
#: Python objects each layout pickles besides tensors: read as inert stand-ins, named in the manifest
PICKLED = {
    "solo_learn_with_namespace_hparams": ["argparse.Namespace", "pathlib.PurePosixPath"],
    "dino_training_checkpoint_resnet18": ["argparse.Namespace", "pathlib.PurePosixPath"],
}


@pytest.mark.parametrize("name", LAYOUTS)
def test_layout_imports_and_features_equal_the_original_forward(tmp_path, tiny_npz, name):
    obj, ref, arch = _layout(name)
    torch.save(obj, tmp_path / "ck.pt")
    out_size = 32 if arch.startswith("vit") else 8
    res = import_run(
        tmp_path / "ck.pt", dataset=f"npz:{tiny_npz}", out_size=out_size, runs_root=str(tmp_path / "runs"), name="r"
    )
    assert res["arch"] == arch
    assert res["channel_repeat"] == {"from": 1, "to": 3}
    run = tmp_path / "runs" / "r"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["channel_repeat"] == {"from": 1, "to": 3}
    assert "channel is repeated 3 times" in (run / "log.txt").read_text()
    objects = manifest["checkpoint_objects_not_loaded"]
    if name == "torch_save_whole_model":
        assert {"torchvision.models.resnet.ResNet", "torch.nn.modules.conv.Conv2d"} <= set(objects)
    else:
        assert objects == PICKLED.get(name, [])
    assert ("never run" in (run / "log.txt").read_text()) == bool(objects)
    feats = np.load(run / "features.npz")
    assert feats["train"].shape == (48, FEATURE_DIMS[arch])
    data = load_dataset(f"npz:{tiny_npz}")
    x = prepare_eval(
        torch.from_numpy(data.x_train), out_size, torch.as_tensor(data.mean), torch.as_tensor(data.std)
    ).expand(-1, 3, -1, -1)
    with torch.no_grad():
        want = ref.eval()(x).flatten(1).numpy()
    np.testing.assert_allclose(feats["train"], want, rtol=1e-3, atol=1e-4)
    assert 0.0 <= res["linear_acc"] <= 1.0


@pytest.mark.slow
def test_dino_vit_small_layout_is_detected_and_loads(tmp_path):
    """DINO's ViT-S/16 release: a bare timm state dict without a head (cls_token, pos_embed, blocks.N...)."""
    net = timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=0, dynamic_img_size=True)
    state = net.state_dict()
    assert not any(k.startswith("head.") for k in state)
    torch.save({"teacher": {"backbone." + k: v for k, v in state.items()} | {"head.mlp.0.weight": torch.zeros(2, 2)}},
               tmp_path / "dino.pth")  # fmt: skip
    arch, in_ch, loaded, _ = load_backbone_state(tmp_path / "dino.pth")
    assert (arch, in_ch) == ("vit_small_patch16_224", 3)
    fresh = build_backbone(arch, in_ch)
    load_into_backbone(fresh, loaded, "dino.pth")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(net.eval()(x), fresh.eval()(x), atol=1e-5)


@pytest.mark.slow
def test_grayscale_digits_into_torchvision_resnet18(tmp_path):
    """The issue's case: a torchvision ResNet-18 on the embedded 1-channel digits is opened, not refused."""
    torch.save(resnet18(weights=None).state_dict(), tmp_path / "tv.pth")
    res = import_run(tmp_path / "tv.pth", dataset="digits", runs_root=str(tmp_path / "runs"), name="d")
    assert res["channel_repeat"] == {"from": 1, "to": 3}
    assert np.load(tmp_path / "runs" / "d" / "features.npz")["train"].shape[1] == 512


def test_unsupported_depths_and_channels_are_explained(tmp_path):
    from torchvision.models import resnet34, resnet101

    with pytest.raises(HardpairsError, match=r"basic-block ResNet with \(3, 4, 6, 3\) blocks"):
        detect_arch(resnet34(weights=None).state_dict())
    with pytest.raises(HardpairsError, match=r"bottleneck ResNet with \(3, 4, 23, 3\) blocks"):
        detect_arch(resnet101(weights=None).state_dict())
    vit = timm.create_model("vit_small_patch16_224", pretrained=False, depth=6).state_dict()
    with pytest.raises(HardpairsError, match="width 384, 6 blocks and 16px patches is not supported"):
        detect_arch(vit)
    two = build_backbone("small_cnn", 2).state_dict()  # 2-channel data cannot be repeated into 1 or 3
    torch.save(two, tmp_path / "two.pt")
    with pytest.raises(HardpairsError, match="expects 2-channel images but digits has 1"):
        import_run(tmp_path / "two.pt", dataset="digits", runs_root=str(tmp_path / "runs"))
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
