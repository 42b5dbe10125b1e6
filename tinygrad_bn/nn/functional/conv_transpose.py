"""Transposed convolution ("deconvolution", DCGAN's upsampling layer): the adjoint of conv2d.

A convolution maps x (N, C, H, W) to y = W @ im2col(x). Its input gradient, gx = col2im(W^T @ g), maps a
(N, OC, OH, OW) gradient back to the input's shape. A transposed convolution *is* that map, applied to data: each
input pixel x[n, c, p, q] paints a copy of its filter W[c, :, :, :] scaled by its value onto the output at
(p*S, q*S), and overlapping copies add up. With the weight stored (C_in, C_out, KH, KW), as PyTorch does:

    forward     out = col2im(W^T @ x) less the padding        col2im_matmul, the roles of x and g swapped
    backward    gx  = W @ im2col(pad(g))                       im2col_matmul: an ordinary convolution of g
                gW  = x @ im2col(pad(g))^T                     matmul_im2col_t
                gb  = g summed over (n, h, w)

So the backward of a transposed convolution is a convolution, and the backward of a convolution is a transposed
convolution: the same three primitives serve both, in swapped roles. Sizes: OH = (H-1)*S - 2P + D*(KH-1) + 1 +
output_padding, the extra output_padding rows at the bottom (and columns at the right) being the ones a strided
convolution of that larger image would have ignored. groups and dilation reduce to this op as in conv.py: one
product per group, and a dilated filter.

`conv_transpose2d_simple` below is the same op composed from Tensor ops, the reference tests compare with.
"""
from ...arguments import pair, positive_int
from ...autograd import Function
from ...kernels import channel_rows, col2im_matmul, im2col_matmul, matmul_im2col_t, pad_hw
from ...tensors import zeros
from .conv import dilate, group_slices, join_channels, join_rows


class ConvTranspose2dFn(Function):
    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), groups=1):
        """out = col2im(W^T @ x) less the padding, + b (one product per group of channels)"""
        (N, _, H, W), (C, OCG, KH, KW) = x.shape, weight.shape
        (SH, SW), (OPH, OPW) = stride, output_padding
        # the (padded) output whose stride-S windows are exactly the H x W input pixels, output_padding included
        padded_shape = (N, OCG, (H - 1) * SH + KH + OPH, (W - 1) * SW + KW + OPW)
        x_rows, w = channel_rows(x), weight.reshape(C, -1)                   # (C, N*H*W), (C, OC/G*KH*KW)
        out = join_channels([col2im_matmul(w[c], x_rows[c], padded_shape, (KH, KW), stride, padding)
                             for c, _ in group_slices(C, OCG * groups, groups)])
        if bias is not None:
            out += bias[:, None, None]
        self.kernel, self.stride, self.padding, self.weight_shape = (KH, KW), stride, padding, weight.shape
        self.groups, self.has_bias, self.output_padding = groups, bias is not None, output_padding
        self.save_for_backward(x_rows, w)
        return out

    def backward(self, g):
        """gx = W @ im2col(pad(g)),  gW = x @ im2col(pad(g))^T,  gb = sum of g over (n, h, w): a convolution of g"""
        x_rows, w = self.saved
        PH, PW = self.padding
        # padded back to the shape forward's col2im painted onto (output_padding rows included)
        g_padded = pad_hw(g, (PH, PW))
        groups = group_slices(w.shape[0], g.shape[1], self.groups)    # (rows of W and x, channels of g) per group
        gw = join_rows([matmul_im2col_t(x_rows[c], g_padded[:, o], self.kernel, self.stride) for c, o in groups])
        gx = None
        if self.needs_grad[0]:
            gx = join_channels([im2col_matmul(w[c], g_padded[:, o], self.kernel, self.stride) for c, o in groups])
        gw = gw.reshape(self.weight_shape)
        return (gx, gw, g.sum(axis=(0, 2, 3))) if self.has_bias else (gx, gw)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution of an (N, C_in, H, W) input with a (C_in, C_out/groups, KH, KW) weight: the
    gradient of conv2d with respect to its input, used as a layer (PyTorch's argument order)."""
    stride, padding, output_padding, dilation, groups = _check_conv_transpose_args(
        input, weight, bias, stride, padding, output_padding, groups, dilation)
    inputs = (input, dilate(weight, dilation)) + (() if bias is None else (bias,))
    return ConvTranspose2dFn.apply(*inputs, stride=stride, padding=padding, output_padding=output_padding,
                                 groups=groups)


def conv_transpose2d_simple(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The same op composed from Tensor ops (matmul, slicing, t[window] = ...), so autograd differentiates it op by
    op: each input pixel adds its value times its filter onto the output window it maps to,

        full[n, k*OC/G + o, p*SH + i*DH, q*SW + j*DW] += x[n, c, p, q] * W[c, o, i, j]     (c in group k)

    done one filter tap (i, j) at a time: the tap paints every input pixel, times its (C/G, OC/G) weights, onto a
    grid of output pixels SH, SW apart. The output is `full` less `padding` on each side, with `output_padding` zero
    rows/columns (never painted) allowed at the bottom/right. Slow and obviously right: the reference tests compare
    conv_transpose2d with."""
    (SH, SW), (PH, PW) = pair(stride, "stride"), pair(padding, "padding")
    (OPH, OPW), (DH, DW) = pair(output_padding, "output_padding"), pair(dilation, "dilation")
    (N, C, H, W), (_, OCG, KH, KW) = input.shape, weight.shape
    CG = C // groups
    full = zeros(N, OCG * groups, (H - 1) * SH + DH * (KH - 1) + 1 + OPH, (W - 1) * SW + DW * (KW - 1) + 1 + OPW,
                 dtype=input.dtype, device=input.device)
    for k in range(groups):
        x_k = input[:, k * CG:(k + 1) * CG].permute(0, 2, 3, 1)   # (N, H, W, C/G)
        w_k = weight[k * CG:(k + 1) * CG]
        for i in range(KH):
            for j in range(KW):
                painted = (x_k @ w_k[:, :, i, j]).permute(0, 3, 1, 2)   # (N, OC/G, H, W)
                window = (slice(None), slice(k * OCG, (k + 1) * OCG), slice(i * DH, i * DH + SH * (H - 1) + 1, SH),
                          slice(j * DW, j * DW + SW * (W - 1) + 1, SW))
                full[window] = full[window] + painted
    out = full[:, :, PH:full.shape[2] - PH, PW:full.shape[3] - PW]
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)


def _check_conv_transpose_args(input, weight, bias, stride, padding, output_padding, groups, dilation):
    """PyTorch's errors for what conv_transpose2d cannot handle; the sizes as pairs."""
    name = "conv_transpose2d"
    stride, padding = pair(stride, f"{name}: stride"), pair(padding, f"{name}: padding")
    output_padding, dilation = pair(output_padding, f"{name}: output_padding"), pair(dilation, f"{name}: dilation")
    if input.ndim != 4:
        raise ValueError(f"{name}: expected a 4D (N, C, H, W) input, got shape {input.shape}")
    if weight.ndim != 4:
        raise ValueError(f"{name}: expected a 4D (in_channels, out_channels/groups, KH, KW) weight, got shape "
                         f"{weight.shape}")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"{name}: Input type ({input.dtype}) and weight type ({weight.dtype}) should be the same")
    groups = positive_int(f"{name}: groups", groups)
    if input.shape[1] != weight.shape[0] or weight.shape[0] % groups:
        raise ValueError(f"{name}: input has {input.shape[1]} channels (shape {input.shape}) but the weight of shape "
                         f"{weight.shape} expects {weight.shape[0]} (divisible by groups={groups})")
    if bias is not None and bias.shape != (weight.shape[1] * groups,):
        raise ValueError(f"{name}: bias shape {bias.shape} does not match {weight.shape[1] * groups} output channels")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0 or min(output_padding) < 0:
        raise ValueError(f"{name}: stride and dilation must be >= 1, padding and output_padding >= 0, got "
                         f"stride={stride}, padding={padding}, output_padding={output_padding}, dilation={dilation}")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(f"{name}: output padding must be smaller than either stride or dilation, got "
                             f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
        if op >= s:  # PyTorch allows it (op < dilation): the painted rows then do not tile the output
            raise NotImplementedError(f"{name}: output_padding={output_padding} >= stride={stride} (allowed by "
                                      "PyTorch when smaller than the dilation) is not supported by tinygrad_bn")
    (H, W), (KH, KW) = input.shape[2:], weight.shape[2:]
    OH = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (KH - 1) + 1 + output_padding[0]
    OW = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (KW - 1) + 1 + output_padding[1]
    if OH < 1 or OW < 1:
        raise ValueError(f"{name}: the output would be {OH}x{OW}, which is too small (input shape {input.shape}, "
                         f"weight shape {weight.shape}, stride {stride}, padding {padding})")
    return stride, padding, output_padding, dilation, groups
