"""Nothing lost, nothing silently wrong, round two (issue 24): what a hostile test run found in the program.

Each test recreates one case: a run folder given to --resume, SIGTERM during training and while the image cache is
built, a named pipe or a name that is not valid UTF-8 among the images, a reader that closes our output early,
checkpoints with bad numbers, unknown, missing or absurd entries, a later format, a bad --opset or --figures. The
data are tiny generated images, so the file runs in seconds without the real dataset.
"""
import copy
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import models.catsdogs
import models.runfolder
import models.training
import tinygrad_bn as tg
from models.catsdogs import main
from models.checkpoint import load_checkpoint
from models.checkpoint_checks import FORMAT_VERSION
from models.training import Terminated, TrainConfig, train
from models.images import build_cache, printable
from models.images.cache import remove_stale_temporaries
from test_faults import QUIET, tiny_config  # the same tiny run as the first round's fault tests

REPO = Path(__file__).resolve().parents[1]
TINY_FLAGS = ["--image-size", "16", "--widths", "8,M,8", "--batch-size", "8", "--workers", "0"]


def make_images(root, per_class=12):
    """20x20 PNGs, reddish cats and bluish dogs: root/cat.0.png ... (Kaggle's layout)."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(("cat", "dog")):
        for i in range(per_class):
            pixels = rng.integers(0, 120, (20, 20, 3), dtype=np.uint8)
            pixels[..., 2 * k] += 120
            Image.fromarray(pixels).save(root / f"{name}.{i}.png")
    return root


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return make_images(tmp_path_factory.mktemp("images"), per_class=20)


@pytest.fixture(scope="module")
def trained_run(images, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(tiny_config(images, out), **QUIET)
    return out


def subprocess_env(cache_dir=None):
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    if cache_dir is not None:
        env["TINYGRAD_BN_CACHE"] = str(cache_dir)
    return env


def catsdogs(*args, timeout=180, **kwargs):
    """`python -m models.catsdogs ARGS` in a subprocess (the timeout only guards against a hang)."""
    return subprocess.run([sys.executable, "-m", "models.catsdogs", *map(str, args)], cwd=REPO, env=subprocess_env(),
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def one_line_error(capsys, code, *fragments):
    """Exit status 2, no traceback, and the last line of stderr is the error holding every fragment."""
    err = capsys.readouterr().err.strip()
    assert code == 2 and "Traceback" not in err, err
    line = err.splitlines()[-1]
    assert line.startswith("catsdogs "), err
    for fragment in fragments:
        assert fragment in line, err
    return line


def copy_run(run, folder):
    folder.mkdir(parents=True)
    for name in ("last.npz", "best.npz"):
        (folder / name).write_bytes((run / name).read_bytes())
    return folder


# ---- 1: --resume with a run folder ------------------------------------------------------------------------------

def test_resume_with_a_run_folder_continues_last_npz_at_its_batch_inside_that_folder(images, tmp_path, capsys):
    runs = tmp_path / "runs"
    out = runs / "x"

    def stop_in_epoch_2(info):  # after epoch 1 (best.npz written), 3 batches into epoch 2
        if info.epoch == 1 and info.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(images, out), on_step=stop_in_epoch_2, **QUIET)
    assert tg.load(out / "last.npz")["progress"]["step"] == 3
    capsys.readouterr()
    assert main(["train", "--resume", str(out)]) == 0
    output = capsys.readouterr().out
    assert f"resuming {out / 'last.npz'}: epoch 2/2, 3 of " in output, output
    assert sorted(path.name for path in runs.iterdir()) == ["x"]  # no lock, metrics or checkpoint beside it
    assert tg.load(out / "last.npz")["progress"]["epoch"] == 2
    assert (out / "metrics.csv").read_text().count("\n") == 3  # header and 2 epochs


def test_resume_with_a_folder_that_has_no_last_npz_says_so(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    code = main(["train", "--resume", str(tmp_path / "x")])
    one_line_error(capsys, code, f"no last.npz in {tmp_path / 'x'}")


# ---- 2: SIGTERM during training ---------------------------------------------------------------------------------

def test_sigterm_during_training_saves_the_exact_batch_like_ctrl_c(images, tmp_path):
    def terminate_at_batch_2(info):
        if info.epoch == 0 and info.step == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # what `timeout` and `docker stop` send

    lines = []
    with pytest.raises(Terminated):
        train(tiny_config(images, tmp_path), on_step=terminate_at_batch_2, log=lines.append, progress_bar=False)
    progress = tg.load(tmp_path / "last.npz")["progress"]
    assert (progress["epoch"], progress["step"]) == (0, 2)
    assert any(line.startswith("stopped by SIGTERM: saved") and "batch 2" in line for line in lines), lines


def test_sigterm_to_the_training_program_exits_143_after_saving(images, tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "models.catsdogs", "train", "--data", str(images), "--out",
                                str(out), "--epochs", "200", *TINY_FLAGS], cwd=REPO, env=subprocess_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:  # wait until the first epoch has been written
            if line.startswith("epoch 1/200"):
                break
        process.send_signal(signal.SIGTERM)
        out_rest, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM: saved" in out_rest and "Traceback" not in err, (out_rest, err)
    assert load_checkpoint(out / "last.npz")["progress"]["epoch"] >= 1


def test_sighup_saves_like_sigterm_and_an_ignored_sighup_stays_ignored(images, tmp_path):
    def hang_up_at_batch_1(info):
        if info.epoch == 0 and info.step == 1:
            os.kill(os.getpid(), signal.SIGHUP)  # the terminal or the ssh session went away

    lines = []
    with pytest.raises(Terminated) as stop:
        train(tiny_config(images, tmp_path / "run"), on_step=hang_up_at_batch_1, log=lines.append,
              progress_bar=False)
    assert stop.value.signum == signal.SIGHUP and any("stopped by SIGHUP: saved" in line for line in lines), lines
    assert tg.load(tmp_path / "run" / "last.npz")["progress"]["step"] == 1

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under `nohup`
    try:
        history = train(tiny_config(images, tmp_path / "nohup", epochs=1), on_step=hang_up_at_batch_1, **QUIET)
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert len(history) == 1


def test_a_run_stopped_after_the_only_batch_of_an_epoch_resumes(images, tmp_path):
    """One batch per epoch, stopped right after it: the resumed epoch has no step left to time (it divided by 0)."""
    def stop_after_the_batch(info):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(images, tmp_path, batch_size=32), on_step=stop_after_the_batch, **QUIET)
    progress = tg.load(tmp_path / "last.npz")["progress"]
    assert (progress["epoch"], progress["step"], progress["seen"]) == (0, 1, 32)
    history = train(TrainConfig(out=str(tmp_path), resume=str(tmp_path / "last.npz"), workers=0), **QUIET)
    assert [row["epoch"] for row in history] == [1, 2] and history[0]["images_per_s"] > 0


def test_no_training_images_is_one_line_without_a_numpy_warning(images, tmp_path, capsys):
    with warnings.catch_warnings(record=True) as caught:  # as a user sees them: each printed with its source line
        warnings.simplefilter("always")
        code = main(["train", "--data", str(images), "--out", str(tmp_path), "--val-fraction", "0.99", *TINY_FLAGS])
    one_line_error(capsys, code, "0 training images make no full batch of 8")
    assert [str(warning.message) for warning in caught] == []


# ---- 3: SIGTERM while the cache is built; stale temporary files -----------------------------------------------

def test_sigterm_while_the_cache_is_built_leaves_no_temporary_file(tmp_path):
    data, cache_dir = make_images(tmp_path / "data"), tmp_path / "cache"
    script = f"""
import os, signal, sys
import models.images.cache as cache
from models.catsdogs import main
real_read_image, calls = cache.read_image, []
def read_then_terminate(path, size):
    calls.append(path)
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGTERM)
    return real_read_image(path, size)
cache.read_image = read_then_terminate
sys.exit(main(["train", "--data", {str(data)!r}, "--out", {str(tmp_path / 'run')!r}, "--workers", "0",
               "--image-size", "16", "--widths", "8,M,8", "--batch-size", "8"]))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=subprocess_env(cache_dir),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.strip().endswith("catsdogs train: stopped by SIGTERM")
    assert list(cache_dir.iterdir()) == []  # the temporary file, reserved at full size, is gone


def test_a_later_build_removes_the_temporary_files_of_dead_builders_only(tmp_path, capsys):
    data, cache_dir = make_images(tmp_path / "data", per_class=2), tmp_path / "cache"
    cache_dir.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = cache_dir / f"images-18px-0123456789abcdef0123.npy.{int(dead.stdout)}-0123abcd.tmp"
    running = cache_dir / f"images-18px-0123456789abcdef0123.npy.{os.getpid()}-4567cdef.tmp"
    mine = cache_dir / "notes.tmp"
    for path in (stale, running, mine):
        path.write_bytes(b"x" * 1000)
    build_cache(sorted(str(path) for path in data.iterdir()), 18, cache_dir, progress=False)
    assert not stale.exists() and running.exists() and mine.exists()
    err = capsys.readouterr().err
    assert f"removed {stale}" in err and f"pid {int(dead.stdout)}, no longer running" in err, err
    assert remove_stale_temporaries(cache_dir) == []


# ---- 4: entries that are not regular files ----------------------------------------------------------------------

def add_odd_entries(folder):
    """A named pipe, a socket and a folder, each named like an image."""
    os.mkfifo(folder / "cat.pipe.jpg")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "dog.socket.png"))
    (folder / "dog.folder.jpg").mkdir()
    return server


def test_a_named_pipe_or_a_socket_among_the_images_is_skipped_with_the_reason(tmp_path):
    data = make_images(tmp_path / "data")
    server = add_odd_entries(data)
    try:
        env_cache = tmp_path / "cache"
        done = subprocess.run([sys.executable, "-m", "models.catsdogs", "train", "--data", str(data), "--out",
                               str(tmp_path / "run"), "--epochs", "1", *TINY_FLAGS], cwd=REPO,
                              env=subprocess_env(env_cache), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"{data / 'cat.pipe.jpg'} (not a regular file but a named pipe)" in done.stderr, done.stderr
        assert f"{data / 'dog.socket.png'} (not a regular file but a socket)" in done.stderr, done.stderr

        done = catsdogs("predict", "--checkpoint", tmp_path / "run", data / "cat.pipe.jpg", data, timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"skipping {data / 'cat.pipe.jpg'}: not a regular file but a named pipe" in done.stderr
        assert f"skipping {data / 'dog.socket.png'}: not a regular file but a socket" in done.stderr
        assert len(done.stdout.splitlines()) == 24
    finally:
        server.close()


# ---- 5: file names that are not valid UTF-8 -----------------------------------------------------------------------

def test_file_names_that_are_not_utf8_work_and_are_printed_escaped(tmp_path, capsys):
    data = make_images(tmp_path / "data")
    latin1 = data / os.fsdecode(b"cat.caf\xe9.png")  # a Latin-1 name: the byte 0xe9 is not UTF-8
    latin1.write_bytes((data / "cat.0.png").read_bytes())
    broken = data / os.fsdecode(b"dog.\xff.png")
    broken.write_bytes(b"not an image")
    out = tmp_path / "run"
    code = main(["train", "--data", str(data), "--out", str(out), "--epochs", "1", *TINY_FLAGS])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "dog.\\xff.png (not an image Pillow can read)" in captured.err, captured.err
    assert load_checkpoint(out / "last.npz")["num_images"] == 25  # the Latin-1 name was trained on

    assert main(["evaluate", "--checkpoint", str(out), "--data", str(data), "--split", "all"]) == 0
    capsys.readouterr()
    assert main(["predict", "--checkpoint", str(out), str(latin1), str(broken)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{data}/cat.caf\\xe9.png\t"), captured.out
    assert f"skipping {data}/dog.\\xff.png: not an image Pillow can read" in captured.err
    assert printable(latin1).endswith("cat.caf\\xe9.png")


def test_control_characters_in_a_name_are_escaped_so_each_output_line_stays_one_line(trained_run, tmp_path, capsys):
    folder = make_images(tmp_path / "photos", per_class=1)
    odd = folder / "cat.a\nb\tc\x1b[2J.png"  # a newline, a tab and a terminal escape sequence
    odd.write_bytes((folder / "cat.0.png").read_bytes())
    assert main(["predict", "--checkpoint", str(trained_run), str(odd)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].split("\t")[0] == f"{folder}/cat.a\\nb\\tc\\x1b[2J.png", lines


# ---- 6: a reader that closes our output early -------------------------------------------------------------------

@pytest.mark.slow
def test_every_command_piped_into_a_reader_that_closes_early(images, trained_run, tmp_path):
    """As `catsdogs predict ... | head -1`: the reader is gone before the first line. No traceback, exit 0, and
    train still trains to the end (its output is not what a run is for)."""
    commands = {
        "train": ["train", "--data", images, "--out", tmp_path / "run", "--epochs", "1", *TINY_FLAGS],
        "evaluate": ["evaluate", "--checkpoint", trained_run, "--data", images, "--no-figures"],
        "evaluate --json": ["evaluate", "--checkpoint", trained_run, "--data", images, "--no-figures", "--json"],
        "predict": ["predict", "--checkpoint", trained_run, images],
        "export": ["export", "--checkpoint", trained_run, "--onnx", tmp_path / "model.onnx"],
        "help": ["--help"],
    }
    if importlib.util.find_spec("onnx") is None:  # without the optional package export stops at once (exit 2)
        del commands["export"]
    for name, args in commands.items():
        process = subprocess.Popen([sys.executable, "-m", "models.catsdogs", *map(str, args)], cwd=REPO,
                                   env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        process.stdout.close()  # the reader is gone: every write to stdout fails with EPIPE
        err = process.stderr.read().decode()
        assert process.wait(timeout=120) == 0 and "Traceback" not in err and "Exception ignored" not in err, \
            (name, err)
    assert load_checkpoint(tmp_path / "run" / "last.npz")["progress"]["epoch"] == 1


# ---- 7: one check of the numbers, for every command ---------------------------------------------------------------

@pytest.mark.parametrize("damage, message", [
    (lambda c: c["model"]["classifier.2.weight"].fill(np.nan), "holds non-finite weights (model/classifier.2.weight)"),
    (lambda c: c["mean"].__setitem__(0, np.nan), "entry mean is not finite"),
    (lambda c: c["std"].__setitem__(1, 0.0), "entry std must be positive"),
    (lambda c: c["model"]["features.1.running_var"].__setitem__(0, -1.0),
     "entry model.features.1.running_var holds negative variances"),
    (lambda c: c["optimizer"]["param_groups"][0].__setitem__("lr", float("nan")),
     "non-finite weights (optimizer/param_groups/0/lr)"),
])
def test_every_command_refuses_a_checkpoint_with_unusable_numbers(images, trained_run, tmp_path, capsys, damage,
                                                                   message):
    checkpoint = tg.load(trained_run / "last.npz")
    damage(checkpoint)
    run = tmp_path / "run"
    run.mkdir()
    tg.save(checkpoint, run / "last.npz")
    for args in (["evaluate", "--checkpoint", run, "--data", images], ["predict", "--checkpoint", run, images],
                 ["export", "--checkpoint", run, "--onnx", tmp_path / "model.onnx"], ["train", "--resume", run]):
        code = main(list(map(str, args)))
        one_line_error(capsys, code, f"unusable checkpoint {run / 'last.npz'}", message)
    assert not (tmp_path / "model.onnx").exists()


# ---- 8 and versions: unknown entries, later formats, old checkpoints ---------------------------------------------

def test_unknown_entries_of_a_later_minor_version_are_ignored_with_a_warning(images, trained_run, tmp_path, capsys):
    run = copy_run(trained_run, tmp_path / "run")
    checkpoint = tg.load(run / "last.npz")
    checkpoint["format_version"] = [FORMAT_VERSION[0], FORMAT_VERSION[1] + 1]
    checkpoint["config"]["cutout"] = 0.5
    checkpoint["progress"]["wall_clock"] = 12.0
    checkpoint["calibration"] = {"temperature": 1.5}
    checkpoint["later.entry"] = 1  # a dot in a name is no nesting
    tg.save(checkpoint, run / "last.npz")
    assert main(["train", "--resume", str(run / "last.npz")]) == 0  # a finished run: checked, nothing to train
    err = capsys.readouterr().err
    assert ("holds entries this version does not know, ignored: calibration, later.entry, config.cutout, "
            "progress.wall_clock") in err, err
    assert main(["evaluate", "--checkpoint", str(run / "last.npz"), "--data", str(images), "--no-figures"]) == 0


def test_a_later_major_format_is_refused_and_an_unversioned_checkpoint_loads(trained_run, tmp_path, capsys):
    checkpoint = tg.load(trained_run / "best.npz")
    checkpoint["format_version"] = [FORMAT_VERSION[0] + 1, 0]
    tg.save(checkpoint, tmp_path / "later.npz")
    code = main(["predict", "--checkpoint", str(tmp_path / "later.npz"), str(tmp_path)])
    one_line_error(capsys, code, "entry format_version is 2.0: the checkpoint was written by a later version",
                   "upgrade tinygrad_bn")
    checkpoint["format"] = "tinygrad_bn catsdogs checkpoint v2"
    tg.save(checkpoint, tmp_path / "later.npz")
    code = main(["predict", "--checkpoint", str(tmp_path / "later.npz"), str(tmp_path)])
    one_line_error(capsys, code, "from a later version of this program")

    old = tg.load(trained_run / "best.npz")
    assert tuple(old.pop("format_version")) == FORMAT_VERSION  # written by this version
    for name in ("progressive", "val_every", "tta", "ema", "mixup", "recipe", "arch", "blocks", "workers"):
        del old["config"][name]  # settings added after the first checkpoints were written
    del old["progress"]["train_seconds"], old["progress"]["best_accuracy"]
    tg.save(old, tmp_path / "old.npz")
    assert load_checkpoint(tmp_path / "old.npz")["classes"] == ["cat", "dog"]


# ---- 9: entries checked one by one --------------------------------------------------------------------------------

def set_entry(checkpoint, entry, value):
    *parents, last = entry.split(".")
    tree = checkpoint
    for name in parents:
        tree = tree[name]
    if value is REMOVE:
        del tree[last]
    else:
        tree[last] = value


REMOVE = object()


@pytest.mark.parametrize("entry, value, message", [
    ("num_images", REMOVE, "entry num_images is missing"),
    ("progress.epoch", REMOVE, "entry progress.epoch is missing"),
    ("progress.epoch", "2", "entry progress.epoch must be a whole number, got '2'"),
    ("config.data", REMOVE, "entry config.data is missing"),
    ("config.data", None, "entry config.data must be a string, got None"),
    ("config.val_fraction", 5, "entry config.val_fraction must be in [0, 1), got 5"),
    ("config.limit", -5, "entry config.limit must be at least 2, got -5"),
    ("architecture.widths", [100000, "M", 8], "entry architecture.widths[0] must be one of the numbers of channels "
                                              "from 1 to 4096"),
    ("architecture.widths", [4000, "M", 4000], "need at least 144,108,000 weights"),
    ("image_size", 40000, "entry image_size must be between 2 and 1024, got 40000"),
    ("image_size", 0, "entry image_size must be between 2 and 1024, got 0"),
    ("config.image_size", -3, "entry config.image_size must be at least 2, got -3"),
    ("config.init_scale", 1e300, "entry config.init_scale must be in (0, 1000], got 1e+300"),  # overflowed to inf
])
def test_each_entry_is_checked_before_use(images, trained_run, tmp_path, capsys, entry, value, message):
    checkpoint = tg.load(trained_run / "last.npz")
    set_entry(checkpoint, entry, value)
    run = tmp_path / "run"
    run.mkdir()
    tg.save(checkpoint, run / "last.npz")
    for args in (["evaluate", "--checkpoint", run, "--data", images], ["train", "--resume", run]):
        code = main(list(map(str, args)))
        one_line_error(capsys, code, f"unusable checkpoint {run / 'last.npz'}", message)


# ---- 10: --opset ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("opset", ["1", "99", "-1"])
def test_export_refuses_an_opset_it_cannot_write_in_one_line(trained_run, tmp_path, capsys, opset):
    pytest.importorskip("onnx")
    code = main(["export", "--checkpoint", str(trained_run), "--onnx", str(tmp_path / "m.onnx"), "--opset", opset])
    one_line_error(capsys, code, f"--opset {opset} is not supported: use 13 to")


# ---- 11: --figures checked before the evaluation ----------------------------------------------------------------

def test_an_unusable_figures_folder_is_refused_before_the_evaluation(images, trained_run, tmp_path, capsys,
                                                                     monkeypatch):
    class Evaluated(Exception):
        pass

    def evaluation_must_not_start(*args, **kwargs):
        raise Evaluated

    monkeypatch.setattr(models.catsdogs, "model_outputs", evaluation_must_not_start)
    (tmp_path / "a_file").write_text("not a folder")
    code = main(["evaluate", "--checkpoint", str(trained_run), "--data", str(images), "--figures",
                 str(tmp_path / "a_file" / "figures")])
    one_line_error(capsys, code, f"cannot write the figures into {tmp_path / 'a_file' / 'figures'}",
                   "--no-figures")


# ---- the checkpoint fuzz test: every entry, damaged every way, through every command -----------------------------

def entries(tree, path=()):
    """(path, value) for every entry of a nested dict/list, containers included; of the many entries alike (the
    weights, the momentum buffers, the history's rows) a few stand for the rest."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else []
    for i, (key, value) in enumerate(items):
        if isinstance(tree, list) and i > 0 or path in (("model",), ("optimizer", "state")) and i not in (0, 1, 5):
            continue
        yield path + (key,), value
        yield from entries(value, path + (key,))


def damaged(value):
    """(name, replacement) for each way of damaging `value`: REMOVE, the wrong type, out of range, NaN, huge."""
    if isinstance(value, bool):
        return [("removed", REMOVE), ("a string", "yes"), ("out of range", 2)]
    if isinstance(value, (int, float)):
        return [("removed", REMOVE), ("a string", "1"), ("negative", -1), ("NaN", float("nan")),
                ("huge", 10 ** 12 if isinstance(value, int) else 1e300), ("a list", [value])]
    if isinstance(value, str):
        return [("removed", REMOVE), ("a number", 7), ("empty", ""), ("not UTF-8", "caf\udce9")]
    if isinstance(value, np.ndarray):
        nan = np.full(value.shape, np.nan, np.float32)
        return [("removed", REMOVE), ("a string", "x"), ("negative", -np.ones_like(value)), ("NaN", nan),
                ("huge", np.zeros(10 ** 6, value.dtype)), ("integers", value.astype(np.int64))]
    if isinstance(value, list):
        return [("removed", REMOVE), ("a string", "x"), ("empty", []), ("huge", [value[0] if value else 1] * 10 ** 4)]
    if isinstance(value, dict):
        return [("removed", REMOVE), ("a list", [1]), ("empty", {})]
    return [("removed", REMOVE), ("a string", "x")]  # None


def replace_entry(checkpoint, path, value):
    tree = checkpoint
    for key in path[:-1]:
        tree = tree[key]
    if value is REMOVE:
        del tree[path[-1]]
    else:
        tree[path[-1]] = value


@pytest.mark.slow
def test_checkpoint_fuzz_every_command_gives_one_line_naming_the_entry_or_works(images, tmp_path, capsys,
                                                                                monkeypatch):
    """A real checkpoint, stopped in the middle of an epoch; each entry (nested ones too) removed, of the wrong type,
    out of range, NaN, huge: evaluate, predict, export and train --resume each end with one line naming the entry
    and exit 2, or work. A checkpoint that load_checkpoint refuses is refused by every command with the same line
    (they share it), so the other commands run only for the checkpoints it accepts."""
    run = tmp_path / "run"

    def stop_before_the_last_batch(info):  # so that --resume trains one step, validates and saves
        if info.epoch == 1 and info.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(images, run), on_step=stop_before_the_last_batch, **QUIET)
    original, best = tg.load(run / "last.npz"), (run / "best.npz").read_bytes()
    # the curves are not under test here, and drawing them would take most of the time
    monkeypatch.setattr(models.training, "plot_curves", lambda path, history: None)
    monkeypatch.setattr(models.runfolder, "plot_curves", lambda path, history: None)
    try:
        import onnx  # noqa: F401 (the export command runs where it is installed)
        has_onnx = True
    except ImportError:
        has_onnx = False

    failures, cases, started = [], 0, time.perf_counter()
    for path, value in list(entries(original)):
        for how, replacement in damaged(value):
            cases += 1
            checkpoint = copy.deepcopy(original)
            replace_entry(checkpoint, path, replacement)
            case = tmp_path / f"case{cases}"
            case.mkdir()
            try:
                tg.save(checkpoint, case / "last.npz")
            except (TypeError, ValueError):  # what tg.save cannot write cannot be in a checkpoint
                continue
            (case / "best.npz").write_bytes(best)  # the run folder of a resumable run holds its best epoch
            commands = [["evaluate", "--checkpoint", case, "--data", images, "--no-figures"],
                        ["predict", "--checkpoint", case, images / "cat.0.png"],
                        ["train", "--resume", case]]
            if has_onnx:
                commands.insert(2, ["export", "--checkpoint", case, "--onnx", case / "model.onnx"])
            entry = ".".join(map(str, path))
            for args in commands:
                try:
                    code = main(list(map(str, args)))
                except BaseException as error:  # a traceback, or argparse's exit
                    code = f"{type(error).__name__}: {error}"
                err = capsys.readouterr().err.strip()
                last = err.splitlines()[-1] if err else ""
                named = str(path[0]) in last or "architecture" in last and path[0] in ("model", "config")
                if code == 0 or code == 2 and last.startswith("catsdogs ") and named and "Traceback" not in err:
                    if code == 2 and "checkpoint " in last and args[0] == "evaluate" and (
                            "unusable checkpoint" in last or "not a tinygrad_bn checkpoint" in last):
                        break  # refused by load_checkpoint, which every command shares
                    continue
                failures.append(f"{entry} {how}: {args[0]} -> {code}: {last[-300:]}")
    print(f"{cases} cases in {time.perf_counter() - started:.0f} s")
    assert cases > 300
    assert not failures, f"{len(failures)} of {cases} cases:\n" + "\n".join(failures[:40])


# ---- the audit: other entries a folder can hold, a checkpoint that is no regular file ------------------------------

def test_folders_named_like_images_unlistable_folders_and_linked_folders_are_named(tmp_path, monkeypatch):
    from models.images import SkippedImagesWarning, find_images

    kaggle = make_images(tmp_path / "kaggle", per_class=2)
    (kaggle / "cat.9.jpg").mkdir()
    with pytest.warns(SkippedImagesWarning, match=r"cat\.9\.jpg \(a folder named like an image\)"):
        assert len(find_images(kaggle)) == 4

    classes = tmp_path / "classes"
    for name in ("cats", "dogs"):
        make_images(classes / name / "a", per_class=1)
    (classes / "cats" / "b").symlink_to(classes / "dogs" / "a")  # a linked folder: not followed, so named
    locked = classes / "dogs" / "locked"
    locked.mkdir()
    real_scandir = os.scandir

    def unlistable(path):  # what a folder without read permission does (root may read anything)
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", unlistable)
    with pytest.warns(SkippedImagesWarning) as caught:
        folder = find_images(classes)
    message = str(caught[0].message)
    assert f"{locked} (a folder that cannot be listed: Permission denied)" in message, message
    assert f"{classes / 'cats' / 'b'} (a symbolic link to a folder, not followed)" in message, message
    assert len(folder) == 4


def test_a_named_pipe_given_as_the_checkpoint_is_refused_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / "best.npz")
    done = catsdogs("evaluate", "--checkpoint", tmp_path / "best.npz", timeout=60)
    assert done.returncode == 2 and done.stderr.strip().endswith("(not a regular file but a named pipe)"), done.stderr


def test_the_cache_announcement_counts_the_folder_despite_a_dangling_link(tmp_path, capsys):
    data, cache_dir = make_images(tmp_path / "data", per_class=2), tmp_path / "cache"
    cache_dir.mkdir()
    (cache_dir / "images-old.npy").symlink_to(tmp_path / "gone.npy")  # stat() raised FileNotFoundError
    build_cache(sorted(str(path) for path in data.iterdir()), 18, cache_dir, progress=True)
    assert "image cache: " in capsys.readouterr().err


def test_an_unusable_grid_path_is_refused_before_any_image_is_labelled(trained_run, images, tmp_path, capsys):
    (tmp_path / "a_file").write_text("not a folder")
    grid = tmp_path / "a_file" / "grid.png"
    code = main(["predict", "--checkpoint", str(trained_run), str(images), "--grid", str(grid)])
    captured = capsys.readouterr()
    assert captured.out == ""  # refused first, not after every image was labelled
    assert code == 2 and captured.err.strip().endswith(f"cannot write the grid {grid}: File exists")


def test_a_data_folder_name_with_a_newline_still_gives_one_line(tmp_path, capsys):
    code = main(["train", "--data", str(tmp_path / "no\nsuch"), "--out", str(tmp_path / "run")])
    line = one_line_error(capsys, code, "data folder not found")
    assert f"{tmp_path}/no\\nsuch" in line


def test_a_named_pipe_as_best_npz_of_a_resumed_run_is_replaced_not_waited_on(trained_run, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.npz").write_bytes((trained_run / "best.npz").read_bytes())  # epoch 1 of 2, its best epoch
    os.mkfifo(run / "best.npz")
    done = catsdogs("train", "--resume", run / "last.npz", timeout=120)
    assert done.returncode == 0, done.stderr
    assert (run / "best.npz").is_file()  # (reading the pipe here would wait for ever)
    assert tg.load(run / "best.npz")["progress"]["epoch"] >= 1
