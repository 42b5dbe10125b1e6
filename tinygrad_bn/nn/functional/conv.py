"""2-D convolution as im2col + one matrix product.

A convolution slides a (C, KH, KW) filter over the image. im2col unrolls every window the filter visits into one
column, so all windows together form a matrix `cols` of shape (C*KH*KW, N*OH*OW), and the whole convolution is a
single matrix product that BLAS (or cuBLAS) runs at full speed:

    out[o, (n, oh, ow)] = sum_k W[o, k] * cols[k, (n, oh, ow)]       k = (c, i, j)
    i.e. out = W.reshape(OC, C*KH*KW) @ cols

Backward is the same picture read backwards: the gradient of a matrix product is two matrix products, and col2im
scatters each column's gradient back onto the pixels it was copied from (adding up where windows overlap):

    gW    = g @ cols^T                     (OC, C*KH*KW)
    gx    = col2im(W^T @ g)                (N, C, H, W)
    gb    = g summed over (n, oh, ow)

Those products are the primitives im2col_matmul, matmul_im2col_t and col2im_matmul of tinygrad_bn/kernels/conv.py,
whose plain versions are the lines above and whose fast versions run a few images at a time on every core.
`conv2d_simple` at the end is the same convolution as loops over output pixels: the reference the tests compare with.
"""
import numpy as np

from ...autograd import Function
from ...backend import get_array_module
from ...kernels import channel_rows, col2im_matmul, im2col_matmul, matmul_im2col_t, pad_hw, unpad_hw


class Conv2d(Function):
    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0)):
        """out = W @ im2col(pad(x)) + b"""
        OC, _, KH, KW = weight.shape
        x_padded, w = pad_hw(x, padding), weight.reshape(OC, -1)
        out = im2col_matmul(w, x_padded, (KH, KW), stride)    # (N, OC, OH, OW)
        if bias is not None:
            out += bias[:, None, None]
        self.kernel, self.stride, self.padding, self.weight_shape = (KH, KW), stride, padding, weight.shape
        self.has_bias = bias is not None
        self.save_for_backward(x_padded, w)
        return out

    def backward(self, g):
        """gW = g @ im2col(x)^T,  gx = col2im(W^T @ g),  gb = sum of g over (n, oh, ow)"""
        x_padded, w = self.saved
        g = channel_rows(g)                                     # (OC, N*OH*OW)
        gw = matmul_im2col_t(g, x_padded, self.kernel, self.stride).reshape(self.weight_shape)
        gx = None
        if self.needs_grad[0]:  # the network's input image needs no gradient: skip the largest product
            gx = unpad_hw(col2im_matmul(w, g, x_padded.shape, self.kernel, self.stride), self.padding)
        return (gx, gw, g.sum(axis=1)) if self.has_bias else (gx, gw)


def conv2d(input, weight, bias=None, stride=1, padding=0):
    """2-D convolution (cross-correlation, like PyTorch) of an (N, C, H, W) input with (OC, C, KH, KW) filters."""
    stride, padding = _check_conv_args(input, weight, bias, stride, padding)
    inputs = (input, weight) if bias is None else (input, weight, bias)
    return Conv2d.apply(*inputs, stride=stride, padding=padding)


def conv2d_simple(input, weight, bias=None, stride=1, padding=0):
    """The definition, as loops over output pixels (NumPy or CuPy arrays in, an array out; no autograd):

        out[n, o, p, q] = b[o] + sum_{c,i,j} W[o, c, i, j] * x_pad[n, c, p*SH + i, q*SW + j]

    Slow, and obviously right: the reference that tests compare conv2d with."""
    stride, padding = pair(stride, "stride"), pair(padding, "padding")
    xp = get_array_module(input)
    (SH, SW), (KH, KW) = stride, weight.shape[2:]
    x_pad = pad_hw(input, padding)
    OH, OW = (x_pad.shape[2] - KH) // SH + 1, (x_pad.shape[3] - KW) // SW + 1
    out = xp.zeros((input.shape[0], weight.shape[0], OH, OW), dtype=input.dtype)
    for p in range(OH):
        for q in range(OW):
            window = x_pad[:, :, p * SH:p * SH + KH, q * SW:q * SW + KW]        # (N, C, KH, KW)
            out[:, :, p, q] = xp.einsum("ncij,ocij->no", window, weight)
    if bias is not None:
        out += bias[None, :, None, None]
    return out


def pair(value, name):
    """An int or a pair of ints -> a pair (kernel sizes, strides, paddings); a clear error otherwise."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value) \
        if isinstance(value, (tuple, list)) else ()
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return tuple(int(v) for v in pair)


def _check_conv_args(input, weight, bias, stride, padding):
    """PyTorch's errors for shapes and types conv2d cannot handle; the stride and padding as pairs."""
    stride, padding = pair(stride, "conv2d: stride"), pair(padding, "conv2d: padding")
    if input.ndim != 4:
        raise ValueError(f"conv2d: expected a 4D (N, C, H, W) input, got shape {input.shape}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected a 4D (out_channels, in_channels, KH, KW) weight, got shape {weight.shape}")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"conv2d: Input type ({input.dtype}) and weight type ({weight.dtype}) should be the same; "
                        f"convert the input with .to({weight.dtype}) or the model with .to({input.dtype})")
    if input.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: input has {input.shape[1]} channels (shape {input.shape}) but the weight expects "
                         f"{weight.shape[1]} (shape {weight.shape})")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias shape {bias.shape} does not match {weight.shape[0]} output channels")
    if min(stride) < 1 or min(padding) < 0:
        raise ValueError(f"conv2d: stride must be >= 1 and padding >= 0, got stride={stride}, padding={padding}")
    (H, W), (KH, KW) = input.shape[2:], weight.shape[2:]
    if H + 2 * padding[0] < KH or W + 2 * padding[1] < KW:
        raise ValueError(f"conv2d: kernel {KH}x{KW} is larger than the padded input {H + 2 * padding[0]}x"
                         f"{W + 2 * padding[1]} (input shape {input.shape}, padding {padding})")
    return stride, padding
