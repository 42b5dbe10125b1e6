"""interpolate: resize (N, C, H, W) images or (N, C, L) sequences by nearest-neighbour or (bi)linear sampling
(PyTorch's F.interpolate).

Resizing is separable: first every output row is made from input rows, then every output column from those (a
sequence has only the one axis). Each
output index `dst` reads an input position `src` (a real number), computed exactly as PyTorch does:

    nearest                      src = floor(dst * scale)                    scale = in/out, or 1/scale_factor
    bilinear, align_corners=False  src = (dst + 0.5) * scale - 0.5, >= 0      (pixel centres line up)
    bilinear, align_corners=True   src = dst * (in - 1) / (out - 1)           (the corner pixels line up)

Nearest takes row floor(src); bilinear mixes rows i0 = floor(src) and i1 = i0 + 1 (the last row at the edge) as
(1 - t) * x[i0] + t * x[i1], t = src - i0. Both are built from differentiable Tensor ops: an index gather (whose
backward adds each output's gradient back onto the row it was read from) and a weighted sum. So there is no
separate backward here to get wrong; the index and weight arrays are constants computed with NumPy.
"""
import math

import numpy as np

from ...tensors import Tensor

MODES = ("nearest", "linear", "bilinear")
LINEAR_DIMS = {"linear": 3, "bilinear": 4}     # the input dims each interpolating mode works on


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize 4-D input to `size` (an int or (OH, OW)) or by `scale_factor` (out = floor(in * scale_factor)),
    with mode "nearest" or "bilinear", or 3-D input to `size` (an int) with mode "nearest" or "linear";
    align_corners (linear and bilinear only) defaults to False."""
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"interpolate: tinygrad_bn supports 3-D (N, C, L) and 4-D (N, C, H, W) input "
                                  f"only, got shape {input.shape}")
    if mode not in MODES:
        raise NotImplementedError(f"interpolate: mode={mode!r} is not supported by tinygrad_bn (only {MODES})")
    if LINEAR_DIMS.get(mode, input.ndim) != input.ndim:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {LINEAR_DIMS[mode]}D input")
    if align_corners is not None and mode == "nearest":
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported by tinygrad_bn")
    in_hw = input.shape[2:]
    out_hw, scales = _output_size(in_hw, size, scale_factor)
    if recompute_scale_factor:  # PyTorch then samples with in/out, forgetting the scale_factor
        scales = (None,) * len(in_hw)
    out = input
    for dim, (n_in, n_out, scale) in enumerate(zip(in_hw, out_hw, scales), start=2):
        if n_out == n_in:  # PyTorch keeps an axis whose size does not change as it is, whatever the scale_factor
            continue
        if mode == "nearest":
            out = _take(out, dim, _nearest_index(n_in, n_out, scale))
        else:
            out = _linear_along(out, dim, n_in, n_out, scale, bool(align_corners))
    return out


def _output_size(in_hw, size, scale_factor):
    """(OH, OW) (or (OL,)) and the scale factors PyTorch samples with (None where the size was given)."""
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: either size or scale_factor should be defined, and only one of them")
    k = len(in_hw)
    if size is not None:
        out_hw = (size,) * k if isinstance(size, int) else tuple(size)
        if len(out_hw) != k:
            raise ValueError(f"interpolate: size {size!r} should be an int or {k} ints for a {k + 2}-D input")
        out_hw = tuple(int(s) for s in out_hw)
        _check_sizes(in_hw, out_hw, f"size {size!r}")
        return out_hw, (None,) * k
    scales = (scale_factor,) * k if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    if len(scales) != k:
        raise ValueError(f"interpolate: scale_factor {scale_factor!r} should be a number or {k} numbers for a "
                         f"{k + 2}-D input")
    out_hw = tuple(math.floor(n * float(s)) for n, s in zip(in_hw, scales))
    _check_sizes(in_hw, out_hw, f"scale_factor {scale_factor!r}")
    return out_hw, tuple(float(s) for s in scales)


def _check_sizes(in_hw, out_hw, argument):
    """PyTorch's RuntimeError for an empty input or output (the sampling scale in/out would divide by zero)."""
    if min(in_hw) < 1 or min(out_hw) < 1:
        def named(sizes):  # PyTorch's wording: (H: 4, W: 4) for images, (L: 4) for sequences
            return ", ".join(f"{name}: {n}" for name, n in zip(("H", "W") if len(sizes) == 2 else ("L",), sizes))
        raise RuntimeError(f"interpolate: Input and output sizes should be greater than 0, but got input "
                           f"({named(in_hw)}) output ({named(out_hw)}) from {argument}")


def _source_scale(n_in, n_out, scale, dtype):
    """in/out, or 1/scale_factor when one was given, rounded to `dtype` as PyTorch computes it."""
    return dtype.type(1.0 / scale) if scale is not None and scale > 0 else dtype.type(n_in) / dtype.type(n_out)


def _nearest_index(n_in, n_out, scale):
    """src = min(floor(dst * scale), in - 1), in float32 like PyTorch (doubling is its exact special case)."""
    dst = np.arange(n_out)
    if n_out == 2 * n_in:
        return dst // 2
    scale = _source_scale(n_in, n_out, scale, np.dtype(np.float32))
    return np.minimum(np.floor(dst.astype(np.float32) * scale).astype(np.int64), n_in - 1)


def _linear_along(x, dim, n_in, n_out, scale, align_corners):
    """(1 - t) * x[i0] + t * x[i1] along `dim`, with i0, i1, t from each output index's source position."""
    dtype = np.dtype(x.dtype)
    dst = np.arange(n_out, dtype=dtype)
    if align_corners:
        src = dst * (dtype.type(n_in - 1) / dtype.type(n_out - 1)) if n_out > 1 else np.zeros_like(dst)
    else:
        src = np.maximum((dst + dtype.type(0.5)) * _source_scale(n_in, n_out, scale, dtype) - dtype.type(0.5), 0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    t = np.clip(src - i0, 0, 1).astype(dtype)
    shape = (-1,) + (1,) * (x.ndim - 1 - dim)                 # t broadcast along the dims after `dim`
    weight1 = Tensor(t.reshape(shape), dtype=x.dtype, device=x.device)
    weight0 = Tensor((1 - t).reshape(shape), dtype=x.dtype, device=x.device)
    return _take(x, dim, i0) * weight0 + _take(x, dim, i1) * weight1


def _take(x, dim, index):
    """x's entries at `index` along dim (a gather; its backward adds the gradient back at those entries)."""
    return x[(slice(None),) * dim + (index,)]


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """PyTorch's older name for interpolate."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Bilinear with align_corners=True (what this old PyTorch function always did)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
