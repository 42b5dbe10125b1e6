"""ONNX export: ONNX Runtime must compute what tinygrad_bn computes (max abs difference <= 1e-4), and what cannot be
exported must say what and where. Skipped, with the reason shown, where onnx or onnxruntime is not installed."""
import sys

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
import tinygrad_bn.nn.functional as F
from models.catsdogs_net import CatsDogsNet

onnx = pytest.importorskip("onnx", reason="ONNX export tests need onnx: pip install -e \".[onnx]\"")
ort = pytest.importorskip("onnxruntime", reason="ONNX export tests need onnxruntime: pip install -e \".[onnx]\"")
from tinygrad_bn.onnx import ExportError, export  # noqa: E402 (after the skip: it needs onnx)

TOLERANCE = 1e-4


def randomize_bn_statistics(model, seed=0):
    """Running statistics away from (0, 1), so that an exporter that ignored them would be caught."""
    rng = np.random.default_rng(seed)
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            module.running_mean.array[...] = rng.normal(0, 0.5, module.num_features)
            module.running_var.array[...] = rng.uniform(0.5, 2.0, module.num_features)
            module.weight.array[...] = rng.uniform(0.5, 1.5, module.num_features)
            module.bias.array[...] = rng.normal(0, 0.2, module.num_features)
    return model


def run_onnx(path, *inputs):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {spec.name: value for spec, value in zip(session.get_inputs(), inputs)}
    return session.run(None, feeds)


def max_difference(model, path, x):
    expected = model(tg.Tensor(x)).numpy()
    (actual,) = run_onnx(path, x)
    assert actual.shape == expected.shape
    return float(np.abs(actual - expected).max())


class BasicBlock(nn.Module):
    """ResNet's basic block: two conv-BN, a shortcut (1x1 conv when the shape changes), relu(out + shortcut)."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return (out + self.shortcut(x)).relu()


class TinyResNet(nn.Module):
    """A stem, two residual stages, a concatenation of two pooled views, and a head with dropout."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.layer1 = BasicBlock(8, 8)
        self.layer2 = BasicBlock(8, 16, stride=2)
        self.pool = nn.AvgPool2d(3, stride=2, padding=1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(32, 10), nn.BatchNorm1d(10), nn.ReLU(),
                                  nn.Linear(10, 3))

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        x = self.pool(x)
        both = tg.cat([F.adaptive_avg_pool2d(x, 1), F.max_pool2d(x, 4)], dim=1)  # (N, 32, 1, 1)
        return self.head(both) * 0.5 + 1


def test_catsdogs_net_matches_onnxruntime(tmp_path):
    tg.manual_seed(0)
    model = randomize_bn_statistics(CatsDogsNet()).eval()
    x = np.random.default_rng(1).normal(size=(4, 3, 32, 32)).astype(np.float32)
    export(model, tg.Tensor(x[:1]), tmp_path / "catsdogs.onnx")
    assert max_difference(model, tmp_path / "catsdogs.onnx", x) <= TOLERANCE  # batch 4 from a batch-1 trace


def test_resnet_style_net_matches_onnxruntime(tmp_path):
    tg.manual_seed(0)
    model = randomize_bn_statistics(TinyResNet())
    model.train()  # export traces in eval mode and gives the model its mode back
    x = np.random.default_rng(2).normal(size=(3, 3, 16, 16)).astype(np.float32)
    proto = export(model, tg.Tensor(x), tmp_path / "resnet.onnx", metadata={"classes": "a,b,c"})
    assert model.training and model.layer1.bn1.training
    assert max_difference(model.eval(), tmp_path / "resnet.onnx", x) <= TOLERANCE
    ops = {node.op_type for node in proto.graph.node}
    assert {"Conv", "BatchNormalization", "Add", "Concat", "AveragePool", "MaxPool", "GlobalAveragePool",
            "Gemm"} <= ops
    assert "layer1.conv1.weight" in {init.name for init in proto.graph.initializer}  # PyTorch's names
    assert {p.key: p.value for p in proto.metadata_props} == {"classes": "a,b,c"}


def test_conv_options_and_other_layers(tmp_path):
    model = nn.Sequential(nn.Conv2d(4, 6, (3, 1), stride=(2, 1), padding=(1, 0)), nn.ReLU(),
                          nn.MaxPool2d(3, stride=1, padding=1), nn.Flatten(), nn.Linear(6 * 4 * 7, 5))
    x = np.random.default_rng(3).normal(size=(2, 4, 8, 7)).astype(np.float32)
    export(model, tg.Tensor(x), tmp_path / "m.onnx", opset=13)
    assert max_difference(model, tmp_path / "m.onnx", x) <= TOLERANCE


def test_conv_groups_and_dilation(tmp_path):
    try:
        conv = nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2)
    except TypeError:
        pytest.skip("nn.Conv2d has no groups/dilation in this version")
    x = np.random.default_rng(6).normal(size=(2, 4, 11, 9)).astype(np.float32)
    export(conv, tg.Tensor(x), tmp_path / "conv.onnx")
    assert max_difference(conv, tmp_path / "conv.onnx", x) <= TOLERANCE


def test_conv_converter_reads_groups_and_dilation(tmp_path, monkeypatch):
    """Until nn.Conv2d has them, PyTorch's conv2d stands in for F.conv2d to check the converter's attributes."""
    from conftest import import_torch

    torch = import_torch()

    def torch_conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        out = torch.nn.functional.conv2d(torch.tensor(input.numpy()), torch.tensor(weight.numpy()), None, stride,
                                         padding, dilation, groups)
        return tg.Tensor(out.numpy())
    monkeypatch.setattr(F, "conv2d", torch_conv2d)

    class GroupedConv(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(tg.randn(6, 2, 3, 3))

        def forward(self, x):
            return F.conv2d(x, self.weight, None, (2, 1), (2, 1), (2, 1), 2)

    model = GroupedConv()
    x = np.random.default_rng(6).normal(size=(2, 4, 11, 9)).astype(np.float32)
    export(model, tg.Tensor(x), tmp_path / "conv.onnx")
    assert max_difference(model, tmp_path / "conv.onnx", x) <= TOLERANCE


ACTIVATIONS = [("Sigmoid", ()), ("Tanh", ()), ("LeakyReLU", (0.2,)), ("ELU", ()), ("GELU", ()), ("SiLU", ()),
               ("ReLU6", ()), ("Hardtanh", ()), ("Softmax", (1,))]


@pytest.mark.parametrize("name, args", ACTIVATIONS, ids=[name for name, _ in ACTIVATIONS])
def test_activation_modules_that_exist(tmp_path, name, args):
    if not hasattr(nn, name):
        pytest.skip(f"nn.{name} does not exist in this version")
    model = nn.Sequential(nn.Linear(6, 6), getattr(nn, name)(*args))
    x = np.random.default_rng(4).normal(size=(5, 6)).astype(np.float32) * 3
    export(model, tg.Tensor(x), tmp_path / "a.onnx")
    assert max_difference(model, tmp_path / "a.onnx", x) <= TOLERANCE


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 3)

    def forward(self, x):
        return self.linear(x).exp()


def test_unsupported_op_names_the_op_and_the_module(tmp_path):
    model = nn.Sequential(nn.Linear(3, 3), Unsupported())
    with pytest.raises(ExportError, match=r"module '1' \(Unsupported\).*Exp"):
        export(model, tg.randn(2, 3), tmp_path / "x.onnx")
    assert not list(tmp_path.iterdir())  # no file, not even a temporary one


def test_batch_statistics_are_refused(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, track_running_stats=False))
    with pytest.raises(ExportError, match="batch statistics"):
        export(model, tg.randn(2, 3, 8, 8), tmp_path / "x.onnx")


class TensorOps(nn.Module):
    """Tensor methods and functions between layers, as hand-written forwards use them."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.linear = nn.Linear(4 * 6 * 6, 6)

    def forward(self, x):
        y = self.conv(x)
        gate = y.mean(dim=(2, 3), keepdim=True).sigmoid()
        y = (y * gate - 0.1) / 2 + y.tanh()
        y = F.avg_pool2d(y, 2).view(y.shape[0], -1)
        z = self.linear(y)
        return tg.cat([z.softmax(1), F.log_softmax(z, dim=1), 1 - z.mean(1, keepdim=True)], dim=1)


def test_tensor_ops_in_a_custom_forward(tmp_path):
    tg.manual_seed(0)
    model = TensorOps()
    x = np.random.default_rng(5).normal(size=(2, 3, 12, 12)).astype(np.float32)
    for opset in (17, 18):  # ReduceMean changed its form at 18
        export(model, tg.Tensor(x[:1]), tmp_path / f"ops{opset}.onnx", opset=opset)
        assert max_difference(model, tmp_path / f"ops{opset}.onnx", x) <= TOLERANCE


# --------------------------------------------------------------------------------------------------------------------
# `catsdogs export`: the checkpoint's model with its normalisation inside, fed raw 0..255 RGB
# --------------------------------------------------------------------------------------------------------------------
def fake_checkpoint(path, image_size=24, widths=(4, "M", 8)):
    """A checkpoint as train writes it, with random weights and BN statistics (no training needed)."""
    from dataclasses import asdict

    import tinygrad_bn.optim as optim
    from models.checkpoint import checkpoint_contents
    from models.training import Progress, TrainConfig

    tg.manual_seed(0)
    net = randomize_bn_statistics(CatsDogsNet(widths=widths))
    # every entry is checked when a checkpoint is loaded (issue 24): the program's own function writes them all
    config = TrainConfig(data="/elsewhere", widths=widths, image_size=image_size, schedule="constant", epochs=1)
    tg.save(checkpoint_contents(net, optim.SGD(net.parameters(), lr=0.1), None, asdict(config),
                                asdict(Progress(epoch=1, history=[])), ["cat", "dog"],
                                np.array([0.49, 0.45, 0.41], np.float32), np.array([0.25, 0.24, 0.26], np.float32),
                                0), path)
    return path


def test_export_command_bakes_in_the_normalisation(tmp_path, capsys):
    from models.catsdogs import main
    from models.checkpoint import load_checkpoint, model_from_checkpoint
    from models.images import image_loader

    checkpoint_path = fake_checkpoint(tmp_path / "best.npz")
    assert main(["export", "--checkpoint", str(checkpoint_path), "--onnx", str(tmp_path / "cd.onnx")]) == 0
    assert "wrote" in capsys.readouterr().out
    checkpoint = load_checkpoint(checkpoint_path)
    pixels = np.random.default_rng(7).integers(0, 256, size=(5, 24, 24, 3), dtype=np.uint8)
    # tinygrad_bn's own path: the image loader normalises, as evaluate and predict do
    loader = image_loader(pixels, np.zeros(5, np.int64), 5, image_size=24, mean=checkpoint["mean"],
                          std=checkpoint["std"], workers=0)
    expected = model_from_checkpoint(checkpoint)(next(iter(loader))[0]).numpy()
    logits, probabilities = run_onnx(tmp_path / "cd.onnx", pixels.transpose(0, 3, 1, 2).astype(np.float32))
    assert np.abs(logits - expected).max() <= TOLERANCE
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-6)
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "cd.onnx")).metadata_props}
    assert meta["classes"] == '["cat", "dog"]' and meta["image_size"] == "24" and "0..255" in meta["input"]


def test_export_command_reports_a_bad_checkpoint(tmp_path, capsys):
    from models.catsdogs import main

    (tmp_path / "x.npz").write_bytes(b"not a checkpoint")
    assert main(["export", "--checkpoint", str(tmp_path / "x.npz"), "--onnx", str(tmp_path / "x.onnx")]) == 2
    assert "x.npz" in capsys.readouterr().err and not (tmp_path / "x.onnx").exists()


def test_export_command_without_onnx_says_how_to_install(tmp_path, monkeypatch, capsys):
    from models.catsdogs import main

    monkeypatch.setitem(sys.modules, "onnx", None)  # what `import onnx` sees where it is not installed
    checkpoint_path = fake_checkpoint(tmp_path / "best.npz")
    assert main(["export", "--checkpoint", str(checkpoint_path), "--onnx", str(tmp_path / "x.onnx")]) == 2
    assert "pip install onnx" in capsys.readouterr().err
