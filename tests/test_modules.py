"""nn.Module, the layers, default init and save/load, checked against PyTorch where PyTorch has the same thing.

PyTorch is an oracle only: the twin models below are built in both libraries, and state dicts, outputs and
gradients must agree.
"""
import math
import os
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
import tinygrad_bn.formats.serialization as serialization
from tinygrad_bn import Tensor, cuda_available

DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu,
                                              pytest.mark.skipif(not cuda_available(), reason="needs CuPy and a GPU")])]


def torch_module():
    return pytest.importorskip("torch")


# ----------------------------------------------------------------------------------------------------------------
# Twin models: the same architecture in both libraries, so state_dict keys must match one to one.
# ----------------------------------------------------------------------------------------------------------------
def make_sequential(lib):
    """conv-BN-ReLU-pool-linear; `lib` is tinygrad_bn.nn or torch.nn."""
    return lib.Sequential(
        lib.Conv2d(3, 4, 3, padding=1, bias=False),
        lib.BatchNorm2d(4),
        lib.ReLU(),
        lib.MaxPool2d(2),
        lib.Flatten(),
        lib.Linear(4 * 4 * 4, 3),
    )


def make_nested(lib):
    """A custom Module holding a Sequential, a BatchNorm1d and a Linear head (the same class for both libraries)."""

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.features = lib.Sequential(lib.Conv2d(3, 4, 3, stride=2, padding=1), lib.BatchNorm2d(4), lib.ReLU(),
                                           lib.AdaptiveAvgPool2d(1), lib.Flatten())
            self.norm = lib.BatchNorm1d(4, momentum=None)
            self.head = lib.Linear(4, 2)

        def forward(self, x):
            return self.head(self.norm(self.features(x)))

    return Net()


def copy_torch_into_tg(torch_model, tg_model):
    tg_model.load_state_dict({key: value.numpy() for key, value in torch_model.state_dict().items()})


# ----------------------------------------------------------------------------------------------------------------
# Module machinery
# ----------------------------------------------------------------------------------------------------------------
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(2, dtype=np.float32))
        self.inner = nn.Linear(2, 2)
        self.register_buffer("steps", tg.zeros((), dtype="int64"))
        self.register_buffer("cache", tg.zeros(2), persistent=False)
        self.offset = nn.Parameter(np.zeros(2, dtype=np.float32))
        self.note = "a plain attribute"


def test_registration_order_and_kinds():
    block = Block()
    assert [name for name, _ in block.named_parameters()] == ["scale", "offset", "inner.weight", "inner.bias"]
    assert [name for name, _ in block.named_buffers()] == ["steps", "cache"]
    assert [name for name, _ in block.named_children()] == ["inner"]
    assert [name for name, _ in block.named_modules()] == ["", "inner"]
    assert list(block.state_dict()) == ["scale", "offset", "steps", "inner.weight", "inner.bias"]  # no "cache"
    assert block.note == "a plain attribute" and "note" not in block._parameters
    assert isinstance(block.scale, Tensor) and block.scale.requires_grad
    assert all(not b.requires_grad for b in block.buffers())


def test_reassignment_and_type_checks():
    block = Block()
    block.inner = nn.Linear(2, 5)  # replacing a child keeps its place
    assert block.inner.out_features == 5 and [n for n, _ in block.named_children()] == ["inner"]
    with pytest.raises(TypeError, match="scale"):
        block.scale = Tensor([1.0, 2.0])  # a plain Tensor is not a Parameter
    block.scale = None
    assert "scale" not in dict(block.named_parameters())
    with pytest.raises(TypeError):
        block.register_buffer("steps", np.zeros(2))  # buffers are Tensors
    with pytest.raises(KeyError):
        block.register_buffer("a.b", tg.zeros(1))
    del block.offset
    assert "offset" not in dict(block.named_parameters())
    with pytest.raises(AttributeError):
        block.offset


def test_shared_submodule_listed_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert len(list(model.modules())) == 3  # the Sequential, the Linear once, the ReLU
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as PyTorch


def test_sequential_container():
    model = make_sequential(nn)
    assert len(model) == 6
    assert isinstance(model[0], nn.Conv2d) and isinstance(model[-1], nn.Linear)
    assert [type(m).__name__ for m in model] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    head = model[4:]
    assert isinstance(head, nn.Sequential) and list(head.state_dict()) == ["5.weight", "5.bias"]
    with pytest.raises(IndexError):
        model[6]
    named = nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 1, 1)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["conv.weight", "conv.bias"]


def test_train_eval_recursive():
    model = make_nested(nn)
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.features.train()
    assert model.features[1].training and not model.norm.training and not model.training
    assert model.train() is model and all(m.training for m in model.modules())


def test_zero_grad_sets_none():
    model = nn.Linear(3, 2)
    model(Tensor(np.ones((4, 3), dtype=np.float32))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("device", DEVICES)
def test_to_device_keeps_parameter_objects(device):
    model = make_sequential(nn)
    before = list(model.parameters()) + list(model.buffers())
    expected = model.state_dict()
    assert model.to(device) is model
    after = list(model.parameters()) + list(model.buffers())
    assert all(a is b for a, b in zip(before, after))
    assert all(t.device == device for t in after)
    state = model.state_dict()
    assert all(isinstance(v, np.ndarray) and np.array_equal(v, expected[k]) for k, v in state.items())
    model.load_state_dict(expected)
    assert all(t.device == device for t in model.parameters())
    assert model.cpu() is model and all(t.device == "cpu" for t in after)


def test_double_casts_floats_only():
    model = make_sequential(nn).double()
    assert model[0].weight.dtype == np.float64 and model[1].running_var.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64


# ----------------------------------------------------------------------------------------------------------------
# state_dict: PyTorch's keys and shapes, loading in both directions, strictness
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [make_sequential, make_nested])
def test_state_dict_matches_torch_twin(make):
    torch = torch_module()
    ours, theirs = make(nn).state_dict(), make(torch.nn).state_dict()
    assert isinstance(ours, OrderedDict)
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        assert ours[key].shape == tuple(value.shape), key
        assert ours[key].dtype == value.numpy().dtype, key  # float32, and int64 for num_batches_tracked


@pytest.mark.parametrize("make", [make_sequential, make_nested])
def test_state_dict_round_trip_torch_tg_torch(make):
    torch = torch_module()
    source = make(torch.nn)
    with torch.no_grad():  # non-default running statistics, so the test sees buffers move too
        for name, buffer in source.named_buffers():
            if name.endswith("num_batches_tracked"):
                buffer.fill_(7)
            else:
                buffer.copy_(torch.rand(buffer.shape) + 0.5)
    model = make(nn)
    copy_torch_into_tg(source, model)
    target = make(torch.nn)
    target.load_state_dict({key: torch.from_numpy(value) for key, value in model.state_dict().items()})
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[key].numpy(), value.numpy(), err_msg=key)


def test_state_dict_is_a_copy():
    model = nn.Linear(2, 2)
    state = model.state_dict()
    state["weight"][...] = 42
    assert not np.any(model.weight.numpy() == 42)


def test_load_state_dict_strict_and_non_strict():
    model = make_sequential(nn)
    state = model.state_dict()
    del state["1.running_mean"]
    state["extra.weight"] = np.zeros(1)
    with pytest.raises(RuntimeError, match=r"1\.running_mean(.|\n)*extra\.weight"):
        model.load_state_dict(state)

    state["0.weight"] = np.full((4, 3, 3, 3), 0.5)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["1.running_mean"] and unexpected == ["extra.weight"]
    assert np.all(model[0].weight.numpy() == 0.5) and model[0].weight.dtype == np.float32


def test_load_state_dict_shape_mismatch_copies_nothing():
    model = make_sequential(nn)
    before = model.state_dict()
    state = {key: np.zeros_like(value) for key, value in before.items()}
    state["5.weight"] = np.zeros((3, 5))
    with pytest.raises(ValueError, match=r"5\.weight.*\(3, 5\).*\(3, 64\)"):
        model.load_state_dict(state)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


# ----------------------------------------------------------------------------------------------------------------
# Default initialisation (PyTorch's bounds)
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer, fan_in", [(lambda: nn.Linear(100, 50), 100),
                                           (lambda: nn.Conv2d(16, 32, 3), 16 * 9),
                                           (lambda: nn.Conv2d(3, 64, (5, 3)), 3 * 15)])
def test_default_init_bounds_and_spread(layer, fan_in):
    tg.manual_seed(0)
    module = layer()
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) and the bias rule both give this
    for param in (module.weight, module.bias):
        values = param.numpy()
        assert param.dtype == np.float32 and param.requires_grad
        assert np.all(np.abs(values) <= bound)
    weights = module.weight.numpy()
    assert abs(weights.std() - bound / math.sqrt(3)) < 0.05 * bound  # U(-b, b) has std b / sqrt(3)
    assert abs(weights.max() - bound) < 0.05 * bound and abs(weights.min() + bound) < 0.05 * bound


@pytest.mark.parametrize("device", DEVICES)
def test_init_is_seeded_and_the_same_on_every_device(device):
    tg.manual_seed(123)
    first = nn.Conv2d(3, 8, 3).state_dict()
    tg.manual_seed(123)
    layer = nn.Conv2d(3, 8, 3, device=device)
    assert layer.weight.device == device
    second = layer.state_dict()
    assert all(np.array_equal(first[k], second[k]) for k in first)


def test_batchnorm_init_and_options():
    bn = nn.BatchNorm2d(5)
    state = bn.state_dict()
    assert list(state) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert np.all(state["weight"] == 1) and np.all(state["bias"] == 0)
    assert np.all(state["running_mean"] == 0) and np.all(state["running_var"] == 1)
    assert state["num_batches_tracked"].dtype == np.int64 and state["num_batches_tracked"] == 0
    plain = nn.BatchNorm1d(5, affine=False, track_running_stats=False)
    assert plain.weight is None and plain.bias is None and plain.running_mean is None
    assert list(plain.state_dict()) == [] and list(plain.parameters()) == []


# ----------------------------------------------------------------------------------------------------------------
# Forward (and backward) parity with PyTorch, same weights, float64
# ----------------------------------------------------------------------------------------------------------------
def assert_same_forward(tg_layer, torch_layer, x, atol=1e-10):
    torch = torch_module()
    tg_layer.double()
    torch_layer.double()
    if list(torch_layer.state_dict()):
        copy_torch_into_tg(torch_layer, tg_layer)
    ours = tg_layer(Tensor(x)).numpy()
    theirs = torch_layer(torch.from_numpy(x)).detach().numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=atol, rtol=1e-7)


LAYER_CASES = [
    ("Linear", lambda lib: lib.Linear(6, 4), (5, 6)),
    ("Linear-nobias", lambda lib: lib.Linear(6, 4, bias=False), (2, 3, 6)),
    ("Conv2d", lambda lib: lib.Conv2d(3, 5, 3), (2, 3, 7, 6)),
    ("Conv2d-strided", lambda lib: lib.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 2), bias=False), (2, 2, 7, 5)),
    ("ReLU", lambda lib: lib.ReLU(), (3, 4, 5)),
    ("MaxPool2d", lambda lib: lib.MaxPool2d(2), (2, 3, 6, 8)),
    ("MaxPool2d-padded", lambda lib: lib.MaxPool2d(3, stride=2, padding=1), (2, 3, 7, 6)),
    ("AvgPool2d", lambda lib: lib.AvgPool2d(2), (2, 3, 6, 8)),
    ("AvgPool2d-strided", lambda lib: lib.AvgPool2d(3, stride=2, padding=1), (2, 3, 7, 6)),
    ("AdaptiveAvgPool2d", lambda lib: lib.AdaptiveAvgPool2d(1), (2, 3, 5, 7)),
    ("Flatten", lambda lib: lib.Flatten(), (2, 3, 4, 5)),
    ("Flatten-dims", lambda lib: lib.Flatten(0, 2), (2, 3, 4, 5)),
    ("Identity", lambda lib: lib.Identity(), (2, 3)),
    ("Dropout-eval", lambda lib: lib.Dropout(0.3).eval(), (4, 5)),
]


@pytest.mark.parametrize("name, make, shape", LAYER_CASES, ids=[case[0] for case in LAYER_CASES])
def test_layer_forward_matches_torch(name, make, shape):
    torch = torch_module()
    x = np.random.default_rng(0).standard_normal(shape)
    assert_same_forward(make(nn), make(torch.nn), x)


BN_CASES = [
    ("BatchNorm1d-2D", lambda lib, **kw: lib.BatchNorm1d(4, **kw), (8, 4)),
    ("BatchNorm1d-3D", lambda lib, **kw: lib.BatchNorm1d(4, **kw), (5, 4, 3)),
    ("BatchNorm2d", lambda lib, **kw: lib.BatchNorm2d(3, **kw), (4, 3, 5, 2)),
]
BN_OPTIONS = [{}, {"momentum": None}, {"momentum": 0.3, "eps": 1e-3}, {"affine": False},
              {"track_running_stats": False}, {"affine": False, "track_running_stats": False}]


@pytest.mark.parametrize("options", BN_OPTIONS, ids=lambda options: ",".join(f"{k}={v}" for k, v in options.items())
                         or "default")
@pytest.mark.parametrize("name, make, shape", BN_CASES, ids=[case[0] for case in BN_CASES])
def test_batchnorm_training_then_eval_matches_torch(name, make, shape, options):
    """Several training steps (running stats, num_batches_tracked, momentum None = cumulative average), then eval."""
    torch = torch_module()
    ours, theirs = make(nn, **options).double(), make(torch.nn, **options).double()
    if ours.affine:
        with torch.no_grad():
            theirs.weight.copy_(torch.rand(theirs.weight.shape, dtype=torch.float64) + 0.5)
            theirs.bias.copy_(torch.randn(theirs.bias.shape, dtype=torch.float64))
    copy_torch_into_tg(theirs, ours)
    rng = np.random.default_rng(1)
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step  # batches with different statistics
        np.testing.assert_allclose(ours(Tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                                   atol=1e-10)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-12, err_msg=key)
    ours.eval(), theirs.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(ours(Tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(), atol=1e-10)


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(Tensor(np.zeros((2, 3, 4), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(Tensor(np.zeros((2, 3, 4, 4), dtype=np.float32)))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(Tensor(np.zeros((1, 3), dtype=np.float32)))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm2d(3)(Tensor(np.zeros((1, 3, 1, 1), dtype=np.float32)))
    nn.BatchNorm1d(3).eval()(Tensor(np.zeros((1, 3), dtype=np.float32)))  # fine in eval: running stats are used


def test_dropout_train_and_eval():
    tg.manual_seed(0)
    dropout = nn.Dropout(0.25)
    x = Tensor(np.ones((200, 100), dtype=np.float32))
    y = dropout(x).numpy()
    kept = y != 0
    assert abs(1 - kept.mean() - 0.25) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    np.testing.assert_array_equal(dropout.eval()(x).numpy(), x.numpy())
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("make", [make_sequential, make_nested], ids=["sequential", "nested"])
def test_network_forward_backward_matches_torch(make, device):
    torch = torch_module()
    ours, theirs = make(nn).double(), make(torch.nn).double()
    copy_torch_into_tg(theirs, ours)
    ours.to(device)
    x = np.random.default_rng(2).standard_normal((6, 3, 8, 8))
    for _ in range(2):  # two training steps: running statistics evolve identically
        out_ours, out_theirs = ours(Tensor(x, device=device)), theirs(torch.from_numpy(x))
        np.testing.assert_allclose(out_ours.numpy(), out_theirs.detach().numpy(), atol=1e-10)
        (out_ours * out_ours).sum().backward()
        (out_theirs * out_theirs).sum().backward()
    their_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad.numpy(), their_params[name].grad.numpy(), atol=1e-9, err_msg=name)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-12, err_msg=key)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(Tensor(x, device=device)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                               atol=1e-10)


def test_eval_output_independent_of_the_rest_of_the_batch():
    model = make_nested(nn)
    x = np.random.default_rng(3).standard_normal((5, 3, 8, 8)).astype(np.float32)
    model(Tensor(x))  # one training step, so the running statistics are not the defaults
    model.eval()
    together = model(Tensor(x)).numpy()
    alone = np.concatenate([model(Tensor(x[i:i + 1])).numpy() for i in range(len(x))])
    np.testing.assert_allclose(alone, together, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------------------------------
# repr
# ----------------------------------------------------------------------------------------------------------------
def test_repr_of_sequential():
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), nn.Dropout(0.5), nn.Linear(32, 2))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Conv2d(3, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)\n"
        "  (1): BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  (2): ReLU()\n"
        "  (3): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
        "  (4): Sequential(\n"
        "    (0): AdaptiveAvgPool2d(output_size=1)\n"
        "    (1): Flatten(start_dim=1, end_dim=-1)\n"
        "  )\n"
        "  (5): Dropout(p=0.5, inplace=False)\n"
        "  (6): Linear(in_features=32, out_features=2, bias=True)\n"
        ")")


def test_repr_matches_torch_for_shared_formats():
    torch = torch_module()
    for make in (lambda lib: lib.Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2)), lambda lib: lib.Conv2d(3, 8, 1),
                 lambda lib: lib.Linear(4, 2, bias=False), lambda lib: lib.ReLU(), lambda lib: lib.Flatten(),
                 lambda lib: lib.AdaptiveAvgPool2d(1), lambda lib: lib.AvgPool2d(2), lambda lib: lib.Identity()):
        assert repr(make(nn)) == repr(make(torch.nn))


# ----------------------------------------------------------------------------------------------------------------
# save / load
# ----------------------------------------------------------------------------------------------------------------
def test_save_load_round_trip_nested(tmp_path):
    model = make_nested(nn)
    checkpoint = {
        "model": model.state_dict(),
        "optimizer": {"state": {0: {"momentum_buffer": np.arange(3.0)}}, "param_groups": [{"lr": 0.1, "params": [0]}]},
        "epoch": 7, "arch": "Net", "best": 0.93, "note": None, "shape": (3, 64),
        "file": np.ones(2),  # a name np.savez reserves for itself
    }
    path = tmp_path / "checkpoint.npz"
    serialization.save(checkpoint, path)
    loaded = serialization.load(path)
    assert list(loaded) == list(checkpoint)
    assert list(loaded["model"]) == list(checkpoint["model"])
    for key, value in checkpoint["model"].items():
        assert isinstance(loaded["model"][key], np.ndarray)
        assert loaded["model"][key].dtype == value.dtype
        np.testing.assert_array_equal(loaded["model"][key], value)
    np.testing.assert_array_equal(loaded["optimizer"]["state"][0]["momentum_buffer"], np.arange(3.0))
    assert loaded["optimizer"]["param_groups"] == [{"lr": 0.1, "params": [0]}]
    assert (loaded["epoch"], loaded["arch"], loaded["best"], loaded["note"], loaded["shape"]) == (7, "Net", 0.93,
                                                                                                  None, (3, 64))
    np.testing.assert_array_equal(loaded["file"], np.ones(2))
    fresh = make_nested(nn)
    fresh.load_state_dict(loaded["model"])
    for key, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value, checkpoint["model"][key])
    with np.load(path, allow_pickle=False) as archive:  # readable with NumPy alone, by key path
        assert "model/head.weight" in archive.files


def test_save_and_load_are_exported_at_top_level():
    assert tg.save is serialization.save and tg.load is serialization.load


def test_save_rejects_unsupported_values(tmp_path):
    with pytest.raises(TypeError, match="set"):
        serialization.save({"bad": {1, 2}}, tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.npz"
    serialization.save({"weight": np.ones(3), "epoch": 1}, path)

    def crash_mid_write(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(serialization.np, "savez", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        serialization.save({"weight": np.zeros(3), "epoch": 2}, path)
    monkeypatch.undo()

    def crash_at_rename(source, destination):
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization.os, "replace", crash_at_rename)
    with pytest.raises(KeyboardInterrupt):
        serialization.save({"weight": np.zeros(3), "epoch": 3}, path)
    monkeypatch.undo()

    assert os.listdir(tmp_path) == ["checkpoint.npz"]  # no temporary files left behind
    loaded = serialization.load(path)
    assert loaded["epoch"] == 1 and np.array_equal(loaded["weight"], np.ones(3))


@pytest.mark.parametrize("dangling", [False, True])
def test_save_writes_through_a_symbolic_link(tmp_path, dangling):
    """As torch.save: the link stays a link and its target gets the new contents (even a target not yet there)."""
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "epoch3.npz"
    if not dangling:
        serialization.save({"epoch": 2}, target)
    link = tmp_path / "latest.npz"
    link.symlink_to(os.path.join("runs", "epoch3.npz"))  # relative, as `ln -s` makes them
    serialization.save({"epoch": 3}, link)
    assert link.is_symlink() and os.readlink(link) == os.path.join("runs", "epoch3.npz")
    assert serialization.load(target)["epoch"] == 3
    assert sorted(os.listdir(tmp_path)) == ["latest.npz", "runs"] and os.listdir(tmp_path / "runs") == ["epoch3.npz"]


def test_a_reassigned_parameter_keeps_its_place_in_the_state_dict():
    """Weight tying (`decoder.weight = encoder.weight`) re-assigns a parameter: PyTorch keeps its key where it was,
    so state_dict's keys (and a PyTorch checkpoint loaded by position) keep their order; the tied weight is listed
    under both names."""
    encoder, decoder = nn.Embedding(5, 3), nn.Linear(3, 5)
    decoder.weight = encoder.weight
    assert list(decoder.state_dict()) == ["weight", "bias"]
    assert decoder.weight is encoder.weight
    decoder.bias = nn.Parameter(tg.zeros(5))
    assert list(decoder.state_dict()) == ["weight", "bias"]
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    model[0] = nn.Linear(2, 2)  # a re-assigned child module keeps its place too
    assert list(model.state_dict()) == ["0.weight", "0.bias"]
