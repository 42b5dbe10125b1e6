"""A uint8 on-disk cache of decoded, resized images, so an epoch costs array copies instead of JPEG decodes.

Decoding a JPEG takes milliseconds; a training step on 64 small images takes not much more. So every image is decoded
and resized once, in a thread pool (Pillow releases the GIL while it decodes and resizes), into one (N, S, S, 3)
uint8 .npy file that later runs open memory-mapped: the operating system pages it in as batches need it.

The file name holds a hash of (file paths, sizes, modification times, S): a changed dataset gets a new cache
instead of stale pixels. Files are written under a temporary name and renamed into place (os.replace is atomic),
so an interrupted build never leaves a half-written cache that looks complete; a cache found damaged anyway
(truncated by a full disk or a copy) is named and rebuilt. The temporary name holds the pid of its builder: a
build interrupted by SIGTERM or Ctrl-C removes its file, and the next build removes the file of any builder that
died without cleaning up (SIGKILL), since each is reserved at full size (hundreds of MB).

Where: the user's cache folder ($XDG_CACHE_HOME/tinygrad_bn, else ~/.cache/tinygrad_bn), as pip and PyTorch do,
never silently the data folder: $TINYGRAD_BN_CACHE (or `--cache-dir` in the catsdogs program) puts it elsewhere.

Disk space. The rows are written with pwrite into a file whose blocks were reserved first (posix_fallocate), not
through a memory map: writing a memory-mapped page that the full disk cannot back kills the process with SIGBUS,
whereas pwrite fails with an OSError that we turn into a message naming the path and the space needed.
"""
import errno
import hashlib
import json
import os
import re
import shutil
import sys
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .images import read_image
from .printable import printable

CACHE_VERSION = 1  # bump when decoding changes, so caches made by older code are rebuilt
CACHE_ENV_VAR = "TINYGRAD_BN_CACHE"


class SkippedImagesWarning(UserWarning):
    """Some files could not be decoded and were left out."""


class CacheSpaceError(OSError):
    """The disk cannot hold the image cache: the message names the path and the space needed."""


@dataclass
class ImageCache:
    images: np.ndarray  # (N, S, S, 3) uint8, memory-mapped; row j is the decoded file paths[kept[j]]
    kept: np.ndarray  # int64 indices into the path list that was cached
    skipped: list  # (path, reason) for every file that could not be decoded
    file: str  # the .npy file


def default_cache_dir(root=None):
    """$TINYGRAD_BN_CACHE, else $XDG_CACHE_HOME/tinygrad_bn, else ~/.cache/tinygrad_bn.

    `root` (the data folder) is accepted and not used: a cache in the data folder is a 350-650 MB surprise there.
    """
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tinygrad_bn"


def cache_key(paths, size):
    """A short hash of everything that decides the cached pixels: which files, their sizes and mtimes, and S."""
    digest = hashlib.sha256(f"tinygrad_bn cache v{CACHE_VERSION} size={size}\n".encode())
    for path in paths:
        info = os.stat(path)
        # the name's bytes: a name that is not valid UTF-8 holds surrogates, which str.encode refuses
        digest.update(os.fsencode(os.path.abspath(path)) + f"\t{info.st_size}\t{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def build_cache(paths, size, cache_dir, workers=None, progress=True):
    """Decode every path to (size, size, 3) uint8 once; later calls with the same files just open the cache."""
    if len(paths) == 0:
        raise ValueError("no image files to cache")
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(cache_dir)
    npy_file = cache_dir / f"images-{size}px-{cache_key(paths, size)}.npy"
    info_file = npy_file.with_suffix(".json")
    if npy_file.exists() and info_file.exists():  # the .json is written last: it marks a finished cache
        problem = _damage(npy_file, info_file, size)
        if problem:
            print(f"the image cache {npy_file} is damaged ({problem}): rebuilding it", file=sys.stderr)
            npy_file.unlink()
            info_file.unlink()
    if not (npy_file.exists() and info_file.exists()):
        _build(paths, size, npy_file, info_file, workers, progress)
    if progress:
        _announce(npy_file)

    info = json.loads(info_file.read_text())
    skipped = [tuple(item) for item in info["skipped"]]
    if skipped:
        shown = "; ".join(f"{printable(path)} ({reason})" for path, reason in skipped[:5])
        more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        warnings.warn(f"skipped {len(skipped)} of {len(paths)} files that could not be decoded: {shown}{more}",
                      SkippedImagesWarning, stacklevel=2)
    return ImageCache(np.load(npy_file, mmap_mode="r"), np.array(info["kept"], dtype=np.int64), skipped, str(npy_file))


def _build(paths, size, npy_file, info_file, workers, progress):
    workers = workers or os.cpu_count() or 1
    row_shape = (size, size, 3)
    rows_file = _temp_name(npy_file)
    try:
        with _NpyWriter(rows_file, len(paths), row_shape, final_path=npy_file) as rows:
            def decode_row(i):
                array, reason = read_image(paths[i], size)
                if array is not None:
                    rows.write(i, array)  # each thread writes its own rows
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
        if len(kept) < len(paths):
            _compact(rows_file, kept, npy_file)
        os.replace(rows_file, npy_file)
    except BaseException:
        Path(rows_file).unlink(missing_ok=True)
        raise

    skipped = [(str(paths[i]), reason) for i, reason in enumerate(reasons) if reason is not None]
    info = {"version": CACHE_VERSION, "size": size, "files": len(paths), "kept": kept, "skipped": skipped}
    info_tmp = _temp_name(info_file)
    try:
        Path(info_tmp).write_text(json.dumps(info))
        os.replace(info_tmp, info_file)
    except OSError as error:
        Path(info_tmp).unlink(missing_ok=True)
        raise _space_error(error, info_file, len(json.dumps(info))) from None


def _compact(rows_file, kept, npy_file):
    """Rewrite `rows_file` without the rows of skipped files, so images[j] and labels[j] line up."""
    rows = np.load(rows_file, mmap_mode="r")
    compact_file = _temp_name(Path(rows_file))
    try:
        with _NpyWriter(compact_file, len(kept), rows.shape[1:], final_path=npy_file) as compact:
            for start in range(0, len(kept), 1024):  # in chunks: never the whole dataset in memory at once
                compact.write(start, rows[kept[start:start + 1024]])
        del rows
        os.replace(compact_file, rows_file)
    except BaseException:
        Path(compact_file).unlink(missing_ok=True)
        raise


class _NpyWriter:
    """A (count, *row_shape) uint8 .npy file written row by row with pwrite, its space reserved up front.

    Any failure for lack of space, at the start or later, becomes a CacheSpaceError naming `final_path`.
    """

    def __init__(self, path, count, row_shape, final_path=None):
        self.path, self.final_path = path, final_path or path
        self.row_bytes = int(np.prod(row_shape))
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False,
                  "shape": (count,) + tuple(row_shape)}
        self.total = None
        self.file = open(path, "xb")
        try:
            np.lib.format.write_array_header_1_0(self.file, header)
            self.file.flush()
            self.offset = self.file.tell()
            self.total = self.offset + count * self.row_bytes
            free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
            if free < self.total:
                raise CacheSpaceError(_space_message(self.final_path, self.total, free))
            _reserve(self.file.fileno(), self.total)
        except BaseException as error:
            self.file.close()
            if isinstance(error, OSError) and not isinstance(error, CacheSpaceError):
                raise _space_error(error, self.final_path, self.total) from None
            raise

    def write(self, index, rows):
        data = np.ascontiguousarray(rows, dtype=np.uint8).tobytes()
        try:
            os.pwrite(self.file.fileno(), data, self.offset + index * self.row_bytes)
        except OSError as error:
            raise _space_error(error, self.final_path, self.total) from None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        try:
            if exc_info[0] is None:
                os.fsync(self.file.fileno())  # a full disk can still refuse the data here
        except OSError as error:
            raise _space_error(error, self.final_path, self.total) from None
        finally:
            self.file.close()


def _reserve(fd, total):
    """Allocate the file's blocks now, so that the writes cannot run out of space halfway."""
    try:
        os.posix_fallocate(fd, 0, total)
    except AttributeError:  # not on macOS or Windows: the writes will report ENOSPC themselves
        os.ftruncate(fd, total)
    except OSError as error:
        if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # some filesystems cannot preallocate
            raise
        os.ftruncate(fd, total)


def _space_error(error, path, needed):
    """A CacheSpaceError for a full disk or quota; any other OSError unchanged."""
    if error.errno not in (errno.ENOSPC, errno.EDQUOT):
        return error
    try:
        free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
    except OSError:
        free = None
    return CacheSpaceError(_space_message(path, needed, free))


def _space_message(path, needed, free):
    needs = f"needs {_megabytes(needed)}" if needed else "needs more space"
    has = f", {_megabytes(free)} free" if free is not None else ""
    return (f"not enough disk space for the image cache {path}: it {needs}{has}. Free some space, or put the "
            f"cache on another disk with --cache-dir or ${CACHE_ENV_VAR}")


def _megabytes(count):
    return f"{count / 1e6:,.0f} MB" if count >= 1e6 else f"{count / 1e6:.2f} MB"


def _damage(npy_file, info_file, size):
    """Why a finished-looking cache can't be used (truncated, wrong header, unreadable .json), or None."""
    try:
        with open(npy_file, "rb") as file:
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(np.lib.format.read_magic(file))
            if read_header is None:
                return "an unknown .npy format version"
            shape, _, dtype = read_header(file)
            expected = file.tell() + int(np.prod(shape)) * dtype.itemsize
        kept = json.loads(info_file.read_text())["kept"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return f"unreadable: {error}"
    if dtype != np.uint8 or tuple(shape) != (len(kept), size, size, 3):
        return f"it holds {dtype} {tuple(shape)}, expected uint8 {(len(kept), size, size, 3)}"
    actual = os.path.getsize(npy_file)
    if actual != expected:
        return f"truncated: {actual:,} of {expected:,} bytes"
    return None


# _temp_name's names: images-60px-<key>.npy.<pid>-<8 hex>.tmp (and the .json's, and the compacted copy's)
TEMP_PATTERN = re.compile(r"^images-.*\.(?P<pid>[0-9]+)-[0-9a-f]{8}\.tmp$")


def remove_stale_temporaries(cache_dir):
    """Delete the temporary files of cache builds whose process is gone (killed by SIGKILL, a power cut): each
    was reserved at full size (hundreds of MB), and nothing else would ever remove it. A build still running in
    another process keeps its file. The names removed."""
    removed = []
    for entry in os.scandir(cache_dir):
        match = TEMP_PATTERN.match(entry.name)
        if match and entry.is_file(follow_symlinks=False) and not _process_alive(int(match["pid"])):
            size = entry.stat(follow_symlinks=False).st_size
            try:
                os.unlink(entry.path)
            except FileNotFoundError:  # another process removed it first
                continue
            removed.append(entry.name)
            print(f"removed {printable(entry.path)} ({_megabytes(size)}), left by an interrupted cache build "
                  f"(pid {match['pid']}, no longer running)", file=sys.stderr)
    return removed


def _process_alive(pid):
    """Whether a process `pid` runs on this machine (signal 0 checks without sending anything)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    except (OverflowError, ValueError):  # not a pid at all
        return False
    return True


_announced = set()


def _announce(npy_file):
    """Say once per process where the cache is and how big, so that 350-650 MB never hide anywhere."""
    if npy_file in _announced:
        return
    _announced.add(npy_file)
    folder_bytes = 0
    for item in npy_file.parent.glob("images-*"):
        try:
            folder_bytes += item.stat().st_size
        except OSError:  # a dangling link, or removed meanwhile by another build: nothing to count
            pass
    print(f"image cache: {npy_file} ({_megabytes(npy_file.stat().st_size)}; the folder holds "
          f"{_megabytes(folder_bytes)}; move it with --cache-dir or ${CACHE_ENV_VAR})", file=sys.stderr)


def _temp_name(final_path):
    """A fresh file name next to `final_path`: same folder, so os.replace is a rename within one filesystem."""
    final_path = Path(final_path)
    return str(final_path.with_name(f"{final_path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"))
