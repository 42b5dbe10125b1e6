"""Decoding one image file into a square RGB uint8 array with Pillow.

Real photo collections are messy: grayscale, CMYK and palette JPEGs, PNGs with transparency, 16-bit scans, phone
photos stored sideways with an EXIF "rotate me" tag, and files that are empty or not images at all. Everything that
decodes becomes (size, size, 3) uint8 RGB; everything that does not is reported by `read_image`, never raised.
"""
import os
import stat
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .printable import printable

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")

# Many photos carry slightly broken EXIF blocks; Pillow warns about each and still decodes the pixels fine.
# Without this filter a cache build over the Microsoft images prints hundreds of identical lines.
warnings.filterwarnings("ignore", category=UserWarning, module="PIL.TiffImagePlugin")


def is_image_name(name):
    return str(name).lower().endswith(IMAGE_EXTENSIONS)


def to_rgb(image):
    """Any Pillow mode -> RGB. Transparent pixels become white, 16-bit greys are scaled (not clipped) to 8 bits."""
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        # convert("RGB") would just drop alpha, showing whatever colour hides under transparent pixels (often black)
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode == "RGB":
        return image
    if image.mode.startswith("I") or image.mode == "F":
        return _to_8_bit_grey(image).convert("RGB")
    return image.convert("RGB")  # L, 1, P, CMYK, YCbCr


def _to_8_bit_grey(image):
    """'I;16', 'I' and 'F' hold 16/32-bit greys; Pillow's convert("L") would clip every value above 255 to white."""
    grey = np.asarray(image, dtype=np.float64)
    if grey.max() > 255:  # 16-bit data: map 0..65535 onto 0..255
        grey = grey / 257.0
    return Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8))


def load_square(path, size):
    """Decode `path` to RGB, resize its short side to `size` and crop the centre: a (size, size, 3) uint8 array."""
    with open_regular_file(path) as file, Image.open(file) as image:
        # A JPEG can be decoded at 1/2, 1/4 or 1/8 scale almost for free; draft picks the smallest such scale that
        # still covers size x size, which makes decoding large photos several times faster.
        image.draft("RGB", (size, size))
        image = ImageOps.exif_transpose(image)  # phone photos: apply the "rotate me" tag
        image = to_rgb(image)
        # fit = crop to a square around the centre, then resize (antialiased), in one pass
        image = ImageOps.fit(image, (size, size), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8)


class NotARegularFile(OSError):
    """A named pipe, a socket, a device or a folder where an image file was expected."""


def open_regular_file(path):
    """`path` opened for reading, or NotARegularFile. Opened without blocking and checked on the open file
    descriptor itself: opening a named pipe (a FIFO called cat.1.jpg) normally waits for a writer for ever, and
    checking the name before opening it would leave a moment in which it could be swapped for one."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        kind = file_kind(os.fstat(fd).st_mode)
        if kind != "regular file":
            raise NotARegularFile(f"not a regular file but {kind}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_kind(mode):
    """What a file system entry is, in words, from its st_mode."""
    kinds = ((stat.S_ISREG, "regular file"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"),
             (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    return next((name for test, name in kinds if test(mode)), "an unknown kind of file")


def read_image(path, size):
    """(array, None) when `path` decodes, (None, reason) when it does not: empty, truncated, not an image, or not a
    regular file (a named pipe is reported, not waited on)."""
    try:
        return load_square(path, size), None
    except NotARegularFile as error:
        return None, str(error)
    except Exception as error:
        # Pillow's plugins raise many types on corrupt files (OSError, SyntaxError, ValueError, struct.error,
        # EOFError, DecompressionBombError...): all of them mean "skip this file", none should stop a cache build
        return None, _describe(path, error)


def _describe(path, error):
    """Why `path` did not decode, in words (a socket cannot even be opened: ENXIO says nothing useful)."""
    reason = not_an_image_file_reason(path)
    if reason:
        return reason
    if _is_empty(path):
        return "empty file"
    if isinstance(error, UnidentifiedImageError):  # its message names the open file object, not the file
        return "not an image Pillow can read"
    if isinstance(error, OSError) and error.filename is not None:  # its message would repeat the path
        return f"{type(error).__name__}: {error.strerror}"
    return f"{type(error).__name__}: {printable(str(error))}"


def _is_empty(path):
    try:
        return os.path.getsize(path) == 0
    except OSError:  # removed meanwhile: not empty, just gone; the error says so
        return False


def broken_link_reason(path):
    """Why `path` is a symbolic link that leads to no file ("dangling ...", "... loop"), or None."""
    if not os.path.islink(path):
        return None
    try:
        os.stat(path)  # follows the links to the end
    except FileNotFoundError:
        return f"dangling symbolic link to {os.readlink(path)}"
    except OSError as error:  # ELOOP: the links lead back to themselves
        return f"symbolic link that cannot be followed: {error.strerror}"
    return None


def not_an_image_file_reason(path):
    """Why the entry `path` (listed in a folder) cannot be an image file: a link that leads nowhere, or something
    other than a regular file (a named pipe, a socket, a device); None for a regular file."""
    reason = broken_link_reason(path)
    if reason:
        return reason
    try:
        kind = file_kind(os.stat(path).st_mode)
    except OSError as error:
        return f"cannot be examined: {error.strerror}"
    return None if kind == "regular file" else f"not a regular file but {kind}"
