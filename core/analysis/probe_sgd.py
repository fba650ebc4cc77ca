"""The paper's linear-probe protocol (``--protocol paper``): minibatch SGD on frozen features.

The paper (App. A.3, A.5) gives only the probe's batch size and learning rate per dataset
(:data:`PAPER_PROBE`); optimiser, epochs and schedule are unstated. Our reading, documented in
``docs/paper-fidelity.md``:

- features: the frozen pre-projector ``h``, **L2-normalised** (as the kNN uses them). With unit-norm
  inputs the softmax-regression Hessian is bounded by 1/2, so the paper's lr 1 is stable; on raw or
  per-dimension standardised features it would diverge;
- softmax regression ``p = softmax(W x + b)``, zero initialisation, cross-entropy + ``weight_decay/2 ||W||^2``;
- SGD with momentum 0.9, ``epochs`` passes (default 100), the learning rate decayed by a cosine
  schedule from ``lr`` to 0 over all steps, the training set reshuffled every epoch by a
  ``torch.Generator`` seeded with ``seed`` (so the fit is deterministic given the seed on one device).
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: dataset name -> (probe batch size, probe learning rate), App. A.3/A.5. Others use CIFAR-10's values.
PAPER_PROBE: dict[str, tuple[int, float]] = {
    "cifar10": (512, 1.0),
    "cifar100": (512, 0.1),
    "stl10": (256, 0.1),
    "tinyimagenet": (512, 0.1),
    "imagenet": (1024, 1.0),
}
DEFAULT_PAPER_PROBE = PAPER_PROBE["cifar10"]


def paper_probe_settings(dataset: str) -> tuple[int, float]:
    """(batch size, lr) of the paper's probe for a dataset spec (``cifar100``, ``imagenet:/data/x`` ...).

    A spec's kind before ``:`` decides when it names a dataset (``imagenet:PATH``, ``tinyimagenet:PATH``); for
    ``folder:``/``npz:`` specs the last folder or file name is matched; unknown datasets (digits, other
    folders) get CIFAR-10's 512 / 1.
    """
    name = dataset.lower()
    if ":" in name:
        kind, rest = name.split(":", 1)
        name = kind if _match(kind) else rest.rstrip("/").split("/")[-1]
    return _match(name) or DEFAULT_PAPER_PROBE


def _match(name: str) -> tuple[int, float] | None:
    """The PAPER_PROBE entry whose key occurs in ``name`` (longest key first: cifar100 before cifar10)."""
    name = name.replace("-", "").replace("_", "")
    for key in sorted(PAPER_PROBE, key=len, reverse=True):
        if key in name:
            return PAPER_PROBE[key]
    return None


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows of x (N, D) scaled to unit L2 norm (zero rows stay zero), float32."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    out: np.ndarray = x / np.maximum(norm, 1e-12)
    return out


def fit_sgd(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float,
    seed: int,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression on L2-normalised features by minibatch SGD (momentum 0.9, cosine lr).

    Args:
        x: (N, D) float features (normalised here). y: (N,) int64 class ids in [0, n_classes).

    Returns:
        weight (C, D) float32 and bias (C,) float32, to be applied to L2-normalised features.
    """
    xt = torch.from_numpy(l2_normalise(x)).to(device)
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device)
    n, d = xt.shape
    linear = torch.nn.Linear(d, n_classes).to(device)
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    opt = torch.optim.SGD(linear.parameters(), lr=lr, momentum=0.9)
    steps_per_epoch = math.ceil(n / batch_size)
    total = max(1, epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(int(seed))
    step = 0
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen).to(device)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            for group in opt.param_groups:
                group["lr"] = 0.5 * lr * (1 + math.cos(math.pi * step / total))
            logits = linear(xt[idx])
            loss = torch.nn.functional.cross_entropy(logits, yt[idx])
            loss = loss + 0.5 * weight_decay * (linear.weight * linear.weight).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    weight = linear.weight.detach().cpu().numpy().astype(np.float32)
    bias = linear.bias.detach().cpu().numpy().astype(np.float32)
    return weight, bias
