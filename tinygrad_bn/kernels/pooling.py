"""Max pooling's backward: send each window's gradient to the element that held the window's maximum.

A window has KH*KW positions (i, j); "position (i, j) of every window" is one strided slice of the padded input
(see nn/functional/pooling.py). Visiting the positions in order, an element wins its window when it equals the
window's max and no earlier position of that window has won: the first maximum gets the gradient, as in PyTorch.
A NaN is the max of its window even though NaN == NaN is False, and padding never wins, not even against -inf.

The fast CPU version does the same on blocks of channels on every core, and when the windows tile the input (the
usual 2x2, stride 2, no padding) it writes each position's share straight into gx instead of zero-filling gx and
adding into it.
"""
from ..backend import get_array_module
from .switch import use_plain
from .layout import is_channel_major, pad_hw, unpad_hw, zeros_in_layout
from .parallel import map_row_blocks


def window_positions(kernel, stride, out_hw):
    """For each position (i, j) of a window, the index that picks that position of every window: a strided slice
    x[:, :, i : i + SH*OH : SH, j : j + SW*OW : SW] of shape (N, C, OH, OW)."""
    (KH, KW), (SH, SW), (OH, OW) = kernel, stride, out_hw
    for i in range(KH):
        for j in range(KW):
            yield (slice(None), slice(None), slice(i, i + SH * OH, SH), slice(j, j + SW * OW, SW))


def route_to_window_max(g, x, out, kernel, stride, padding):
    """gx (the shape of x): g[n, c, oh, ow] added at the first maximum of window (oh, ow), zeros elsewhere.

    Plain: for each window position (in order), winner = (x_at_position == out or NaN) & not padding & not routed
    yet;
    gx_at_position += g * winner."""
    xp = get_array_module(x)
    x_padded = pad_hw(x, padding, -xp.inf)
    not_padding = pad_hw(xp.ones(x.shape, dtype=bool), padding, False) if any(padding) else None
    if use_plain():
        gx = xp.zeros(x_padded.shape, dtype=g.dtype)
        routed = xp.zeros(out.shape, dtype=bool)        # windows whose gradient went to an element already
        for position in window_positions(kernel, stride, out.shape[2:]):
            candidate = x_padded[position]
            winner = ((candidate == out) | xp.isnan(candidate)) & ~routed
            if not_padding is not None:
                winner &= not_padding[position]
            gx[position] += g * winner
            routed |= winner
        return unpad_hw(gx, padding)
    return _route_by_channel_blocks(g, x, x_padded, not_padding, out, kernel, stride, padding)


def _route_by_channel_blocks(g, x, x_padded, not_padding, out, kernel, stride, padding):
    xp = get_array_module(x)
    windows_tile_input = (stride == kernel and not_padding is None
                          and x.shape[2] % kernel[0] == 0 and x.shape[3] % kernel[1] == 0)
    gx = xp.empty_like(x) if windows_tile_input else zeros_in_layout(xp, x_padded.shape, g.dtype, is_channel_major(x))
    has_nan = bool(xp.isnan(out).any())  # isnan on every candidate costs a pass; skip it when no window has NaN

    def channels(c):
        not_routed = None  # windows whose gradient no element has taken yet
        for n, _, h, w in window_positions(kernel, stride, out.shape[2:]):
            winner = x_padded[n, c, h, w] == out[:, c]
            if has_nan:
                winner |= xp.isnan(x_padded[n, c, h, w])
            if not_padding is not None:
                winner &= not_padding[n, c, h, w]
            if not_routed is None:
                not_routed = ~winner
            else:
                winner &= not_routed
                not_routed &= ~winner
            if windows_tile_input:
                xp.multiply(g[:, c], winner, out=gx[n, c, h, w])
            else:
                gx[n, c, h, w] += g[:, c] * winner

    map_row_blocks(channels, x.shape[1], xp, row_bytes=x[:, 0].nbytes + out[:, 0].nbytes)
    return unpad_hw(gx, padding)
