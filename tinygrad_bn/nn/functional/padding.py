"""pad: widen a tensor's last dims with a border (PyTorch's F.pad).

mode="constant" joins blocks of `value` on each side (`cat`). The other modes make the border from the tensor's own
values, and each is one index array per padded dim: output position p (from -before to size + after - 1) reads input
position

    reflect     |p|, folded back at the far edge: 2*(size-1) - |p|    (the edge itself is not repeated)
    replicate   p clamped to [0, size - 1]                              (the edge value, repeated)
    circular    p mod size                                              (the other side, wrapped around)

so the padded tensor is a gather, x[..., index], whose backward adds each output's gradient back onto the input
position it was read from (the border's gradient lands on the values it copies). No backward to write here.
"""
import numpy as np

from ...tensors import cat, full

MODES = ("constant", "reflect", "replicate", "circular")


def pad(input, pad, mode="constant", value=None):
    """pad = (left, right) for the last dim, then (top, bottom) for the one before, and so on: F.pad's layout.

    mode "constant" (with `value`, default 0) pads any number of dims; "reflect", "replicate" and "circular" pad
    the last 1, 2 or 3 dims of an input with 1 or 2 more (batch and channel) dims, as in PyTorch. Sizes must be
    non-negative (no cropping).
    """
    if mode not in MODES:
        raise NotImplementedError(f"pad: mode={mode!r} is not supported by tinygrad_bn (only {MODES})")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: expected pairs of sizes for at most {input.ndim} dims, got {tuple(pad)}")
    if any(p < 0 for p in pad):
        raise NotImplementedError(f"pad: negative sizes (cropping) are not supported, got {tuple(pad)}")
    if mode == "constant":
        return _pad_constant(input, pad, 0 if value is None else value)
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    dims = len(pad) // 2
    if dims not in (1, 2, 3) or input.ndim not in (dims + 1, dims + 2):
        raise NotImplementedError(f"pad: mode={mode!r} pads the last 1, 2 or 3 dims of a 2-D to 5-D input "
                                  f"(padding n dims needs an input of n+1 or n+2 dims), got padding {tuple(pad)} for "
                                  f"input of shape {input.shape}")
    out = input
    for i in range(dims):
        dim = input.ndim - 1 - i
        index = _border_index(mode, input.shape[dim], pad[2 * i], pad[2 * i + 1], dim, input.shape)
        out = out[(slice(None),) * dim + (index,)]
    return out


def _pad_constant(input, pad, value):
    """cat a block of `value` before and after each padded dim; cat's backward gives the border no gradient."""
    out = input
    for i in range(len(pad) // 2):
        dim = input.ndim - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        parts = []
        for size in (before, after):
            shape = out.shape[:dim] + (size,) + out.shape[dim + 1:]
            parts.append(full(shape, value, dtype=input.dtype, device=input.device) if size else None)
        out = cat([p for p in (parts[0], out, parts[1]) if p is not None], dim=dim)
    return out


def _border_index(mode, size, before, after, dim, shape):
    """The input position each of the size + before + after output positions along `dim` reads (see the top)."""
    p = np.arange(-before, size + after)
    if mode == "reflect":
        if before >= size or after >= size:
            raise RuntimeError(f"pad: padding ({before}, {after}) at dimension {dim} of input {shape} should be less "
                             f"than the dimension's size {size} for mode='reflect'")
        p = np.abs(p)
        return np.where(p > size - 1, 2 * (size - 1) - p, p)
    if size == 0:
        raise ValueError(f"pad: mode={mode!r} can not pad the empty dimension {dim} of input {shape}")
    if mode == "replicate":
        return np.clip(p, 0, size - 1)
    if before > size or after > size:
        raise RuntimeError(f"pad: padding ({before}, {after}) at dimension {dim} of input {shape} wraps around more "
                         f"than once (at most the dimension's size {size}) for mode='circular'")
    return p % size
