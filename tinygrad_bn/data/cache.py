"""A uint8 on-disk cache of decoded, resized images, so an epoch costs array copies instead of JPEG decodes.

Decoding a JPEG takes milliseconds; a training step on 64 small images takes not much more. So every image is decoded
and resized once, in a thread pool (Pillow releases the GIL while it decodes and resizes), into one (N, S, S, 3)
uint8 .npy file that later runs open memory-mapped: the operating system pages it in as batches need it.

The file name holds a hash of (file paths, sizes, modification times, S): a changed dataset gets a new cache
instead of stale pixels. Files are written under a temporary name and renamed into place (os.replace is atomic),
so an interrupted build never leaves a half-written cache that looks complete.
"""
import hashlib
import json
import os
import stat
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tinygrad_bn.data.images import read_image

CACHE_VERSION = 1  # bump when decoding changes, so caches made by older code are rebuilt
CACHE_ENV_VAR = "TINYGRAD_BN_CACHE"


class SkippedImagesWarning(UserWarning):
    """Some files could not be decoded and were left out."""


@dataclass
class ImageCache:
    images: np.ndarray  # (N, S, S, 3) uint8, memory-mapped; row j is the decoded file paths[kept[j]]
    kept: np.ndarray  # int64 indices into the path list that was cached
    skipped: list  # (path, reason) for every file that could not be decoded
    file: str  # the .npy file


def default_cache_dir(root):
    """$TINYGRAD_BN_CACHE, else <root>/.tinygrad_bn_cache where we may write, else ~/.cache/tinygrad_bn."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    root = Path(root)
    if _writable(root):
        return root / ".tinygrad_bn_cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tinygrad_bn"


def _writable(folder):
    # root passes os.access on any folder, so also honour a folder its owner marked read-only (a shared dataset)
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    return os.access(folder, os.W_OK) and bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def cache_key(paths, size):
    """A short hash of everything that decides the cached pixels: which files, their sizes and mtimes, and S."""
    digest = hashlib.sha256(f"tinygrad_bn cache v{CACHE_VERSION} size={size}\n".encode())
    for path in paths:
        info = os.stat(path)
        digest.update(f"{os.path.abspath(path)}\t{info.st_size}\t{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def build_cache(paths, size, cache_dir, workers=None, progress=True):
    """Decode every path to (size, size, 3) uint8 once; later calls with the same files just open the cache."""
    if len(paths) == 0:
        raise ValueError("no image files to cache")
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    npy_file = cache_dir / f"images-{size}px-{cache_key(paths, size)}.npy"
    info_file = npy_file.with_suffix(".json")
    if not (npy_file.exists() and info_file.exists()):  # the .json is written last: it marks a finished cache
        _build(paths, size, npy_file, info_file, workers, progress)

    info = json.loads(info_file.read_text())
    skipped = [tuple(item) for item in info["skipped"]]
    if skipped:
        shown = "; ".join(f"{path} ({reason})" for path, reason in skipped[:5])
        more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        warnings.warn(f"skipped {len(skipped)} of {len(paths)} files that could not be decoded: {shown}{more}",
                      SkippedImagesWarning, stacklevel=2)
    return ImageCache(np.load(npy_file, mmap_mode="r"), np.array(info["kept"], dtype=np.int64), skipped, str(npy_file))


def _build(paths, size, npy_file, info_file, workers, progress):
    workers = workers or os.cpu_count() or 1
    rows_file = _temp_name(npy_file)
    try:
        rows = np.lib.format.open_memmap(rows_file, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3))

        def decode_row(i):
            array, reason = read_image(paths[i], size)
            if array is not None:
                rows[i] = array  # each thread writes its own rows of the memory map
            return reason

        pool = ThreadPoolExecutor(workers)
        try:
            bar = tqdm(pool.map(decode_row, range(len(paths))), total=len(paths), unit="img",
                       desc=f"caching {size}px images", disable=not progress)
            reasons = list(bar)
        finally:
            pool.shutdown(cancel_futures=True)  # on Ctrl-C, do not decode the remaining thousands first

        kept = [i for i, reason in enumerate(reasons) if reason is None]
        if not kept:
            raise ValueError(f"none of the {len(paths)} files could be decoded, e.g. {paths[0]}: {reasons[0]}")
        rows.flush()
        del rows  # close the memory map before its file is renamed (required on Windows)
        if len(kept) < len(paths):
            _compact(rows_file, kept)
        os.replace(rows_file, npy_file)
    except BaseException:
        Path(rows_file).unlink(missing_ok=True)
        raise

    skipped = [(str(paths[i]), reason) for i, reason in enumerate(reasons) if reason is not None]
    info = {"version": CACHE_VERSION, "size": size, "files": len(paths), "kept": kept, "skipped": skipped}
    info_tmp = _temp_name(info_file)
    Path(info_tmp).write_text(json.dumps(info))
    os.replace(info_tmp, info_file)


def _compact(rows_file, kept):
    """Rewrite `rows_file` without the rows of skipped files, so images[j] and labels[j] line up."""
    rows = np.load(rows_file, mmap_mode="r")
    compact_file = _temp_name(Path(rows_file))
    try:
        shape = (len(kept),) + rows.shape[1:]
        compact = np.lib.format.open_memmap(compact_file, mode="w+", dtype=np.uint8, shape=shape)
        for start in range(0, len(kept), 1024):  # in chunks: never the whole dataset in memory at once
            compact[start:start + 1024] = rows[kept[start:start + 1024]]
        compact.flush()
        del compact, rows
        os.replace(compact_file, rows_file)
    except BaseException:
        Path(compact_file).unlink(missing_ok=True)
        raise


def _temp_name(final_path):
    """A fresh file name next to `final_path`: same folder, so os.replace is a rename within one filesystem."""
    final_path = Path(final_path)
    return str(final_path.with_name(f"{final_path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"))
