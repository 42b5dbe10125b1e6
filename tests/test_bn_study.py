"""The BN study (models/bn_study/): its networks, its measurements on tiny nets against their definitions written
out by hand, the cells and their cache keys, the cache's atomic writes, and the quick mode end to end with a report
whose every number is one of results.json's.

The end-to-end test needs the real images in $TINYGRAD_BN_DATA and is skipped, with the reason shown, without them.
"""
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from models.bn_study import measures
from models.bn_study.cells import (
    FULL,
    QUICK,
    STUDY_VERSION,
    Cell,
    confidence_interval,
    plan,
    unique_cells,
)
from models.bn_study.measures import (
    batch_statistics_noise,
    forward_with_batch_statistics,
    internal_covariate_shift,
    kept_buffers,
    per_image_channel_moments,
    smoothness_along_gradient,
)
from models.bn_study.nets import (
    NoisyBatchNorm2d,
    layer_groups,
    study_net,
    weight_layers,
)
from models.bn_study.report import (
    TABLES,
    VIEWS,
    cell_text,
    format_number,
    gap_at_training_loss,
    mean_bn_scale,
    paired_comparisons,
    refresh_tables,
    run_metrics,
    summarize,
    unmatched_bold_numbers,
    view_rows,
)
from models.bn_study.runner import (
    RunStore,
    finite_state,
    grayscale,
    recalibrate_statistics,
    set_training_mode,
)
from models.catsdogs_net import CatsDogsNet
from tinygrad_bn import nn

DATA = os.environ.get("TINYGRAD_BN_DATA")
TINY = (4, "M", 6)  # two conv layers and the head: three "layers"


def tiny_batch(seed=0, n=6, size=8):
    rng = np.random.default_rng(seed)
    images = tg.Tensor(rng.standard_normal((n, 3, size, size)).astype(np.float32))
    labels = tg.Tensor(rng.integers(0, 2, n))
    return images, labels


def host_gradients(model, images, labels):
    """Every parameter's gradient of the mean cross-entropy, written out plainly (the reference)."""
    model.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    grads = [param.grad.numpy().astype(np.float64) for param in model.parameters()]
    model.zero_grad()
    return grads


# ---------------------------------------------------------------------------------------------------------------------
# networks
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["bn", "none"])
def test_study_net_is_catsdogsnet_weight_for_weight(norm):
    tg.manual_seed(3)
    ours = study_net(norm).state_dict()
    tg.manual_seed(3)
    theirs = CatsDogsNet(bn=norm == "bn").state_dict()
    assert list(ours) == list(theirs)
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)


def test_norm_position_bias_and_he_init():
    after = study_net("bn", widths=TINY, norm_position="after_relu")
    kinds = [type(layer).__name__ for layer in after.features]
    assert kinds[:3] == ["Conv2d", "ReLU", "BatchNorm2d"]
    assert after.features[0].bias is not None  # no BN right after the conv: it keeps its bias
    assert study_net("bn", widths=TINY).features[0].bias is None
    assert study_net("bn", widths=TINY, conv_bias=True).features[0].bias is not None
    tg.manual_seed(0)
    he = study_net("none", widths=(64, 64), init="he")
    fan_in = 64 * 9
    assert abs(he.features[2].weight.numpy().std() - math.sqrt(2 / fan_in)) < 0.05 * math.sqrt(2 / fan_in)
    tg.manual_seed(0)
    scaled = study_net("none", widths=(64, 64), init="he", init_scale=10.0)
    np.testing.assert_allclose(scaled.features[2].weight.numpy(), 10 * he.features[2].weight.numpy(), rtol=1e-6)


def test_shifted_bn_scales_and_shifts_each_channel_without_noise():
    tg.manual_seed(0)
    layer = NoisyBatchNorm2d(8, per_value=False)
    x = tg.Tensor(np.random.default_rng(0).standard_normal((32, 8, 6, 6)).astype(np.float32) * 3 + 2)
    clean = nn.BatchNorm2d(8)(x).numpy()
    shifted = layer(x).numpy()
    for c in range(8):  # an exact affine map of the channel: a scale in [0.5, 1.5] and a shift in [-1, 1]
        scale, shift = np.polyfit(clean[:, c].ravel(), shifted[:, c].ravel(), 1)
        np.testing.assert_allclose(shifted[:, c], scale * clean[:, c] + shift, atol=1e-5)
        assert 0.5 <= scale <= 1.5 and -1 <= shift <= 1
    assert not np.allclose(layer(x).numpy(), shifted)  # drawn anew at every step
    assert study_net("shifted_bn", widths=TINY).features[1].per_value is False
    assert study_net("noisy_bn", widths=TINY).features[1].per_value is True


def test_gn_and_ln_normalize_per_sample():
    images, _ = tiny_batch(n=4)
    for norm in ("gn", "ln"):
        model = study_net(norm, widths=(16,)).eval()
        alone = model(images[:1]).numpy()
        together = model(images).numpy()[:1]
        np.testing.assert_allclose(alone, together, rtol=1e-5, atol=1e-6)  # a sample's output ignores the batch
    assert study_net("gn", widths=(16,)).features[1].num_groups == 2
    assert study_net("ln", widths=(16,)).features[1].num_groups == 1


def test_noisy_bn_shifts_each_channel_in_training_only():
    tg.manual_seed(0)
    layer = NoisyBatchNorm2d(8, mean_range=1.0, std_low=0.5, std_high=1.5)
    x = tg.Tensor(np.random.default_rng(0).standard_normal((32, 8, 6, 6)).astype(np.float32) * 3 + 2)
    clean = nn.BatchNorm2d(8)
    reference = clean(x).numpy()
    clean(x)  # two training steps for each: the same running statistics
    first, second = layer(x).numpy(), layer(x).numpy()
    noise = first - reference
    channel_means = noise.mean(axis=(0, 2, 3))
    channel_stds = noise.std(axis=(0, 2, 3))
    assert np.all(np.abs(channel_means) < 1.0 + 0.1) and np.abs(channel_means).max() > 0.2  # non-zero means
    assert np.all((channel_stds > 0.5 - 0.1) & (channel_stds < 1.5 + 0.1))  # non-unit spread
    assert not np.allclose(first, second)  # a new distribution at every step
    layer.eval()
    clean.eval()
    np.testing.assert_allclose(layer(x).numpy(), clean(x).numpy(), rtol=1e-6)  # eval mode: plain BN
    assert set(layer.state_dict()) == set(nn.BatchNorm2d(8).state_dict())


def test_layer_groups_follow_the_blocks():
    model = study_net("bn", widths=TINY)
    groups = layer_groups(model)
    names = {id(param): name for name, param in model.named_parameters()}
    assert [[names[id(param)] for param in group] for group in groups] == [
        ["features.0.weight", "features.1.weight", "features.1.bias"],
        ["features.4.weight", "features.5.weight", "features.5.bias"],
        ["classifier.2.weight", "classifier.2.bias"]]
    assert [name for name, _ in weight_layers(model)] == ["conv1", "conv2", "fc"]


# ---------------------------------------------------------------------------------------------------------------------
# measurements, against their definitions
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["bn", "none"])
def test_internal_covariate_shift_is_the_papers_definition(norm):
    """G_i at the old weights; G'_i with the layers before i moved to their new weights; ||G - G'|| and cos."""
    tg.manual_seed(1)
    model = study_net(norm, widths=TINY).train()
    images, labels = tiny_batch(1)
    before = [param.numpy().copy() for param in model.parameters()]
    rng = np.random.default_rng(2)
    after = [w + 0.05 * rng.standard_normal(w.shape).astype(np.float32) for w in before]
    buffers = [buffer.numpy().copy() for buffer in model.buffers()]
    rows = internal_covariate_shift(model, before, after, images, labels)

    groups = layer_groups(model)
    params = list(model.parameters())
    position = {id(param): k for k, param in enumerate(params)}
    assert [row["layer"] for row in rows] == ["conv2", "fc"]
    reference_model = study_net(norm, widths=TINY).train()
    reference_model.load_state_dict(model.state_dict())
    G = host_gradients(reference_model, images, labels)
    for i, row in zip((1, 2), rows):
        earlier = {position[id(param)] for group in groups[:i] for param in group}
        for k, param in enumerate(reference_model.parameters()):
            param.array[...] = after[k] if k in earlier else before[k]
        shifted = host_gradients(reference_model, images, labels)
        for k, param in enumerate(reference_model.parameters()):
            param.array[...] = before[k]
        w = position[id(groups[i][0])]
        difference = G[w] - shifted[w]
        assert row["l2"] == pytest.approx(np.sqrt((difference ** 2).sum()), rel=1e-6)
        cos = (G[w] * shifted[w]).sum() / np.sqrt((G[w] ** 2).sum() * (shifted[w] ** 2).sum())
        assert row["cosine"] == pytest.approx(cos, rel=1e-6)
        assert row["l2"] > 0 and row["cosine"] < 1
    for param, value in zip(model.parameters(), before):  # left as found
        np.testing.assert_array_equal(param.numpy(), value)
    for buffer, value in zip(model.buffers(), buffers):
        np.testing.assert_array_equal(buffer.numpy(), value)


def test_no_shift_when_the_earlier_layers_do_not_move():
    tg.manual_seed(1)
    model = study_net("bn", widths=TINY).train()
    images, labels = tiny_batch(1)
    before = [param.numpy().copy() for param in model.parameters()]
    after = [w + 1.0 for w in before]
    after[:3] = before[:3]  # only layer 1 is "earlier" for conv2, and it does not move
    rows = internal_covariate_shift(model, before, after, images, labels)
    assert rows[0]["l2"] == 0 and rows[0]["cosine"] == pytest.approx(1)


def test_smoothness_along_the_gradient_is_the_papers_definition():
    tg.manual_seed(4)
    model = study_net("none", widths=TINY).train()
    images, labels = tiny_batch(3)
    steps = [0.01, 0.1, 1.0]
    start = [param.numpy().copy() for param in model.parameters()]
    result = smoothness_along_gradient(model, images, labels, steps)

    g = host_gradients(model, images, labels)
    g_norm = np.sqrt(sum((x ** 2).sum() for x in g))
    losses, changes = [], []
    for eta in steps:
        for param, w, gradient in zip(model.parameters(), start, g):
            param.array[...] = w - eta * gradient
        with tg.no_grad():
            losses.append(F.cross_entropy(model(images), labels).item())
        moved = host_gradients(model, images, labels)
        changes.append(np.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(g, moved))))
    for param, w in zip(model.parameters(), start):
        param.array[...] = w
    np.testing.assert_allclose(result["losses"], losses, rtol=1e-5)
    np.testing.assert_allclose(result["gradient_changes"], changes, rtol=1e-4)
    assert result["grad_norm"] == pytest.approx(g_norm, rel=1e-6)
    assert result["loss_range"] == pytest.approx(max(losses) - min(losses), rel=1e-5)
    assert result["effective_beta"] == pytest.approx(max(c / (eta * g_norm) for c, eta in zip(changes, steps)),
                                                     rel=1e-4)
    for param, w in zip(model.parameters(), start):
        np.testing.assert_array_equal(param.numpy(), w)


def test_batch_statistics_noise_shrinks_with_the_batch_and_matches_a_direct_count():
    rng = np.random.default_rng(0)
    first = rng.standard_normal((256, 3)) + 5  # per-image channel means
    second = first ** 2 + 1.0  # each image has within-image variance 1
    rows = batch_statistics_noise([(first, second)], [2, 8, 128], batches=200, seed=0)
    errors = [row["mean_error"] for row in rows]
    assert errors[0] > errors[1] > errors[2]
    # the population: mean 5, variance 1 (between images) + 1 (within): a batch of b images' mean strays by about
    # sd(between) / sqrt(b) / sigma = 1 / sqrt(2 b) on average times sqrt(2 / pi) (the mean of a |normal|)
    assert errors[1] == pytest.approx(math.sqrt(2 / math.pi) / math.sqrt(2 * 8), rel=0.2)

    model = study_net("bn", widths=TINY).eval()
    images, _ = tiny_batch(n=5)
    moments = per_image_channel_moments(model, images)
    x = model.features[0](images).numpy()
    np.testing.assert_allclose(moments[0][0], x.mean(axis=(2, 3)), rtol=1e-5, atol=1e-6)
    assert len(moments) == 2 and moments[1][0].shape == (5, 6)


def test_batch_statistics_forward_is_training_mode_bn_and_leaves_running_stats_alone():
    tg.manual_seed(0)
    model = study_net("bn", widths=TINY)
    images, _ = tiny_batch(n=8)
    with tg.no_grad(), kept_buffers(model):
        model.train()(images * 3 + 1)
    model.train()
    with tg.no_grad():
        model(images * 2)  # running statistics away from 0 and 1
    twin = study_net("bn", widths=TINY)
    twin.load_state_dict(model.state_dict())
    before = model.state_dict()
    model.eval()
    with tg.no_grad():
        ours = forward_with_batch_statistics(model, images).numpy()
        running = model(images).numpy()
        expected = twin.train()(images).numpy()
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    assert np.abs(ours - running).max() > 1e-3
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_recalibration_measures_bn_statistics_anew_without_the_noise():
    tg.manual_seed(0)
    noisy = study_net("noisy_bn", widths=TINY)
    images, _ = tiny_batch(n=8)
    with tg.no_grad():
        for k in range(5):  # training with the noise: the second BN's running statistics collect it
            noisy.train()(images * (1 + 0.1 * k))
    twin = study_net("bn", widths=TINY)
    batches = [(images * (1 + 0.1 * k), None) for k in range(3)]

    class Batches(list):  # what recalibrate_statistics needs of a loader: set_epoch, and an iterator it closes
        batch_sampler = type("Sampler", (), {"set_epoch": lambda self, epoch: None})()

        def __iter__(self):
            return (batch for batch in list.__iter__(self))

    before = {key: value.copy() for key, value in noisy.state_dict().items()}
    recalibrate_statistics(twin, noisy, Batches(batches), epoch=0, batches=3)
    assert not twin.training and all(not m.training for m in twin.modules())
    assert twin.features[1].momentum == noisy.features[1].momentum  # restored after the cumulative average
    # the first BN's statistics: the plain average over the 3 batches of each batch's channel mean and variance
    conv1 = [twin.features[0](x).numpy().astype(np.float64) for x, _ in batches]
    n = conv1[0].size / conv1[0].shape[1]
    np.testing.assert_allclose(twin.features[1].running_mean.numpy(),
                               np.mean([c.mean(axis=(0, 2, 3)) for c in conv1], axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(twin.features[1].running_var.numpy(),
                               np.mean([c.var(axis=(0, 2, 3)) * n / (n - 1) for c in conv1], axis=0), rtol=1e-4)
    # the second BN's running statistics no longer hold the noise the noisy model's do
    assert np.abs(twin.features[5].running_var.numpy() - noisy.features[5].running_var.numpy()).max() > 1e-2
    for key, value in noisy.state_dict().items():  # the noisy model itself is left as it was
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_normalization_output_moments_with_and_without_the_noise():
    tg.manual_seed(0)
    images, _ = tiny_batch(n=8)
    for norm in ("bn", "noisy_bn", "shifted_bn"):
        model = study_net(norm, widths=TINY).train()
        before = {key: value.copy() for key, value in model.state_dict().items()}
        rows = measures.normalization_output_moments(model, images)
        assert [row["layer"] for row in rows] == [1, 2] and len(rows[1]["mean"]) == TINY[-1]
        clean = np.array(rows[0]["clean_mean"])
        np.testing.assert_allclose(clean, model.features[1].bias.numpy(), atol=1e-5)  # BN's output mean is beta
        moved = np.abs(np.array(rows[0]["mean"]) - clean).max()
        assert (moved > 0.05) == (norm != "bn")
        for key, value in model.state_dict().items():
            np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_measures_do_not_hide_a_missing_direction_or_an_overflow():
    assert math.isnan(measures.cosine(np.zeros(3), np.ones(3)))
    assert measures.cosine(np.ones(3), 2 * np.ones(3)) == pytest.approx(1.0)
    assert measures.largest([1.0, float("nan"), 3.0]) == math.inf == measures.largest([float("nan"), 1.0])
    assert measures.largest([1.0, 3.0, 2.0]) == 3.0


def test_a_non_finite_buffer_is_a_divergence():
    model = study_net("bn", widths=TINY)
    assert finite_state(model)
    model.features[1].running_var.array[0] = np.inf
    assert not finite_state(model)


def test_frozen_statistics_stay_frozen_while_fine_tuning():
    cell = Cell(finetune="frozen", widths=TINY)
    model = set_training_mode(study_net("bn", widths=TINY), cell)
    assert model.training and all(not module.training for module in model.modules()
                                  if isinstance(module, nn.BatchNorm2d))
    before = {key: value.copy() for key, value in model.state_dict().items() if "running" in key}
    images, labels = tiny_batch()
    F.cross_entropy(model(images), labels).backward()
    for key, value in before.items():
        np.testing.assert_array_equal(model.state_dict()[key], value)
    updated = set_training_mode(model, replace(cell, finetune="updated"))
    assert all(module.training for module in updated.modules())


def test_grayscale_is_luma_in_every_channel():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 3, 3, 3), dtype=np.uint8)
    gray = grayscale(images)
    luma = 0.299 * images[..., 0] + 0.587 * images[..., 1] + 0.114 * images[..., 2]
    assert gray.dtype == np.uint8 and gray.shape == images.shape
    np.testing.assert_array_equal(gray[..., 0], np.rint(luma).astype(np.uint8))
    assert (gray[..., 0] == gray[..., 2]).all()


# ---------------------------------------------------------------------------------------------------------------------
# cells, cache, statistics
# ---------------------------------------------------------------------------------------------------------------------
def test_cell_keys_depend_on_every_setting_and_the_version(monkeypatch):
    from models.bn_study import cells
    cell = Cell()
    key = cell.key()
    assert key == Cell().key()
    for change in ({"seed": 1}, {"lr": 0.2}, {"norm": "none"}, {"conv_bias": True}, {"probes": 1}):
        assert replace(cell, **change).key() != key
    # a setting added later counts only away from its default: the runs cached before it keep their keys
    assert replace(cell, finetune="frozen").key() != key
    assert set(cells.ADDED_LATER) <= set(cell.__dataclass_fields__)
    assert all(getattr(cell, name) == default for name, default in cells.ADDED_LATER.items())
    monkeypatch.setattr(cells, "ADDED_LATER", {})
    assert cell.key() != key  # without the rule, adding a field would have changed every key
    monkeypatch.undo()
    monkeypatch.setattr(cells, "STUDY_VERSION", STUDY_VERSION + 1)
    assert cell.key() != key


def test_the_plan_puts_the_main_comparison_first_seed_by_seed_and_trains_shared_cells_once():
    entries = plan(FULL)
    first = [(section, row, cell.seed) for section, row, cell in entries[:4]]
    assert first == [("main", "BN", 0), ("main", "no BN, He init", 0), ("main", "BN", 1), ("main", "no BN, He init", 1)]
    main_bn = entries[0][2]
    assert main_bn.limit is None and main_bn.epochs == 4 and main_bn.image_size == 60 and main_bn.norm == "bn"
    assert all(len({cell.seed for s, r, cell in entries if (s, r) == (section, row)}) >= 3
               for section, row, _ in entries)
    assert len(unique_cells(entries)) <= len(entries)
    only = plan(QUICK, ["lr"])
    assert {section for section, _, _ in only} == {"lr"}


def test_confidence_interval_is_students_t():
    mean, half = confidence_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.303 * 1.0 / math.sqrt(3), rel=1e-4)
    assert math.isnan(confidence_interval([1.0])[1])


def test_store_writes_whole_files_only(tmp_path):
    store = RunStore(tmp_path / "cache")
    cell = Cell(seed=7)
    assert not store.has(cell) and store.load(cell) is None
    store.save(cell, {"x": 1.5, "history": []})
    assert store.load(cell) == {"x": 1.5, "history": []}
    assert [path.name for path in (tmp_path / "cache").iterdir()] == [f"{cell.key()}.json"]  # no temporary left


def test_a_claim_keeps_a_run_to_one_live_process(tmp_path):
    store = RunStore(tmp_path / "cache")
    cell = Cell(seed=7)
    claim = tmp_path / "cache" / f".{cell.key()}.claim"
    assert store.claim(cell) and claim.read_text().split()[1] == str(os.getpid())
    assert not store.claim(cell)  # this process is alive: the claim holds
    store.release(cell)
    assert not claim.exists() and store.claim(cell)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    claim.write_text(f"{platform.node()} {int(dead.stdout)}\n")  # left by a process that has exited
    assert store.claim(cell) and claim.read_text().split()[1] == str(os.getpid())
    claim.write_text(f"another-host-{platform.node()} 1\n")  # another machine's: we cannot tell, so it holds
    assert not store.claim(cell)


def test_run_metrics_time_to_threshold_and_diverged_runs():
    history = [{"epoch": e, "val_accuracy": acc, "train_seconds": 60.0 * e, "train_eval_accuracy": acc + 0.01,
                "train_eval_loss": 0.3, "val_loss": 0.4, "train_accuracy": acc - 0.02} for e, acc in ((0.5, 0.70), (1, 0.82), (1.5, 0.86),
                                                                      (2, 0.90))]
    metrics = run_metrics({"history": history, "diverged_at_step": None, "train_seconds": 120.0})
    assert metrics["epochs_to_80"] == 1 and metrics["epochs_to_85"] == 1.5 and metrics["epochs_to_88"] == 2
    assert metrics["minutes_to_88"] == 2.0 and metrics["final_val_accuracy"] == 0.9 and metrics["stalled"] == 0
    assert metrics["generalization_gap"] == pytest.approx(0.01)
    assert metrics["training_mode_accuracy"] == pytest.approx(0.88)  # the last stretch's, as trained
    assert run_metrics({"history": [], "diverged_at_step": 5, "train_seconds": 1.0}) == {"diverged": 1.0}
    assert cell_text({"n": 3, "mean": 0.8812, "ci": 0.0041, "values": []}, "percent") == "88.1% ± 0.41"
    assert cell_text({"n": 0, "mean": None, "ci": None, "values": []}, "percent") == "–"
    # finished seeds without the number (never reached, or diverged) are counted, not mistaken for pending ones
    assert cell_text({"n": 0, "finished": 3, "mean": None, "ci": None, "values": [None] * 3}, "number") == "never"
    assert cell_text({"n": 2, "finished": 3, "mean": 1.5, "ci": 0.5, "values": []}, "number") == "1.50 ± 0.50 (2 of 3)"
    assert cell_text({"n": 2, "finished": 2, "mean": 1.5, "ci": 0.5, "values": []}, "number") == "1.50 ± 0.50 (n=2)"
    assert [format_number(v) for v in (0.0012, 3.4e-6, 0.41, 12.345, 250.0)] == ["0.0012", "3.4e-06", "0.41",
                                                                                 "12.3", "250"]


def test_gap_at_matched_loss_needs_a_point_that_has_the_loss():
    history = [{"train_eval_loss": loss, "train_eval_accuracy": train, "val_accuracy": val}
               for loss, train, val in ((0.6, 0.70, 0.68), (0.4, 0.85, 0.80), (0.2, 0.95, 0.84))]
    assert gap_at_training_loss(history, 0.5) == pytest.approx(0.5 * 0.02 + 0.5 * 0.05)  # halfway: interpolated
    assert math.isnan(gap_at_training_loss(history, 0.7))  # already below at the first evaluation: no such point
    assert math.isnan(gap_at_training_loss(history, 0.1))  # never reached


def test_paired_comparisons_take_the_difference_seed_by_seed():
    def row(values):
        return {"metrics": {"final_val_accuracy": summarize(values)}}
    sections = {"lr": {"BN @ lr 0.1": row([0.80, 0.82, 0.78]), "no BN, He init @ lr 0.1": row([0.70, 0.73, 0.69]),
                       "BN @ lr 1": row([0.80, 0.60, 0.70]), "no BN, He init @ lr 1": row([0.79, 0.62, 0.66])}}
    found = {comparison["a"][1]: comparison for comparison in paired_comparisons(sections)}
    assert found["BN @ lr 0.1"]["b"] == ["lr", "no BN, He init @ lr 0.1"]
    assert found["BN @ lr 0.1"]["difference"]["values"] == pytest.approx([0.10, 0.09, 0.09])
    # the rows' own intervals overlap widely at lr 1, and so does the paired difference with zero: no difference
    assert found["BN @ lr 0.1"]["differs"] is True and found["BN @ lr 1"]["differs"] is False


def test_bn_rows_of_the_init_sweep_are_compared_with_he_scale_one_and_with_no_bn():
    def row(values):
        return {"metrics": {"final_val_accuracy": summarize(values)}}
    sections = {"init": {"BN, He x0.1": row([0.74, 0.69, 0.71]), "BN, He x1": row([0.82, 0.79, 0.80]),
                         "no BN, He x0.1": row([0.5, 0.5, 0.5]), "no BN, He x1": row([0.66, 0.62, 0.68])}}
    pairs = {(comparison["a"][1], comparison["b"][1]): comparison for comparison in paired_comparisons(sections)}
    assert set(pairs) == {("BN, He x0.1", "no BN, He x0.1"), ("BN, He x1", "no BN, He x1"),
                          ("BN, He x0.1", "BN, He x1")}
    assert pairs["BN, He x0.1", "BN, He x1"]["difference"]["values"] == pytest.approx([-0.08, -0.10, -0.09])


# ---------------------------------------------------------------------------------------------------------------------
# the quick mode end to end
# ---------------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    """The quick study's main, noisy, lr and details sections, run once: (cache, out, markdown, results dict)."""
    if not DATA:
        pytest.skip("TINYGRAD_BN_DATA is not set: point it at a folder of cat.N.jpg / dog.N.jpg images "
                    "(here ../shared/data/dogs-vs-cats/train) to run the BN study's quick mode")
    from models.bn_study.cli import main
    cache, out = tmp_path_factory.mktemp("cache"), tmp_path_factory.mktemp("out")
    assert main(["--quick", "--only", "main,noisy,lr,details", "--cache", cache, "--out", out]) == 0
    text = (out / "bn-study-tables.md").read_text(encoding="utf-8")
    return cache, out, text, json.loads((out / "results.json").read_text())


@pytest.mark.slow
def test_quick_study_caches_every_run_and_resumes_without_training(quick_study, capsys):
    cache, out, _, results = quick_study
    from models.bn_study.cli import main
    entries = plan(QUICK, ["main", "noisy", "lr", "details"])
    assert results["done"] == results["total"] == len(unique_cells(entries))
    runs = [json.loads(path.read_text()) for path in cache.glob("*.json")]
    assert len(runs) == results["total"]
    for run in runs:
        assert run["diverged_at_step"] or run["history"][-1]["epoch"] == run["cell"]["epochs"]
        if run["cell"]["probes"] and not run["diverged_at_step"]:
            assert len(run["probes"]) == run["cell"]["probes"]
    noisy = [run for run in runs if run["cell"]["norm"] in ("noisy_bn", "shifted_bn")]
    assert {run["cell"]["norm"] for run in noisy} == {"noisy_bn", "shifted_bn"}
    assert all(run["cell"]["recalibrate"] for run in noisy)
    for run in noisy:  # evaluated both ways at every point; the probes see the noise move the layers' inputs
        assert all(row["recalibrated"]["val_accuracy"] is not None for row in run["history"])
        assert all(len(probe["moments"]) == 3 for probe in run["probes"])
    assert not any("recalibrated" in row for run in runs if run not in noisy for row in run["history"])
    for run in runs:  # BN's scale is in the result itself: the run store keeps results, not always the weights
        finished_bn = run["cell"]["norm"] in ("bn", "noisy_bn", "shifted_bn") and not run["diverged_at_step"]
        assert ("bn_gamma_mean" in run) == finished_bn
    for weights in cache.glob("*.npz"):
        weights.rename(weights.with_suffix(".moved"))
    try:
        assert main(["--report", "--only", "noisy", "--quick", "--cache", cache, "--out", out / "no-weights"]) == 0
    finally:
        for weights in cache.glob("*.moved"):
            weights.rename(weights.with_suffix(".npz"))
    without_weights = json.loads((out / "no-weights" / "results.json").read_text())
    assert without_weights["sections"]["noisy"]["noisy BN"]["metrics"]["bn_gamma_mean"]["n"] == 2
    assert mean_bn_scale({"a.weight": np.array([1.0, -3.0]), "a.running_mean": np.zeros(2),
                          "b.weight": np.array([4.0]), "b.running_mean": np.zeros(1), "c.weight": np.ones(9)}) == 3.0
    finetuned = [run for run in runs if run["cell"]["finetune"]]
    assert {run["cell"]["finetune"] for run in finetuned} == {"frozen", "updated"}
    for run in finetuned:  # evaluated before fine-tuning too: the pretrained model on gray images
        assert run["history"][0]["epoch"] == 0 and run["data"]["trained_on"] == run["cell"]["train_subset"]
    capsys.readouterr()
    assert main(["--quick", "--only", "main,noisy,lr,details", "--cache", cache, "--out", out]) == 0
    assert "0 to train" in capsys.readouterr().out


@pytest.mark.slow
def test_the_other_sections_run_end_to_end_in_quick_mode(tmp_path):
    """init, overfit and batch (the fixture above runs the other four): every run finishes and is in the tables."""
    if not DATA:
        pytest.skip("TINYGRAD_BN_DATA is not set: the BN study's quick mode needs images to train on")
    from models.bn_study.cli import main
    sections = ["init", "overfit", "batch"]
    assert main(["--quick", "--only", ",".join(sections), "--cache", tmp_path / "cache", "--out",
                 tmp_path / "out"]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["done"] == results["total"] == len(unique_cells(plan(QUICK, sections)))
    assert list(results["sections"]) == sections
    gn = results["sections"]["batch"]["gn @ batch 2"]
    assert gn["done"] == 2 and gn["metrics"]["final_val_accuracy"]["n"] == 2
    runs = [json.loads(path.read_text()) for path in (tmp_path / "cache").glob("*.json")]
    assert all(run["cell"]["init"] == "he" for run in runs if run["cell"]["norm"] == "none")  # a no-BN net that trains
    for run in runs:  # the batch-size runs evaluate the training sample at the end only
        every = run["cell"]["train_eval"] == "every"
        evaluated = [row["train_eval_accuracy"] is not None for row in run["history"]]
        assert evaluated == [True] * len(evaluated) if every else evaluated == [False] * (len(evaluated) - 1) + [True]
    assert sum(run["cell"]["train_eval"] == "last" for run in runs) == len(plan(QUICK, ["batch"]))
    text = (tmp_path / "out" / "bn-study-tables.md").read_text(encoding="utf-8")
    assert "| no BN, He, wd 0, no aug | 2/2 |" in text and "| none @ batch 16 | 2/2 |" in text
    # the overfitting figure: the gap against the training loss, from the curves of both accuracies
    overfit = results["sections"]["overfit"]["BN, wd 0, no aug"]["curves"]
    assert len(overfit["train_eval_accuracy"]) == len(overfit["val_accuracy"]) == len(overfit["train_eval_loss"])
    for name in ("overfit", "init", "batch_size"):
        assert f"figures/{name}.png" in text
        assert (tmp_path / "out" / "figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_every_number_in_the_tables_is_results_json_s(quick_study):
    """Each table row, cell by cell, is the rendering of its own row's metric in results.json."""
    _, out, text, results = quick_study
    checked = 0
    tables = [(*TABLES[section], rows) for section, rows in results["sections"].items()]
    tables += [(title, columns, view_rows(view, results["sections"])) for view, (title, _, columns) in VIEWS.items()]
    assert all(rows for _, _, rows in tables)
    for title, columns, rows in tables:
        block = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
        for row, entry in rows.items():
            line = next(line for line in block.splitlines() if line.startswith(f"| {row} |"))
            cells = [part.strip() for part in line.strip().strip("|").split("|")]
            assert cells[1] == f"{entry['done']}/{len(entry['seeds'])}"
            for (_, metric, kind), shown in zip(columns, cells[2:]):
                assert shown == cell_text(entry["metrics"].get(metric), kind), (title, row, metric)
                checked += shown != "–"
    assert checked > 10
    for link in re.findall(r"\]\((figures/[\w.]+\.png)\)", text):
        assert (out / link).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", link
    assert "figures/main_curves.png" in text and "figures/ics.png" in text and "figures/details.png" in text
    numbers = [float(value) for value in re.findall(r"(\d+\.\d+)%", text)]
    assert numbers and all(0 <= value <= 100 for value in numbers)


@pytest.mark.slow
def test_fine_tuning_without_its_models_weights_is_skipped_with_the_reason(quick_study, tmp_path, capsys):
    """The run store tracks results, not weights: a fine-tuning run to be made again on a machine that lacks its
    pretrained model's .npz is skipped, and the message says why and how to get the weights back."""
    from models.bn_study.cli import main
    cache = tmp_path / "cache"
    shutil.copytree(quick_study[0], cache)
    finetuned = [path for path in cache.glob("*.json") if json.loads(path.read_text())["cell"]["finetune"]]
    assert finetuned
    for path in [*finetuned, *cache.glob("*.npz")]:
        path.unlink()
    capsys.readouterr()
    assert main(["--quick", "--only", "details", "--cache", cache, "--out", tmp_path / "out"]) == 0
    skipped = [line for line in capsys.readouterr().out.splitlines() if " skipped: " in line]
    assert len(skipped) == len(finetuned) and all("has no weights in the cache" in line for line in skipped)
    assert not any(json.loads(path.read_text())["cell"]["finetune"] for path in cache.glob("*.json"))


@pytest.mark.slow
def test_momentum_rows_are_compared_with_pytorchs_default_and_no_row_with_itself(quick_study):
    comparisons = quick_study[3]["comparisons"]
    assert all(comparison["a"] != comparison["b"] for comparison in comparisons)
    momentum = [comparison for comparison in comparisons if comparison["a"][1].startswith("BN momentum")]
    assert {tuple(comparison["b"]) for comparison in momentum} == {("details", "BN momentum 0.1")}
    assert {comparison["a"][1] for comparison in momentum} == {"BN momentum 0.01"}  # quick mode: 0.01 and 0.1


@pytest.mark.slow
def test_workers_share_the_queue_and_train_each_run_once(tmp_path, capsys):
    if not DATA:
        pytest.skip("TINYGRAD_BN_DATA is not set: the BN study's workers need images to train on")
    from models.bn_study.cli import main
    cache, out = tmp_path / "cache", tmp_path / "out"
    cells = unique_cells(plan(QUICK, ["lr"]))
    # each worker may train half the runs: all of them get done only if both work, each on runs of its own
    half = len(cells) // 2
    assert main(["--quick", "--workers", "2", "--max-runs", half, "--only", "lr", "--cache", cache,
                 "--out", out]) == 0
    lines = capsys.readouterr().out.splitlines()
    saved = [line.split("saved ")[-1] for line in lines if " done: " in line]
    assert sorted(saved) == sorted(str(cache / f"{cell.key()}.json") for cell in cells)  # each run once
    assert sorted(line.split()[0] for line in lines if " done: " in line) == ["w0"] * half + ["w1"] * half
    assert not list(cache.glob(".*.claim")) and (out / "results.json").exists()
    if hasattr(os, "sched_getaffinity"):  # each worker ran pinned to one core
        assert {json.loads(path.read_text())["machine"]["usable_cpus"] for path in cache.glob("*.json")} == {1}


@pytest.mark.slow
def test_the_written_reports_tables_are_regenerated_and_its_bold_numbers_checked(quick_study, tmp_path, capsys):
    _, out, _, results = quick_study
    bn = results["sections"]["main"]["BN"]["metrics"]["final_val_accuracy"]
    cited = cell_text(bn, "percent").split(" (n=")[0]  # as a table shows it: "71.2% ± 3.1"
    seed = f"{bn['values'][0] * 100:.1f}%"
    doc = tmp_path / "report.md"
    doc.write_text(f"With BN the net reaches **{cited}**; seed 0 alone **{seed}**.\n\n"
                   "<!-- table: lr -->\nstale\n<!-- /table -->\n\nAfter the table, **not a number**.\n\n"
                   "<!-- table: batch_stats -->\nstale\n<!-- /table -->\n",
                   encoding="utf-8")
    from models.bn_study.cli import main
    assert main(["--quick", "--report", "--only", "main,noisy,lr,details", "--cache", quick_study[0], "--out", out,
                 "--docs", doc]) == 0
    text = doc.read_text(encoding="utf-8")
    block = text.split("<!-- table: lr -->\n")[1].split("<!-- /table -->")[0]
    assert "stale" not in block and "| BN @ lr 0.1 | 2/2 |" in block and "Largest peak lr" in block
    view = text.split("<!-- table: batch_stats -->\n")[1].split("<!-- /table -->")[0]  # rows of two sections
    assert "stale" not in view and "| BN, main comparison | 2/2 |" in view and "| BN momentum 0.1 |" in view
    assert refresh_tables(text, results) == text and unmatched_bold_numbers(text, results) == []
    # a number that is not the file's is caught, in the prose and by the command
    wrong = f"{bn['mean'] * 100 + 0.1:.1f}%"
    doc.write_text(text.replace(f"**{seed}**", f"**{wrong}**"), encoding="utf-8")
    assert unmatched_bold_numbers(doc.read_text(encoding="utf-8"), results) == [wrong]
    capsys.readouterr()
    assert main(["--quick", "--report", "--only", "main,noisy,lr,details", "--cache", quick_study[0], "--out", out,
                 "--docs", doc]) == 1
    assert f"**{wrong}** is not in results.json" in capsys.readouterr().err
    with pytest.raises(ValueError, match="'batch'"):
        refresh_tables("<!-- table: batch -->\n<!-- /table -->", results)
    # the Vietnamese report: the same tables with decimal commas, and its bold numbers written that way too
    vietnamese = refresh_tables(text, results, decimal_comma=True)
    assert "| BN @ lr 0,1 | 2/2 |" in vietnamese and "0.1" not in vietnamese.split("<!-- table: lr -->")[1]
    comma = cited.replace(".", ",")
    assert unmatched_bold_numbers(f"**{comma}**", results, decimal_comma=True) == []
    assert unmatched_bold_numbers(f"**{comma}**", results) == [comma]


DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("report, results_file", [
    (("bn-study.md", "bn-study.vi.md"), "bn-study/results.json"),  # the report, once the study is done
    (("bn-study/draft.md", "bn-study/draft.vi.md"), "bn-study/progress/results.json"),  # while it runs
])
def test_the_written_report_is_its_results_json(report, results_file):
    """The written report (English and Vietnamese): each table block is the table results.json makes, each bold
    number one of its."""
    if not (DOCS / report[0]).exists():
        pytest.skip(f"docs/{report[0]} does not exist (the draft is removed when the report is complete)")
    results = json.loads((DOCS / results_file).read_text())
    if "sections" not in results:
        pytest.skip("docs/bn-study.md is still the small study's report (its own results.json, another format); "
                    "the new one replaces it when the study's runs are done (issue #25)")
    for name, decimal_comma in zip(report, (False, True)):
        text = (DOCS / name).read_text(encoding="utf-8")
        assert "<!-- table: " in text, name
        assert refresh_tables(text, results, decimal_comma) == text, \
            f"{name}: run python -m models.bn_study --report --docs ..."
        assert unmatched_bold_numbers(text, results, decimal_comma) == [], name


def test_the_progress_tables_are_the_run_stores():
    """docs/bn-study/progress is the report of every run in docs/bn-study/runs, the tracked run store."""
    runs = sorted((DOCS / "bn-study" / "runs").glob("*.json"))
    results = json.loads((DOCS / "bn-study" / "progress" / "results.json").read_text())
    assert results["done"] == len(runs), ("run python -m models.bn_study --report --cache docs/bn-study/runs --out "
                                          "docs/bn-study/progress --docs docs/bn-study/draft.md,docs/bn-study/draft.vi.md")
    assert "docs/bn-study/runs" in results["command"]


def test_hours_starts_no_run_that_would_not_end_in_time(tmp_path, capsys):
    from models.bn_study.cli import main
    assert main(["--quick", "--hours", "0", "--only", "lr", "--cache", tmp_path / "cache", "--out",
                 tmp_path / "out"]) == 0
    assert "none of the 12 runs left would end within --hours 0" in capsys.readouterr().out
    assert not list((tmp_path / "cache").glob("*.json"))


def test_plan_lists_every_cell_and_the_time_left(tmp_path, capsys):
    from models.bn_study.cli import main
    assert main(["--quick", "--plan", "--only", "main,details", "--cache", tmp_path]) == 0
    out = capsys.readouterr().out
    cells = unique_cells(plan(QUICK, ["main", "details"]))
    assert f"0 of {len(cells)} distinct runs cached" in out
    assert all(cell.key() in out for cell in cells)
    with pytest.raises(SystemExit):
        main(["--quick", "--only", "nosuchsection"])


def test_fine_tuning_cells_queue_their_pretrained_model_first():
    from models.bn_study.cells import pretrained_cell
    from models.bn_study.cli import with_pretrained_first
    finetuning = [cell for cell in unique_cells(plan(QUICK, ["details"])) if cell.finetune]
    ordered = with_pretrained_first(finetuning, QUICK)
    for cell in finetuning:
        parent = pretrained_cell(cell, QUICK)
        assert parent.norm == "bn" and parent.seed == cell.seed and not parent.finetune
        assert ordered.index(parent) < ordered.index(cell)


def test_largest_stable_rate_needs_every_finished_seed_to_learn():
    from models.bn_study.report import largest_stable_rates, summarize

    def row(lr, diverged, stalled):
        done = sum(value is not None for value in diverged)
        return {"settings": {"lr": lr}, "seeds": [0, 1, 2], "done": done,
                "metrics": {"diverged": summarize(diverged), "stalled": summarize(stalled)}}

    rows = {"BN @ lr 0.1": row(0.1, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
            "BN @ lr 1": row(1.0, [0.0, 0.0, None], [0.0, 0.0, None]),  # two seeds finished so far, both learned
            "no BN @ lr 0.1": row(0.1, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
            "no BN @ lr 1": row(1.0, [0.0, 1.0, 0.0], [0.0, math.nan, 1.0])}  # one diverged, one stalled
    assert largest_stable_rates(rows) == ("Largest peak lr at which every finished seed learned: BN: 1; "
                                          "no BN: 0.1.")
    # a model that learned at no rate: "none" once its rows are complete, "none yet" while some seed is to come
    stalled = {"none @ lr 0.1": row(0.1, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0])}
    assert largest_stable_rates(stalled).endswith("none: none.")
    stalled["none @ lr 1"] = row(1.0, [0.0, None, None], [1.0, None, None])
    assert largest_stable_rates(stalled).endswith("none: none yet.")
