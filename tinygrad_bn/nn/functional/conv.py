"""2-D convolution as im2col + one matrix product.

A convolution slides a (C, KH, KW) filter over the image. im2col unrolls every window the filter visits into one
column, so all windows together form a matrix `cols` of shape (C*KH*KW, N*OH*OW), and the whole convolution is a
single matrix product that BLAS (or cuBLAS) runs at full speed:

    out[o, (n, oh, ow)] = sum_k W[o, k] * cols[k, (n, oh, ow)]       k = (c, i, j)
    i.e. out = W.reshape(OC, C*KH*KW) @ cols

Backward is the same picture read backwards: the gradient of a matrix product is two matrix products, and col2im
scatters each column's gradient back onto the pixels it was copied from (adding up where windows overlap):

    gW    = g @ cols^T                     (OC, C*KH*KW)
    gcols = W^T @ g                        (C*KH*KW, N*OH*OW)
    gx    = col2im(gcols)                  (N, C, H, W)
    gb    = g summed over (n, oh, ow)

The arrays are kept channel-major in memory (see layout.py): that makes both the gather and the product's output
layout free of transposes.
"""
import numpy as np

from ...autograd import Function
from ...backend import get_array_module
from .layout import channel_major

CHUNK_COLUMNS = 4096  # output pixels per im2col chunk on the CPU: a few MB of columns, which stay in the L3 cache


def _pair(value, name):
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(not isinstance(v, int) for v in pair):
        raise ValueError(f"conv2d: {name} must be an int or a pair of ints, got {value!r}")
    return pair


def output_size(size, kernel, stride, padding):
    return (size + 2 * padding - kernel) // stride + 1


def im2col(x_cm, kernel, stride, padding):
    """Channel-major input (C, N, H, W) -> columns (C*KH*KW, N*OH*OW), one column per output pixel.

    Row (c, i, j) of the result is channel c of the padded image shifted by the kernel offset (i, j) and sampled
    with the stride: one strided copy per (i, j), each moving whole (N, OH, OW) slabs.
    """
    xp = get_array_module(x_cm)
    (KH, KW), (SH, SW), (PH, PW) = kernel, stride, padding
    C, N, H, W = x_cm.shape
    OH, OW = output_size(H, KH, SH, PH), output_size(W, KW, SW, PW)
    if PH or PW:
        x_cm = xp.pad(x_cm, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    cols = xp.empty((C, KH, KW, N, OH, OW), dtype=x_cm.dtype)
    for i in range(KH):
        for j in range(KW):
            cols[:, i, j] = x_cm[:, :, i:i + SH * OH:SH, j:j + SW * OW:SW]
    return cols.reshape(C * KH * KW, N * OH * OW)


def col2im(cols, x_shape_cm, kernel, stride, padding):
    """The adjoint of im2col: add every column entry back onto the input pixel it was copied from."""
    xp = get_array_module(cols)
    (KH, KW), (SH, SW), (PH, PW) = kernel, stride, padding
    C, N, H, W = x_shape_cm
    OH, OW = output_size(H, KH, SH, PH), output_size(W, KW, SW, PW)
    cols = cols.reshape(C, KH, KW, N, OH, OW)
    gx = xp.zeros((C, N, H + 2 * PH, W + 2 * PW), dtype=cols.dtype)
    for i in range(KH):
        for j in range(KW):
            gx[:, :, i:i + SH * OH:SH, j:j + SW * OW:SW] += cols[:, i, j]
    return gx[:, :, PH:PH + H, PW:PW + W]


def image_chunks(N, pixels_per_image, xp):
    """Split the batch into runs of images whose im2col columns fit in the CPU's cache (one run on a GPU).

    Why: a full-batch `cols` is hundreds of MB, so building it and multiplying by W means writing it to RAM and
    reading it back, and the thin matrix products become memory-bound. Built a few images at a time, each piece of
    `cols` is still in the cache when the product reads it, and it is never kept: backward rebuilds it from x.
    """
    step = N if xp is not np else max(1, min(N, CHUNK_COLUMNS // pixels_per_image))
    for start in range(0, N, step):
        yield slice(start, min(start + step, N))


class Conv2d(Function):
    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0)):
        xp = get_array_module(x)
        N, C, H, W = x.shape
        OC, _, KH, KW = weight.shape
        OH, OW = output_size(H, KH, stride[0], padding[0]), output_size(W, KW, stride[1], padding[1])
        self.kernel, self.stride, self.padding = (KH, KW), stride, padding
        x_cm, w_mat = channel_major(x), weight.reshape(OC, -1)
        out = xp.empty((OC, N, OH, OW), dtype=x.dtype)          # channel-major, like everything downstream
        for images in image_chunks(N, OH * OW, xp):
            cols = im2col(x_cm[:, images], self.kernel, stride, padding)
            out[:, images] = (w_mat @ cols).reshape(OC, -1, OH, OW)
        if bias is not None:
            out += bias[:, None, None, None]
        self.save_for_backward(x_cm, w_mat)
        self.has_bias, self.w_shape = bias is not None, weight.shape
        return out.swapaxes(0, 1)                               # the NCHW view

    def backward(self, g):
        """gW = g @ cols^T,  gx = col2im(W^T @ g),  gb = sum of g over (n, oh, ow)"""
        x_cm, w_mat = self.saved
        xp = get_array_module(g)
        C, N = x_cm.shape[:2]
        g_cm = channel_major(g)                                 # (OC, N, OH, OW)
        gw = xp.zeros(w_mat.shape, dtype=g.dtype)
        gx_cm = xp.empty_like(x_cm) if self.needs_grad[0] else None
        for images in image_chunks(N, g_cm[0, 0].size, xp):
            cols = im2col(x_cm[:, images], self.kernel, self.stride, self.padding)
            g_mat = g_cm[:, images].reshape(w_mat.shape[0], -1)
            gw += g_mat @ cols.T
            if gx_cm is not None:  # the network's input image needs no gradient: skip the largest product
                gx_cm[:, images] = col2im(w_mat.T @ g_mat, gx_cm[:, images].shape, self.kernel, self.stride,
                                          self.padding)
        gx = None if gx_cm is None else gx_cm.swapaxes(0, 1)
        gw = gw.reshape(self.w_shape)
        return (gx, gw, g_cm.sum(axis=(1, 2, 3))) if self.has_bias else (gx, gw)


def conv2d(input, weight, bias=None, stride=1, padding=0):
    """2-D convolution (cross-correlation, like PyTorch) of an (N, C, H, W) input with (OC, C, KH, KW) filters."""
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    if input.ndim != 4:
        raise ValueError(f"conv2d: expected a 4D (N, C, H, W) input, got shape {input.shape}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected a 4D (out_channels, in_channels, KH, KW) weight, got shape {weight.shape}")
    if input.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: input has {input.shape[1]} channels (shape {input.shape}) but the weight expects "
                         f"{weight.shape[1]} (shape {weight.shape})")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias shape {bias.shape} does not match {weight.shape[0]} output channels")
    if min(stride) < 1 or min(padding) < 0:
        raise ValueError(f"conv2d: stride must be >= 1 and padding >= 0, got stride={stride}, padding={padding}")
    H, W = input.shape[2:]
    KH, KW = weight.shape[2:]
    if output_size(H, KH, stride[0], padding[0]) < 1 or output_size(W, KW, stride[1], padding[1]) < 1:
        raise ValueError(f"conv2d: kernel {KH}x{KW} is larger than the padded input {H + 2 * padding[0]}x"
                         f"{W + 2 * padding[1]} (input shape {input.shape}, padding {padding})")
    inputs = (input, weight) if bias is None else (input, weight, bias)
    return Conv2d.apply(*inputs, stride=stride, padding=padding)
