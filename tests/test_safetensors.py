"""tg.save / tg.load with a .safetensors path: weights that PyTorch's safetensors.torch reads, and back.

Skipped, with the reason shown, where the safetensors package (or, for the twin tests, torch) is not installed.
"""
import os
import sys

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
from conftest import import_torch
from test_network import make_net

safetensors = pytest.importorskip("safetensors", reason="safetensors tests need it: pip install -e \".[safetensors]\"")


def trained_looking(model):
    """Non-default values everywhere (BN statistics and step count too), so a lost or swapped entry shows."""
    rng = np.random.default_rng(0)
    state = {key: rng.normal(size=value.shape).astype(value.dtype) for key, value in model.state_dict().items()}
    for key in state:
        if key.endswith("running_var"):
            state[key] = np.abs(state[key]) + 0.5
        if key.endswith("num_batches_tracked"):
            state[key] = np.array(7, dtype=np.int64)
    model.load_state_dict(state)
    return model


def test_pytorch_loads_our_file_into_its_twin(tmp_path):
    torch = import_torch()
    from safetensors.torch import load_file

    ours = trained_looking(make_net(nn))
    tg.save(ours.state_dict(), tmp_path / "model.safetensors")
    theirs = make_net(torch.nn)
    theirs.load_state_dict(load_file(tmp_path / "model.safetensors"))  # strict: same keys, shapes and dtypes
    assert int(theirs.features[1].num_batches_tracked) == 7
    x = np.random.default_rng(1).normal(size=(2, 3, 12, 12)).astype(np.float32)
    with torch.no_grad():
        expected = theirs.eval()(torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours.eval()(tg.Tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_a_pytorch_file_loads_into_our_twin(tmp_path):
    torch = import_torch()
    from safetensors.torch import save_file

    torch.manual_seed(0)
    theirs = make_net(torch.nn)
    save_file(theirs.state_dict(), tmp_path / "torch.safetensors")
    ours = make_net(nn)
    ours.load_state_dict(tg.load(tmp_path / "torch.safetensors"))
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[key], value.numpy(), err_msg=key)


def test_only_flat_dicts_of_arrays_and_npz_unchanged(tmp_path):
    with pytest.raises(TypeError, match=r"x\.safetensors.*'optimizer' -> dict.*\.npz"):
        tg.save({"model": np.zeros(2), "optimizer": {"lr": 0.1}}, tmp_path / "x.safetensors")
    checkpoint = {"model": {"w": np.ones(3)}, "epoch": 3}
    tg.save(checkpoint, tmp_path / "x.npz")  # the nested .npz format is still the default
    assert tg.load(tmp_path / "x.npz")["epoch"] == 3
    assert sorted(os.listdir(tmp_path)) == ["x.npz"]


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    tg.save({"w": np.ones(2, dtype=np.float32)}, path)

    def disk_full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        tg.save({"w": np.zeros(2, dtype=np.float32)}, path)
    assert sorted(os.listdir(tmp_path)) == ["w.safetensors"]  # no temporary file left
    np.testing.assert_array_equal(tg.load(path)["w"], np.ones(2))


def test_missing_package_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)  # what `import` sees when absent
    with pytest.raises(ImportError, match="pip install safetensors"):
        tg.save({"w": np.ones(2)}, tmp_path / "w.safetensors")
