"""Max and average pooling over (KH, KW) windows.

Both are written with the same idea as im2col, without building the column matrix: a window has KH*KW positions
(i, j), and "the value at position (i, j) of every window" is one strided slice of the (padded) input:

    x[:, :, i : i + SH*OH : SH, j : j + SW*OW : SW]          shape (N, C, OH, OW)

so max pooling is the elementwise max of KH*KW slices, average pooling their mean. The slices keep the input's
memory layout (see kernels/layout.py), and for the usual 2x2 / stride 2 pooling this is four cheap passes.
"""
from ...autograd import Function
from ...backend import get_array_module
from ...kernels import is_channel_major, output_hw, pad_hw, route_to_window_max, unpad_hw, window_positions, zeros_in_layout
from .conv import pair


class MaxPool2d(Function):
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


class AvgPool2d(Function):
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
    stride = kernel if stride is None else pair(stride, f"{name}: stride")
    padding = pair(padding, f"{name}: padding")
    if input.ndim != 4:
        raise ValueError(f"{name}: expected a 4D (N, C, H, W) input, got shape {input.shape}")
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{name}: padding {padding} should be at most half of kernel_size {kernel}")
    if any(size + 2 * p < k for size, k, p in zip(input.shape[2:], kernel, padding)):
        raise ValueError(f"{name}: kernel {kernel} does not fit in the input of shape {input.shape} "
                         f"(padding {padding})")
    return dict(kernel=kernel, stride=stride, padding=padding)


def max_pool2d(input, kernel_size, stride=None, padding=0):
    """Max over each (KH, KW) window; stride defaults to kernel_size. Pads with -inf."""
    return MaxPool2d.apply(input, **_pool_args("max_pool2d", input, kernel_size, stride, padding))


def avg_pool2d(input, kernel_size, stride=None, padding=0):
    """Mean over each (KH, KW) window; stride defaults to kernel_size. Padding counts as zeros."""
    return AvgPool2d.apply(input, **_pool_args("avg_pool2d", input, kernel_size, stride, padding))


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed (OH, OW): window r covers rows floor(r*H/OH) .. ceil((r+1)*H/OH), as PyTorch.

    output_size 1 (global average pooling) is one mean over H and W; other sizes stack one mean per window.
    """
    from ...tensor import stack

    OH, OW = pair(output_size, "adaptive_avg_pool2d: output_size")
    if input.ndim != 4:
        raise ValueError(f"adaptive_avg_pool2d: expected a 4D (N, C, H, W) input, got shape {input.shape}")
    H, W = input.shape[2:]
    if (OH, OW) == (1, 1):
        return input.mean(dim=(2, 3), keepdim=True)
    rows = []
    for r in range(OH):
        h0, h1 = (r * H) // OH, -(-((r + 1) * H) // OH)
        cells = [input[:, :, h0:h1, (c * W) // OW: -(-((c + 1) * W) // OW)].mean(dim=(2, 3)) for c in range(OW)]
        rows.append(stack(cells, dim=-1))
    return stack(rows, dim=-2)
