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
layout free of transposes. On the CPU the batch is processed a few images at a time, on all cores (image_chunks).
"""
import numpy as np

from ...autograd import Function
from ...backend import get_array_module
from .layout import channel_major
from .parallel import WORKERS, map_chunks

CHUNK_COLUMNS = 4096  # output pixels per im2col chunk on the CPU: a few MB of columns, which stay in the L3 cache


def _pair(value, name):
    pair = (value, value) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(pair) != 2 or any(not isinstance(v, int) for v in pair):
        raise ValueError(f"conv2d: {name} must be an int or a pair of ints, got {value!r}")
    return pair


def output_size(size, kernel, stride, padding):
    return (size + 2 * padding - kernel) // stride + 1


def pad_hw(x_cm, padding):
    """Zero-pad the H and W axes of a (C, N, H, W) array."""
    (PH, PW) = padding
    if not (PH or PW):
        return x_cm
    return get_array_module(x_cm).pad(x_cm, ((0, 0), (0, 0), (PH, PH), (PW, PW)))


def im2col(x_padded, kernel, stride, out_hw):
    """Padded channel-major input (C, N, Hp, Wp) -> columns (C*KH*KW, N*OH*OW), one column per output pixel.

    Row (c, i, j) of the result is channel c of the image shifted by the kernel offset (i, j) and sampled with the
    stride: one strided copy per (i, j), each moving whole (N, OH, OW) slabs.
    """
    (KH, KW), (SH, SW), (OH, OW) = kernel, stride, out_hw
    C, N = x_padded.shape[:2]
    cols = get_array_module(x_padded).empty((C, KH, KW, N, OH, OW), dtype=x_padded.dtype)
    for i in range(KH):
        for j in range(KW):
            cols[:, i, j] = x_padded[:, :, i:i + SH * OH:SH, j:j + SW * OW:SW]
    return cols.reshape(C * KH * KW, N * OH * OW)


def col2im_add(cols, gx_padded, kernel, stride, out_hw):
    """The adjoint of im2col: add every column entry onto the (padded) input pixel it was copied from."""
    (KH, KW), (SH, SW), (OH, OW) = kernel, stride, out_hw
    C, N = gx_padded.shape[:2]
    cols = cols.reshape(C, KH, KW, N, OH, OW)
    for i in range(KH):
        for j in range(KW):
            gx_padded[:, :, i:i + SH * OH:SH, j:j + SW * OW:SW] += cols[:, i, j]


def image_chunks(N, out_hw, xp):
    """Split the batch into runs of images whose im2col columns fit in the CPU's cache (one run on a GPU).

    Why: a full-batch `cols` is hundreds of MB, so building it and multiplying by W means writing it to RAM and
    reading it back, and the thin matrix products become memory-bound. Built a few images at a time, each piece of
    `cols` is still in the cache when the product reads it, and it is never kept: backward rebuilds it from x.
    The runs are independent, so parallel.py gives them to all cores at once (hence at least one run per core).
    """
    if xp is not np:
        return [slice(0, N)]
    step = max(1, min(CHUNK_COLUMNS // (out_hw[0] * out_hw[1]), -(-N // WORKERS)))
    return [slice(start, min(start + step, N)) for start in range(0, N, step)]


class Conv2d(Function):
    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0)):
        xp = get_array_module(x)
        N, C, H, W = x.shape
        OC, _, KH, KW = weight.shape
        self.kernel, self.stride, self.padding, self.x_hw = (KH, KW), stride, padding, (H, W)
        self.out_hw = output_size(H, KH, stride[0], padding[0]), output_size(W, KW, stride[1], padding[1])
        x_padded, w_mat = pad_hw(channel_major(x), padding), weight.reshape(OC, -1)
        out = xp.empty((OC, N) + self.out_hw, dtype=x.dtype)    # channel-major, like everything downstream

        def convolve(images):
            cols = im2col(x_padded[:, images], self.kernel, stride, self.out_hw)
            out[:, images] = (w_mat @ cols).reshape(out[:, images].shape)

        map_chunks(convolve, image_chunks(N, self.out_hw, xp))
        if bias is not None:
            out += bias[:, None, None, None]
        self.save_for_backward(x_padded, w_mat)
        self.has_bias, self.w_shape = bias is not None, weight.shape
        return out.swapaxes(0, 1)                               # the NCHW view

    def backward(self, g):
        """gW = g @ cols^T,  gx = col2im(W^T @ g),  gb = sum of g over (n, oh, ow)"""
        x_padded, w_mat = self.saved
        xp = get_array_module(g)
        g_cm = channel_major(g)                                 # (OC, N, OH, OW)
        # The network's input image needs no gradient: then the largest product and col2im are skipped.
        gx_padded = xp.zeros_like(x_padded) if self.needs_grad[0] else None

        def backpropagate(images):
            cols = im2col(x_padded[:, images], self.kernel, self.stride, self.out_hw)
            g_mat = g_cm[:, images].reshape(w_mat.shape[0], -1)
            if gx_padded is not None:
                col2im_add(w_mat.T @ g_mat, gx_padded[:, images], self.kernel, self.stride, self.out_hw)
            return g_mat @ cols.T                               # this chunk's share of gW

        gw = sum(map_chunks(backpropagate, image_chunks(x_padded.shape[1], self.out_hw, xp)))
        gx = None
        if gx_padded is not None:
            (PH, PW), (H, W) = self.padding, self.x_hw
            gx = gx_padded[:, :, PH:PH + H, PW:PW + W].swapaxes(0, 1)
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
