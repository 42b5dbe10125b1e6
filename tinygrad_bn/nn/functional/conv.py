"""2-D convolution as im2col + one matrix product; groups and dilation reduce to it.

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

Two variants, each reduced to that one convolution:

- groups=G splits the C input and OC output channels into G groups; output group k sees only input group k, with
  its own (OC/G, C/G, KH, KW) filters. So a grouped convolution is G ordinary ones side by side: the products above
  run once per group, on channel slices (views, no copies), and the results are joined along the channels. A loop
  rather than one batched product, because it calls the same primitives (and their fast paths) unchanged; depthwise
  convolution (groups = C, MobileNet) is then C thin products. groups=1 is the loop of one: exactly the plain op.
- dilation=D spreads the filter's taps D pixels apart. That is an ordinary convolution with a dilated filter: the
  (KH, KW) taps placed on a (D*(KH-1)+1, D*(KW-1)+1) grid with zeros between them (`DilateFn`, whose backward takes
  every D-th tap of the gradient back). The zeros cost multiplications, not correctness.

`conv2d_simple` below is the same convolution composed from Tensor ops, a filter tap at a time: the reference the
tests compare with.
ConvTranspose2d, the adjoint of this op, lives in conv_transpose.py.
"""

from ...arguments import pair, positive_int
from ...autograd import Function
from ...backend import get_array_module
from ...kernels import channel_rows, col2im_matmul, im2col_matmul, matmul_im2col_t, pad_hw
from ...tensors import cat
from .padding import pad


class Conv2dFn(Function):
    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0), groups=1):
        """out = W @ im2col(pad(x)) + b, one product per group of channels"""
        OC, _, KH, KW = weight.shape
        x_padded, w = pad_hw(x, padding), weight.reshape(OC, -1)
        out = join_channels([im2col_matmul(w[o], x_padded[:, c], (KH, KW), stride)      # (N, OC/G, OH, OW) each
                             for o, c in group_slices(OC, x.shape[1], groups)])
        if bias is not None:
            out += bias[:, None, None]
        self.kernel, self.stride, self.padding, self.weight_shape = (KH, KW), stride, padding, weight.shape
        self.groups, self.has_bias = groups, bias is not None
        self.save_for_backward(x_padded, w)
        return out

    def backward(self, g):
        """gW = g @ im2col(x)^T,  gx = col2im(W^T @ g) less the padding,  gb = sum of g over (n, oh, ow);
        per group: each group's rows of g with its own channels of x and its own rows of W"""
        x_padded, w = self.saved
        g = channel_rows(g)                                     # (OC, N*OH*OW)
        groups = group_slices(w.shape[0], x_padded.shape[1], self.groups)
        gw = join_rows([matmul_im2col_t(g[o], x_padded[:, c], self.kernel, self.stride) for o, c in groups])
        gx = None
        if self.needs_grad[0]:  # the network's input image needs no gradient: skip the largest product
            gx = join_channels([col2im_matmul(w[o], g[o], x_padded[:, c].shape, self.kernel, self.stride, self.padding)
                                for o, c in groups])
        gw = gw.reshape(self.weight_shape)
        return (gx, gw, g.sum(axis=1)) if self.has_bias else (gx, gw)


class DilateFn(Function):
    def forward(self, weight, dilation=(1, 1)):
        """W_dilated[:, :, i*DH, j*DW] = W[:, :, i, j], zeros between the taps"""
        (DH, DW), (OC, C, KH, KW) = dilation, weight.shape
        dilated = get_array_module(weight).zeros((OC, C, DH * (KH - 1) + 1, DW * (KW - 1) + 1), dtype=weight.dtype)
        dilated[:, :, ::DH, ::DW] = weight
        self.dilation = dilation
        return dilated

    def backward(self, g):
        """gW = every D-th tap of g (the zeros between the taps are constants: their gradient is dropped)"""
        DH, DW = self.dilation
        return g[:, :, ::DH, ::DW]


def group_slices(out_channels, in_channels, groups):
    """[(rows of W and of g, channels of x)] for each group: group k owns OC/G output and C/G input channels."""
    OG, CG = out_channels // groups, in_channels // groups
    return [(slice(k * OG, (k + 1) * OG), slice(k * CG, (k + 1) * CG)) for k in range(groups)]


def join_channels(parts):
    """(N, C_k, H, W) arrays -> one (N, sum C_k, H, W) array, stored channel-major as im2col_matmul's outputs are
    (a single part is returned as it is: groups=1 costs no copy)."""
    if len(parts) == 1:
        return parts[0]
    return get_array_module(parts[0]).concatenate([p.swapaxes(0, 1) for p in parts]).swapaxes(0, 1)


def join_rows(parts):
    """Matrices stacked by rows (a single one is returned as it is)."""
    return parts[0] if len(parts) == 1 else get_array_module(parts[0]).concatenate(parts)


def dilate(weight, dilation):
    """The filter with its taps spread `dilation` pixels apart (the weight itself when dilation is 1)."""
    return weight if tuple(dilation) == (1, 1) else DilateFn.apply(weight, dilation=tuple(dilation))


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, like PyTorch) of an (N, C, H, W) input with (OC, C/groups, KH, KW)
    filters. padding may be an int, a pair, "valid" (0) or "same" (output as large as the input; stride 1)."""
    stride, padding, dilation, groups = _check_conv_args(input, weight, bias, stride, padding, dilation, groups)
    if padding == "same":
        input, padding = _pad_same(input, weight, dilation)
    inputs = (input, dilate(weight, dilation)) + (() if bias is None else (bias,))
    return Conv2dFn.apply(*inputs, stride=stride, padding=padding, groups=groups)


def _pad_same(input, weight, dilation):
    """padding="same": D*(K-1) pixels in all, half on each side and the odd one at the bottom/right (PyTorch's
    choice). Even totals go to the convolution's own padding; odd ones pad the input first (F.pad, differentiable)."""
    total = [d * (k - 1) for d, k in zip(dilation, weight.shape[2:])]
    if all(t % 2 == 0 for t in total):
        return input, (total[0] // 2, total[1] // 2)
    (TH, TW) = total
    return pad(input, (TW // 2, TW - TW // 2, TH // 2, TH - TH // 2)), (0, 0)


def conv2d_simple(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """The same convolution composed from Tensor ops (pad, slicing, matmul, cat), so autograd differentiates it op
    by op: the definition,

        out[n, o, p, q] = b[o] + sum_{c,i,j} W[o, c, i, j] * x_pad[n, k*C/G + c, p*SH + i*DH, q*SW + j*DW]

    (k = o // (OC/G) is the group of output channel o), summed one filter tap (i, j) at a time: the tap sees the
    padded input shifted by (i*DH, j*DW) and sampled every (SH, SW) pixels, a product with that tap's (OC/G, C/G)
    weights. Numeric padding only (conv2d also takes "same" and "valid"), no argument checks. Slow, and obviously
    right: the reference that tests compare conv2d and its gradients with."""
    (SH, SW), (PH, PW), (DH, DW) = pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")
    (OC, CG, KH, KW), OG = weight.shape, weight.shape[0] // groups
    x_pad = pad(input, (PW, PW, PH, PH))
    OH, OW = (x_pad.shape[2] - DH * (KH - 1) - 1) // SH + 1, (x_pad.shape[3] - DW * (KW - 1) - 1) // SW + 1
    groups_out = []
    for k in range(groups):
        x_k, w_k = x_pad[:, k * CG:(k + 1) * CG], weight[k * OG:(k + 1) * OG]
        out_k = 0
        for i in range(KH):
            for j in range(KW):
                tap = x_k[:, :, i * DH:i * DH + SH * (OH - 1) + 1:SH, j * DW:j * DW + SW * (OW - 1) + 1:SW]
                out_k = out_k + tap.permute(0, 2, 3, 1) @ w_k[:, :, i, j].transpose(0, 1)   # (N, OH, OW, OC/G)
        groups_out.append(out_k)
    out = cat(groups_out, dim=3).permute(0, 3, 1, 2)
    return out if bias is None else out + bias.reshape(1, OC, 1, 1)


def _check_conv_args(input, weight, bias, stride, padding, dilation=1, groups=1):
    """PyTorch's errors for shapes and types conv2d cannot handle; stride, padding and dilation as pairs (padding
    may stay "same"), and groups."""
    stride, dilation = pair(stride, "conv2d: stride"), pair(dilation, "conv2d: dilation")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"conv2d: invalid padding string {padding!r}, should be one of ('valid', 'same')")
        if padding == "same" and stride != (1, 1):
            raise ValueError("conv2d: padding='same' is not supported for strided convolutions")
        padding = (0, 0) if padding == "valid" else padding
    else:
        padding = pair(padding, "conv2d: padding")
    if input.ndim != 4:
        raise ValueError(f"conv2d: expected a 4D (N, C, H, W) input, got shape {input.shape}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected a 4D (out_channels, in_channels/groups, KH, KW) weight, got shape "
                         f"{weight.shape}")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"conv2d: Input type ({input.dtype}) and weight type ({weight.dtype}) should be the same; "
                        f"convert the input with .to({weight.dtype}) or the model with .to({input.dtype})")
    groups = positive_int("conv2d: groups", groups)
    if weight.shape[0] % groups:
        raise ValueError(f"conv2d: weight of shape {weight.shape} has {weight.shape[0]} output channels, which "
                         f"groups={groups} does not divide")
    if input.shape[1] != weight.shape[1] * groups:
        raise ValueError(f"conv2d: input has {input.shape[1]} channels (shape {input.shape}) but the weight expects "
                         f"{weight.shape[1] * groups} (shape {weight.shape}, groups={groups})")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias shape {bias.shape} does not match {weight.shape[0]} output channels")
    if min(stride) < 1 or min(dilation) < 1 or (padding != "same" and min(padding) < 0):
        raise ValueError(f"conv2d: stride and dilation must be >= 1 and padding >= 0, got stride={stride}, "
                         f"padding={padding}, dilation={dilation}")
    (H, W), (KH, KW) = input.shape[2:], weight.shape[2:]
    KH, KW = dilation[0] * (KH - 1) + 1, dilation[1] * (KW - 1) + 1       # the dilated filter's extent
    PH, PW = (KH, KW) if padding == "same" else padding    # "same" pads whatever the filter needs
    if H + 2 * PH < KH or W + 2 * PW < KW:
        raise ValueError(f"conv2d: kernel {KH}x{KW} (dilation {dilation}) is larger than the padded input "
                         f"{H + 2 * PH}x{W + 2 * PW} (input shape {input.shape}, padding {padding})")
    return stride, padding, dilation, groups


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of an (N, C, L) (or unbatched (C, L)) input with (OC, C/groups, K) filters: the 2-D
    convolution of the same numbers seen as (N, C, 1, L) images and (OC, C/groups, 1, K) filters, every option
    acting along the width only. No new math: reshapes in and out, whose backward is the reshape back.
    padding may be an int, "valid" or "same"."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: "
                           f"{list(input.shape)}")
    if input.ndim == 2:
        return conv1d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    if weight.ndim != 3:
        raise RuntimeError(f"conv1d: expected a 3D (out_channels, in_channels/groups, K) weight, got shape "
                           f"{weight.shape}")
    groups = positive_int("conv1d: groups", groups)
    if input.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
                           f"{list(input.shape)} to have {weight.shape[1] * groups} channels, but got "
                           f"{input.shape[1]} channels instead")
    (stride,), (dilation,) = single(stride, "conv1d: stride"), single(dilation, "conv1d: dilation")
    padding = padding if isinstance(padding, str) else (0, single(padding, "conv1d: padding")[0])
    out = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, (1, stride), padding, (1, dilation), groups)
    return out.squeeze(2)


def single(value, name):
    """An int or a 1-tuple -> a 1-tuple (the 1-D layers' kernel_size, stride, padding, dilation); a clear error
    otherwise."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(items) != 1:
        raise ValueError(f"{name} must be an int or a tuple of one int, got {value!r}")
    return (pair(items[0], name)[0],)
