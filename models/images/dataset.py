"""One call from a folder of images to labelled uint8 arrays: find, (optionally) subsample, decode once, cache.

    data = load_dataset("data/dogs-vs-cats", size=72)
    data.images   # (N, 72, 72, 3) uint8, memory-mapped from the cache
    data.labels   # (N,) int64; data.classes[k] is the name of label k
"""
from dataclasses import dataclass

import numpy as np

from .cache import build_cache, default_cache_dir
from .folders import find_images
from .split import balanced_subset


@dataclass
class LabelledImages:
    """A folder of labelled images, decoded once: what load_dataset returns (CroppedImages serves them to training)."""

    images: np.ndarray  # (N, S, S, 3) uint8
    labels: np.ndarray  # (N,) int64
    classes: list  # class names, sorted
    paths: list  # paths[i] is the file that became images[i]
    skipped: list  # (path, reason): image files that could not be decoded
    ignored: list  # (path, reason): files that are not labelled images (Thumbs.db, ...)
    layout: str  # "kaggle", "class-folders" or "petimages"

    def __len__(self):
        return len(self.labels)


def load_dataset(root, size, cache_dir=None, limit=None, seed=0, workers=None, progress=True):
    """Find the images under `root`, decode them to size x size RGB once (cached on disk) and return them as
    LabelledImages.

    `limit` keeps a seeded, class-balanced subset of that many images (quick experiments, tests, benchmarks).
    `cache_dir` defaults to the user cache folder: $TINYGRAD_BN_CACHE, else $XDG_CACHE_HOME/tinygrad_bn, else
    ~/.cache/tinygrad_bn (see cache.default_cache_dir).
    """
    folder = find_images(root)
    if limit is not None:
        folder = folder.subset(balanced_subset(folder.labels, limit, seed))
    cache = build_cache(folder.paths, size, cache_dir or default_cache_dir(root), workers, progress)
    return LabelledImages(
        images=cache.images,
        labels=folder.labels[cache.kept],
        classes=folder.classes,
        paths=[folder.paths[i] for i in cache.kept],
        skipped=cache.skipped,
        ignored=folder.ignored,
        layout=folder.layout,
    )
