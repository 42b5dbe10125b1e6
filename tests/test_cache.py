"""The image cache: where it lives, a full disk (issue 12, item 1), a truncated file (item 13), faults injected."""
import errno
import os

import numpy as np
import pytest
from PIL import Image

import models.images.cache as cache
from models.images import CacheSpaceError, build_cache, find_images


def image_folder(root, n=4):
    for i in range(n):
        for name, color in (("cat", (200, 60, 20)), ("dog", (20, 60, 200))):
            root.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (30, 20), color).save(root / f"{name}.{i}.jpg")
    return find_images(root).paths


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def assert_clean_failure(error, cache_dir):
    message = str(error.value)
    assert str(cache_dir) in message and "MB" in message and "--cache-dir" in message
    assert os.listdir(cache_dir) == []  # no stray temporary file, no half cache


def test_too_little_free_space_is_refused_up_front(tmp_path, monkeypatch):
    paths = image_folder(tmp_path / "data")
    monkeypatch.setattr(cache.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 1000})())
    with pytest.raises(CacheSpaceError, match=r"images-16px-\w+\.npy: it needs 0.01 MB, 0.00 MB free") as error:
        build_cache(paths, 16, tmp_path / "cache", progress=False)
    assert_clean_failure(error, tmp_path / "cache")


@pytest.mark.parametrize("where", ["posix_fallocate", "pwrite", "fsync"])
def test_disk_full_while_building_gives_a_clear_error_and_no_file(tmp_path, monkeypatch, where):
    """The disk fills after the free-space check (another program writing): each write path reports it."""
    paths = image_folder(tmp_path / "data")
    monkeypatch.setattr(cache.os, where, no_space)
    with pytest.raises(CacheSpaceError, match="not enough disk space for the image cache") as error:
        build_cache(paths, 16, tmp_path / "cache", progress=False)
    assert_clean_failure(error, tmp_path / "cache")
    assert isinstance(error.value, OSError)  # callers that report OSError one-line (catsdogs) keep doing so


def test_other_write_errors_pass_through_unchanged(tmp_path, monkeypatch):
    paths = image_folder(tmp_path / "data")

    def io_error(*args):
        raise OSError(errno.EIO, "Input/output error")
    monkeypatch.setattr(cache.os, "pwrite", io_error)
    with pytest.raises(OSError, match="Input/output") as error:
        build_cache(paths, 16, tmp_path / "cache", progress=False)
    assert not isinstance(error.value, CacheSpaceError) and os.listdir(tmp_path / "cache") == []


def test_a_truncated_cache_is_named_and_rebuilt(tmp_path, capsys):
    paths = image_folder(tmp_path / "data")
    first = build_cache(paths, 16, tmp_path / "cache", progress=False)
    expected = np.array(first.images)
    del first
    npy = next((tmp_path / "cache").glob("*.npy"))
    with open(npy, "r+b") as file:
        file.truncate(os.path.getsize(npy) - 100)  # a full disk or an interrupted copy
    again = build_cache(paths, 16, tmp_path / "cache", progress=False)
    assert f"the image cache {npy} is damaged (truncated:" in capsys.readouterr().err
    np.testing.assert_array_equal(again.images, expected)
    assert sorted(p.suffix for p in (tmp_path / "cache").iterdir()) == [".json", ".npy"]


def test_skipped_images_still_line_up_after_compaction(tmp_path):
    paths = image_folder(tmp_path / "data")
    broken = tmp_path / "data" / "cat.9.jpg"
    broken.write_bytes(b"not a jpeg")
    paths = find_images(tmp_path / "data").paths
    with pytest.warns(UserWarning, match="cat.9.jpg"):
        result = build_cache(paths, 16, tmp_path / "cache", progress=False)
    assert len(result.images) == len(paths) - 1
    kept_names = [os.path.basename(paths[i]) for i in result.kept]
    for row, name in zip(result.images, kept_names):
        assert (row[8, 8, 0] > 150) == name.startswith("cat"), name


def test_cache_goes_to_the_user_cache_and_is_announced_once(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(cache.CACHE_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(cache, "_announced", set())
    from models.images import load_dataset

    image_folder(tmp_path / "data")
    for _ in range(2):
        load_dataset(tmp_path / "data", 16, progress=True)
    err = capsys.readouterr().err
    assert err.count("image cache: ") == 1 and str(tmp_path / "xdg" / "tinygrad_bn") in err and "MB" in err
    assert not (tmp_path / "data" / ".tinygrad_bn_cache").exists()  # the data folder is left alone


def test_catsdogs_cache_dir_flag(tmp_path, monkeypatch):
    """`evaluate --cache-dir D` caches there (train takes the same flag)."""
    from dataclasses import asdict

    import tinygrad_bn as tg
    import tinygrad_bn.optim as optim
    from models.catsdogs import build_parser, main
    from models.catsdogs_net import CatsDogsNet
    from models.checkpoint import checkpoint_contents
    from models.training import Progress, TrainConfig

    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path / "not-here"))  # restored after the test
    image_folder(tmp_path / "data")
    net = CatsDogsNet(widths=(4,))
    config = TrainConfig(data="/elsewhere", widths=(4,), image_size=16, schedule="constant", epochs=1)
    tg.save(checkpoint_contents(net, optim.SGD(net.parameters(), lr=0.1), None, asdict(config),
                                asdict(Progress(epoch=1, history=[])), ["cat", "dog"], np.full(3, 0.5, np.float32),
                                np.full(3, 0.25, np.float32), 8), tmp_path / "best.npz")
    assert main(["evaluate", "--checkpoint", str(tmp_path / "best.npz"), "--data", str(tmp_path / "data"),
                 "--cache-dir", str(tmp_path / "mine")]) == 0
    assert list((tmp_path / "mine").glob("images-*.npy")) and not (tmp_path / "not-here").exists()
    assert build_parser().parse_args(["train", "--cache-dir", "x"]).cache_dir == "x"
