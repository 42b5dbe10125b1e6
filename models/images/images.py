"""Decoding one image file into a square RGB uint8 array with Pillow.

Real photo collections are messy: grayscale, CMYK and palette JPEGs, PNGs with transparency, 16-bit scans, phone
photos stored sideways with an EXIF "rotate me" tag, and files that are empty or not images at all. Everything that
decodes becomes (size, size, 3) uint8 RGB; everything that does not is reported by `read_image`, never raised.
"""
import os
import warnings

import numpy as np
from PIL import Image, ImageOps

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
    with Image.open(path) as image:
        # A JPEG can be decoded at 1/2, 1/4 or 1/8 scale almost for free; draft picks the smallest such scale that
        # still covers size x size, which makes decoding large photos several times faster.
        image.draft("RGB", (size, size))
        image = ImageOps.exif_transpose(image)  # phone photos: apply the "rotate me" tag
        image = to_rgb(image)
        # fit = crop to a square around the centre, then resize (antialiased), in one pass
        image = ImageOps.fit(image, (size, size), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8)


def read_image(path, size):
    """(array, None) when `path` decodes, (None, reason) when it does not: empty, truncated or not an image."""
    try:
        return load_square(path, size), None
    except Exception as error:
        # Pillow's plugins raise many types on corrupt files (OSError, SyntaxError, ValueError, struct.error,
        # EOFError, DecompressionBombError...): all of them mean "skip this file", none should stop a cache build
        return None, _describe(path, error)


def _describe(path, error):
    return broken_link_reason(path) or ("empty file" if os.path.isfile(path) and os.path.getsize(path) == 0
                                        else f"{type(error).__name__}: {error}")


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
