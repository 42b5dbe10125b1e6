"""Convolution's three matrix products, as im2col + GEMM: plain, and a few images at a time on every core.

im2col and why a convolution is matrix products: tinygrad_bn/nn/functional/conv.py, whose products these are:

    forward              out   = W @ cols                  im2col_matmul(w, x)
    gradient of weight   gW    = g @ cols^T                matmul_im2col_t(g, x)
    gradient of input    gx    = col2im(W^T @ g)           col2im_matmul(w, g, x_shape)

(W is (OC, C*KH*KW), g is (OC, N*OH*OW); col2im is im2col's adjoint: it adds each column entry back onto the
pixel it was copied from.) The plain versions are exactly these lines.

The fast versions compute the same products a few images at a time. A full-batch `cols` is hundreds of MB:
building it and multiplying by W means writing it to RAM and reading it back, and the thin matrix products become
memory-bound. Built for a chunk of images at a time, each piece of `cols` is still in the L3 cache when the product
reads it, it is never kept (the weight gradient rebuilds it from x), and the chunks are independent, so
parallel.py gives them to all cores at once. They read x channel-major (layout.py), so each row of `cols` is a
copy of whole (N, OH, OW) slabs.

The input gradient of a stride-1 convolution is itself a convolution (of g with the flipped filters), and where
that is the cheaper formulation (`input_grad_is_a_convolution`) col2im_matmul computes it as one: an im2col copy of
g and one product, instead of a product and col2im's scattered additions.
"""
import numpy as np

from ..backend import get_array_module
from .switch import use_plain
from .layout import channel_major, pad_hw, unpad_hw
from .parallel import WORKERS, map_chunks

CHUNK_COLUMNS = 4096  # output pixels per im2col chunk on the CPU: a few MB of columns, which stay in the L3 cache


def output_hw(x_shape, kernel, stride):
    """(OH, OW) of a convolution or pooling window sliding over an (already padded) input of shape x_shape."""
    (H, W), (KH, KW), (SH, SW) = x_shape[2:], kernel, stride
    return (H - KH) // SH + 1, (W - KW) // SW + 1


def im2col(x, kernel, stride):
    """Input (N, C, H, W) -> columns (C*KH*KW, N*OH*OW), one column per output pixel.

    Row (c, i, j) of the result is channel c of the image shifted by the kernel offset (i, j) and sampled with the
    stride: one strided copy per (i, j)."""
    (KH, KW), (SH, SW), (OH, OW) = kernel, stride, output_hw(x.shape, kernel, stride)
    N, C = x.shape[:2]
    cols = get_array_module(x).empty((C, KH, KW, N, OH, OW), dtype=x.dtype)
    for i in range(KH):
        for j in range(KW):
            cols[:, i, j] = x[:, :, i:i + SH * OH:SH, j:j + SW * OW:SW].swapaxes(0, 1)
    return cols.reshape(C * KH * KW, N * OH * OW)


def col2im(cols, x_shape, kernel, stride, out=None):
    """The adjoint of im2col: add every column entry onto the input pixel it was copied from (into `out`, zeros of
    x_shape by default). Where windows overlap, the entries add up."""
    (KH, KW), (SH, SW), (OH, OW) = kernel, stride, output_hw(x_shape, kernel, stride)
    N, C = x_shape[:2]
    if out is None:
        out = get_array_module(cols).zeros(x_shape, dtype=cols.dtype)
    cols = cols.reshape(C, KH, KW, N, OH, OW)
    for i in range(KH):
        for j in range(KW):
            out[:, :, i:i + SH * OH:SH, j:j + SW * OW:SW] += cols[:, i, j].swapaxes(0, 1)
    return out


# ------------------------------------------------------------------------------------------------- the primitives
def im2col_matmul(w, x, kernel, stride):
    """out = W @ im2col(x) as an (N, OC, OH, OW) array (stored channel-major, as the product yields it).

    Plain: (w @ im2col(x, kernel, stride)).reshape(OC, N, OH, OW).swapaxes(0, 1)"""
    OC, N, (OH, OW) = w.shape[0], x.shape[0], output_hw(x.shape, kernel, stride)
    xp = get_array_module(x)
    if use_plain() or xp is not np:  # on a GPU one product over the whole batch is fastest
        return (w @ im2col(x, kernel, stride)).reshape(OC, N, OH, OW).swapaxes(0, 1)
    x_cm, out = channel_major(x), xp.empty((OC, N, OH, OW), dtype=x.dtype)

    def convolve(images):
        cols = im2col(x_cm[:, images].swapaxes(0, 1), kernel, stride)
        out[:, images] = (w @ cols).reshape(out[:, images].shape)

    map_chunks(convolve, image_chunks(N, (OH, OW)))
    return out.swapaxes(0, 1)


def matmul_im2col_t(g, x, kernel, stride):
    """gW = g @ im2col(x)^T, with g the (OC, N*OH*OW) output gradient: an (OC, C*KH*KW) matrix.

    Plain: g @ im2col(x, kernel, stride).T"""
    xp = get_array_module(x)
    if use_plain() or xp is not np:
        return g @ im2col(x, kernel, stride).T
    N, out_hw = x.shape[0], output_hw(x.shape, kernel, stride)
    x_cm, g = channel_major(x), g.reshape(g.shape[0], N, -1)

    def weight_grad(images):  # this chunk's share of gW
        cols = im2col(x_cm[:, images].swapaxes(0, 1), kernel, stride)
        return g[:, images].reshape(g.shape[0], -1) @ cols.T

    return sum(map_chunks(weight_grad, image_chunks(N, out_hw)))


def col2im_matmul(w, g, x_shape, kernel, stride, padding=(0, 0)):
    """gx = col2im(W^T @ g) for the padded input of shape x_shape, less its `padding`: the gradient of the input
    before padding, an (N, C, H, W) array (stored channel-major on the fast path).

    Plain: unpad_hw(col2im(w.T @ g, x_shape, kernel, stride), padding)
    Fast, stride 1 and no more output than input channels: a convolution again (no scatter-add): g padded by K-1-P,
    correlated with the filters flipped in space and with in/out channels swapped, by im2col_matmul. Else im2col's
    chunks, each adding col2im's columns into its own images."""
    xp = get_array_module(g)
    if use_plain() or xp is not np:
        return unpad_hw(col2im(w.T @ g, x_shape, kernel, stride), padding)
    N, out_hw = x_shape[0], output_hw(x_shape, kernel, stride)
    if input_grad_is_a_convolution(kernel, stride, padding, w.shape[0], x_shape[1]):
        (KH, KW), (PH, PW), (OC, C) = kernel, padding, (w.shape[0], x_shape[1])
        flipped = w.reshape(OC, C, KH, KW)[:, :, ::-1, ::-1].swapaxes(0, 1)          # (C, OC, KH, KW)
        g_padded = pad_hw(g.reshape((OC, N) + out_hw).swapaxes(0, 1), (KH - 1 - PH, KW - 1 - PW))
        return im2col_matmul(np.ascontiguousarray(flipped).reshape(C, -1), g_padded, kernel, (1, 1))
    gx_cm = xp.zeros((x_shape[1], N) + tuple(x_shape[2:]), dtype=g.dtype)
    g = g.reshape(g.shape[0], N, -1)

    def input_grad(images):  # chunks own disjoint images, so their additions never collide
        gx_chunk = gx_cm[:, images].swapaxes(0, 1)
        col2im(w.T @ g[:, images].reshape(g.shape[0], -1), gx_chunk.shape, kernel, stride, out=gx_chunk)

    map_chunks(input_grad, image_chunks(N, out_hw))
    return unpad_hw(gx_cm.swapaxes(0, 1), padding)


def input_grad_is_a_convolution(kernel, stride, padding, out_channels, in_channels):
    """Whether the input gradient goes as a convolution: for stride 1 (and padding < kernel size) it is the full
    correlation of g with the flipped filters, less the padding, i.e. of g padded by K-1-P on each side.

    Which is cheaper depends on the channels: the convolution copies g into OC*KH*KW rows of columns, col2im adds
    C*KH*KW rows of products back into gx. Measured on the reference CNN's layers (benchmarks/conv_layers.py,
    2 cores): as a convolution 0.80x the time where OC = C, 1.06-1.16x where OC = 2C, so only where OC <= C."""
    return (tuple(stride) == (1, 1) and padding[0] < kernel[0] and padding[1] < kernel[1]
            and out_channels <= in_channels)


def image_chunks(N, out_hw):
    """Split a batch of N images into runs whose im2col columns fit in the CPU's cache, at least one run per core."""
    step = max(1, min(CHUNK_COLUMNS // (out_hw[0] * out_hw[1]), -(-N // WORKERS)))
    return [slice(start, min(start + step, N)) for start in range(0, N, step)]
