"""Faults and bad input (issue 12): nothing lost, nothing silently wrong.

Each test recreates one case a careless or hostile user met: a full disk or a crash in the middle of a write
(a patched writer), two trainings into one folder, a kill -9 at any moment, odd flags, foreign checkpoints,
weights that went non-finite, symbolic links that lead nowhere. The data are tiny generated images (80 PNGs of
20x20 pixels whose colour tells the class), so the file runs in seconds without the real dataset.
"""
import errno
import json
import os
import random
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

import models.training
import tinygrad_bn as tg
from models import runfolder
from models.catsdogs import main
from models.checkpoint import CatsDogsError, load_checkpoint, non_finite_entries
from models.runfolder import RunFolder
from models.training import NonFiniteLossError, TrainConfig, train
from models.images import SkippedImagesWarning
from models.images.folders import LayoutWarning, find_images

REPO = Path(__file__).resolve().parents[1]
QUIET = {"log": lambda line: None, "progress_bar": False}
TINY_FLAGS = ["--image-size", "16", "--widths", "8,M,8", "--batch-size", "8", "--workers", "0"]


def make_images(root, per_class=40, classes=("cat", "dog"), folders=False):
    """`per_class` 20x20 PNGs per class, reddish cats and bluish dogs with noise: root/cat.0.png (Kaggle's layout)
    or root/cat/0.png (class folders)."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        for i in range(per_class):
            pixels = rng.integers(0, 120, (20, 20, 3), dtype=np.uint8)
            pixels[..., 2 * k % 3] += 120
            path = root / name / f"{i}.png" if folders else root / f"{name}.{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
    return root


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return make_images(tmp_path_factory.mktemp("images"))


def tiny_config(data, out, **settings):
    values = dict(data=str(data), out=str(out), epochs=2, batch_size=8, image_size=16, widths=(8, "M", 8),
                  val_fraction=0.2, workers=0)
    values.update(settings)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def trained_run(images, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(tiny_config(images, out), **QUIET)
    return out


def one_line_error(capsys, code, *fragments):
    """Exit status 2 and, after any progress bars, the error in one line that holds every fragment."""
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    line = err.splitlines()[-1]
    assert line.startswith("catsdogs ") and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in line, err
    return line


# ---- 2: --momentum under the one-cycle schedule ---------------------------------------------------------------------

def test_momentum_is_the_peak_of_the_one_cycle_and_zero_means_plain_sgd(images, tmp_path):
    weights = {}
    for momentum in (0.5, 0.9, 0.0):
        out = tmp_path / str(momentum)
        train(tiny_config(images, out, epochs=1, momentum=momentum), **QUIET)
        saved = tg.load(out / "last.npz")
        group = saved["optimizer"]["param_groups"][0]
        if momentum:
            assert (group["max_momentum"], group["base_momentum"]) == (momentum, pytest.approx(momentum - 0.1))
        else:  # --momentum 0 used to crash: Nesterov needs a momentum
            assert group["momentum"] == 0 and not group["nesterov"]
        weights[momentum] = saved["model"]["features.0.weight"]
    assert not np.array_equal(weights[0.5], weights[0.9])  # the value given changes the training
    assert TrainConfig().momentum == 0.95 and 0.95 - 0.1 == 0.85  # the default keeps Smith's 0.95 -> 0.85 cycle


# ---- 3: class folders with stray root files ---------------------------------------------------------------------

def test_class_folders_win_over_root_files_named_like_kaggle(tmp_path):
    make_images(tmp_path, per_class=3, classes=("cats", "dogs"), folders=True)
    for name in ("IMG.1.jpg", "sample.1.jpg"):
        (tmp_path / name).write_bytes((tmp_path / "cats" / "0.png").read_bytes())
    with pytest.warns(LayoutWarning, match="matches two layouts.*using the class folders"):
        folder = find_images(tmp_path)
    assert folder.layout == "class-folders" and folder.classes == ["cats", "dogs"] and len(folder) == 6
    assert sorted(Path(path).name for path, _ in folder.ignored) == ["IMG.1.jpg", "sample.1.jpg"]


def test_kaggle_root_with_one_subfolder_stays_kaggle(tmp_path):
    make_images(tmp_path, per_class=2)
    make_images(tmp_path / "extra", per_class=2, classes=("cat",), folders=True)
    folder = find_images(tmp_path)  # one class folder is no class-folder dataset: no warning, Kaggle's layout
    assert folder.layout == "kaggle" and folder.classes == ["cat", "dog"]


# ---- 4: the run folder is checked before training; a failed save is reported -----------------------------------

def test_unwritable_out_is_refused_before_the_data_is_read(tmp_path, capsys):
    (tmp_path / "a_file").write_text("not a folder")
    code = main(["train", "--data", str(tmp_path / "no_such_data"), "--out", str(tmp_path / "a_file" / "run")])
    one_line_error(capsys, code, "cannot write into the run folder", "a_file")


def test_too_little_free_space_is_refused_before_training(images, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runfolder.shutil, "disk_usage", lambda path: SimpleNamespace(total=10**9, free=1000))
    code = main(["train", "--data", str(images), "--out", str(tmp_path / "run"), *TINY_FLAGS])
    one_line_error(capsys, code, "not enough free space in", "MiB free")
    assert not (tmp_path / "run" / "last.npz").exists()


def test_disk_full_during_a_save_is_reported_and_keeps_the_last_checkpoint(images, tmp_path, monkeypatch, capsys):
    real_save, saves = tg.save, []

    def disk_full_at_the_second_save(contents, path):
        saves.append(path)
        if len(saves) == 3:  # epoch 1 wrote last.npz and best.npz; epoch 2's last.npz meets a full disk
            partial = Path(path).with_name(f".{Path(path).name}.{'0' * 32}.tmp")
            partial.write_bytes(b"PK\x03\x04 half")  # what the writer had written when the disk filled up
            partial.unlink()  # tg.save removes its temporary file when the write fails
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(partial))
        real_save(contents, path)

    monkeypatch.setattr(tg, "save", disk_full_at_the_second_save)
    out = tmp_path / "run"
    code = main(["train", "--data", str(images), "--out", str(out), "--epochs", "2", *TINY_FLAGS])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "Traceback" not in "\n".join(err)
    assert f"could not save {out / 'last.npz'}: No space left on device" in err[-1]
    assert f"{out / 'last.npz'} holds the state at the end of epoch 1" in err[-1]
    assert load_checkpoint(out / "last.npz")["progress"]["epoch"] == 1


# ---- 5: non-finite weights and buffers are never saved --------------------------------------------------------------

def test_a_non_finite_running_variance_is_never_saved_and_the_message_is_true(images, tmp_path):
    saved = {}

    def overflow_a_running_variance(info):  # the loss stays finite: training-mode BN uses the batch statistics
        if info.epoch == 1 and info.step == 2:
            saved["last"] = (tmp_path / "last.npz").read_bytes()
            info.model.features[1].running_var.array[...] = np.inf

    with pytest.raises(NonFiniteLossError, match=r"non-finite by the end of epoch 2 \(model/features.1.running_var\)"
                                                 r".*was not written; .*holds the state at the end of epoch 1"):
        train(tiny_config(images, tmp_path), on_step=overflow_a_running_variance, **QUIET)
    assert (tmp_path / "last.npz").read_bytes() == saved["last"]
    for name in ("last.npz", "best.npz"):
        assert non_finite_entries(tg.load(tmp_path / name)["model"]) == []


def test_a_nan_loss_before_any_save_says_so(images, tmp_path):
    def poison(info):
        info.model.classifier[2].weight.array[...] = np.nan

    with pytest.raises(NonFiniteLossError, match="no checkpoint was written yet"):
        train(tiny_config(images, tmp_path), on_step=poison, **QUIET)


# ---- 6: one training per run folder ---------------------------------------------------------------------------------

def test_a_second_training_into_the_same_folder_is_refused_naming_the_holder(images, tmp_path, capsys):
    with RunFolder(tmp_path / "run"):  # the first training, holding the folder
        code = main(["train", "--data", str(images), "--out", str(tmp_path / "run"), *TINY_FLAGS])
        one_line_error(capsys, code, "is in use by another training", f"pid {os.getpid()}",
                       f"host {socket.gethostname()}")
    assert main(["train", "--data", str(images), "--out", str(tmp_path / "run"), "--epochs", "1", *TINY_FLAGS]) == 0


def test_the_lock_of_a_dead_training_is_taken_over(images, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / ".lock").write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(),
                                                "started": "yesterday"}))
    lines = []
    train(tiny_config(images, tmp_path, epochs=1), log=lines.append, progress_bar=False)
    assert any("took over the lock" in line and f"pid {int(dead.stdout)}" in line for line in lines), lines
    assert (tmp_path / ".lock").read_text() == ""  # released at the end


# ---- 7: the epoch's outputs agree after any interruption ------------------------------------------------------------

class Crash(BaseException):
    """A crash: nothing catches it, as nothing survives a power cut."""


def test_crash_between_last_and_best_is_repaired_by_resume(images, tmp_path, monkeypatch):
    real_save = tg.save

    def crash_before_best(contents, path):
        if Path(path).name == "best.npz":
            raise Crash
        real_save(contents, path)

    monkeypatch.setattr(tg, "save", crash_before_best)
    with pytest.raises(Crash):
        train(tiny_config(images, tmp_path, epochs=1), **QUIET)
    monkeypatch.setattr(tg, "save", real_save)
    assert not (tmp_path / "best.npz").exists() and not (tmp_path / "metrics.csv").exists()

    lines = []
    train(TrainConfig(out=str(tmp_path), resume=str(tmp_path / "last.npz"), workers=0), log=lines.append,
          progress_bar=False)
    assert any("repaired" in line and "best.npz now holds epoch 1" in line for line in lines), lines
    assert tg.load(tmp_path / "best.npz")["progress"]["epoch"] == 1
    assert [line.split(",")[0] for line in (tmp_path / "metrics.csv").read_text().splitlines()] == ["epoch", "1"]


def test_ctrl_c_at_the_epoch_boundary_records_the_epoch_once(images, tmp_path, monkeypatch):
    real_plot = models.training.plot_curves

    def ctrl_c_while_plotting(path, history):
        if len(history) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # deferred until epoch 1's files are all written
        real_plot(path, history)

    monkeypatch.setattr(models.training, "plot_curves", ctrl_c_while_plotting)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(images, tmp_path), **QUIET)
    stopped = tg.load(tmp_path / "last.npz")["progress"]
    assert (stopped["epoch"], stopped["step"], len(stopped["history"])) == (1, 0, 1)
    train(TrainConfig(out=str(tmp_path), resume=str(tmp_path / "last.npz"), workers=0), **QUIET)
    epochs = [line.split(",")[0] for line in (tmp_path / "metrics.csv").read_text().splitlines()[1:]]
    assert epochs == ["1", "2"]


def test_resume_repairs_a_duplicated_epoch_and_refuses_a_best_npz_that_disagrees(images, trained_run, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("last.npz", "best.npz"):
        (out / name).write_bytes((trained_run / name).read_bytes())
    last = tg.load(out / "last.npz")
    history = last["progress"]["history"]
    last["progress"]["history"] = [history[0], history[0], history[1]]  # what an old interruption could leave
    tg.save(last, out / "last.npz")
    lines = []
    train(TrainConfig(out=str(out), resume=str(out / "last.npz"), workers=0), log=lines.append, progress_bar=False)
    assert any("listed an epoch twice" in line for line in lines), lines
    assert [row["epoch"] for row in tg.load(out / "last.npz")["progress"]["history"]] == [1, 2]

    best = tg.load(out / "best.npz")
    best["progress"]["epoch"] = 7  # a best.npz from somewhere else
    tg.save(best, out / "best.npz")
    last = tg.load(out / "last.npz")
    last["progress"]["history"][0]["val_accuracy"] = 2.0  # epoch 1 is the best: last.npz can't stand in for it
    tg.save(last, out / "last.npz")
    with pytest.raises(CatsDogsError, match="inconsistent: the history's best epoch is 1 but .*best.npz holds epoch 7"):
        train(TrainConfig(out=str(out), resume=str(out / "last.npz"), workers=0), **QUIET)


# ---- 8: resume on other classes ------------------------------------------------------------------------------------

def test_resume_on_data_with_other_class_names_is_refused(trained_run, tmp_path, capsys):
    other = make_images(tmp_path / "pets", per_class=40, classes=("cats", "dogs"), folders=True)
    out = tmp_path / "run"
    out.mkdir()
    (out / "last.npz").write_bytes((trained_run / "last.npz").read_bytes())
    code = main(["train", "--resume", str(out / "last.npz"), "--data", str(other)])
    one_line_error(capsys, code, "has the classes ['cats', 'dogs']", "was trained on ['cat', 'dog']")


# ---- 10: every flag checked up front --------------------------------------------------------------------------------

@pytest.mark.parametrize("flags, message", [
    (["--batch-size", "1", "--image-size", "8"], "--batch-size 1 with --image-size 8 leaves BatchNorm one value"),
    (["--widths", "0"], "--widths must be positive"),
    (["--widths", "8,-4"], "--widths must be positive"),
    (["--weight-decay", "-1"], "--weight-decay must be in [0, inf)"),
    (["--label-smoothing", "2"], "--label-smoothing must be in [0, 1)"),
    (["--seed", "-1"], "--seed must be at least 0"),
    (["--limit", "-5"], "--limit must be at least 2"),
    (["--lr", "nan"], "--lr must be a positive finite number, got nan"),
    (["--lr", "inf"], "--lr must be a positive finite number, got inf"),
    (["--momentum", "nan"], "--momentum must be in [0, 1)"),
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--workers", "-1"], "--workers must be at least 0"),
])
def test_bad_flags_stop_at_once_with_one_argparse_line(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--data", str(tmp_path / "not_read"), "--out", str(tmp_path / "run"), *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and err[-1].startswith("catsdogs train: error: ") and message in err[-1], err
    assert not (tmp_path / "run").exists()


def test_evaluate_limit_must_be_positive(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "--checkpoint", str(tmp_path), "--limit", "0"])
    assert stop.value.code == 2 and "must be at least 1, got 0" in capsys.readouterr().err


# ---- 11: files that are not checkpoints -----------------------------------------------------------------------------

def test_files_that_are_not_checkpoints_are_named_with_the_reason(trained_run, tmp_path, capsys):
    (tmp_path / "random.npz").write_bytes(bytes(random.Random(0).randrange(256) for _ in range(500)))
    Image.new("RGB", (8, 8)).save(tmp_path / "photo.npz", "JPEG")
    with open(tmp_path / "array.npz", "wb") as file:
        np.save(file, np.zeros(3))
    (tmp_path / "empty.npz").write_bytes(b"")
    checkpoint = tg.load(trained_run / "best.npz")
    checkpoint["classes"] = ["cat"]  # one name for a model with two outputs: predict used to fail with IndexError
    tg.save(checkpoint, tmp_path / "classes.npz")
    for name, why in [("random.npz", "not an .npz archive: it starts with the bytes"), ("photo.npz", "a JPEG image"),
                      ("array.npz", "a single .npy array, not an .npz archive"), ("empty.npz", "the file is empty")]:
        code = main(["predict", "--checkpoint", str(tmp_path / name), str(tmp_path)])
        one_line_error(capsys, code, f"not a tinygrad_bn checkpoint: {tmp_path / name}", why)
    code = main(["predict", "--checkpoint", str(tmp_path / "classes.npz"), str(tmp_path)])
    one_line_error(capsys, code, f"unusable checkpoint {tmp_path / 'classes.npz'}",
                   "entry classes must list 2 to 1000 distinct names, got ['cat']")
    checkpoint["classes"] = ["cat", "dog", "fox"]
    tg.save(checkpoint, tmp_path / "classes.npz")
    code = main(["predict", "--checkpoint", str(tmp_path / "classes.npz"), str(tmp_path)])
    one_line_error(capsys, code, "entry architecture.num_classes is 2, but classes lists 3 names")


# ---- 12: non-finite outputs -----------------------------------------------------------------------------------------

def test_a_checkpoint_with_non_finite_weights_is_refused_by_every_command(images, trained_run, tmp_path, capsys):
    """evaluate used to warn and print strict JSON of meaningless numbers; issue 24 made every command refuse."""
    checkpoint = tg.load(trained_run / "best.npz")
    checkpoint["model"]["classifier.2.weight"][...] = np.nan
    tg.save(checkpoint, tmp_path / "nan.npz")
    for command in (["evaluate", "--data", str(images), "--json"], ["predict", str(images)]):
        code = main([command[0], "--checkpoint", str(tmp_path / "nan.npz"), *command[1:]])
        one_line_error(capsys, code, "holds non-finite weights (model/classifier.2.weight)")


# ---- 14: symbolic links that lead nowhere ---------------------------------------------------------------------------

def add_broken_links(folder):
    os.symlink(folder / "nowhere.png", folder / "cat.900.png")
    os.symlink(folder / "dog.901.png", folder / "dog.900.png")  # a loop of two links
    os.symlink(folder / "dog.900.png", folder / "dog.901.png")


def test_broken_links_among_training_images_are_skipped_and_named(tmp_path, capsys):
    data = make_images(tmp_path / "data", per_class=20)
    add_broken_links(data)
    with pytest.warns(SkippedImagesWarning, match="skipped 3 files that cannot be opened"):
        folder = find_images(data)
    assert len(folder) == 40
    code = main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--epochs", "1", *TINY_FLAGS])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "cat.900.png (dangling symbolic link to" in err
    assert "dog.900.png (symbolic link that cannot be followed" in err


def test_predict_names_broken_links_in_a_folder(trained_run, tmp_path, capsys):
    make_images(tmp_path, per_class=1)
    add_broken_links(tmp_path)
    assert main(["predict", "--checkpoint", str(trained_run), str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2 and "\tnan" not in captured.out
    assert f"skipping {tmp_path / 'cat.900.png'}: dangling symbolic link" in captured.err
    assert f"skipping {tmp_path / 'dog.900.png'}: symbolic link that cannot be followed" in captured.err


# ---- 16: orphan temporary files -------------------------------------------------------------------------------------

def test_orphan_temporary_files_of_the_run_are_removed_at_the_start(images, trained_run, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("last.npz", "best.npz"):
        (out / name).write_bytes((trained_run / name).read_bytes())
    orphans = [f".last.npz.{'a' * 32}.tmp", f".best.npz.{'b' * 32}.tmp", ".metrics.csv.0123abcd.tmp"]
    for name in orphans + [".notes.tmp", "mine.tmp"]:
        (out / name).write_bytes(b"x" * 100)
    lines = []
    train(TrainConfig(out=str(out), resume=str(out / "last.npz"), workers=0), log=lines.append, progress_bar=False)
    assert any(line.startswith("removed 3 temporary files") for line in lines), lines
    assert not any((out / name).exists() for name in orphans)
    assert (out / ".notes.tmp").exists() and (out / "mine.tmp").exists()  # not ours: left alone


# ---- kill -9 at any moment ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_kill_9_at_random_moments_never_leaves_a_bad_checkpoint(images, tmp_path):
    """Start a short training, kill -9 it after a random delay, resume, and so on: after each kill every checkpoint
    in the folder loads and is finite, and the next start removes the temporary files the kill left."""
    out, rng = tmp_path / "run", random.Random(0)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), "MPLBACKEND": "Agg"}
    command = [sys.executable, "-m", "models.catsdogs", "train", "--data", str(images), "--out", str(out),
               "--epochs", "14", *TINY_FLAGS]
    kills = 0
    for attempt in range(6):
        if kills == 3:
            break
        resume = ["--resume"] if (out / "last.npz").exists() else []
        process = subprocess.Popen(command + resume, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        try:
            process.wait(timeout=rng.uniform(2.0, 3.0))  # starting takes 2 s, then an epoch about 0.3 s
        except subprocess.TimeoutExpired:
            process.kill()  # SIGKILL: no handler runs, no file is closed cleanly
            kills += 1
        process.wait()
        assert process.returncode in (0, -signal.SIGKILL), process.stderr.read()
        for path in out.glob("*.npz"):
            checkpoint = load_checkpoint(path)
            assert non_finite_entries(checkpoint["model"]) == [], path
            history = checkpoint["progress"]["history"]
            assert [row["epoch"] for row in history] == list(range(1, len(history) + 1)), path
        process.stderr.close()
        if process.returncode == 0:
            break
    assert kills >= 1, "the training always ended before the kill: the test checked nothing"
    lines = []
    train(TrainConfig(out=str(out), resume=str(out / "last.npz"), workers=0), log=lines.append, progress_bar=False)
    assert not list(out.glob(".*.tmp"))
    assert tg.load(out / "best.npz")["progress"]["epoch"] == max(
        tg.load(out / "last.npz")["progress"]["history"], key=lambda row: row["val_accuracy"])["epoch"]


# ---------------------------------------------------------------------------------------------------------------
# Item 15: dtypes. PyTorch refuses an input whose dtype differs from the weights' instead of promoting silently.
# ---------------------------------------------------------------------------------------------------------------
def test_layers_refuse_inputs_of_another_dtype_and_modules_convert_to_named_dtypes():
    import tinygrad_bn.nn as nn

    conv, linear = nn.Conv2d(3, 4, 3), nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match=r"Input type \(int64\) and weight type \(float32\) should be the same"):
        conv(tg.zeros(1, 3, 5, 5, dtype="int64"))
    with pytest.raises(RuntimeError, match=r"Input type \(float16\) and weight type \(float32\)"):
        conv(tg.zeros(1, 3, 5, 5, dtype="float16"))
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 must have the same dtype, but got int64"):
        linear(tg.zeros(2, 3, dtype="int64"))
    assert linear.to("float16").weight.dtype == np.float16
    assert linear(tg.zeros(2, 3, dtype="float16")).dtype == np.float16
    assert conv.half().weight.dtype == np.float16 and conv.double().weight.dtype == np.float64
    with pytest.raises(RuntimeError, match="unknown device 'gpu'"):  # PyTorch's RuntimeError for a device string
        linear.to("gpu")
