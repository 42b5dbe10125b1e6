"""affine_grid and grid_sample: the spatial transformer's two steps (PyTorch's F.affine_grid, F.grid_sample).

A grid holds, for every output pixel, the point (x, y) of the input image to read, in normalized coordinates:
-1 is the left (top) edge and +1 the right (bottom) edge. With align_corners=True, -1 and +1 are the centres of the
corner pixels; with align_corners=False (the default), they are the outer edges of the corner pixels. So the pixel
coordinate of x in an image W pixels wide is

    align_corners=True:   ix = (x + 1) / 2 * (W - 1)
    align_corners=False:  ix = ((x + 1) * W - 1) / 2

Bilinear sampling mixes the four pixels around (ix, iy): with x0 = floor(ix), tx = ix - x0 (and the same in y),

    out = (1-tx)(1-ty) in[y0, x0] + tx (1-ty) in[y0, x0+1] + (1-tx) ty in[y0+1, x0] + tx ty in[y0+1, x0+1]

Everything is composed from differentiable Tensor ops: the corners are integer constants (floor has no gradient),
the pixels are gathered from the input (backward adds each gradient back at its pixel), and the weights are
differentiable in (ix, iy), so autograd gives the gradient of both the input and the grid, as PyTorch's does.
"""
import warnings

import numpy as np

from ...backend import get_array_module
from ...tensors import Tensor

MODES = ("bilinear", "nearest")
PADDING_MODES = ("zeros", "border", "reflection")


def _default_align_corners(align_corners, name):
    if align_corners is None:  # PyTorch's warning, since its default changed in 1.3
        warnings.warn(f"{name}: the default align_corners is False (PyTorch's since 1.3.0); pass align_corners=True "
                      f"for the old behavior", UserWarning, stacklevel=3)
        return False
    return bool(align_corners)


def affine_grid(theta, size, align_corners=None):
    """The sampling grid of a batch of 2-D affine maps: grid[n, h, w] = theta[n] @ (x_w, y_h, 1).

    theta: (N, 2, 3); size: the output's (N, C, H, W); grid: (N, H, W, 2), the (x, y) of each output pixel in the
    input's normalized coordinates. x_w and y_h are the output pixel centres in normalized coordinates (see the
    module docstring), so the identity theta gives a grid that samples each pixel where it is.
    """
    align_corners = _default_align_corners(align_corners, "affine_grid")
    size = tuple(int(s) for s in size)
    if len(size) == 5:
        raise NotImplementedError("affine_grid: 3-D grids (a 5-D size) are not supported by tinygrad_bn")
    if len(size) != 4:
        raise ValueError(f"affine_grid: only 4-D sizes (N, C, H, W) are supported, got size {size}")
    if not np.issubdtype(theta.dtype, np.floating):
        raise ValueError(f"affine_grid: expected theta to have a floating point type, got {theta.dtype}")
    N, _, H, W = size
    if tuple(theta.shape) != (N, 2, 3):
        raise ValueError(f"affine_grid: expected a batch of 2-D affine matrices of shape Nx2x3 for size {size}, got "
                         f"theta of shape {tuple(theta.shape)}")
    if min(size) <= 0:
        raise ValueError(f"affine_grid: expected a non-zero, positive output size, got {size}")
    xp = get_array_module(theta.array)
    xs, ys = _pixel_centres(W, align_corners, theta.dtype), _pixel_centres(H, align_corners, theta.dtype)
    base = np.stack([np.broadcast_to(xs, (H, W)), np.broadcast_to(ys[:, None], (H, W)), np.ones((H, W))], axis=-1)
    base = Tensor._wrap(xp.asarray(base.reshape(1, H * W, 3), dtype=theta.dtype))
    # (1, H*W, 3) @ (N, 3, 2): every point (x, y, 1) mapped by every theta.
    return (base @ theta.transpose(1, 2)).reshape(N, H, W, 2)


def _pixel_centres(n, align_corners, dtype):
    """The normalized coordinates of n pixel centres: evenly from -1 to 1 (align_corners), or inset by half a pixel;
    a single pixel sits at 0."""
    if n == 1:
        return np.zeros(1, dtype=dtype)
    steps = np.linspace(-1, 1, n, dtype=dtype)
    return steps if align_corners else steps * dtype.type((n - 1) / n)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """out[n, c, h, w] = input[n, c] sampled at the point grid[n, h, w] = (x, y), in normalized coordinates.

    input: (N, C, H, W); grid: (N, OH, OW, 2); out: (N, C, OH, OW). mode "bilinear" mixes the four pixels around the
    point; "nearest" takes the closest one (no gradient for the grid: its output is a step function of it). Points
    outside the image read 0 ("zeros"), the nearest edge pixel ("border"), or the image mirrored at its edges
    ("reflection").
    """
    if mode not in MODES + ("bicubic",):
        raise ValueError(f"grid_sample: expected mode to be 'bilinear', 'nearest' or 'bicubic', got {mode!r}")
    if mode == "bicubic":
        raise NotImplementedError("grid_sample: mode='bicubic' is not supported by tinygrad_bn")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"grid_sample: expected padding_mode to be 'zeros', 'border' or 'reflection', got "
                         f"{padding_mode!r}")
    align_corners = _default_align_corners(align_corners, "grid_sample")
    if input.ndim == 5:
        raise NotImplementedError("grid_sample: 5-D input (3-D sampling) is not supported by tinygrad_bn")
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise ValueError(f"grid_sample: expected 4-D input (N, C, H, W) and a grid (N, OH, OW, 2) with the same N, "
                         f"got input of shape {tuple(input.shape)} and grid of shape {tuple(grid.shape)}")
    if input.dtype != grid.dtype:
        raise ValueError(f"grid_sample: expected input and grid to have the same dtype, got {input.dtype} and "
                         f"{grid.dtype}")
    N, C, H, W = input.shape
    ix = _source_coordinate(grid[..., 0], W, align_corners, padding_mode)      # (N, OH, OW), in pixels
    iy = _source_coordinate(grid[..., 1], H, align_corners, padding_mode)
    xp = get_array_module(input.array)
    if mode == "nearest":
        # Round half to even, as PyTorch's nearbyint does.
        return _gather(input, xp.rint(iy.array).astype(np.int64), xp.rint(ix.array).astype(np.int64))
    x0 = xp.floor(ix.array).astype(np.int64)
    y0 = xp.floor(iy.array).astype(np.int64)
    tx, ty = ix - Tensor._wrap(x0.astype(ix.dtype)), iy - Tensor._wrap(y0.astype(iy.dtype))   # in [0, 1)
    out = 0
    for dy, wy in ((0, 1 - ty), (1, ty)):
        for dx, wx in ((0, 1 - tx), (1, tx)):
            out = out + _gather(input, y0 + dy, x0 + dx) * (wy * wx).unsqueeze(1)
    return out


def _source_coordinate(coordinate, size, align_corners, padding_mode):
    """A normalized coordinate as a pixel coordinate (the module docstring), moved inside the image by "border"
    (clamped) and "reflection" (mirrored at the edges, then clamped); "zeros" leaves it where it is."""
    # The same maps written as scale * x + centre (the centre pixel coordinate (size - 1) / 2 sits at x = 0), as
    # PyTorch's CPU kernel computes them, so that points exactly half-way between pixels round as there.
    scale = (size - 1) / 2 if align_corners else size / 2
    pixel = coordinate * scale + (size - 1) / 2
    if padding_mode == "reflection":
        # Mirror at the pixel centres of the corners (align_corners) or at the image's outer edges.
        low, high = (0, size - 1) if align_corners else (-0.5, size - 0.5)
        pixel = _reflect(pixel, low, high)
    if padding_mode in ("border", "reflection"):
        pixel = pixel.clamp(0, size - 1)
    return pixel


def _reflect(pixel, low, high):
    """pixel folded into [low, high] by mirroring at both ends: the distance t = |pixel - low| covers k = floor(t /
    span) whole spans; after an even number of them it counts up from low, after an odd number down from high."""
    span = high - low
    if span <= 0:
        return pixel * 0 + low
    distance = (pixel - low).abs()
    xp = get_array_module(distance.array)
    spans = xp.floor(distance.array / span)                            # an integer constant: no gradient
    within = distance - Tensor._wrap((spans * span).astype(distance.dtype))
    even = (spans % 2) == 0
    return (within + low).where(even, (high - within))


def _gather(input, rows, cols):
    """input[n, :, rows[n, h, w], cols[n, h, w]] as (N, C, OH, OW); points off the image read 0 (their gradient
    is dropped with them)."""
    N, C, H, W = input.shape
    xp = get_array_module(input.array)
    inside = (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)
    batch = xp.arange(N).reshape(N, 1, 1)
    # Advanced indices around a slice: the result's axes are (N, OH, OW, C).
    values = input[batch, :, xp.clip(rows, 0, H - 1), xp.clip(cols, 0, W - 1)]
    values = values.masked_fill(~inside[..., None], 0.0)
    return values.permute(0, 3, 1, 2)
