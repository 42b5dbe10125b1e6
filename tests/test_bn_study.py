"""The BN study (models/bn_study.py): its quick mode end to end on real images, the report it writes, and the two
pieces that decide what the report says (batch-statistics evaluation, verdicts chosen from the numbers).

The end-to-end tests need the real images in $TINYGRAD_BN_DATA and are skipped, with the reason shown, without them.
"""
import copy
import json
import os
import re

import numpy as np
import pytest

import tinygrad_bn as tg
from models.bn_study import REPO, forward_with_batch_statistics, main, output_folder, write_report
from models.catsdogs_net import CatsDogsNet

DATA = os.environ.get("TINYGRAD_BN_DATA")
SECTIONS = ["## Setup", "## 1. Learning-rate sweep", "## 2. Convergence", "## 3. Generalization",
            "## 4. Initialization", "## 5. Gradient health", "## 6. Evaluation with batch statistics",
            "## Conclusions", "## What this study does not show", "## Reproduce"]
PLOTS = ["lr_sweep.png", "convergence.png", "init.png", "gradients.png", "batch_statistics.png"]


def test_batch_statistics_forward_is_training_mode_bn_and_leaves_running_stats_alone():
    tg.manual_seed(0)
    model = CatsDogsNet(bn=True, widths=(4, "M", 8))
    rng = np.random.default_rng(0)
    model.train()
    with tg.no_grad():
        model(tg.Tensor(rng.standard_normal((8, 3, 8, 8)).astype(np.float32)))  # running stats away from 0 and 1
    twin = CatsDogsNet(bn=True, widths=(4, "M", 8))
    twin.load_state_dict(model.state_dict())
    before = model.state_dict()
    x = tg.Tensor(rng.standard_normal((5, 3, 8, 8)).astype(np.float32) * 3 + 1)

    model.eval()
    with tg.no_grad():
        ours = forward_with_batch_statistics(model, x).numpy()
        running = model(x).numpy()
        expected = twin.train()(x).numpy()  # BN's own training-mode forward: the batch's statistics
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    assert np.abs(ours - running).max() > 1e-3  # and it does differ from eval mode
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_quick_mode_never_writes_into_docs(tmp_path):
    with pytest.raises(SystemExit, match="does not write into docs"):
        output_folder(str(REPO / "docs"), quick=True)
    assert output_folder(None, quick=True) is None  # a temporary folder, made when the report is written
    assert output_folder(str(tmp_path), quick=True) == tmp_path.resolve()
    assert output_folder(None, quick=False) == REPO / "docs"


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    """The quick study, run once: (folder, markdown text, results dict)."""
    if not DATA:
        pytest.skip("TINYGRAD_BN_DATA is not set: point it at a folder of cat.N.jpg / dog.N.jpg images "
                    "(here ../shared/data/dogs-vs-cats/train) to run the BN study's quick mode")
    out = tmp_path_factory.mktemp("bn-study")
    assert main(["--quick", "--out", out]) == 0
    text = (out / "bn-study.md").read_text(encoding="utf-8")
    results = json.loads((out / "bn-study" / "results.json").read_text())
    return out, text, results


@pytest.mark.slow
def test_quick_report_has_every_section_plot_and_setting(quick_report):
    out, text, results = quick_report
    positions = [text.find(section) for section in SECTIONS]
    assert all(position >= 0 for position in positions), [s for s, p in zip(SECTIONS, positions) if p < 0]
    assert positions == sorted(positions)
    for name in PLOTS:
        assert (out / "bn-study" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f"(bn-study/{name})" in text
    assert f"python -m models.bn_study --quick --out {out}" in text
    assert "Quick mode" in text and results["quick"] is True
    assert re.search(r"on \d{4}-\d\d-\d\d \d\d:\d\d", text)
    assert re.search(r"took \*\*\d+\.\d minutes\*\* of wall time", text)
    settings = results["settings"]
    assert f"{settings['image_size']}x{settings['image_size']} pixels" in text
    assert f"{settings['epochs']} epochs of {results['data']['steps_per_epoch']} steps" in text
    assert "CatsDogsNet(widths=(" + ",".join(str(width) for width in settings["widths"]) + "))" in text


@pytest.mark.slow
def test_quick_report_numbers_are_in_range(quick_report):
    _, text, results = quick_report
    settings = results["settings"]
    # every seed of the main comparison, every other sweep point, every init scale: BN and no BN each
    assert len(results["runs"]) == 2 * (len(settings["seeds"]) + len(settings["sweep_lrs"]) - 1
                                        + len(settings["init_scales"]))
    assert 0 < results["wall_seconds"] < 600
    for run in results["runs"]:
        assert 0 < run["seconds"] < results["wall_seconds"]
        assert run["diverged_at_step"] or len(run["history"]) == settings["epochs"]
        for row in run["history"]:
            assert 0 <= row["val_accuracy"] <= 1 and 0 <= row["train_accuracy"] <= 1 and row["train_loss"] > 0
        if run["gradient_norms"]:
            assert len(run["gradient_norms"][0]) == len(run["layers"]) and run["layers"][-1] == "fc"
            assert all(norm >= 0 for norm in run["gradient_norms"][0])
    for rows in results["batch_statistics"].values():
        assert {row["batch_size"] for row in rows} == set(settings["eval_batch_sizes"])
        assert all(0 <= row["accuracy"] <= 1 for row in rows)
        running = {row["accuracy"] for row in rows if row["statistics"] == "running" and row["group"] == "mixed"}
        assert len(running) == 1  # eval mode: the batch size does not change a single prediction
    percents = [float(value) for value in re.findall(r"(-?\d+\.\d)%", text)]
    assert percents and all(0 <= value <= 100 for value in percents)


@pytest.mark.slow
def test_verdicts_follow_the_numbers(quick_report, tmp_path):
    """Rewrite the report from doctored results: the conclusions must change with them (nothing is typed in)."""
    _, _, results = quick_report
    doctored = copy.deepcopy(results)
    top_lr = max(results["settings"]["sweep_lrs"])
    for run in doctored["runs"]:
        for row in run["history"]:
            row["val_accuracy"] = 0.9 if not run["bn"] else 0.8
        if run["bn"] and run["lr"] == top_lr:
            run["diverged_at_step"], run["history"] = 3, []
    text = (write_report(doctored, tmp_path)).read_text(encoding="utf-8")
    lr_verdict = next(line for line in text.splitlines() if line.startswith("- Higher learning rates"))
    assert "**Contradicted**" in lr_verdict and f"BN diverged at lr {top_lr:g}" in lr_verdict
    assert "90.0%" in text


@pytest.mark.slow
def test_report_survives_runs_that_all_diverge(quick_report, tmp_path):
    _, _, results = quick_report
    doctored = copy.deepcopy(results)
    for run in doctored["runs"]:
        run.update(diverged_at_step=1, history=[], first_losses=[], gradient_norms=[], weight_norms=[],
                   train_eval_accuracy=None)
    doctored["batch_statistics"], doctored["example"] = {}, None
    text = write_report(doctored, tmp_path).read_text(encoding="utf-8")
    assert all(section in text for section in SECTIONS[:-3])
    assert "**Not supported**: BN learned at none of the learning rates tried." in text
