"""Activations, dropout, linear layers and softmax: small functions built on the Tensor's ops.

`inplace=True` is accepted everywhere PyTorch accepts it, and the result is computed out of place all the same: the
graph keeps the input's array for the backward of the op that produced it (conv, batch norm ...), and overwriting it
would corrupt that gradient (PyTorch avoids this with per-op rules about which outputs may be overwritten). Only the
memory saving is lost; the values and gradients are PyTorch's.
"""
import math

import numpy as np

from ...autograd import Function
from ...backend import get_array_module, rng
from ...ops import erf_array, stable_sigmoid
from ...tensors import Tensor


# ----------------------------------------------------------------------------------------------------------------
# The activations that only nn.functional offers (the Tensor's own, relu, sigmoid, tanh, softmax, are in ops.py).
# Each keeps what its derivative needs; "mask" arrays hold where a piecewise function takes which piece.
# ----------------------------------------------------------------------------------------------------------------
class LeakyReLUFn(Function):
    def forward(self, x, negative_slope):
        positive = x > 0
        self.negative_slope = negative_slope
        self.save_for_backward(positive)
        return get_array_module(x).where(positive, x, x * x.dtype.type(negative_slope))

    def backward(self, g):
        """gx = g where x > 0, else g * negative_slope"""
        (positive,) = self.saved
        return get_array_module(g).where(positive, g, g * g.dtype.type(self.negative_slope))


class ELUFn(Function):
    def forward(self, x, alpha):
        xp = get_array_module(x)
        positive = x > 0
        out = xp.where(positive, x, x.dtype.type(alpha) * xp.expm1(xp.minimum(x, 0)))
        self.alpha = alpha
        self.save_for_backward(positive, out)
        return out

    def backward(self, g):
        """gx = g where x > 0, else g * alpha * exp(x) = g * (out + alpha)"""
        positive, out = self.saved
        return get_array_module(g).where(positive, g, g * (out + out.dtype.type(self.alpha)))


class GELUFn(Function):
    """x * Phi(x), Phi the standard normal CDF; approximate="tanh" uses Phi(x) ~ (1 + tanh(k (x + 0.044715 x^3))) / 2,
    k = sqrt(2 / pi), as PyTorch does."""

    def forward(self, x, approximate="none"):
        xp = get_array_module(x)
        self.approximate = approximate
        if approximate == "tanh":
            k = x.dtype.type(math.sqrt(2 / math.pi))
            t = xp.tanh(k * (x + x.dtype.type(0.044715) * x ** 3))
            self.save_for_backward(x, t)
            return x * (1 + t) / 2
        cdf = (1 + erf_array(x / x.dtype.type(math.sqrt(2)))) / 2
        self.save_for_backward(x, cdf)
        return x * cdf

    def backward(self, g):
        """exact: gx = g * (Phi(x) + x * phi(x)), phi(x) = exp(-x^2/2) / sqrt(2 pi);
        tanh: gx = g * ((1 + t) / 2 + x/2 * (1 - t^2) * k * (1 + 3 * 0.044715 x^2)),  t = tanh(k (x + 0.044715 x^3))"""
        x, saved = self.saved
        xp = get_array_module(x)
        if self.approximate == "tanh":
            t, k = saved, x.dtype.type(math.sqrt(2 / math.pi))
            inner_grad = k * (1 + x.dtype.type(3 * 0.044715) * x * x)
            return g * ((1 + t) / 2 + x / 2 * (1 - t * t) * inner_grad)
        pdf = xp.exp(-x * x / 2) / x.dtype.type(math.sqrt(2 * math.pi))
        return g * (saved + x * pdf)


class SiLUFn(Function):
    def forward(self, x):
        s = stable_sigmoid(x)
        self.save_for_backward(x, s)
        return x * s

    def backward(self, g):
        """out = x * s, s = sigmoid(x):  gx = g * (s + x * s * (1 - s)) = g * s * (1 + x * (1 - s))"""
        x, s = self.saved
        return g * s * (1 + x * (1 - s))


class SoftplusFn(Function):
    def forward(self, x, beta=1.0, threshold=20.0):
        xp = get_array_module(x)
        bx = x * x.dtype.type(beta)
        linear = bx > threshold  # PyTorch returns x itself there: log(1 + e^bx) = bx to double precision
        self.save_for_backward(bx, linear)
        # log(1 + e^bx) = max(bx, 0) + log1p(e^-|bx|), which never overflows
        soft = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / x.dtype.type(beta)
        return xp.where(linear, x, soft)

    def backward(self, g):
        """gx = g * sigmoid(beta * x), or g where beta * x > threshold (the linear piece)"""
        bx, linear = self.saved
        return get_array_module(g).where(linear, g, g * stable_sigmoid(bx))


class HardtanhFn(Function):
    """clip(x, min_val, max_val); relu6 is hardtanh(x, 0, 6)."""

    def forward(self, x, min_val, max_val):
        inside = (x > min_val) & (x < max_val)
        self.save_for_backward(inside)
        return get_array_module(x).clip(x, min_val, max_val)

    def backward(self, g):
        """gx = g where min_val < x < max_val, else 0 (0 at the corners too, like PyTorch; ClampFn keeps g there)"""
        (inside,) = self.saved
        return g * inside


class HardsigmoidFn(Function):
    def forward(self, x):
        inside = (x > -3) & (x < 3)
        self.save_for_backward(inside)
        return get_array_module(x).clip(x / 6 + x.dtype.type(0.5), 0, 1)

    def backward(self, g):
        """out = clip(x/6 + 1/2, 0, 1):  gx = g / 6 where -3 < x < 3, else 0"""
        (inside,) = self.saved
        return g * inside / 6


class HardswishFn(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return x * get_array_module(x).clip(x + 3, 0, 6) / 6

    def backward(self, g):
        """out = x * relu6(x + 3) / 6:  gx = 0 for x <= -3, g * (x/3 + 1/2) for -3 < x < 3, g for x >= 3
        (at the kinks, x = -3 and x = 3, PyTorch takes the outer pieces' slopes, 0 and 1: so does this)"""
        (x,) = self.saved
        xp = get_array_module(x)
        slope = xp.where(x <= -3, 0, xp.where(x < 3, x / 3 + x.dtype.type(0.5), 1)).astype(g.dtype, copy=False)
        return g * slope


def relu(input, inplace=False):
    """max(x, 0); backward: dx = dy * (x > 0)."""
    return input.relu()


def relu6(input, inplace=False):
    """min(max(x, 0), 6): hardtanh(x, 0, 6)."""
    return HardtanhFn.apply(input, min_val=0.0, max_val=6.0)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clip(x, min_val, max_val)."""
    return HardtanhFn.apply(input, min_val=min_val, max_val=max_val)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, negative_slope * x otherwise."""
    return LeakyReLUFn.apply(input, negative_slope=negative_slope)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return ELUFn.apply(input, alpha=alpha)


def gelu(input, approximate="none"):
    """x * Phi(x) with Phi the standard normal CDF (exact, with erf), or its tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return GELUFn.apply(input, approximate=approximate)


def silu(input, inplace=False):
    """x * sigmoid(x) (also called swish)."""
    return SiLUFn.apply(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    return SoftplusFn.apply(input, beta=beta, threshold=threshold)


def hardsigmoid(input, inplace=False):
    """clip(x / 6 + 1/2, 0, 1)."""
    return HardsigmoidFn.apply(input)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6 (MobileNetV3's activation)."""
    return HardswishFn.apply(input)


# ----------------------------------------------------------------------------------------------------------------
# Activations composed from the functions above and Tensor ops: no backward of their own. Autograd's gradient at
# each kink is PyTorch's (checked in tests/test_more_layers.py); the docstring says which piece wins there.
# ----------------------------------------------------------------------------------------------------------------
SELU_ALPHA = 1.6732632423543772848170429916717   # the constants of "Self-Normalizing Neural Networks" (2017)
SELU_SCALE = 1.0507009873554804934193349852946


def prelu(input, weight):
    """x where x > 0, else weight * x, with a learned slope: one weight for every element, or one per channel,
    broadcast over dim 1 of (N, C, ...) input. At x = 0 the gradient is the slope's (dx = weight * dy)."""
    channels = input.shape[1] if input.ndim >= 2 else 1  # below 2 dims there is no channel dim: one channel
    if weight.numel() not in (1, channels):
        raise ValueError(f"prelu: weight has {weight.numel()} parameters but the input of shape {input.shape} has "
                         f"{channels} channels (dim 1); expected 1 or {channels}")
    if input.dtype != weight.dtype:  # PyTorch's rule, as linear's: no silent promotion
        raise RuntimeError(f"prelu: the input ({input.dtype}) and the weight ({weight.dtype}) must have the same "
                           f"dtype; convert with input.to({weight.dtype}) or the module with .to({input.dtype})")
    if weight.numel() == 1:
        slope = weight.reshape(())
    else:
        slope = weight.reshape((channels,) + (1,) * (input.ndim - 2))
    return input.where(input > 0, slope * input)


def selu(input, inplace=False):
    """scale * elu(x, alpha) with PyTorch's constants scale ~ 1.0507, alpha ~ 1.6733 (self-normalizing networks)."""
    return elu(input, SELU_ALPHA) * SELU_SCALE


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) = alpha * elu(x / alpha): continuously differentiable for
    every alpha (slope 1 at x = 0 from both sides)."""
    if alpha == 0:
        raise ValueError("celu: alpha cannot be 0 (it divides x)")
    return elu(input / alpha) * alpha


def _softplus_everywhere(input):
    """log(1 + exp(x)) with no linear piece (threshold = inf): the stable form of SoftplusFn holds for every x."""
    return softplus(input, beta=1.0, threshold=math.inf)


def mish(input, inplace=False):
    """x * tanh(softplus(x)) (Misra 2019)."""
    return input * _softplus_everywhere(input).tanh()


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x) = min(x, 0) - log(1 + exp(-|x|)): softplus's stable form, so neither
    exp(-x) nor log(0) is ever computed (finite for x = -1000 and exact for x = +40)."""
    return -_softplus_everywhere(-input)


def softsign(input):
    """x / (1 + |x|)."""
    return input / (input.abs() + 1)


def tanhshrink(input):
    """x - tanh(x)."""
    return input - input.tanh()


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value. The gradient is 0 at x == threshold (the constant piece), as PyTorch."""
    return input.masked_fill(input <= threshold, value)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0; the gradient is 0 at x = +-lambd (the zero piece), as PyTorch."""
    return input.masked_fill((input >= -lambd) & (input <= lambd), 0.0)


def softshrink(input, lambd=0.5):
    """x - lambd where x > lambd, x + lambd where x < -lambd, else 0: that is x - clamp(x, -lambd, lambd).
    clamp passes the gradient at its bounds, so at x = +-lambd the gradient is 1 - 1 = 0, as PyTorch's."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be greater than or equal to 0, but got {lambd}")
    return input - input.clamp(-lambd, lambd)


def glu(input, dim=-1):
    """Gated linear unit: split x in halves a, b along dim; a * sigmoid(b)."""
    if input.ndim == 0:
        raise ValueError("glu: a 0-dimensional input has no dimension to halve")
    size = input.shape[dim]
    if size % 2:
        raise ValueError(f"glu: halving dimension must be even, but dimension {dim} of the input of shape "
                         f"{input.shape} is size {size}")
    before = (slice(None),) * (dim % input.ndim)  # every index up to dim
    a, b = input[before + (slice(0, size // 2),)], input[before + (slice(size // 2, size),)]
    return a * b.sigmoid()


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


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels: each (sample, channel) sequence of an (N, C, L) or (C, L) input is kept with probability
    1-p and scaled by 1/(1-p). Backward: dx = dy * mask / (1-p), the mask broadcast over L."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (2, 3):
        raise ValueError(f"dropout1d: expected a 2D (C, L) or 3D (N, C, L) input, got shape {input.shape}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0
    keep = rng(input.device).random(input.shape[:-1] + (1,), dtype=input.dtype) >= p
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


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x): weights that favour the smallest entries."""
    input = input if dtype is None else input.to(dtype)
    return (-input).softmax(_softmax_dim(input, dim))
