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
import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from tinygrad_bn.tensors import Tensor

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


class DataLoader:
    """Iterate over (images, labels) batches: float32 (B, 3, S, S) and int64 (B,) Tensors on `device`.

    images      (N, H, W, 3) uint8 array (usually the memory-mapped cache), H = W >= image_size
    indices     which rows to use (e.g. the training split); default all
    shuffle     a new order every epoch; epoch e draws its order, crops and flips from default_rng(seed + e),
                so runs are reproducible and resume exactly (call set_epoch(e) to continue at epoch e)
    augment     random crop + flip (training); otherwise the centre crop (evaluation)
    resize_to   None: the crops as they are; a size below image_size: each crop shrunk to that size (Pillow's
                bilinear filter, which averages over the shrink factor, so no aliasing); may change between epochs
    workers     threads that assemble the next `prefetch` batches while the training step runs: NumPy releases
                the GIL while it copies, so this overlaps with the step instead of adding to it (0: no threads)
    """

    def __init__(self, images, labels, batch_size=64, *, indices=None, image_size=None, mean=None, std=None,
                 shuffle=False, augment=False, drop_last=False, seed=0, device=None, workers=2, prefetch=4,
                 resize_to=None):
        self.images = images
        self.labels = np.asarray(labels, dtype=np.int64)
        if len(self.labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(self.labels)} labels")
        self.indices = np.arange(len(images)) if indices is None else np.asarray(indices, dtype=np.int64)
        self.batch_size = batch_size
        self.image_size = image_size or images.shape[1]
        if self.image_size > min(images.shape[1:3]):
            raise ValueError(f"image_size {self.image_size} is larger than the cached images {images.shape[1:3]}")
        self.mean = np.zeros(3, np.float32) if mean is None else np.asarray(mean, dtype=np.float32)
        self.std = np.ones(3, np.float32) if std is None else np.asarray(std, dtype=np.float32)
        self.shuffle, self.augment, self.drop_last = shuffle, augment, drop_last
        self.seed, self.epoch = seed, 0
        self.device = device
        self.workers, self.prefetch = workers, prefetch
        self.resize_to = resize_to

    def __len__(self):
        """Number of batches per epoch."""
        n = len(self.indices)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch):
        """The next iteration is epoch `epoch` (its order, crops and flips), e.g. when resuming a run."""
        self.epoch = epoch

    def __iter__(self):
        epoch = self.epoch
        self.epoch += 1
        for images, labels in self.numpy_batches(epoch):
            yield Tensor(images, device=self.device), Tensor(labels, device=self.device)

    def numpy_batches(self, epoch=0):
        """The batches of epoch `epoch` as NumPy arrays, assembled ahead of time by the worker threads."""
        if self.resize_to is not None and not 1 <= self.resize_to <= self.image_size:  # checked once, not per batch
            raise ValueError(f"resize_to must be between 1 and image_size {self.image_size}, got {self.resize_to}")
        plans = self._plan(epoch)
        if self.workers == 0:
            yield from (self._make_batch(*plan) for plan in plans)
            return
        pool = ThreadPoolExecutor(self.workers)
        try:
            pending = deque()
            for plan in plans:
                pending.append(pool.submit(self._make_batch, *plan))
                if len(pending) > self.prefetch:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            pool.shutdown(cancel_futures=True)  # a `break` out of the loop must not leave threads working

    def _plan(self, epoch):
        """Every random choice of the epoch, made up front: (rows, crop offsets, flips) for each batch.

        Drawing them here, in order, rather than inside the worker threads keeps the result independent of
        how the threads happen to be scheduled.
        """
        rng = np.random.default_rng(self.seed + epoch)
        order = rng.permutation(self.indices) if self.shuffle else self.indices
        n = len(order)
        margin = self.images.shape[1] - self.image_size, self.images.shape[2] - self.image_size
        if self.augment:
            offsets = np.stack([rng.integers(0, margin[0] + 1, n), rng.integers(0, margin[1] + 1, n)], axis=1)
            flips = rng.random(n) < 0.5
        else:
            offsets = np.tile([margin[0] // 2, margin[1] // 2], (n, 1))
            flips = np.zeros(n, dtype=bool)
        stop = n - n % self.batch_size if self.drop_last else n
        return [(order[i:i + self.batch_size], offsets[i:i + self.batch_size], flips[i:i + self.batch_size])
                for i in range(0, stop, self.batch_size)]

    def _make_batch(self, rows, offsets, flips):
        S = self.image_size
        out = self.resize_to or S
        batch = np.empty((len(rows), out, out, 3), dtype=np.uint8)
        for i, (row, (top, left), flip) in enumerate(zip(rows, offsets, flips)):
            crop = self.images[row, top:top + S, left:left + S]  # reads just the crop from the memory map
            crop = crop[:, ::-1] if flip else crop
            batch[i] = crop if out == S else shrink(crop, out)
        x = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)  # NHWC -> NCHW
        # (pixel / 255 - mean) / std, written as one multiply and one add per element
        x *= (1.0 / (255.0 * self.std))[None, :, None, None]
        x -= (self.mean / self.std)[None, :, None, None]
        return x, self.labels[rows]
