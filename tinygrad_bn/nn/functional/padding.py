"""pad: widen a tensor's last dims with a constant border (PyTorch's F.pad, mode="constant")."""
from ...tensors import cat, full


def pad(input, pad, mode="constant", value=None):
    """pad = (left, right) for the last dim, then (top, bottom) for the one before, and so on: F.pad's layout.

    Composed from `cat` with constant blocks, so the backward is cat's: each input element gets its gradient back,
    the border gets none. Only mode="constant" with non-negative sizes is supported.
    """
    if mode != "constant":
        raise NotImplementedError(f"pad: mode={mode!r} is not supported by tinygrad_bn (only 'constant')")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: expected pairs of sizes for at most {input.ndim} dims, got {tuple(pad)}")
    if any(p < 0 for p in pad):
        raise NotImplementedError(f"pad: negative sizes (cropping) are not supported, got {tuple(pad)}")
    value = 0 if value is None else value
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
