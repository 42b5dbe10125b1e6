"""The image pipeline on tiny fake datasets built with Pillow, plus one check against the real images."""
import os
import warnings

import numpy as np
import pytest
from PIL import Image

from tinygrad_bn import Tensor
from models.images import (image_loader, SkippedImagesWarning, balanced_subset, build_cache, cache_size,
                              channel_stats, default_cache_dir, find_images, load_dataset, load_square, read_image,
                              resolve_data_dir, train_val_split)

CAT, DOG = (200, 60, 20), (20, 60, 200)  # flat colours make "which image went where" easy to check


def save(path, color=CAT, size=(40, 30), mode="RGB", fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).convert(mode).save(path, fmt)
    return path


def kaggle_tree(root, n=3):
    for i in range(n):
        save(root / f"cat.{i}.jpg", CAT)
        save(root / f"dog.{i}.jpg", DOG)
    return root


# ---- layouts ---------------------------------------------------------------------------------------------------

def test_kaggle_layout(tmp_path):
    kaggle_tree(tmp_path)
    save(tmp_path / "1.jpg")  # test-set style: no class in the name
    (tmp_path / "Thumbs.db").write_bytes(b"junk")
    (tmp_path / ".tinygrad_bn_cache").mkdir()
    folder = find_images(tmp_path)
    assert folder.layout == "kaggle" and folder.classes == ["cat", "dog"]
    assert [os.path.basename(p) for p in folder.paths] == [f"{c}.{i}.jpg" for c in ("cat", "dog") for i in range(3)]
    assert folder.labels.dtype == np.int64 and folder.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert sorted(os.path.basename(p) for p, _ in folder.ignored) == ["1.jpg", "Thumbs.db"]
    assert folder.class_counts() == {"cat": 3, "dog": 3}


def test_class_folders_layout_any_names_nested(tmp_path):
    for name in ("bees", "ants", "wasps"):
        save(tmp_path / name / "a.png", fmt="PNG")
        save(tmp_path / name / "deeper" / "b.JPG", fmt="JPEG")
    (tmp_path / "ants" / "notes.txt").write_text("not an image")
    folder = find_images(tmp_path)
    assert folder.layout == "class-folders" and folder.classes == ["ants", "bees", "wasps"]
    assert folder.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert all(f"/{folder.classes[k]}/" in path for path, k in zip(folder.paths, folder.labels))
    assert [os.path.basename(p) for p, _ in folder.ignored] == ["notes.txt"]


@pytest.mark.parametrize("point_at_petimages", [False, True])
def test_microsoft_petimages_layout(tmp_path, point_at_petimages):
    for i in range(2):
        save(tmp_path / "PetImages" / "Cat" / f"{i}.jpg", CAT)
        save(tmp_path / "PetImages" / "Dog" / f"{i}.jpg", DOG)
    (tmp_path / "readme[1].txt").write_text("Microsoft's readme sits beside PetImages")
    folder = find_images(tmp_path / "PetImages" if point_at_petimages else tmp_path)
    assert folder.layout == "petimages"
    assert folder.classes == ["cat", "dog"]  # lower-cased: the same class names as the Kaggle layout
    assert folder.labels.tolist() == [0, 0, 1, 1]


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        find_images(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=f"no images found in {tmp_path}"):
        find_images(tmp_path)
    save(tmp_path / "cat.1.jpg")
    save(tmp_path / "cat.2.jpg")
    with pytest.raises(ValueError, match="only one class .'cat'. found"):
        find_images(tmp_path)
    with pytest.raises(NotADirectoryError, match="cat.1.jpg"):
        find_images(tmp_path / "cat.1.jpg")
    (tmp_path / "dogs").mkdir()  # an empty class folder is not a class
    with pytest.raises(ValueError, match="only one class"):
        find_images(tmp_path)


def test_resolve_data_dir(monkeypatch):
    monkeypatch.delenv("TINYGRAD_BN_DATA", raising=False)
    assert str(resolve_data_dir()) == "data/dogs-vs-cats"
    monkeypatch.setenv("TINYGRAD_BN_DATA", "/some/where")
    assert str(resolve_data_dir()) == "/some/where"
    assert str(resolve_data_dir("given")) == "given"


# ---- decoding --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, fmt, suffix", [
    ("L", "JPEG", "jpg"), ("CMYK", "JPEG", "jpg"), ("P", "PNG", "png"), ("P", "GIF", "gif"),
    ("RGBA", "PNG", "png"), ("LA", "PNG", "png"), ("1", "BMP", "bmp"), ("RGB", "WEBP", "webp"),
])
def test_every_mode_becomes_rgb_uint8(tmp_path, mode, fmt, suffix):
    color = (200, 60, 20)
    path = save(tmp_path / f"x.{suffix}", color, mode=mode, fmt=fmt)
    array = load_square(path, 12)
    assert array.shape == (12, 12, 3) and array.dtype == np.uint8
    # the colour as that mode can hold it (P and 1 dither it into dots of their palette): compare mean colours
    in_mode = np.asarray(Image.new("RGB", (40, 30), color).convert(mode).convert("RGB"), dtype=np.float64)
    assert np.abs(array.reshape(-1, 3).mean(0) - in_mode.reshape(-1, 3).mean(0)).max() < 12  # JPEG/WebP are lossy


def test_transparency_becomes_white_and_16_bit_is_scaled(tmp_path):
    Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(tmp_path / "clear.png")  # fully transparent red
    assert load_square(tmp_path / "clear.png", 8).min() == 255
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([255, 0, 0] * 256)
    palette.save(tmp_path / "clear.gif", transparency=0)  # palette entry 0 is the transparent one
    assert load_square(tmp_path / "clear.gif", 8).min() == 255
    Image.fromarray(np.full((8, 8), 32768, np.uint16)).save(tmp_path / "deep.png")  # 16-bit grey, half scale
    assert abs(int(load_square(tmp_path / "deep.png", 8)[0, 0, 0]) - 128) <= 1


def test_resize_short_side_then_center_crop(tmp_path):
    wide = np.zeros((20, 60, 3), np.uint8)
    wide[:, :20], wide[:, 20:40], wide[:, 40:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    Image.fromarray(wide).save(tmp_path / "wide.png")
    square = load_square(tmp_path / "wide.png", 10)
    assert square.shape == (10, 10, 3)
    assert (square[:, 2:-2] == (0, 255, 0)).all()  # only the middle (green) third survives the crop


def test_broken_files_are_reported_not_raised(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not a jpeg")
    good = save(tmp_path / "good.jpg", size=(64, 64)).read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(good[: len(good) // 2])
    assert read_image(tmp_path / "empty.jpg", 8) == (None, "empty file")
    for name in ("text.jpg", "truncated.jpg"):
        array, reason = read_image(tmp_path / name, 8)
        assert array is None and reason
    assert read_image(tmp_path / "good.jpg", 8)[1] is None


# ---- cache -----------------------------------------------------------------------------------------------------

def test_cache_skips_broken_files_and_keeps_labels_aligned(tmp_path):
    kaggle_tree(tmp_path / "data", n=3)
    (tmp_path / "data" / "cat.9.jpg").write_bytes(b"")
    (tmp_path / "data" / "dog.9.jpg").write_bytes(b"<html>not an image</html>")
    with pytest.warns(SkippedImagesWarning, match="skipped 2 of 8"):
        data = load_dataset(tmp_path / "data", 16, cache_dir=tmp_path / "cache", progress=False)
    assert data.images.shape == (6, 16, 16, 3) and data.images.dtype == np.uint8
    assert isinstance(data.images, np.memmap)
    assert sorted(os.path.basename(p) for p, _ in data.skipped) == ["cat.9.jpg", "dog.9.jpg"]
    assert dict(data.skipped)[str(tmp_path / "data" / "cat.9.jpg")] == "empty file"
    red_is_cat = data.images[..., 0].mean(axis=(1, 2)) > data.images[..., 2].mean(axis=(1, 2))
    assert (red_is_cat == (data.labels == 0)).all()
    assert len(data.paths) == 6 and data.layout == "kaggle"


def test_cache_is_reused_and_rebuilt_when_a_file_changes(tmp_path, monkeypatch):
    root = kaggle_tree(tmp_path / "data", n=2)
    folder = find_images(root)
    first = build_cache(folder.paths, 8, tmp_path / "cache", progress=False)

    def no_decoding(*args):
        raise AssertionError("a valid cache must be reused, not rebuilt")
    monkeypatch.setattr("models.images.cache.read_image", no_decoding)
    assert build_cache(folder.paths, 8, tmp_path / "cache", progress=False).file == first.file
    monkeypatch.undo()

    save(root / "cat.0.jpg", (0, 255, 0))  # same name, new content and mtime
    stamp = os.stat(root / "cat.0.jpg").st_mtime_ns + 10**9
    os.utime(root / "cat.0.jpg", ns=(stamp, stamp))
    second = build_cache(folder.paths, 8, tmp_path / "cache", progress=False)
    assert second.file != first.file
    assert second.images[0, 4, 4, 1] > 200 and first.images[0, 4, 4, 1] < 100
    assert not [p for p in os.listdir(tmp_path / "cache") if p.endswith(".tmp")]


def test_default_cache_dir(tmp_path, monkeypatch):
    """The user's cache folder, never the data folder unless asked ($TINYGRAD_BN_CACHE or --cache-dir)."""
    monkeypatch.delenv("TINYGRAD_BN_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    assert default_cache_dir(tmp_path) == tmp_path / "home-cache" / "tinygrad_bn"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "tinygrad_bn"
    monkeypatch.setenv("TINYGRAD_BN_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir(tmp_path) == tmp_path / "mine"


# ---- split -----------------------------------------------------------------------------------------------------

def test_split_is_seeded_stratified_and_complete():
    labels = np.array([0] * 70 + [1] * 30)
    train, val = train_val_split(labels, val_fraction=0.2, seed=3)
    again = train_val_split(labels, val_fraction=0.2, seed=3)
    assert np.array_equal(train, again[0]) and np.array_equal(val, again[1])
    assert not np.array_equal(val, train_val_split(labels, val_fraction=0.2, seed=4)[1])
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(100))
    assert np.bincount(labels[val]).tolist() == [14, 6]
    assert train.dtype == np.int64 and (np.diff(train) > 0).all()
    assert len(train_val_split(10, val_fraction=0.3)[1]) == 3
    with pytest.raises(ValueError):
        train_val_split(labels, val_fraction=1.0)


def test_split_is_the_same_on_every_machine():
    # pinned: numpy's PCG64 stream is fixed for a seed, so a change here means the validation set silently moved
    _, val = train_val_split(np.array([0] * 10 + [1] * 10), val_fraction=0.2, seed=0)
    assert val.tolist() == [4, 6, 12, 19]


def test_balanced_subset():
    labels = np.array([0] * 90 + [1] * 10)
    subset = balanced_subset(labels, 30, seed=1)
    assert len(subset) == 30 and np.bincount(labels[subset]).tolist() == [20, 10]
    assert np.array_equal(subset, balanced_subset(labels, 30, seed=1))
    assert len(balanced_subset(labels, 500)) == 100


# ---- loader ----------------------------------------------------------------------------------------------------

def fake_images(n=10, size=9, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_channel_stats_match_numpy():
    images = fake_images(50)
    mean, std = channel_stats(images, chunk=7)
    pixels = images.reshape(-1, 3) / 255.0
    np.testing.assert_allclose(mean, pixels.mean(0), rtol=1e-6)
    np.testing.assert_allclose(std, pixels.std(0), rtol=1e-5)
    assert mean.dtype == np.float32 and mean.shape == (3,)
    np.testing.assert_allclose(channel_stats(images, [3, 1])[0], (images[[1, 3]].reshape(-1, 3) / 255).mean(0),
                               rtol=1e-6)


def test_loader_shapes_dtypes_and_eval_normalization():
    images, labels = fake_images(10), np.arange(10) % 2
    mean, std = np.array([0.5, 0.4, 0.3]), np.array([0.2, 0.25, 0.3])
    loader = image_loader(images, labels, batch_size=4, image_size=7, mean=mean, std=std)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    x, y = batches[0]
    assert isinstance(x, Tensor) and isinstance(y, Tensor) and x.device == "cpu"
    assert x.shape == (4, 3, 7, 7) and x.dtype == np.float32 and y.dtype == np.int64
    assert batches[-1][0].shape == (2, 3, 7, 7)
    center = images[:4, 1:8, 1:8].transpose(0, 3, 1, 2) / 255.0
    expected = (center - mean[None, :, None, None]) / std[None, :, None, None]
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-5, atol=1e-5)
    assert y.numpy().tolist() == [0, 1, 0, 1]
    assert len(image_loader(images, labels, 4, drop_last=True)) == 2
    assert len(list(image_loader(images, labels, 4, drop_last=True))) == 2
    with pytest.raises(ValueError, match="larger than the cached images"):
        image_loader(images, labels, 4, image_size=10)


def epoch_batches(loader, epoch):
    """The batches of epoch `epoch` (the loader's EpochPlan draws them from seed + epoch)."""
    loader.batch_sampler.set_epoch(epoch)
    return list(loader)


def test_shuffling_is_seeded_per_epoch_and_resumable():
    images, labels = fake_images(40), np.arange(40)  # label = row, so the labels reveal the order
    def orders(loader, epochs):
        return [np.concatenate([y.numpy() for _, y in epoch_batches(loader, e)]).tolist() for e in epochs]
    loader = image_loader(images, labels, 8, indices=np.arange(0, 40, 2), shuffle=True, augment=True, seed=5)
    epoch0, epoch1 = orders(loader, [0, 1])
    assert sorted(epoch0) == list(range(0, 40, 2)) and epoch0 != epoch1
    same_seed = image_loader(images, labels, 8, indices=np.arange(0, 40, 2), shuffle=True, augment=True, seed=5,
                             workers=0)
    assert orders(same_seed, [0, 1]) == [epoch0, epoch1]

    # iterating advances the epoch; set_epoch jumps to one (resuming a run): same order and same augmentation
    loader.batch_sampler.set_epoch(0)
    first = [x.numpy() for x, _ in loader] + [x.numpy() for x, _ in loader]
    resumed = image_loader(images, labels, 8, indices=np.arange(0, 40, 2), shuffle=True, augment=True, seed=5)
    resumed.batch_sampler.set_epoch(1)
    for a, b in zip(first[len(loader):], [x.numpy() for x, _ in resumed]):
        np.testing.assert_array_equal(a, b)


def test_augmentation_is_a_crop_and_maybe_a_flip():
    images = fake_images(64, size=8)
    loader = image_loader(images, np.zeros(64), 64, image_size=6, augment=True, seed=0)
    x = next(iter(loader))[0].numpy()
    pixels = np.rint(x.transpose(0, 2, 3, 1) * 255).astype(np.uint8)
    flips, offsets = 0, set()
    for image, crop in zip(images, pixels):
        matches = [(top, left, flip) for top in range(3) for left in range(3) for flip in (False, True)
                   if np.array_equal(crop, image[top:top + 6, left:left + 6][:, ::-1] if flip
                                     else image[top:top + 6, left:left + 6])]
        assert len(matches) == 1
        flips += matches[0][2]
        offsets.add(matches[0][:2])
    assert 16 < flips < 48 and len(offsets) == 9  # both flips and every offset turn up


def test_the_image_pipeline_is_a_dataset_on_the_pytorch_style_dataloader():
    """One data stack: image_loader is utils.data's DataLoader over a Dataset that fetches whole batches."""
    from tinygrad_bn.utils.data import DataLoader, Dataset
    loader = image_loader(fake_images(10), np.arange(10) % 2, 4, image_size=7)
    assert type(loader) is DataLoader and isinstance(loader.dataset, Dataset)
    x, y = loader.dataset[(3, 1, 1, False)]  # an item: (row, top, left, flip)
    np.testing.assert_array_equal(x, next(iter(loader))[0].numpy()[3])
    assert y == 1
    centre, label = loader.dataset[3]  # a plain row number: its centre crop, as evaluation sees it
    np.testing.assert_array_equal(centre, x)
    assert label == 1 and len(loader.dataset) == 10


def test_breaking_out_early_stops_the_workers():
    loader = image_loader(fake_images(100), np.zeros(100), 4, workers=2, prefetch=2)
    for _ in loader:
        break
    assert len(list(loader)) == 25  # the loader still works afterwards


# ---- real images -----------------------------------------------------------------------------------------------

def test_real_images(tmp_path):
    root = os.environ.get("TINYGRAD_BN_DATA")
    if not root:
        pytest.skip("TINYGRAD_BN_DATA is not set: point it at the Kaggle cat.N.jpg/dog.N.jpg folder")
    folder = find_images(root)
    on_disk = {name: sum(f.startswith(name + ".") for f in os.listdir(root)) for name in ("cat", "dog")}
    assert folder.class_counts() == on_disk  # every cat.N.jpg / dog.N.jpg found (22,500 in the shared copy)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkippedImagesWarning)  # the shared copy has no broken files
        data = load_dataset(root, cache_size(32), cache_dir=tmp_path, limit=200, progress=False)
    assert data.images.shape == (200, 36, 36, 3) and np.bincount(data.labels).tolist() == [100, 100]
    mean, std = channel_stats(data.images)
    assert (0.3 < mean).all() and (mean < 0.6).all() and (0.15 < std).all() and (std < 0.35).all()
    x, y = next(iter(image_loader(data.images, data.labels, 16, image_size=32, mean=mean, std=std, augment=True)))
    assert x.shape == (16, 3, 32, 32) and abs(float(x.numpy().mean())) < 1.0
