"""Foreign checkpoint layouts: key remapping and architecture detection.

A backbone state dict arrives here with wrapper prefixes already stripped
(:func:`core.models.checkpoints._strip_prefixes`). Supported layouts:

- torchvision / timm ResNet-18 and ResNet-50 (timm's ``resnet18``/``resnet50`` use torchvision's key
  names: ``conv1``, ``bn1``, ``layer1..4``, ``fc``). The stem is read from the ``conv1`` kernel (7x7:
  ImageNet stem, 3x3: CIFAR stem), the block type from the keys (``layer1.0.conv3``: bottleneck,
  ResNet-50; ``layer4.1.conv2`` and no ``conv3``: basic, ResNet-18).
- lightly's ``nn.Sequential(*list(resnet18().children())[:-1])``: keys ``0.weight`` (conv1),
  ``1.*`` (bn1), ``4.*``..``7.*`` (layer1..4); indices 2, 3, 8 (relu, maxpool, avgpool) hold no
  weights. :func:`remap_sequential_resnet` renames them to torchvision's keys.
- timm Vision Transformers (``cls_token``, ``pos_embed``, ``patch_embed.proj.weight``,
  ``blocks.N...``, ``norm``), e.g. DINO ViT-S/16: the embedding width, depth and patch size name
  the timm model (:data:`VIT_ARCHS`).
- Hardpairs' small CNN (``features.0.weight``).
"""

from __future__ import annotations

import re

from torch import Tensor

from core.errors import HardpairsError

#: torchvision ResNet child index -> attribute name (children: conv1 bn1 relu maxpool layer1..4 avgpool fc).
_SEQ_RESNET = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}
#: (embed dim, depth, patch) -> timm ViT name. Heads are not in the weights; these are timm's standard ones.
VIT_ARCHS = {
    (192, 12, 16): "vit_tiny_patch16_224",
    (384, 12, 16): "vit_small_patch16_224",
    (384, 12, 8): "vit_small_patch8_224",
    (768, 12, 16): "vit_base_patch16_224",
    (768, 12, 8): "vit_base_patch8_224",
}
#: layer counts (layer1..4) of the ResNet depths Hardpairs builds.
_RESNET_BLOCKS = {18: (2, 2, 2, 2), 50: (3, 4, 6, 3)}


def remap_sequential_resnet(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename lightly's Sequential-ResNet keys (``0.weight``, ``4.0.conv1.weight``) to torchvision's.

    A state dict that is not in that layout (no ``0.weight`` with a 4-D kernel) is returned unchanged.
    """
    first = state.get("0.weight")
    if first is None or first.ndim != 4 or "4.0.conv1.weight" not in state:
        return state
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        head, _, rest = key.partition(".")
        if head not in _SEQ_RESNET:
            raise HardpairsError(
                f"key {key!r} does not fit lightly's Sequential ResNet layout (children 0,1,4-7 hold weights); "
                "save the backbone of a torchvision ResNet-18/50 (nn.Sequential(*list(resnet.children())[:-1]))"
            )
        out[f"{_SEQ_RESNET[head]}.{rest}"] = value
    return out


def _blocks(state: dict[str, Tensor], layer: int) -> int:
    """Number of residual blocks in ``layer{layer}`` of a ResNet state dict."""
    pat = re.compile(rf"layer{layer}\.(\d+)\.")
    idx = {int(m.group(1)) for k in state if (m := pat.match(k))}
    return max(idx) + 1 if idx else 0


def _detect_resnet(state: dict[str, Tensor]) -> tuple[str, int]:
    w = state["conv1.weight"]
    bottleneck = "layer1.0.conv3.weight" in state
    counts = tuple(_blocks(state, i) for i in range(1, 5))
    depth = 50 if bottleneck else 18
    if counts != _RESNET_BLOCKS[depth]:
        kind = "bottleneck" if bottleneck else "basic-block"
        raise HardpairsError(
            f"this is a {kind} ResNet with {counts} blocks per stage; Hardpairs imports ResNet-18 (2,2,2,2) and "
            "ResNet-50 (3,4,6,3) -- export a ResNet-18 or ResNet-50 backbone"
        )
    stem = "_imagenet" if w.shape[-1] == 7 else ""
    return f"resnet{depth}{stem}", int(w.shape[1])


def _detect_vit(state: dict[str, Tensor]) -> tuple[str, int]:
    w = state["patch_embed.proj.weight"]  # (D, C, p, p)
    dim, in_ch, patch = int(w.shape[0]), int(w.shape[1]), int(w.shape[-1])
    depth = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    name = VIT_ARCHS.get((dim, depth, patch))
    if name is None:
        known = ", ".join(f"{n} (dim {d}, depth {b}, patch {p})" for (d, b, p), n in VIT_ARCHS.items())
        raise HardpairsError(
            f"a ViT with width {dim}, {depth} blocks and {patch}px patches is not supported; Hardpairs imports {known}"
        )
    return name, in_ch


def detect_layout_arch(state: dict[str, Tensor]) -> tuple[str, int]:
    """(arch, in_channels) of a backbone state dict with prefixes stripped and Sequential keys remapped."""
    if "conv1.weight" in state and "layer4.0.conv1.weight" in state:
        return _detect_resnet(state)
    if "patch_embed.proj.weight" in state and "cls_token" in state:
        return _detect_vit(state)
    if "features.0.weight" in state:
        return "small_cnn", int(state["features.0.weight"].shape[1])
    sample = ", ".join(list(state)[:4])
    raise HardpairsError(
        f"unrecognised architecture (first keys: {sample}); Hardpairs imports ResNet-18/50 (torchvision, timm, "
        "lightly's Sequential, solo-learn/Lightning layouts), timm ViTs (DINO ViT-S/16, ...) and its own small CNN"
    )
