"""The cats-vs-dogs recipe tools and pictures (issue 14): --arch resnet, --ema, --mixup, --tta, --recipe,
--progressive, --val-every, the time columns of metrics.csv, and the figures of evaluate and predict.

Each tool is checked for its math on small arrays, then for "runs, saves, resumes, evaluates" on tiny generated
images (as tests/test_faults.py does: 80 PNGs of 20x20 pixels whose colour tells the class), so the file runs in
seconds without the real dataset; one test uses real images from $TINYGRAD_BN_DATA where it is set.
"""
import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import models.catsdogs
import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from models.catsdogs import main
from models.catsdogs_net import CatsDogsResNet, build_model, new_model
from models.checkpoint import load_checkpoint, model_from_checkpoint
from models.figures import most_confidently_wrong
from models.recipes import RECIPES, ModelEMA, mixup
from models.reports import (calibration_bins, expected_calibration_error, log_probabilities, metrics_from_outputs,
                            plot_curves, write_metrics_csv)
from models.training import TrainConfig, saved_config, train, train_size
from models.images import image_loader
from models.images.loader import shrink

DATA = os.environ.get("TINYGRAD_BN_DATA")
QUIET = {"log": lambda line: None, "progress_bar": False}
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """40 cats (reddish) and 40 dogs (greenish), 20x20 noisy PNGs in Kaggle's layout (cat.0.png ...)."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for k, name in enumerate(("cat", "dog")):
        for i in range(40):
            pixels = rng.integers(0, 120, (20, 20, 3), dtype=np.uint8)
            pixels[..., k] += 120
            Image.fromarray(pixels).save(root / f"{name}.{i}.png")
    return root


def tiny_config(data, out, **settings):
    values = dict(data=str(data), out=str(out), epochs=2, batch_size=8, image_size=16, arch="resnet", widths=(4, 8),
                  val_fraction=0.2, workers=0)
    values.update(settings)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def resnet_run(images, tmp_path_factory):
    """A finished tiny run with every recipe tool on: ResNet, EMA, mixup, flip-averaged validation."""
    out = tmp_path_factory.mktemp("resnet_run")
    train(tiny_config(images, out, ema=0.9, mixup=0.4, tta=True, label_smoothing=0.1), **QUIET)
    return out


def straight_and_resumed(images, tmp_path, settings, stop):
    """Train a tiny run straight through, and again stopped (KeyboardInterrupt) at the first step where stop(info)
    is true, then resumed from its last.npz: (the straight run's step losses, the resumed part's, and the two final
    checkpoints)."""
    straight_losses, resumed_losses = [], []
    train(tiny_config(images, tmp_path / "straight", **settings),
          on_step=lambda info: straight_losses.append(info.loss), **QUIET)

    def stop_there(info):
        if stop(info):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(images, tmp_path / "stopped", **settings), on_step=stop_there, **QUIET)
    train(TrainConfig(out=str(tmp_path / "stopped"), resume=str(tmp_path / "stopped" / "last.npz"), workers=0),
          on_step=lambda info: resumed_losses.append(info.loss), **QUIET)
    return (straight_losses, resumed_losses, load_checkpoint(tmp_path / "straight" / "last.npz"),
            load_checkpoint(tmp_path / "stopped" / "last.npz"))


# ---- the ResNet --------------------------------------------------------------------------------------------------

def test_resnet_blocks_have_no_bias_before_bn_and_start_with_a_zero_gamma():
    model = CatsDogsResNet(widths=(4, 8, 16), blocks=2)
    state = model.state_dict()
    assert not [key for key in state if ("conv" in key or "downsample.0" in key) and key.endswith("bias")]
    assert "features.0.bias" not in state  # the stem conv, before its BN
    blocks = [module for module in model.features if hasattr(module, "bn2")]
    assert len(blocks) == 6
    for block in blocks:
        assert np.all(block.bn2.weight.numpy() == 0) and np.all(block.bn1.weight.numpy() == 1)
    # a projection shortcut where the width or the size changes, and only there
    assert [block.downsample is not None for block in blocks] == [False, False, True, False, True, False]
    assert model(tg.Tensor(np.zeros((2, 3, 20, 20), np.float32))).shape == (2, 2)


def test_resnet_architecture_round_trip():
    model = new_model("resnet", widths=(4, 8), blocks=2, num_classes=3)
    rebuilt = build_model(model.architecture())
    assert isinstance(rebuilt, CatsDogsResNet) and rebuilt.architecture() == model.architecture()
    assert list(rebuilt.state_dict()) == list(model.state_dict())
    assert type(build_model(new_model("vgg", widths=(4, "M", 8)).architecture())).__name__ == "CatsDogsNet"
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model({"name": "Transformer"})


def torch_resnet_twin(torch, widths, blocks):
    """The same network written in PyTorch in torchvision's style: the state_dict keys must be identical."""
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, in_channels, channels, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)
            self.downsample = None
            if stride != 1 or in_channels != channels:
                self.downsample = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride, bias=False),
                                                nn.BatchNorm2d(channels))

        def forward(self, x):
            shortcut = x if self.downsample is None else self.downsample(x)
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + shortcut)

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            layers = [nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()]
            channels = widths[0]
            for stage, width in enumerate(widths):
                for block in range(blocks):
                    layers.append(Block(channels, width, 2 if stage > 0 and block == 0 else 1))
                    channels = width
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 2))

        def forward(self, x):
            return self.classifier(self.features(x))

    return Twin()


def test_resnet_matches_a_pytorch_twin_in_gradients_and_logits():
    torch = pytest.importorskip("torch")
    tg.manual_seed(0)
    model = CatsDogsResNet(widths=(4, 8, 8), blocks=1)
    for module in model.modules():  # non-zero gammas, so that every path counts
        if hasattr(module, "running_var"):
            module.weight.array[...] = np.random.default_rng(1).uniform(0.5, 1.5, module.weight.shape)
    twin = torch_resnet_twin(torch, (4, 8, 8), 1)
    assert list(model.state_dict()) == list(twin.state_dict())
    twin.load_state_dict({key: torch.from_numpy(value) for key, value in model.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 3, 15, 15)).astype(np.float32)  # odd: stride-2 rounding
    labels = np.array([0, 1, 1, 0])
    # one training-mode step's gradients (the running statistics move too)
    F.cross_entropy(model(tg.Tensor(x * 2 + 1)), tg.Tensor(labels)).backward()
    torch.nn.functional.cross_entropy(twin(torch.from_numpy(x * 2 + 1)), torch.from_numpy(labels)).backward()
    twin_parameters = dict(twin.named_parameters())
    for name, parameter in model.named_parameters():
        np.testing.assert_allclose(parameter.grad.numpy(), twin_parameters[name].grad.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=name)
    model.eval()
    twin.eval()
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(tg.Tensor(x)).numpy(), expected, rtol=1e-4, atol=1e-5)


# ---- EMA, mixup, flip averaging: the math ------------------------------------------------------------------------

def test_ema_follows_pytorchs_averaged_model():
    tg.manual_seed(0)
    model = new_model("vgg", widths=(4, "M", 4))
    ema = ModelEMA(model, decay=0.9)
    weights = []
    for step in range(3):
        for tensor in list(model.parameters()) + list(model.buffers()):
            if tensor.array.dtype.kind == "f":
                tensor.array += 1.0
            else:
                tensor.array += 1  # num_batches_tracked
        weights.append(model.state_dict())
        ema.update(model)
    averaged = ema.model.state_dict()
    for key, value in averaged.items():
        if value.dtype.kind == "f":  # the first update copies, then average = 0.9 average + 0.1 current
            expected = weights[0][key]
            for later in weights[1:]:
                expected = 0.9 * expected + 0.1 * later[key]
            np.testing.assert_allclose(value, expected, rtol=1e-6, err_msg=key)
        else:
            np.testing.assert_array_equal(value, weights[-1][key], err_msg=key)
    assert not ema.model.training and not any(p.requires_grad for p in ema.model.parameters())


def test_mixup_blends_images_and_is_reproducible():
    x = np.random.default_rng(0).standard_normal((6, 3, 4, 4)).astype(np.float32)
    labels = tg.Tensor(np.array([0, 1, 0, 1, 1, 0]))
    mixed, partner_labels, lam = mixup(tg.Tensor(x), labels, 0.4, np.random.default_rng(3))
    again, _, lam_again = mixup(tg.Tensor(x), labels, 0.4, np.random.default_rng(3))
    assert 0 <= lam <= 1 and lam == lam_again and np.array_equal(mixed.numpy(), again.numpy())
    assert mixed.dtype == np.float32 and partner_labels.dtype == np.int64
    partner = np.random.default_rng(3)
    partner.beta(0.4, 0.4)
    order = partner.permutation(6)
    np.testing.assert_allclose(mixed.numpy(), lam * x + (1 - lam) * x[order], rtol=1e-6)
    np.testing.assert_array_equal(partner_labels.numpy(), labels.numpy()[order])


def test_tta_averages_the_probabilities_of_the_image_and_its_mirror():
    tg.manual_seed(0)
    model = new_model("vgg", widths=(4, "M", 4)).eval()
    x = np.random.default_rng(0).standard_normal((3, 3, 8, 8)).astype(np.float32)
    with tg.no_grad():
        p = model(tg.Tensor(x)).softmax(dim=1).numpy()
        q = model(tg.Tensor(x[..., ::-1].copy())).softmax(dim=1).numpy()
        averaged = np.exp(log_probabilities(model, tg.Tensor(x), tta=True))
        plain = np.exp(log_probabilities(model, tg.Tensor(x)))
    np.testing.assert_allclose(averaged, (p + q) / 2, rtol=1e-5)
    np.testing.assert_allclose(plain, p, rtol=1e-5)


def test_calibration_bins_and_the_expected_calibration_error():
    confidence = np.array([0.52, 0.58, 0.95, 0.97, 1.0])
    correct = np.array([True, False, True, True, False])
    edges, count, mean_confidence, accuracy = calibration_bins(confidence, correct, num_classes=2, bins=5)
    np.testing.assert_allclose(edges, [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert count.tolist() == [2, 0, 0, 0, 3]  # a confidence of exactly 1 goes in the last bin
    np.testing.assert_allclose(mean_confidence[[0, 4]], [0.55, (0.95 + 0.97 + 1.0) / 3])
    np.testing.assert_allclose(accuracy[[0, 4]], [0.5, 2 / 3])
    expected = (2 * abs(0.5 - 0.55) + 3 * abs(2 / 3 - 2.92 / 3)) / 5
    assert expected_calibration_error(confidence, correct, 2, bins=5) == pytest.approx(expected)


def test_metrics_from_outputs_and_the_most_confident_mistakes():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.95, 0.05]])
    labels = np.array([0, 1, 1, 0, 1])
    metrics = metrics_from_outputs(np.log(probabilities), labels, ["cat", "dog"])
    assert metrics["n"] == 5 and metrics["accuracy"] == pytest.approx(0.4)
    assert metrics["confusion"] == [[1, 1], [2, 1]]
    assert metrics["loss"] == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.4, 0.3, 0.05])))
    assert 0 <= metrics["ece"] <= 1
    assert most_confidently_wrong(probabilities, labels).tolist() == [4, 3, 2]
    assert most_confidently_wrong(probabilities, labels, count=1).tolist() == [4]


# ---- time in the metrics -----------------------------------------------------------------------------------------

def test_metrics_csv_has_the_elapsed_time_and_the_plot_a_time_axis(tmp_path):
    history = [{"epoch": e, "train_loss": 1.0 / e, "train_accuracy": 0.5 + e / 10, "val_loss": None,
                "val_accuracy": None, "lr": 0.1, "seconds": 30.0 * e, "images_per_s": 70.0} for e in (1, 2, 3)]
    write_metrics_csv(tmp_path / "metrics.csv", history)
    with open(tmp_path / "metrics.csv") as file:
        rows = list(csv.DictReader(file))
    assert [float(row["elapsed_seconds"]) for row in rows] == [30.0, 90.0, 180.0]
    assert [float(row["images_per_s"]) for row in rows] == [70.0] * 3
    plot_curves(tmp_path / "curves.png", history)
    assert (tmp_path / "curves.png").read_bytes()[:8] == PNG


# ---- progressive resizing and validation every N epochs -------------------------------------------------------

def test_progressive_sizes_go_in_a_straight_line_to_the_image_size():
    config = TrainConfig(epochs=4, image_size=60, progressive=40)
    assert [train_size(config, epoch) for epoch in range(4)] == [40, 47, 53, 60]
    # off: 0 or None, or a start at or above the image size (the default 40 with small test images)
    assert [train_size(TrainConfig(epochs=3, image_size=60, progressive=p), 0) for p in (None, 0, 60, 70)] == [60] * 4
    assert TrainConfig().progressive == 40 and train_size(TrainConfig(epochs=3, image_size=32), 0) == 32
    assert train_size(TrainConfig(epochs=1, image_size=60, progressive=40), 0) == 60  # one epoch: the full size


def test_shrink_averages_instead_of_picking_pixels():
    checkerboard = (np.indices((16, 16)).sum(axis=0) % 2 * 255).astype(np.uint8)
    image = np.repeat(checkerboard[..., None], 3, axis=2)
    small = shrink(image, 8)
    assert small.shape == (8, 8, 3) and small.dtype == np.uint8
    assert np.all(np.abs(small.astype(int) - 128) <= 4)  # picking pixels would give 0s and 255s
    flat = np.full((16, 16, 3), 77, np.uint8)
    assert np.all(shrink(flat, 5) == 77)


def test_loader_resize_to_shrinks_the_same_crops():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 12, 12, 3), dtype=np.uint8)
    common = dict(image_size=10, shuffle=True, augment=True, seed=3, workers=0)
    full = image_loader(images, np.zeros(6), 3, **common)
    small = image_loader(images, np.zeros(6), 3, resize_to=7, **common)
    for loader in (full, small):
        loader.batch_sampler.set_epoch(1)
    for (big, _), (little, _) in zip(full, small):
        big, little = big.numpy(), little.numpy()
        assert little.shape == (3, 3, 7, 7)
        # undo the normalisation (mean 0, std 1: x = pixel / 255), shrink the full-size crops, compare
        crops = np.rint(big * 255).astype(np.uint8).transpose(0, 2, 3, 1)
        expected = np.stack([shrink(crop, 7) for crop in crops]).transpose(0, 3, 1, 2) / np.float32(255)
        np.testing.assert_allclose(little, expected, atol=1e-6)
    with pytest.raises(ValueError, match="resize_to must be between 1 and image_size 10, got 11"):
        next(iter(image_loader(images, np.zeros(6), 3, image_size=10, resize_to=11, workers=0)))


def test_progressive_run_records_its_sizes_validates_every_2nd_epoch_and_resumes_bitwise(images, tmp_path):
    settings = dict(arch="vgg", widths=(4, "M", 8), epochs=3, image_size=16, progressive=10, val_every=2)
    straight_losses, resumed_losses, straight, resumed = straight_and_resumed(
        images, tmp_path, settings, stop=lambda info: info.epoch == 1 and info.step == 2)
    history = straight["progress"]["history"]
    assert [row["image_size"] for row in history] == [10, 13, 16]
    assert [row["val_accuracy"] is not None for row in history] == [False, True, True]  # epoch 2, and the last
    with open(tmp_path / "straight" / "metrics.csv") as file:
        assert [row["image_size"] for row in csv.DictReader(file)] == ["10", "13", "16"]
    assert straight["image_size"] == 16  # what evaluate and predict use
    assert resumed_losses == straight_losses[-len(resumed_losses):] and len(resumed_losses) < len(straight_losses)
    for key, value in straight["model"].items():
        np.testing.assert_array_equal(resumed["model"][key], value, err_msg=key)


def test_a_checkpoint_from_before_progressive_resizing_resumes_without_it(resnet_run):
    checkpoint = load_checkpoint(resnet_run / "last.npz")
    del checkpoint["config"]["progressive"], checkpoint["config"]["val_every"]
    config = saved_config(checkpoint)
    assert config.progressive is None and config.val_every == 1 and config.arch == "resnet"


# ---- runs, saves, resumes, evaluates -----------------------------------------------------------------------------

def test_a_run_with_every_tool_saves_the_average_and_the_trained_weights(resnet_run):
    checkpoint = load_checkpoint(resnet_run / "last.npz")
    assert checkpoint["architecture"] == {"name": "CatsDogsResNet", "bn": True, "widths": [4, 8], "blocks": 1,
                                          "num_classes": 2}
    config = checkpoint["config"]
    assert (config["arch"], config["ema"], config["mixup"], config["tta"]) == ("resnet", 0.9, 0.4, True)
    assert set(checkpoint["model"]) == set(checkpoint["training_model"])
    assert any(not np.array_equal(checkpoint["model"][key], checkpoint["training_model"][key])
               for key in checkpoint["model"])  # the average lags the trained weights
    model = model_from_checkpoint(checkpoint)  # what evaluate, predict and export use: the average
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, checkpoint["model"][key])
    history = checkpoint["progress"]["history"]
    assert len(history) == 2 and all(0 <= row["train_accuracy"] <= 1 for row in history)
    with open(resnet_run / "metrics.csv") as file:
        rows = list(csv.DictReader(file))
    assert float(rows[1]["elapsed_seconds"]) == pytest.approx(history[0]["seconds"] + history[1]["seconds"])


def test_resume_with_ema_and_mixup_continues_bitwise(images, tmp_path):
    straight_losses, resumed_losses, straight, resumed = straight_and_resumed(
        images, tmp_path, dict(epochs=2, ema=0.8, mixup=0.3), stop=lambda info: info.step == 3)
    assert resumed_losses == straight_losses[3:]
    for entry in ("model", "training_model"):
        for key, value in straight[entry].items():
            np.testing.assert_array_equal(resumed[entry][key], value, err_msg=f"{entry}/{key}")


def test_evaluate_writes_the_figures_and_says_where(resnet_run, images, tmp_path, capsys):
    assert main(["evaluate", "--checkpoint", str(resnet_run), "--data", str(images), "--figures",
                 str(tmp_path / "figures")]) == 0
    out = capsys.readouterr().out
    assert "each averaged with its mirror image (--tta)" in out  # the run validated with --tta: evaluate does too
    assert "expected calibration error" in out and "figures: " in out
    for name in ("mistakes-val.png", "calibration-val.png"):
        assert (tmp_path / "figures" / name).read_bytes()[:8] == PNG and str(tmp_path / "figures" / name) in out

    assert main(["evaluate", "--checkpoint", str(resnet_run / "best.npz"), "--data", str(images), "--json",
                 "--no-tta", "--split", "all"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tta"] is False and result["n"] == 80 and 0 <= result["ece"] <= 1
    assert result["figures"]["calibration"] == str(resnet_run / "calibration-all.png")  # default: the run folder
    assert (resnet_run / "mistakes-all.png").is_file()
    assert result["figures"]["mistakes_total"] == round((1 - result["accuracy"]) * 80)

    assert main(["evaluate", "--checkpoint", str(resnet_run), "--data", str(images), "--no-figures",
                 "--figures", str(tmp_path / "none")]) == 0
    assert "figures:" not in capsys.readouterr().out and not (tmp_path / "none").exists()


def test_evaluate_says_when_the_figures_cannot_be_written(resnet_run, images, tmp_path, capsys):
    (tmp_path / "a_file").write_text("not a folder")
    code = main(["evaluate", "--checkpoint", str(resnet_run), "--data", str(images), "--figures",
                 str(tmp_path / "a_file" / "figures")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "cannot write the figures into" in err[-1] and "--no-figures" in err[-1]


def test_predict_with_tta_and_a_grid_of_the_first_images(resnet_run, images, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(models.catsdogs, "GRID_MAX_IMAGES", 4)
    photos = sorted(images.glob("*.png"))[::8]
    grid = tmp_path / "out" / "grid.png"
    assert main(["predict", "--checkpoint", str(resnet_run), *map(str, photos), "--tta", "--grid", str(grid)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 10
    assert grid.read_bytes()[:8] == PNG and f"wrote {grid}: 4 labelled images (the first 4 of 10)" in captured.err


def test_export_rebuilds_the_resnet_from_the_checkpoint(resnet_run, tmp_path, capsys):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    assert main(["export", "--checkpoint", str(resnet_run), "--onnx", str(tmp_path / "resnet.onnx")]) == 0
    checkpoint = load_checkpoint(resnet_run)
    pixels = np.random.default_rng(0).integers(0, 256, (3, 3, 16, 16)).astype(np.float32)
    mean, std = checkpoint["mean"].reshape(1, 3, 1, 1), checkpoint["std"].reshape(1, 3, 1, 1)
    with tg.no_grad():
        expected = model_from_checkpoint(checkpoint)(tg.Tensor(((pixels / 255 - mean) / std).astype(np.float32)))
    session = ort.InferenceSession(str(tmp_path / "resnet.onnx"), providers=["CPUExecutionProvider"])
    logits = session.run(["logits"], {"image": pixels})[0]
    np.testing.assert_allclose(logits, expected.numpy(), rtol=1e-4, atol=1e-4)


# ---- the flags ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("recipe", ["strong", "long"])
def test_a_recipe_sets_its_values_and_flags_override_them(recipe, images, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--recipe", recipe, "--data", str(images), "--out", str(out), "--epochs", "1",
                 "--widths", "4,M,8", "--image-size", "16", "--progressive", "12", "--batch-size", "8",
                 "--workers", "0"]) == 0
    config = load_checkpoint(out / "last.npz")["config"]
    given = {"epochs": 1, "progressive": 12}
    for name, value in RECIPES[recipe].items():
        assert config[name] == given.get(name, value), name
    assert config["recipe"] == recipe and list(config["widths"]) == [4, "M", 8]
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(out), "--label-smoothing", "0.3"]) == 0
    assert ("--label-smoothing 0.3 ignored: a resumed run keeps its own label_smoothing (0.1)"
            in capsys.readouterr().err)


@pytest.mark.parametrize("flags, message", [
    (["--arch", "resnet", "--widths", "8,M,16"], "--widths must be positive numbers of channels with --arch resnet"),
    (["--arch", "resnet", "--no-bn"], "--arch resnet needs BatchNorm"),
    (["--blocks", "2"], "--blocks applies to --arch resnet only"),
    (["--arch", "resnet", "--blocks", "0"], "--blocks must be at least 1"),
    (["--ema", "1.5"], "--ema must be a decay between 0 and 1"),
    (["--ema", "0"], "--ema must be a decay between 0 and 1"),
    (["--mixup", "-1"], "--mixup must be in [0, inf)"),
    (["--mixup", "nan"], "--mixup must be in [0, inf)"),
    (["--recipe", "strong", "--image-size", "4"], "--image-size must be at least 8"),
    (["--progressive", "4"], "--progressive must be a start size of at least 8 (0: off), got 4"),
    (["--val-every", "0"], "--val-every must be at least 1"),
])
def test_bad_recipe_flags_stop_at_once(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--data", str(tmp_path / "not_read"), "--out", str(tmp_path / "run"), *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and message in err[-1], err
    assert not (tmp_path / "run").exists()


# ---- on real images ----------------------------------------------------------------------------------------------

@pytest.mark.skipif(not DATA, reason="TINYGRAD_BN_DATA is not set")
def test_real_images_resnet_run_and_the_pictures(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", DATA, "--out", str(out), "--limit", "120", "--epochs", "1", "--val-fraction",
                 "0.25", "--ema", "0.9", "--arch", "resnet", "--widths", "4,8", "--image-size", "32",
                 "--batch-size", "16"]) == 0
    assert main(["evaluate", "--checkpoint", str(out), "--data", DATA, "--tta"]) == 0
    assert "split 'val': 30 images" in capsys.readouterr().out
    photos = tmp_path / "photos"
    photos.mkdir()
    for path in sorted(Path(DATA).glob("dog.*.jpg"))[:3]:
        (photos / path.name).write_bytes(path.read_bytes())
    Image.new("RGB", (50, 30), (200, 60, 20)).save(photos / "plain.png")
    assert main(["predict", "--checkpoint", str(out), str(photos), "--grid", str(tmp_path / "grid.png")]) == 0
    for path in (out / "mistakes-val.png", out / "calibration-val.png", out / "curves.png", tmp_path / "grid.png"):
        assert path.read_bytes()[:8] == PNG, path
