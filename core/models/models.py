"""Backbones and the SimCLR projector.

The backbone output *before* the projector is the feature ``h`` used for pair selection,
scores, maps and probes; the projector output ``z`` feeds the contrastive loss.

- ``resnet18``: torchvision ResNet-18 with the CIFAR stem (3x3 stride-1 conv, no max-pool),
  ``fc`` removed; h is 512-d. Using torchvision's module keeps its state-dict keys, so plain
  torchvision checkpoints load directly.
- ``resnet18_imagenet``: the unmodified ImageNet stem (7x7 stride-2 conv + max-pool), for
  importing ImageNet-style checkpoints.
- ``resnet50`` / ``resnet50_imagenet``: torchvision ResNet-50 (bottleneck blocks), CIFAR or ImageNet
  stem as above; h is 2048-d. The backbone of most published SSL checkpoints and of the paper's
  TinyImageNet/ImageNet rows.
- ``vit_tiny_patch16_224``, ``vit_small_patch16_224`` (DINO ViT-S/16), ``vit_small_patch8_224``,
  ``vit_base_patch16_224``, ``vit_base_patch8_224``: timm Vision Transformers without a head (h is
  the class token after the final norm, 192/384/768-d), built with ``dynamic_img_size=True`` and
  ``dynamic_img_pad=True``, so any input size works (the position embedding is interpolated, the
  image padded to a multiple of the patch); the checkpoint's own 224 px (``--out-size 224``) is best. For
  importing DINO/timm checkpoints; needs ``timm`` (requirements.txt).
- ``small_cnn``: four conv blocks for tiny images (8-32 px), h is 128-d; trains at thousands of
  images/s on a laptop CPU.
"""

from __future__ import annotations

from torch import Tensor, nn

from core.errors import HardpairsError

FEATURE_DIMS = {
    "small_cnn": 128,
    "resnet18": 512,
    "resnet18_imagenet": 512,
    "resnet50": 2048,
    "resnet50_imagenet": 2048,
    "vit_tiny_patch16_224": 192,
    "vit_small_patch16_224": 384,
    "vit_small_patch8_224": 384,
    "vit_base_patch16_224": 768,
    "vit_base_patch8_224": 768,
}


class SmallCNN(nn.Module):
    """Conv-BN-ReLU x4 (widths 32-64-128-128, two stride-2 steps) + global average pool.

    Input (B, C, H, W) float; output (B, 128).
    """

    def __init__(self, in_channels: int = 3, width: int = 32):
        super().__init__()
        w = width

        def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *block(in_channels, w, 1), *block(w, 2 * w, 2), *block(2 * w, 4 * w, 2), *block(4 * w, 4 * w, 1)
        )
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: Tensor) -> Tensor:
        h: Tensor = self.pool(self.features(x)).flatten(1)
        return h


def resnet_backbone(depth: int = 18, in_channels: int = 3, cifar_stem: bool = True) -> nn.Module:
    """torchvision ResNet-18/50 without ``fc`` (output (B, 512) or (B, 2048)); CIFAR stem when ``cifar_stem``."""
    from torchvision.models import resnet18, resnet50

    if depth not in (18, 50):
        raise HardpairsError(f"ResNet depth {depth} is not supported; use 18 or 50")
    net: nn.Module = (resnet18 if depth == 18 else resnet50)(weights=None)
    if cifar_stem:
        net.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
    elif in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
    net.fc = nn.Identity()
    return net


def resnet18_backbone(in_channels: int = 3, cifar_stem: bool = True) -> nn.Module:
    """torchvision ResNet-18 without ``fc`` (output (B, 512)); CIFAR stem when ``cifar_stem``."""
    return resnet_backbone(18, in_channels, cifar_stem)


def vit_backbone(arch: str, in_channels: int = 3) -> nn.Module:
    """timm ViT ``arch`` without a head: (B, C, H, W) float -> (B, D) class token (any H, W; padded to the patch)."""
    try:
        import timm
    except ImportError:
        raise HardpairsError(
            f"{arch} needs the timm package; install it with `pip install -r requirements.txt`"
        ) from None
    net: nn.Module = timm.create_model(
        arch, pretrained=False, num_classes=0, in_chans=in_channels, dynamic_img_size=True, dynamic_img_pad=True
    )
    return net


def input_channels(backbone: nn.Module) -> int:
    """Channels the backbone's first convolution (ResNet stem, small-CNN block, ViT patch embedding) takes."""
    for p in backbone.parameters():
        if p.ndim == 4:
            return int(p.shape[1])
    raise HardpairsError(f"{type(backbone).__name__} has no convolution; cannot tell its input channels")


def build_backbone(arch: str, in_channels: int) -> nn.Module:
    """Backbone by name; raises HardpairsError for an unknown name."""
    if arch == "small_cnn":
        return SmallCNN(in_channels)
    if arch == "resnet18":
        return resnet18_backbone(in_channels, cifar_stem=True)
    if arch == "resnet18_imagenet":
        return resnet18_backbone(in_channels, cifar_stem=False)
    if arch in ("resnet50", "resnet50_imagenet"):
        return resnet_backbone(50, in_channels, cifar_stem=arch == "resnet50")
    if arch.startswith("vit_") and arch in FEATURE_DIMS:
        return vit_backbone(arch, in_channels)
    raise HardpairsError(f"unknown architecture {arch!r}; use one of {sorted(FEATURE_DIMS)}")


class Projector(nn.Module):
    """SimCLR projection MLP: Linear-BN-ReLU-Linear. (B, D) -> (B, proj_dim)."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, out_dim),
        )

    def forward(self, h: Tensor) -> Tensor:
        z: Tensor = self.net(h)
        return z


class SimCLRModel(nn.Module):
    """Backbone + projector. ``forward(x)`` returns ``(h, z)``: (B, D) features and (B, P) projections."""

    def __init__(self, arch: str, in_channels: int, proj_hidden: int, proj_dim: int):
        super().__init__()
        self.arch = arch
        self.backbone = build_backbone(arch, in_channels)
        self.projector = Projector(FEATURE_DIMS[arch], proj_hidden, proj_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.backbone(x)
        return h, self.projector(h)
