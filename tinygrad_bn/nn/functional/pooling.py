"""Max and average pooling over (KH, KW) windows.

Both are written with the same idea as im2col, without building the column matrix: a window has KH*KW positions
(i, j), and "the value at position (i, j) of every window" is one strided slice of the (padded) input:

    x[:, :, i : i + SH*OH : SH, j : j + SW*OW : SW]          shape (N, C, OH, OW)

so max pooling is the elementwise max of KH*KW slices, average pooling their mean. The slices keep the input's
memory layout (see layout.py), and for the usual 2x2 / stride 2 pooling this is four cheap passes.
"""
from ...autograd import Function
from ...backend import get_array_module
from .conv import _pair, output_size
from .layout import is_channel_major, zeros
from .parallel import map_row_blocks


def _window_slices(kernel, stride, out_hw):
    """(k, index) for every position (i, j) of a window: k = i*KW + j, and the slice that picks position (i, j)
    of every window."""
    (KH, KW), (SH, SW), (OH, OW) = kernel, stride, out_hw
    for i in range(KH):
        for j in range(KW):
            yield i * KW + j, (slice(None), slice(None), slice(i, i + SH * OH, SH), slice(j, j + SW * OW, SW))


def _pad(x, padding, value):
    """Pad H and W, keeping x's memory layout (empty_like with a new shape does)."""
    PH, PW = padding
    if not (PH or PW):
        return x
    N, C, H, W = x.shape
    padded = get_array_module(x).empty_like(x, shape=(N, C, H + 2 * PH, W + 2 * PW))  # keeps x's layout
    padded.fill(value)
    padded[:, :, PH:PH + H, PW:PW + W] = x
    return padded


class MaxPool2d(Function):
    def forward(self, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0)):
        xp = get_array_module(x)
        N, C, H, W = x.shape
        out_hw = output_size(H, kernel[0], stride[0], padding[0]), output_size(W, kernel[1], stride[1], padding[1])
        padded = _pad(x, padding, -xp.inf)
        out = None
        for _, index in _window_slices(kernel, stride, out_hw):
            out = padded[index].copy(order="K") if out is None else xp.maximum(out, padded[index], out=out)
        self.kernel, self.stride, self.padding, self.out_hw = kernel, stride, padding, out_hw
        # x and out suffice to find the max of each window again in backward, and finding it there costs less
        # than tracking it here with data-dependent branches (where=... masks with random True/False run slowly).
        self.save_for_backward(x, out)
        return out

    def backward(self, g):
        """gx = g routed to the element of each window that holds the max (the first one on ties, like PyTorch)"""
        x, out = self.saved
        xp = get_array_module(g)
        padded = _pad(x, self.padding, -xp.inf)
        real = _pad(xp.ones_like(x, dtype=bool), self.padding, False) if any(self.padding) else None
        # Windows that tile the input (the usual 2x2, stride 2) cover each element exactly once: each position's
        # share can then be written straight into gx, without zero-filling gx first and adding into it.
        tiles = self.stride == self.kernel and real is None and x.shape[2] % self.kernel[0] == 0 \
            and x.shape[3] % self.kernel[1] == 0
        gx = (xp.empty_like(x) if tiles else zeros(xp, padded.shape, g.dtype, is_channel_major(x)))
        has_nan = bool(xp.isnan(out).any())  # a NaN is the max of its window, though NaN == NaN is False

        def channels(c):
            unrouted = None  # windows whose gradient has not been given to an element yet
            for _, (n, _, h, w) in _window_slices(self.kernel, self.stride, self.out_hw):
                candidate = padded[n, c, h, w]
                winner = candidate == out[:, c]
                if has_nan:
                    winner |= xp.isnan(candidate)
                if real is not None:  # padding never wins, not even against -inf
                    winner &= real[n, c, h, w]
                if unrouted is None:
                    unrouted = ~winner
                else:
                    winner &= unrouted
                    unrouted &= ~winner
                if tiles:
                    xp.multiply(g[:, c], winner, out=gx[n, c, h, w])
                else:
                    gx[n, c, h, w] += g[:, c] * winner

        map_row_blocks(channels, x.shape[1], xp)  # channels are independent: one block per core on the CPU
        PH, PW = self.padding
        return gx[:, :, PH:gx.shape[2] - PH, PW:gx.shape[3] - PW]


class AvgPool2d(Function):
    def forward(self, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0)):
        N, C, H, W = x.shape
        out_hw = output_size(H, kernel[0], stride[0], padding[0]), output_size(W, kernel[1], stride[1], padding[1])
        padded = _pad(x, padding, 0)
        out = None
        for _, index in _window_slices(kernel, stride, out_hw):
            out = padded[index].copy(order="K") if out is None else out + padded[index]
        # Padding counts as zeros in the average (PyTorch's default count_include_pad=True).
        self.kernel, self.stride, self.padding, self.out_hw = kernel, stride, padding, out_hw
        self.padded_shape, self.channel_major = padded.shape, is_channel_major(x)
        return out / (kernel[0] * kernel[1])

    def backward(self, g):
        """gx = g / (KH*KW) added to every element of each window"""
        xp = get_array_module(g)
        share = g / (self.kernel[0] * self.kernel[1])
        gx = zeros(xp, self.padded_shape, g.dtype, self.channel_major)
        for _, index in _window_slices(self.kernel, self.stride, self.out_hw):
            gx[index] += share
        PH, PW = self.padding
        return gx[:, :, PH:gx.shape[2] - PH, PW:gx.shape[3] - PW]


def _pool_args(name, input, kernel_size, stride, padding):
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None else _pair(stride, "stride")
    padding = _pair(padding, "padding")
    if input.ndim != 4:
        raise ValueError(f"{name}: expected a 4D (N, C, H, W) input, got shape {input.shape}")
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{name}: padding {padding} should be at most half of kernel_size {kernel}")
    if any(output_size(s, k, st, p) < 1 for s, k, st, p in zip(input.shape[2:], kernel, stride, padding)):
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

    OH, OW = _pair(output_size, "output_size")
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
