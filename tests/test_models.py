"""Backbone shapes and state-dict layouts (ResNet-50 keeps torchvision's keys)."""

import pytest
import torch
from torchvision.models import resnet50

from core.errors import HardpairsError
from core.models.models import FEATURE_DIMS, SimCLRModel, build_backbone, resnet_backbone


@pytest.mark.parametrize(("arch", "size"), [("resnet50", 16), ("resnet50_imagenet", 64)])
def test_resnet50_gives_2048_features_for_both_stems(arch, size):
    model = SimCLRModel(arch, 3, 32, 16).eval()
    with torch.no_grad():
        h, z = model(torch.randn(2, 3, size, size))
    assert h.shape == (2, 2048) == (2, FEATURE_DIMS[arch])
    assert z.shape == (2, 16)


def test_resnet50_keeps_torchvision_keys_and_stems_differ():
    tv = {k for k in resnet50(weights=None).state_dict() if not k.startswith("fc.")}
    imagenet = build_backbone("resnet50_imagenet", 3).state_dict()
    cifar = build_backbone("resnet50", 3).state_dict()
    assert set(imagenet) == tv == set(cifar)
    assert imagenet["conv1.weight"].shape == (64, 3, 7, 7)
    assert cifar["conv1.weight"].shape == (64, 3, 3, 3)
    assert build_backbone("resnet50", 1).state_dict()["conv1.weight"].shape == (64, 1, 3, 3)


def test_unsupported_depth_is_refused():
    with pytest.raises(HardpairsError, match="depth 34"):
        resnet_backbone(34)
