"""Max and average pooling over (KH, KW) windows.

Both are written with the same idea as im2col, without building the column matrix: a window has KH*KW positions
(i, j), and "the value at position (i, j) of every window" is one strided slice of the (padded) input:

    x[:, :, i : i + SH*OH : SH, j : j + SW*OW : SW]          shape (N, C, OH, OW)

so max pooling is the elementwise max of KH*KW slices, average pooling their mean. The slices keep the input's
memory layout (see kernels/layout.py), and for the usual 2x2 / stride 2 pooling this is four cheap passes.
"""
import numpy as np

from ...arguments import pair
from ...autograd import Function
from ...backend import get_array_module
from ...kernels import (is_channel_major, output_hw, pad_hw, route_to_window_max, unpad_hw, window_positions,
                        zeros_in_layout)
from ...tensors import Tensor, stack
from .conv import single
from .padding import pad


class MaxPool2dFn(Function):
    def forward(self, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0)):
        """out = the max over each window (padding is -inf, so it never wins)"""
        xp = get_array_module(x)
        padded = pad_hw(x, padding, -xp.inf)
        out = None
        for position in window_positions(kernel, stride, output_hw(padded.shape, kernel, stride)):
            out = padded[position].copy(order="K") if out is None else xp.maximum(out, padded[position], out=out)
        self.kernel, self.stride, self.padding = kernel, stride, padding
        # x and out suffice to find each window's max again in backward, and finding it there costs less than
        # tracking it here with data-dependent branches (where=... masks with random True/False run slowly).
        self.save_for_backward(x, out)
        return out

    def backward(self, g):
        """gx = g routed to the element of each window that holds the max (the first one on ties, like PyTorch)"""
        x, out = self.saved
        return route_to_window_max(g, x, out, self.kernel, self.stride, self.padding)


class AvgPool2dFn(Function):
    def forward(self, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0)):
        """out = the mean over each window; padding counts as zeros (PyTorch's default count_include_pad=True)"""
        padded = pad_hw(x, padding, 0)
        out = None
        for position in window_positions(kernel, stride, output_hw(padded.shape, kernel, stride)):
            out = padded[position].copy(order="K") if out is None else out + padded[position]
        self.kernel, self.stride, self.padding, self.padded_shape = kernel, stride, padding, padded.shape
        self.input_channel_major = is_channel_major(x)
        return out / (kernel[0] * kernel[1])

    def backward(self, g):
        """gx = g / (KH*KW) added to every element of each window"""
        share = g / (self.kernel[0] * self.kernel[1])
        gx = zeros_in_layout(get_array_module(g), self.padded_shape, g.dtype, self.input_channel_major)
        for position in window_positions(self.kernel, self.stride, g.shape[2:]):
            gx[position] += share
        return unpad_hw(gx, self.padding)


def _pool_args(name, input, kernel_size, stride, padding):
    kernel = pair(kernel_size, f"{name}: kernel_size")
    stride = kernel if stride is None or stride == [] else pair(stride, f"{name}: stride")
    padding = pair(padding, f"{name}: padding")
    if input.ndim != 4:
        raise ValueError(f"{name}: expected a 4D (N, C, H, W) input, got shape {input.shape}")
    if min(kernel) <= 0:  # PyTorch's RuntimeErrors: a window count divides by the stride, which defaults to kernel
        raise RuntimeError(f"{name}: kernel size should be greater than zero, but got kernel_size={kernel}")
    if min(stride) <= 0:
        raise RuntimeError(f"{name}: stride should be greater than zero, but got stride={stride}")
    if min(padding) < 0:
        raise RuntimeError(f"{name}: pad must be non-negative, but got padding={padding}")
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{name}: padding {padding} should be at most half of kernel_size {kernel}")
    if any(size + 2 * p < k for size, k, p in zip(input.shape[2:], kernel, padding)):
        raise ValueError(f"{name}: kernel {kernel} does not fit in the input of shape {input.shape} "
                         f"(padding {padding})")
    return dict(kernel=kernel, stride=stride, padding=padding)


def pooled_size(size, kernel, stride, padding, ceil_mode):
    """Windows along one axis. floor((size + 2P - K) / S) + 1, or with ceil_mode the ceiling, less the last window
    when it would start past the input and its left padding (PyTorch's rule: every window sees the input)."""
    span = size + 2 * padding - kernel
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _ceil_overhang(input, kernel, stride, padding, ceil_mode):
    """(rows, columns) by which ceil_mode's last windows hang past the padded input: the amount to pad the input
    with at the bottom and the right, so that ordinary (floor) pooling makes the same windows."""
    return tuple(max(0, (pooled_size(size, k, s, p, ceil_mode) - 1) * s + k - (size + 2 * p))
                 for size, k, s, p in zip(input.shape[2:], kernel, stride, padding))


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each (KH, KW) window; stride defaults to kernel_size. Pads with -inf. ceil_mode=True keeps the
    partial windows at the bottom/right edge (the input is padded there with -inf first, which never wins)."""
    if return_indices:
        raise NotImplementedError("max_pool2d: return_indices=True is not supported by tinygrad_bn "
                                  "(MaxUnpool2d is not implemented either)")
    if min(pair(dilation, "max_pool2d: dilation")) <= 0:
        raise RuntimeError(f"max_pool2d: dilation should be greater than zero, but got dilation={dilation!r}")
    if pair(dilation, "max_pool2d: dilation") != (1, 1):
        raise NotImplementedError(f"max_pool2d: dilation={dilation!r} is not supported by tinygrad_bn (only 1)")
    args = _pool_args("max_pool2d", input, kernel_size, stride, padding)
    extra_h, extra_w = _ceil_overhang(input, ceil_mode=ceil_mode, **args)
    if extra_h or extra_w:
        input = pad(input, (0, extra_w, 0, extra_h), value=-float("inf"))
    return MaxPool2dFn.apply(input, **args)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over each (KH, KW) window; stride defaults to kernel_size. Padding counts as zeros.

    The default (count_include_pad=True, no ceil_mode) divides every window's sum by KH*KW. Otherwise windows differ
    in how many of their pixels count, as in PyTorch: out = window sum / count, where count is the window's pixels
    inside the input (count_include_pad=False) or inside the padded input (True; ceil_mode's overhang never counts),
    or divisor_override. The window sum is KH*KW times the plain mean, so that op's backward serves here too."""
    args = _pool_args("avg_pool2d", input, kernel_size, stride, padding)
    extra_h, extra_w = _ceil_overhang(input, ceil_mode=ceil_mode, **args)
    if count_include_pad and divisor_override is None and not (extra_h or extra_w):
        return AvgPool2dFn.apply(input, **args)
    if divisor_override is not None and divisor_override <= 0:
        raise ValueError(f"avg_pool2d: divisor_override must be positive, got {divisor_override}")
    (KH, KW), (SH, SW), (PH, PW) = args["kernel"], args["stride"], args["padding"]
    H, W = input.shape[2:]
    if divisor_override is not None:
        count = np.full((1, 1), float(divisor_override))
    else:
        rows = _window_counts(H, KH, SH, PH, pooled_size(H, KH, SH, PH, ceil_mode), count_include_pad)
        cols = _window_counts(W, KW, SW, PW, pooled_size(W, KW, SW, PW, ceil_mode), count_include_pad)
        count = np.outer(rows, cols)                      # windows are rectangles: count = rows * columns
    if extra_h or extra_w:
        input = pad(input, (0, extra_w, 0, extra_h))
    scale = Tensor(KH * KW / count, dtype=input.dtype, device=input.device)
    return AvgPool2dFn.apply(input, **args) * scale


def _window_counts(size, kernel, stride, padding, windows, count_include_pad):
    """How many pixels of each window along one axis count: those in [-P, size + P) (count_include_pad) or in
    [0, size). Window k covers [k*S - P, k*S - P + K)."""
    starts = np.arange(windows) * stride - padding
    low, high = (-padding, size + padding) if count_include_pad else (0, size)
    return np.minimum(starts + kernel, high) - np.maximum(starts, low)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed (OH, OW): window r covers rows floor(r*H/OH) .. ceil((r+1)*H/OH), as PyTorch.

    output_size 1 (global average pooling) is one mean over H and W; other sizes stack one mean per window.
    """
    OH, OW = pair(output_size, "adaptive_avg_pool2d: output_size")
    if input.ndim != 4:
        raise ValueError(f"adaptive_avg_pool2d: expected a 4D (N, C, H, W) input, got shape {input.shape}")
    if min(OH, OW) < 0:
        raise RuntimeError(f"adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but "
                           f"received output_size={output_size!r}")
    H, W = input.shape[2:]
    if min(OH, OW) == 0:  # an empty output, as PyTorch's (stack below needs at least one window)
        return input.mean(dim=(2, 3), keepdim=True).expand(*input.shape[:2], OH, OW)
    if (OH, OW) == (1, 1):
        return input.mean(dim=(2, 3), keepdim=True)
    rows = []
    for r in range(OH):
        h0, h1 = (r * H) // OH, -(-((r + 1) * H) // OH)
        cells = [input[:, :, h0:h1, (c * W) // OW: -(-((c + 1) * W) // OW)].mean(dim=(2, 3)) for c in range(OW)]
        rows.append(stack(cells, dim=-1))
    return stack(rows, dim=-2)


def _adaptive_sizes(name, input, output_size):
    """(OH, OW) from an int or a pair; None in a pair keeps that input size, as PyTorch."""
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        output_size = tuple(input.shape[-2 + i] if size is None else size for i, size in enumerate(output_size))
    sizes = pair(output_size, f"{name}: output_size")
    if min(sizes) < 0:
        raise ValueError(f"{name}: elements of output_size must be greater than or equal to 0 but received "
                         f"output_size={output_size!r}")
    return sizes


def _adaptive_window(index, size, windows):
    """The cells [start, end) that adaptive window `index` of `windows` covers along an axis of `size` cells:
    start = floor(index * size / windows), end = ceil((index + 1) * size / windows) (PyTorch's rule)."""
    return (index * size) // windows, -(-((index + 1) * size) // windows)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed (OH, OW) of an (N, C, H, W) or (C, H, W) input: output cell (r, c) is the max over
    rows floor(r*H/OH) .. ceil((r+1)*H/OH) and the matching columns, as PyTorch.

    A loop over the OH*OW output cells, each a slice and a max (no fused op): the windows overlap or differ in size
    when H is not a multiple of OH, and OH*OW is small where this layer is used (a fixed-size head). Each window is
    flattened in row-major order before its max, so a tie sends the gradient to the first maximum, as PyTorch."""
    if return_indices:
        raise NotImplementedError("adaptive_max_pool2d: return_indices=True is not supported by tinygrad_bn "
                                  "(MaxUnpool2d is not implemented either)")
    if input.ndim not in (3, 4):
        raise ValueError(f"adaptive_max_pool2d: expected a 3D (C, H, W) or 4D (N, C, H, W) input, got shape "
                         f"{input.shape}")
    if input.ndim == 3:
        return adaptive_max_pool2d(input.unsqueeze(0), output_size).squeeze(0)
    OH, OW = _adaptive_sizes("adaptive_max_pool2d", input, output_size)
    N, C, H, W = input.shape
    if min(H, W) == 0:
        raise ValueError(f"adaptive_max_pool2d: expected input to have non-zero size for non-batch dimensions, but "
                         f"got shape {input.shape}")
    if min(OH, OW) == 0:  # an empty output, as PyTorch's (stack below needs at least one window)
        return input[:, :, :1, :1].expand(N, C, OH, OW)
    rows = []
    for r in range(OH):
        h0, h1 = _adaptive_window(r, H, OH)
        cells = []
        for c in range(OW):
            w0, w1 = _adaptive_window(c, W, OW)
            cells.append(input[:, :, h0:h1, w0:w1].reshape(N, C, -1).max(dim=2).values)
        rows.append(stack(cells, dim=-1))
    return stack(rows, dim=-2)


# 1-D pooling: the 2-D pooling of the same numbers seen as (N, C, 1, L) images, with windows of height 1 (no new
# math; the reshapes' backward is the reshape back). Unbatched (C, L) input gets a batch dim of 1 and loses it again.
def _as_images(name, input):
    if input.ndim not in (2, 3):
        raise ValueError(f"{name}: expected a 2D (C, L) or 3D (N, C, L) input, got shape {input.shape}")
    return input.unsqueeze(2) if input.ndim == 3 else input.unsqueeze(0).unsqueeze(2)


def _as_sequences(out, input):
    return out.squeeze(2) if input.ndim == 3 else out.squeeze(2).squeeze(0)


def _widths(name, kernel_size, stride, padding):
    """(1, K), (1, S) and (0, P): the 2-D window, stride and padding of a 1-D pooling (stride defaults to K)."""
    (kernel,) = single(kernel_size, f"{name}: kernel_size")
    (stride,) = (kernel,) if stride is None or stride == [] else single(stride, f"{name}: stride")
    (padding,) = single(padding, f"{name}: padding")
    return (1, kernel), (1, stride), (0, padding)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each window of K positions of an (N, C, L) input; stride defaults to kernel_size."""
    if return_indices:
        raise NotImplementedError("max_pool1d: return_indices=True is not supported by tinygrad_bn")
    if single(dilation, "max_pool1d: dilation") != (1,):
        raise NotImplementedError(f"max_pool1d: dilation={dilation!r} is not supported by tinygrad_bn (only 1)")
    kernel, stride, padding = _widths("max_pool1d", kernel_size, stride, padding)
    out = max_pool2d(_as_images("max_pool1d", input), kernel, stride, padding, 1, ceil_mode)
    return _as_sequences(out, input)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over each window of K positions of an (N, C, L) input; stride defaults to kernel_size."""
    kernel, stride, padding = _widths("avg_pool1d", kernel_size, stride, padding)
    out = avg_pool2d(_as_images("avg_pool1d", input), kernel, stride, padding, ceil_mode, count_include_pad)
    return _as_sequences(out, input)


def adaptive_avg_pool1d(input, output_size):
    """Average pooling of an (N, C, L) input to a fixed length output_size (windows as adaptive_avg_pool2d's)."""
    (length,) = single(output_size, "adaptive_avg_pool1d: output_size")
    out = adaptive_avg_pool2d(_as_images("adaptive_avg_pool1d", input), (1, length))
    return _as_sequences(out, input)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling of an (N, C, L) input to a fixed length output_size (windows as adaptive_max_pool2d's)."""
    if return_indices:
        raise NotImplementedError("adaptive_max_pool1d: return_indices=True is not supported by tinygrad_bn")
    (length,) = single(output_size, "adaptive_max_pool1d: output_size")
    out = adaptive_max_pool2d(_as_images("adaptive_max_pool1d", input), (1, length))
    return _as_sequences(out, input)
