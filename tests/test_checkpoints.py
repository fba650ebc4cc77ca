import pickle

import pytest
import torch
from torchvision.models import resnet18

from core.errors import HardpairsError
from core.models.checkpoints import (
    FORMAT,
    detect_arch,
    load_backbone_state,
    load_checkpoint_file,
    load_into_backbone,
    save_checkpoint,
)
from core.models.models import SimCLRModel, build_backbone


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


def test_import_reads_a_hostile_pickle_without_running_it(tmp_path):
    """Importing reads a checkpoint's pickled objects as inert stand-ins: the tensors load, the object's
    reduce (open a file) never runs; with no tensors at all the import says so."""
    import os

    marker = "/tmp/hardpairs_pwned_marker"
    if os.path.exists(marker):
        os.remove(marker)
    net = build_backbone("small_cnn", 1)
    torch.save({"state_dict": net.state_dict(), "extra": _Evil()}, tmp_path / "mixed.pt")
    torch.save({"model": _Evil()}, tmp_path / "evil.pt")
    if os.path.exists(marker):
        os.remove(marker)
    arch, in_ch, state, _ = load_backbone_state(tmp_path / "mixed.pt")
    assert (arch, in_ch) == ("small_cnn", 1) and not os.path.exists(marker)
    for k, v in net.state_dict().items():
        assert torch.equal(state[k], v)
    with pytest.raises(HardpairsError, match=r"holds no state dict.*pickles Python objects instead \(io.open\)"):
        load_backbone_state(tmp_path / "evil.pt")
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


def _own(path, **over):
    model = SimCLRModel("small_cnn", 1, 32, 16)
    payload = {"format": FORMAT, "version": 1, "config": {"arch": "small_cnn"}, "epoch": 1}
    payload.update({"model": model.state_dict(), "optimizer": {}, "metrics": {}})
    payload.update(over)
    torch.save(payload, path)
    return path, model


@pytest.mark.parametrize(
    "over, message",
    [
        ({"config": {}}, "has no config with an 'arch' entry"),
        ({"config": None}, "has no config with an 'arch' entry"),
        ({"model": {}}, "holds no backbone weights"),
        ({"model": {"projector.0.weight": torch.zeros(2, 2)}}, "holds no backbone weights"),
    ],
)
def test_incomplete_own_checkpoint_is_explained(tmp_path, over, message):
    path, _ = _own(tmp_path / "ck.pt", **over)
    with pytest.raises(HardpairsError) as err:
        load_backbone_state(path)
    assert message in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(tmp_path, value):
    path, model = _own(tmp_path / "ok.pt")
    assert load_backbone_state(path)[0] == "small_cnn"
    state = model.state_dict()
    state["backbone.features.0.weight"][0, 0, 0, 0] = value  # one value is enough
    torch.save({"format": FORMAT, "config": {"arch": "small_cnn"}, "model": state}, tmp_path / "bad.pt")
    with pytest.raises(HardpairsError, match=r"NaN/inf values in 1 tensor\(s\) \(e.g. features.0.weight\)"):
        load_backbone_state(tmp_path / "bad.pt")
    net_state, _ = _cifar_resnet_state()
    net_state["layer1.0.conv1.weight"].fill_(value)  # a foreign layout too
    torch.save(net_state, tmp_path / "foreign.pt")
    with pytest.raises(HardpairsError, match="layer1.0.conv1.weight"):
        load_backbone_state(tmp_path / "foreign.pt")


def test_probe_refuses_a_checkpoint_of_another_arch_and_keeps_metrics(tiny_run, tmp_path, capsys):
    import shutil

    from core.cli import main

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    metrics = (run / "metrics.json").read_bytes()
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    state, _ = _cifar_resnet_state()
    ckpt["model"] = {f"backbone.{k}": v for k, v in state.items()}
    ckpt["config"] = {**ckpt["config"], "arch": "resnet18"}
    torch.save(ckpt, run / "checkpoints" / "last.pt")
    assert main(["probe", "--run-dir", str(run)]) == 2
    error = capsys.readouterr().out.strip().splitlines()[-1]
    assert "is a resnet18 checkpoint but" in error and "says arch small_cnn" in error
    assert (run / "metrics.json").read_bytes() == metrics


def test_probe_rewrites_an_unreadable_features_file(tiny_run, tmp_path, capsys):
    import json
    import shutil

    import numpy as np

    from core.cli import main
    from core.rundir.featurefile import open_features

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    good = np.array(open_features(run)["train"])  # a copy: the file is overwritten below
    (run / "features.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(HardpairsError) as err:
        open_features(run)
    assert str(err.value).startswith(f"{run / 'features.npz'} is unreadable (")
    assert f"re-extract it with `python -m core probe --run-dir {run}`" in str(err.value)
    assert main(["score", "--run-dir", str(run), "--force"]) == 2
    assert "features.npz is unreadable" in json.loads(capsys.readouterr().out.splitlines()[-1])["error"]
    assert main(["probe", "--run-dir", str(run)]) == 0  # the advice works: probe extracts them again
    np.testing.assert_allclose(open_features(run)["train"], good, atol=1e-5)
