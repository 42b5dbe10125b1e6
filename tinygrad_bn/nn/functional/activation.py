"""Activations, dropout, linear layers and softmax: small functions built on the Tensor's ops.

`inplace=True` is accepted everywhere PyTorch accepts it, and the result is computed out of place all the same: the
graph keeps the input's array for the backward of the op that produced it (conv, batch norm ...), and overwriting it
would corrupt that gradient (PyTorch avoids this with per-op rules about which outputs may be overwritten). Only the
memory saving is lost; the values and gradients are PyTorch's.
"""
from ... import ops
from ...backend import rng
from ...tensor import Tensor


def relu(input, inplace=False):
    """max(x, 0); backward: dx = dy * (x > 0)."""
    return input.relu()


def relu6(input, inplace=False):
    """min(max(x, 0), 6): hardtanh(x, 0, 6)."""
    return ops.Hardtanh.apply(input, min_val=0.0, max_val=6.0)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clip(x, min_val, max_val)."""
    return ops.Hardtanh.apply(input, min_val=min_val, max_val=max_val)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, negative_slope * x otherwise."""
    return ops.LeakyReLU.apply(input, negative_slope=negative_slope)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return ops.ELU.apply(input, alpha=alpha)


def gelu(input, approximate="none"):
    """x * Phi(x) with Phi the standard normal CDF (exact, with erf), or its tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return ops.GELU.apply(input, approximate=approximate)


def silu(input, inplace=False):
    """x * sigmoid(x) (also called swish)."""
    return ops.SiLU.apply(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    return ops.Softplus.apply(input, beta=beta, threshold=threshold)


def hardsigmoid(input, inplace=False):
    """clip(x / 6 + 1/2, 0, 1)."""
    return ops.Hardsigmoid.apply(input)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6 (MobileNetV3's activation)."""
    return ops.Hardswish.apply(input)


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def linear(input, weight, bias=None):
    """y = x @ W^T + b with W of shape (out_features, in_features), as PyTorch stores it."""
    if input.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: input of shape {input.shape} has {input.shape[-1]} features but the weight of shape "
                         f"{weight.shape} expects {weight.shape[-1]}")
    if input.dtype != weight.dtype:  # PyTorch's rule: no silent promotion of an int or float64 input
        raise RuntimeError(f"linear: mat1 and mat2 must have the same dtype, but got {input.dtype} (input) and "
                           f"{weight.dtype} (weight); convert with input.to({weight.dtype})")
    out = input @ weight.T
    return out if bias is None else out + bias


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1-p), so the expected value is unchanged.

    The mask is a constant of the graph, so the backward is dx = dy * mask / (1-p). Identity when not training.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0
    keep = rng(input.device).random(input.shape, dtype=input.dtype) >= p
    return input * Tensor._wrap(keep.astype(input.dtype) / input.dtype.type(1 - p))


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels: each (sample, channel) plane of an (N, C, H, W) or (C, H, W) input is kept with
    probability 1-p and scaled by 1/(1-p). Backward: dx = dy * mask / (1-p), the mask broadcast over H and W."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3D (C, H, W) or 4D (N, C, H, W) input, got shape {input.shape}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0
    mask_shape = input.shape[:-2] + (1, 1)
    keep = rng(input.device).random(mask_shape, dtype=input.dtype) >= p
    return input * Tensor._wrap(keep.astype(input.dtype) / input.dtype.type(1 - p))


def _softmax_dim(input, dim):
    """PyTorch's implicit dim for softmax(x) without dim (deprecated there): 0 for 0-, 1- and 3-D input, else 1."""
    if dim is not None:
        return dim
    return 0 if input.ndim in (0, 1, 3) else 1


def softmax(input, dim=None, dtype=None):
    input = input if dtype is None else input.to(dtype)
    return input.softmax(_softmax_dim(input, dim))


def log_softmax(input, dim=None, dtype=None):
    input = input if dtype is None else input.to(dtype)
    return input.log_softmax(_softmax_dim(input, dim))
