"""The cats-vs-dogs program's images: a folder in, batches of Tensors out. Read in this order:

folders.py   find labelled images in the Kaggle, class-folder or Microsoft PetImages layout
images.py    decode one file to square RGB uint8 (every Pillow mode; broken files reported, never raised)
cache.py     decode every image once, in threads, into a memory-mapped uint8 .npy keyed by the file list
dataset.py   load_dataset: the three steps above in one call
split.py     seeded, stratified train/validation split
printable.py file names that are not valid UTF-8, escaped so that they can be printed
loader.py    CroppedImages, a Dataset for utils.data's DataLoader (crop, flip, normalize, a whole batch at once),
             EpochPlan (each epoch's order, crops and flips, seeded) and image_loader, which puts them together
download.py  fetch and unpack Microsoft's kagglecatsanddogs_5340.zip (python data/download.py)

Typical use (see models/catsdogs.py):

    data = load_dataset("data/dogs-vs-cats", size=cache_size(64))
    train_idx, val_idx = train_val_split(data.labels, val_fraction=0.1, seed=0)
    mean, std = channel_stats(data.images, train_idx)
    train = image_loader(data.images, data.labels, 64, indices=train_idx, image_size=64, mean=mean, std=std,
                         shuffle=True, augment=True, drop_last=True, seed=0, device="cpu")
    for images, labels in train:   # (64, 3, 64, 64) float32, (64,) int64
        ...
"""
from .cache import CacheSpaceError, ImageCache, SkippedImagesWarning, build_cache, cache_key, default_cache_dir
from .dataset import LabelledImages, load_dataset
from .folders import DEFAULT_DATA_DIR, ImageFolder, find_images, resolve_data_dir
from .images import IMAGE_EXTENSIONS, is_image_name, load_square, read_image, to_rgb
from .loader import CROP_MARGIN, CroppedImages, EpochPlan, as_tensors, cache_size, channel_stats, image_loader
from .printable import printable
from .split import balanced_subset, train_val_split

__all__ = [
    "CROP_MARGIN", "CacheSpaceError", "CroppedImages", "DEFAULT_DATA_DIR", "EpochPlan", "IMAGE_EXTENSIONS",
    "ImageCache", "ImageFolder", "LabelledImages", "SkippedImagesWarning", "as_tensors", "balanced_subset",
    "build_cache", "cache_key", "cache_size", "channel_stats", "default_cache_dir", "find_images", "image_loader",
    "is_image_name", "load_dataset", "load_square", "printable", "read_image", "resolve_data_dir", "to_rgb",
    "train_val_split",
]
