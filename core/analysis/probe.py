"""Linear probe and weighted kNN accuracy on frozen features.

Two linear-probe protocols (``ProbeConfig.protocol``, ``python -m core probe --protocol``):

- ``lbfgs`` (default, fast): described below.
- ``paper``: minibatch SGD with the paper's probe batch size and learning rate on L2-normalised
  features, 100 epochs, cosine schedule (``core/analysis/probe_sgd.py`` says why and how).

Accuracies of the two protocols are not comparable; ``metrics.json`` records which one was used.

Linear probe (``lbfgs``): features are standardised (train mean/std; constant dimensions keep std 1) and a
softmax regression ``p = softmax(W x + b)`` is fitted by minimising
``mean cross-entropy + weight_decay / 2 * ||W||^2`` with **full-batch L-BFGS** (scipy's L-BFGS-B,
at most ``epochs`` iterations, zero initialisation); loss and analytic gradient are evaluated with
torch, on the GPU when there is one, else on the CPU. The problem is convex, so full-batch L-BFGS
reaches the optimum in far fewer passes than minibatch SGD, needs no learning-rate schedule and is
deterministic: no shuffling and no random initialisation (``seed``, ``lr`` and ``batch_size`` are unused by it).

Weighted kNN (Wu et al. 2018; DINO): cosine similarities of L2-normalised features, the k nearest
training samples vote for their label with weight ``exp(s / t)``; the class with the largest total
wins (lowest class id on a tie). Defaults k = 20, t = 0.07; Jiang et al.'s evaluation uses
k = 200, t = 0.5 (``KNN_PRESETS["jiang"]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize

from core.analysis.neighbors import knn
from core.analysis.probe_sgd import fit_sgd, l2_normalise
from core.device import pick_device
from core.errors import HardpairsError

#: linear-probe protocols: the fast full-batch L-BFGS, and the paper's minibatch SGD.
PROTOCOLS = ("lbfgs", "paper")
#: kNN presets: name -> (k, t).
KNN_PRESETS: dict[str, tuple[int, float]] = {"default": (20, 0.07), "jiang": (200, 0.5)}


@dataclass(frozen=True)
class ProbeConfig:
    """Probe settings. ``protocol``: ``lbfgs`` or ``paper`` (see the module docstring).
    ``epochs``: L-BFGS iterations at most (``lbfgs``) or SGD passes (``paper``). ``lr``, ``batch_size``,
    ``seed``: used by ``paper`` only (full-batch L-BFGS with a line search needs none of them).
    ``knn_k``/``knn_t``: weighted kNN neighbours and temperature."""

    protocol: str = "lbfgs"
    epochs: int = 100
    lr: float = 1.0
    weight_decay: float = 1e-4
    batch_size: int = 1024
    knn_k: int = 20
    knn_t: float = 0.07
    seed: int = 0
    device: str = "auto"


@dataclass(frozen=True)
class LinearProbe:
    """A fitted probe: weight (C, D) float32, bias (C,), mean (D,), std (D,) float32.

    Inputs are L2-normalised first when ``l2`` (the ``paper`` protocol), then standardised."""

    weight: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    l2: bool = False

    def predict_proba(self, x: np.ndarray, batch_size: int = 65536) -> np.ndarray:
        """Class probabilities (N, C) float32 for features x (N, D)."""
        x = l2_normalise(x) if self.l2 else np.asarray(x, dtype=np.float32)
        out = np.empty((len(x), len(self.bias)), np.float32)
        for start in range(0, len(x), batch_size):
            z = (x[start : start + batch_size] - self.mean) / self.std
            logits = z @ self.weight.T + self.bias
            logits = logits - logits.max(axis=1, keepdims=True)
            e = np.exp(logits)
            out[start : start + batch_size] = e / e.sum(axis=1, keepdims=True)
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted class ids (N,) int64."""
        pred: np.ndarray = self.predict_proba(x).argmax(axis=1).astype(np.int64)
        return pred


def _check_xy(x: np.ndarray, y: np.ndarray, n_classes: int | None = None) -> None:
    if x.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise HardpairsError(
            f"features {x.shape} and labels {y.shape} do not match; recompute "
            "the features with `python -m core probe --run-dir R`"
        )
    if not np.isfinite(x).all():
        raise HardpairsError("features contain NaN or inf; retrain or use an earlier checkpoint")
    if (y < 0).any() or (n_classes is not None and (y >= n_classes).any()):
        raise HardpairsError(
            "labels must be class ids 0..C-1; this dataset has unlabelled "
            "samples (-1), so the linear probe and kNN accuracy are unavailable"
        )


def fit_linear_probe(
    x_train: np.ndarray, y_train: np.ndarray, n_classes: int, cfg: ProbeConfig = ProbeConfig()
) -> LinearProbe:
    """Fit the softmax-regression probe.

    Args:
        x_train: (N, D) float features. y_train: (N,) int class ids in [0, n_classes).
        n_classes: C. cfg: ProbeConfig.

    Returns:
        LinearProbe with float32 numpy arrays.
    """
    x = np.asarray(x_train, dtype=np.float32)
    y = np.asarray(y_train, dtype=np.int64)
    _check_xy(x, y, n_classes)
    if len(np.unique(y)) < 2:
        raise HardpairsError(
            "the linear probe needs at least two classes in the training labels; use a dataset with two or more classes"
        )
    if cfg.protocol not in PROTOCOLS:
        raise HardpairsError(f"unknown probe protocol {cfg.protocol!r}; use one of {', '.join(PROTOCOLS)}")
    if cfg.protocol == "paper":
        w, b = fit_sgd(
            x,
            y,
            n_classes,
            epochs=cfg.epochs,
            lr=cfg.lr,
            batch_size=cfg.batch_size,
            weight_decay=cfg.weight_decay,
            seed=cfg.seed,
            device=pick_device(cfg.device),
        )
        d = x.shape[1]
        return LinearProbe(weight=w, bias=b, mean=np.zeros(d, np.float32), std=np.ones(d, np.float32), l2=True)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std < 1e-6, 1.0, std).astype(np.float32)
    device = pick_device(cfg.device)
    n, d = x.shape
    xt = torch.from_numpy((x - mean) / std).to(device)
    onehot = torch.nn.functional.one_hot(torch.from_numpy(y).to(device), n_classes).float()

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        wb = torch.from_numpy(theta.astype(np.float32)).to(device).view(n_classes, d + 1)
        w, b = wb[:, :d], wb[:, d]
        logits = xt @ w.T + b
        logp = torch.log_softmax(logits, dim=1)
        loss = -(logp * onehot).sum() / n + 0.5 * cfg.weight_decay * (w * w).sum()
        g = (logp.exp() - onehot) / n  # d loss / d logits
        grad = torch.cat([g.T @ xt + cfg.weight_decay * w, g.sum(0)[:, None]], dim=1)
        return float(loss), grad.cpu().numpy().astype(np.float64).ravel()

    threads = torch.get_num_threads()
    if device.type == "cpu" and x.size < (1 << 22):
        torch.set_num_threads(1)  # small problems: thread start-up costs more than it saves
    try:
        res = minimize(
            loss_grad,
            np.zeros(n_classes * (d + 1)),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": cfg.epochs, "maxcor": 20, "gtol": 1e-6, "ftol": 1e-10},
        )
    finally:
        torch.set_num_threads(threads)
    wb = res.x.reshape(n_classes, d + 1).astype(np.float32)
    return LinearProbe(
        weight=np.ascontiguousarray(wb[:, :d]), bias=wb[:, d].copy(), mean=mean.astype(np.float32), std=std
    )


def linear_probe_accuracy(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, cfg: ProbeConfig = ProbeConfig()
) -> tuple[float, LinearProbe]:
    """Top-1 test accuracy of a probe fitted on the train split, and the probe itself."""
    y_train = np.asarray(y_train, dtype=np.int64)
    y_test = np.asarray(y_test, dtype=np.int64)
    _check_xy(np.asarray(x_test), y_test)
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    probe = fit_linear_probe(x_train, y_train, n_classes, cfg)
    acc = float((probe.predict(x_test) == y_test).mean())
    return acc, probe


def knn_predict(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, k: int = 20, t: float = 0.07
) -> np.ndarray:
    """Weighted kNN predictions (M,) int64: cosine, the k nearest vote with weights exp(s / t).

    Args:
        x_train: (N, D), y_train: (N,) int class ids, x_test: (M, D). k <= N, t > 0.
    """
    y_train = np.asarray(y_train, dtype=np.int64)
    _check_xy(np.asarray(x_train), y_train)
    if not t > 0:
        raise HardpairsError(f"kNN temperature t={t} must be > 0; pass e.g. --knn-t 0.07")
    sims, idx = knn(x_train, k, queries=x_test, exclude_self=False)
    pred: np.ndarray = weighted_votes(sims, y_train[idx], int(y_train.max()) + 1, t).argmax(axis=1).astype(np.int64)
    return pred


def weighted_votes(sims: np.ndarray, neighbour_labels: np.ndarray, n_classes: int, t: float) -> np.ndarray:
    """(Q, C) float64 kNN class votes: each of the k neighbours votes for its label with weight exp(s / t).

    Args:
        sims: (Q, k) cosine similarities of each query's neighbours; neighbour_labels: (Q, k) their class ids.
    """
    weights = np.exp((sims.astype(np.float64) - 1.0) / t)  # shift by 1 (max cosine): no overflow
    votes = np.zeros((len(sims), n_classes), np.float64)
    rows = np.repeat(np.arange(len(sims)), sims.shape[1])
    np.add.at(votes, (rows, np.asarray(neighbour_labels).ravel()), weights.ravel())
    return votes


def probe_predictions(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, cfg: ProbeConfig = ProbeConfig()
) -> dict[str, np.ndarray]:
    """Per-sample test predictions of both probes.

    Returns:
        y_true (M,) int64, linear_pred (M,) int64, knn_pred (M,) int64.
    """
    y_test = np.asarray(y_test, dtype=np.int64)
    _, probe = linear_probe_accuracy(x_train, y_train, x_test, y_test, cfg)
    return {
        "y_true": y_test,
        "linear_pred": probe.predict(x_test),
        "knn_pred": knn_predict(x_train, y_train, x_test, k=cfg.knn_k, t=cfg.knn_t),
    }


def probe_config(
    dataset: str,
    protocol: str = "lbfgs",
    knn_k: int | None = None,
    knn_t: float | None = None,
    knn_preset: str = "default",
    seed: int = 0,
    epochs: int = 100,
    device: str = "auto",
) -> ProbeConfig:
    """The ProbeConfig of a run: ``paper`` takes the dataset's probe batch and lr; ``knn_k``/``knn_t``
    override the ``knn_preset`` (``default`` 20 / 0.07, ``jiang`` 200 / 0.5)."""
    from core.analysis.probe_sgd import paper_probe_settings

    if protocol not in PROTOCOLS:
        raise HardpairsError(f"--protocol: unknown probe protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    if knn_preset not in KNN_PRESETS:
        raise HardpairsError(f"--knn-preset: unknown preset {knn_preset!r}; use one of {', '.join(KNN_PRESETS)}")
    k, t = KNN_PRESETS[knn_preset]
    k, t = knn_k if knn_k is not None else k, knn_t if knn_t is not None else t
    if k < 1 or not t > 0:
        raise HardpairsError(f"kNN needs k >= 1 and t > 0 (got k={k}, t={t}); e.g. --knn-k 20 --knn-t 0.07")
    extra: dict[str, Any] = {}
    if protocol == "paper":
        batch, lr = paper_probe_settings(dataset)
        extra = {"batch_size": batch, "lr": lr}
    return ProbeConfig(protocol=protocol, epochs=epochs, knn_k=k, knn_t=t, seed=seed, device=device, **extra)


def describe(cfg: ProbeConfig) -> dict[str, Any]:
    """What ``metrics.json`` records about a probe: protocol, epochs, kNN k and t (and batch, lr, seed for paper)."""
    out: dict[str, Any] = {"protocol": cfg.protocol, "epochs": cfg.epochs, "knn_k": cfg.knn_k, "knn_t": cfg.knn_t}
    if cfg.protocol == "paper":
        out.update(batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed, optimizer="sgd momentum 0.9, cosine")
    return out
