"""The memory-layout trick shared by conv and batch norm: activations live *channel-major* in memory.

Every tensor keeps the public NCHW shape. But convolution computes its output as the matrix product
`W @ cols`, which comes out as (C_out, N*OH*OW), i.e. a (C, N, H, W) array in memory; the op hands out the
NCHW-shaped view `out.swapaxes(0, 1)` (no copy). Keeping that layout pays off downstream:

- im2col gathers, for every channel c and kernel offset (i, j), the shifted image x[c, :, i:, j:]. With C outermost
  that block is one contiguous (N, H, W) slab per channel, copied in long runs; in NCHW order the same gather
  jumps between images every H*W floats and runs several times slower.
- batch norm's per-channel statistics become row reductions of a (C, N*H*W) matrix, a view with no copy, and
  ReLU and pooling are elementwise or strided ops that keep whatever layout they are given.

So an NCHW network runs end to end without a single layout copy, and code that ignores this (a reader, a user, a
test) still sees ordinary NCHW tensors: NumPy and CuPy handle the strides. Unlike the other kernels, these helpers
have no separate plain version: they are the plain code, and only the speed depends on the layout.
"""
from ..backend import get_array_module


def channel_major(x):
    """(N, C, ...) array -> (C, N, ...) contiguous array. Free (no copy) when x is already stored channel-major."""
    return get_array_module(x).ascontiguousarray(x.swapaxes(0, 1))


def channel_rows(x):
    """(N, C, ...) array -> (C, N*...) matrix: one row per channel (a view when x is channel-major)."""
    return channel_major(x).reshape(x.shape[1], -1)


def from_channel_rows(rows, shape):
    """Inverse of channel_rows: a (C, N*...) matrix -> the NCHW-shaped view of shape `shape`."""
    return rows.reshape((shape[1], shape[0]) + tuple(shape[2:])).swapaxes(0, 1)


def is_channel_major(x):
    """True when x (N, C, ...) is stored with C outermost: stepping to the next image is a smaller jump than
    stepping to the next channel."""
    return x.ndim >= 2 and x.strides[0] < x.strides[1]


def zeros_in_layout(xp, shape, dtype, stored_channel_major):
    """Zeros of NCHW `shape`, stored channel-major or not: lets a backward hand back its gradient in the layout its
    forward received."""
    if not stored_channel_major:
        return xp.zeros(shape, dtype=dtype)
    return xp.zeros((shape[1], shape[0]) + tuple(shape[2:]), dtype=dtype).swapaxes(0, 1)


def pad_hw(x, padding, value=0):
    """x (N, C, H, W) with `padding` = (PH, PW) rows and columns of `value` added on each side, in x's layout."""
    PH, PW = padding
    if not (PH or PW):
        return x
    N, C, H, W = x.shape
    padded = get_array_module(x).empty_like(x, shape=(N, C, H + 2 * PH, W + 2 * PW))  # keeps x's layout
    padded.fill(value)
    padded[:, :, PH:PH + H, PW:PW + W] = x
    return padded


def unpad_hw(x, padding):
    """The inverse of pad_hw: drop PH rows and PW columns on each side (a view)."""
    PH, PW = padding
    return x[:, :, PH:x.shape[2] - PH, PW:x.shape[3] - PW]
