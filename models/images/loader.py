"""Batches for training and evaluation: crop, flip, normalize, shuffle, prefetch, and hand over as Tensors.

The images come from the uint8 cache, stored a little larger than the network's input (72 px for 64 px inputs,
the same 1.125 ratio as the classic 256 -> 224 ImageNet recipe), so that each epoch can show a different crop:

    training    random image_size x image_size crop, and a left-right flip with probability 1/2
    evaluation  the centre crop, no flip
    resize_to   (optional, for progressive resizing) each crop then shrunk to resize_to x resize_to pixels:
                the same view of the image at a lower resolution

then, per channel c, x = (pixel / 255 - mean[c]) / std[c], laid out as NCHW float32 (channels first, as conv2d
expects). mean and std come from the training images (`channel_stats`) and travel with the model's checkpoint.
"""
import functools
import math

import numpy as np
from PIL import Image

from tinygrad_bn import Tensor
from tinygrad_bn.utils.data import DataLoader, Dataset

CROP_MARGIN = 1.125


def cache_size(image_size):
    """The cached image size for a given network input size: room for random crops (64 -> 72)."""
    return int(round(image_size * CROP_MARGIN))


def channel_stats(images, indices=None, chunk=1024):
    """Per-channel (mean, std) of uint8 HWC images, in [0, 1] units, as float32 arrays of shape (3,).

    Computed in chunks in float64 (sum and sum of squares: std = sqrt(E[x^2] - E[x]^2)), so a memory-mapped
    dataset is never loaded whole.
    """
    indices = np.arange(len(images)) if indices is None else np.sort(np.asarray(indices))
    total = np.zeros(3)
    total_of_squares = np.zeros(3)
    count = 0
    for start in range(0, len(indices), chunk):
        pixels = np.asarray(images[indices[start:start + chunk]], dtype=np.float64).reshape(-1, 3) / 255.0
        total += pixels.sum(axis=0)
        total_of_squares += (pixels * pixels).sum(axis=0)
        count += len(pixels)
    mean = total / count
    std = np.sqrt(np.maximum(total_of_squares / count - mean * mean, 0.0))
    return mean.astype(np.float32), std.astype(np.float32)


def shrink(image, size):
    """A uint8 (H, W, 3) image resized to (size, size, 3) with Pillow's bilinear filter. When shrinking, Pillow
    widens the filter by the shrink factor, so each output pixel averages the input pixels it covers."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((size, size), Image.BILINEAR))


class CroppedImages(Dataset):
    """The cached uint8 images as network inputs: a Dataset for utils.data's DataLoader.

    An item is (row, top, left, flip): that image's image_size x image_size crop at (top, left), mirrored if flip,
    shrunk to resize_to (if set), normalized, as (3, S, S) float32, with its int64 label; a plain row number is the
    centre crop, unflipped. `__getitems__` assembles a whole batch at once, as a pair of (B, 3, S, S) and (B,)
    arrays (not a list of samples: `as_tensors` is its collate step): the DataLoader calls it for each batch that
    `EpochPlan` draws, so the crops and flips are chosen there, and this class only cuts them out.

    images      (N, H, W, 3) uint8 array (usually the memory-mapped cache), H = W >= image_size
    resize_to   None: the crops as they are; a size below image_size: each crop shrunk to that size (Pillow's
                bilinear filter, which averages over the shrink factor, so no aliasing); may change between epochs
    """

    def __init__(self, images, labels, image_size=None, mean=None, std=None, resize_to=None):
        self.images = images
        self.labels = np.asarray(labels, dtype=np.int64)
        if len(self.labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(self.labels)} labels")
        self.image_size = image_size or images.shape[1]
        if self.image_size > min(images.shape[1:3]):
            raise ValueError(f"image_size {self.image_size} is larger than the cached images {images.shape[1:3]}")
        self.mean = np.zeros(3, np.float32) if mean is None else np.asarray(mean, dtype=np.float32)
        self.std = np.ones(3, np.float32) if std is None else np.asarray(std, dtype=np.float32)
        self.resize_to = resize_to

    def __len__(self):
        return len(self.images)

    def __getitem__(self, item):
        if isinstance(item, (int, np.integer)):
            margin = self.images.shape[1] - self.image_size, self.images.shape[2] - self.image_size
            item = (item, margin[0] // 2, margin[1] // 2, False)
        x, y = self.__getitems__([item])
        return x[0], y[0]

    def __getitems__(self, items):
        S = self.image_size
        out = self.resize_to or S
        if not 1 <= out <= S:
            raise ValueError(f"resize_to must be between 1 and image_size {S}, got {self.resize_to}")
        batch = np.empty((len(items), out, out, 3), dtype=np.uint8)
        rows = np.empty(len(items), dtype=np.int64)
        for i, (row, top, left, flip) in enumerate(items):
            crop = self.images[row, top:top + S, left:left + S]  # reads just the crop from the memory map
            crop = crop[:, ::-1] if flip else crop
            batch[i], rows[i] = (crop if out == S else shrink(crop, out)), row
        x = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)  # NHWC -> NCHW
        # (pixel / 255 - mean) / std, written as one multiply and one add per element
        x *= (1.0 / (255.0 * self.std))[None, :, None, None]
        x -= (self.mean / self.std)[None, :, None, None]
        return x, self.labels[rows]


class EpochPlan:
    """A batch sampler for CroppedImages: the batches of items (row, top, left, flip) of one epoch.

    Every random choice of epoch e (the order of `indices` if shuffle, and the crop offsets and flips if augment) is
    drawn up front from default_rng(seed + e), in this order, so runs are reproducible and resume exactly:
    iterating plays the next epoch, `set_epoch(e)` jumps to epoch e. Without augment every item is the centre crop,
    unflipped (evaluation).
    """

    def __init__(self, indices, batch_size, margin, *, shuffle=False, augment=False, drop_last=False, seed=0):
        self.indices = np.asarray(indices, dtype=np.int64)
        self.batch_size, self.margin = batch_size, margin
        self.shuffle, self.augment, self.drop_last = shuffle, augment, drop_last
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch):
        """The next iteration is epoch `epoch` (its order, crops and flips), e.g. when resuming a run."""
        self.epoch = epoch

    def __len__(self):
        """Number of batches per epoch."""
        n = len(self.indices)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        epoch = self.epoch
        self.epoch += 1
        rng = np.random.default_rng(self.seed + epoch)
        order = rng.permutation(self.indices) if self.shuffle else self.indices
        n = len(order)
        if self.augment:
            offsets = np.stack([rng.integers(0, self.margin[0] + 1, n), rng.integers(0, self.margin[1] + 1, n)], axis=1)
            flips = rng.random(n) < 0.5
        else:
            offsets = np.tile([self.margin[0] // 2, self.margin[1] // 2], (n, 1))
            flips = np.zeros(n, dtype=bool)
        items = list(zip(order.tolist(), offsets[:, 0].tolist(), offsets[:, 1].tolist(), flips.tolist()))
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            yield items[start:start + self.batch_size]


def image_loader(images, labels, batch_size=64, *, indices=None, image_size=None, mean=None, std=None,
                 shuffle=False, augment=False, drop_last=False, seed=0, device=None, workers=2, prefetch=2,
                 resize_to=None):
    """utils.data's DataLoader over CroppedImages, in batches that EpochPlan draws: (images, labels) batches as
    float32 (B, 3, S, S) and int64 (B,) Tensors on `device`.

    indices     which rows to use (e.g. the training split); default all
    shuffle     a new order every epoch; augment: random crop + flip (training), else the centre crop (evaluation)
    workers     threads that assemble the next workers * prefetch batches while the training step runs (0: none)
    The epoch is `loader.batch_sampler` (set_epoch); `loader.dataset.resize_to` is the size each crop is shrunk to
    (None: none), which may change between epochs (progressive resizing).
    """
    dataset = CroppedImages(images, labels, image_size, mean, std, resize_to)
    margin = images.shape[1] - dataset.image_size, images.shape[2] - dataset.image_size
    plan = EpochPlan(np.arange(len(images)) if indices is None else indices, batch_size, margin, shuffle=shuffle,
                     augment=augment, drop_last=drop_last, seed=seed)
    return DataLoader(dataset, batch_sampler=plan, num_workers=workers, prefetch_factor=prefetch,
                      collate_fn=functools.partial(as_tensors, device=device))


def as_tensors(batch, device=None):
    """The collate step: a batch of (images, labels) arrays as Tensors on `device`."""
    images, labels = batch
    return Tensor(images, device=device), Tensor(labels, device=device)
