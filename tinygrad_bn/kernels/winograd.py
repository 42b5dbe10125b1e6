"""Winograd's F(2x2, 3x3): a 3x3, stride-1 convolution with 2.25x fewer multiplications (Lavin and Gray, 2015).

The idea in one dimension, F(2, 3): two outputs of a 3-tap filter g over four inputs d,

    y0 = d0 g0 + d1 g1 + d2 g2          (6 multiplications the direct way)
    y1 = d1 g0 + d2 g1 + d3 g2

come out of 4 products of *transformed* inputs and filter taps, y = A^T [(G g) * (B^T d)]:

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]       input transform  (adds only)
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]          filter transform (once per step)
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]                                     output transform (adds only)

Nested in both directions, a 4x4 input tile d and a 3x3 filter g give a 2x2 output tile Y = A^T [U * V] A, with
U = G g G^T and V = B^T d B: 16 products instead of 36. Over channels the elementwise product becomes a sum,
M[xi, nu] = sum_c U[xi, nu, o, c] V[xi, nu, c, tile], i.e. 16 independent matrix products (OC, C) @ (C, tiles), one
per position (xi, nu) of the 4x4 tile, which BLAS runs at full speed. Tiles start every 2 pixels and overlap by 2.

The backward pass for the input of a stride-1 convolution is itself such a convolution: gx is g padded by K-1-P and
correlated with the filters flipped in space and with in/out channels swapped, so the same code serves both.

Plain version: the same numbers by im2col (conv.py's plain lines). Winograd's numbers differ by rounding only; in
float32 its error is a few times larger than im2col's (tests/test_kernels.py bounds it). On the CPU it runs a few
images at a time on every core, like im2col: the tile arrays of a chunk (4x the chunk's input, and 4x its output)
stay in cache between the transforms and the products. It pays when the matrix products are wide enough (64 and more
channels on both sides, conv.py decides); with fewer channels the additions of the transforms cost more than the
multiplications they save.
"""
import numpy as np

from ..backend import get_array_module
from . import use_plain
from .layout import channel_major, pad_hw
from .parallel import map_chunks

CHUNK_PIXELS = 2048  # output pixels per chunk: the chunk's tiles (16 x channels x pixels/4) stay in the L2/L3 cache

_B_T = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))  # input transform
_G = ((1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1))   # filter transform


def winograd_conv3x3(w, x, padding):
    """out = conv2d(x, w) with zero `padding` = (PH, PW), stride 1, for w of shape (OC, C, 3, 3): (N, OC, OH, OW)
    (stored channel-major on the CPU).

    Plain: (w @ im2col(pad(x))).reshape(OC, N, OH, OW).swapaxes(0, 1), as conv.py's plain im2col_matmul."""
    from .conv import im2col, image_chunks  # (imported here: conv.py imports this module to choose it)

    xp = get_array_module(x)
    OC, C = w.shape[:2]
    if use_plain() or xp is not np:
        x = pad_hw(x, padding)
        N, (H, W) = x.shape[0], x.shape[2:]
        return (w.reshape(OC, -1) @ im2col(x, (3, 3), (1, 1))).reshape(OC, N, H - 2, W - 2).swapaxes(0, 1)
    N, (H, W), (PH, PW) = x.shape[0], x.shape[2:], padding
    OH, OW = H + 2 * PH - 2, W + 2 * PW - 2
    TH, TW = -(-OH // 2), -(-OW // 2)           # 2x2 output tiles per image, rounded up
    U = filter_transform(w)                      # (16, OC, C)
    x_cm, out = channel_major(x), np.empty((OC, N, OH, OW), dtype=x.dtype)

    def convolve(images):
        d = _tiled_input(x_cm[:, images], padding, TH, TW)    # (C, n, 2TH+2, 2TW+2)
        n = d.shape[1]
        V = input_transform(d, TH, TW)                         # (16, C, n*TH*TW)
        M = np.matmul(U, V)                                   # (16, OC, n*TH*TW): the 16 matrix products
        output_transform(M.reshape(16, OC, n, TH, TW), out[:, images])

    map_chunks(convolve, image_chunks(N, (OH, OW), CHUNK_PIXELS))
    return out.swapaxes(0, 1)


def filter_transform(w):
    """U = G g G^T for every (o, c) filter g: (OC, C, 3, 3) -> (16, OC, C), position (xi, nu) = 4*xi + nu first."""
    G = np.asarray(_G, dtype=w.dtype)
    return np.einsum("ai,ocij,bj->aboc", G, w, G).reshape(16, *w.shape[:2])


def input_transform(d, TH, TW):
    """V = B^T d B for every 4x4 tile of d (C, n, 2TH+2, 2TW+2), tiles every 2 pixels: (16, C, n*TH*TW).

    B^T's rows combine rows (or columns) (0, 2), (1, 2), (2, 1), (1, 3) of a tile: first down the rows, on whole
    image rows at once, then along the columns."""
    C, n = d.shape[:2]
    rows = [d[:, :, i:i + 2 * TH:2] for i in range(4)]          # row i of every tile: (C, n, TH, 2TW+2)
    across = np.empty((4,) + rows[0].shape, dtype=d.dtype)
    _combine(rows, across)
    V = np.empty((4, 4, C, n, TH, TW), dtype=d.dtype)
    for k in range(4):
        _combine([across[k][..., j:j + 2 * TW:2] for j in range(4)], V[k])   # column j of every tile
    return V.reshape(16, C, n * TH * TW)


def _combine(parts, out):
    """out[0..3] = (p0 - p2, p1 + p2, p2 - p1, p1 - p3): B^T applied to four rows (or columns) of every tile."""
    p0, p1, p2, p3 = parts
    np.subtract(p0, p2, out=out[0])
    np.add(p1, p2, out=out[1])
    np.subtract(p2, p1, out=out[2])
    np.subtract(p1, p3, out=out[3])


def output_transform(M, out):
    """Y = A^T M A for every tile: M (16, OC, n, TH, TW) -> out (OC, n, OH, OW), output pixel (2t + a, 2s + b).

    A^T's rows are (1, 1, 1, 0) and (0, 1, -1, -1): first along the columns, then down the rows."""
    M = M.reshape((4, 4) + M.shape[1:])
    along = np.empty((2, 4) + M.shape[2:], dtype=M.dtype)       # along[b, a]: column b of the 2x2 tile, row a of M
    for a in range(4):
        _reduce(M[a], along[:, a])
    OH, OW = out.shape[2:]
    full = out if OH % 2 == 0 and OW % 2 == 0 else np.empty(out.shape[:2] + (OH + OH % 2, OW + OW % 2), M.dtype)
    for b in range(2):
        _reduce(along[b], [full[..., 0::2, b::2], full[..., 1::2, b::2]])
    if full is not out:  # odd sizes: the last tile row or column was half outside the image
        out[...] = full[..., :OH, :OW]


def _reduce(parts, out):
    """out = (p0 + p1 + p2, p1 - p2 - p3): A^T applied to four rows (or columns) of every tile."""
    p0, p1, p2, p3 = parts[0], parts[1], parts[2], parts[3]
    np.add(p0, p1, out=out[0])
    out[0] += p2
    np.subtract(p1, p2, out=out[1])
    out[1] -= p3


def _tiled_input(x, padding, TH, TW):
    """x (C, n, H, W) with `padding`, and zeros at the bottom and right so that TH x TW tiles fit: a view when no
    padding is needed, else a padded copy."""
    (PH, PW), (H, W) = padding, x.shape[2:]
    size = (2 * TH + 2, 2 * TW + 2)
    if (PH, PW) == (0, 0) and (H, W) == size:
        return x
    d = np.zeros(x.shape[:2] + size, dtype=x.dtype)
    d[:, :, PH:PH + H, PW:PW + W] = x
    return d
