"""The Tensor's differentiable ops, each one Function with its forward and backward side by side.

Notation in the docstrings: x, y are inputs, out is the output, g is dL/d(out), gx is dL/dx.
Every op works on NumPy and CuPy arrays alike: it asks its input for its array module (`xp`).
"""
import math

import numpy as np

from .autograd import Function, IndexedGradient, unbroadcast
from .backend import device_of, get_array_module, scatter_add, to_device


# ----------------------------------------------------------------------------------------------------------------
# Elementwise arithmetic with broadcasting. Each gradient is summed back to its input's shape by `unbroadcast`.
# ----------------------------------------------------------------------------------------------------------------
class AddFn(Function):
    def forward(self, x, y):
        self.shapes = x.shape, y.shape
        return x + y

    def backward(self, g):
        """gx = g, gy = g"""
        return unbroadcast(g, self.shapes[0]), unbroadcast(g, self.shapes[1])


class SubFn(Function):
    def forward(self, x, y):
        self.shapes = x.shape, y.shape
        return x - y

    def backward(self, g):
        """gx = g, gy = -g"""
        return unbroadcast(g, self.shapes[0]), unbroadcast(-g, self.shapes[1])


class MulFn(Function):
    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x * y

    def backward(self, g):
        """gx = g * y, gy = g * x"""
        x, y = self.saved
        gx = unbroadcast(g * y, x.shape) if self.needs_grad[0] else None
        gy = unbroadcast(g * x, y.shape) if self.needs_grad[1] else None
        return gx, gy


class DivFn(Function):
    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x / y

    def backward(self, g):
        """gx = g / y, gy = -g * x / y**2"""
        x, y = self.saved
        gx = unbroadcast(g / y, x.shape) if self.needs_grad[0] else None
        gy = unbroadcast(-g * x / (y * y), y.shape) if self.needs_grad[1] else None
        return gx, gy


class PowFn(Function):
    def forward(self, x, y):
        out = x ** y
        self.save_for_backward(x, y, out)
        return out

    def backward(self, g):
        """gx = g * y * x**(y-1), gy = g * out * log(x)"""
        x, y, out = self.saved
        xp = get_array_module(x)
        gx = unbroadcast(g * y * x ** (y - 1), x.shape) if self.needs_grad[0] else None
        gy = unbroadcast(g * out * xp.log(x), y.shape) if self.needs_grad[1] else None
        return gx, gy


class NegFn(Function):
    def forward(self, x):
        return -x

    def backward(self, g):
        """gx = -g"""
        return -g


# ----------------------------------------------------------------------------------------------------------------
# Elementwise math. Where the derivative is a function of the output (exp, sqrt, tanh, sigmoid) the output is saved.
# ----------------------------------------------------------------------------------------------------------------
class ExpFn(Function):
    def forward(self, x):
        out = get_array_module(x).exp(x)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        """gx = g * exp(x) = g * out"""
        (out,) = self.saved
        return g * out


class LogFn(Function):
    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(divide="ignore"):  # log(0) = -inf is wanted (masks: log(tril(ones))), as in PyTorch
            return get_array_module(x).log(x)

    def backward(self, g):
        """gx = g / x"""
        (x,) = self.saved
        return g / x


class SqrtFn(Function):
    def forward(self, x):
        out = get_array_module(x).sqrt(x)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        """gx = g / (2 * sqrt(x)) = g / (2 * out)"""
        (out,) = self.saved
        return g / (2 * out)


class TanhFn(Function):
    def forward(self, x):
        out = get_array_module(x).tanh(x)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        """gx = g * (1 - tanh(x)**2) = g * (1 - out**2)"""
        (out,) = self.saved
        return g * (1 - out * out)


def stable_sigmoid(x):
    """1 / (1 + exp(-x)) on an array, without overflow and without cancellation.

    With e = exp(-|x|) <= 1 nothing overflows: sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0.
    (Writing it as (1 + tanh(x/2)) / 2 also avoids overflow, but 1 + tanh cancels to 0 for x below about -37.)"""
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


class SigmoidFn(Function):
    def forward(self, x):
        out = stable_sigmoid(x)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        """gx = g * sigmoid(x) * (1 - sigmoid(x)) = g * out * (1 - out)"""
        (out,) = self.saved
        return g * out * (1 - out)


class ReLUFn(Function):
    def forward(self, x):
        # The mask, not x, is what backward needs: one byte per element instead of four.
        mask = x > 0
        self.save_for_backward(mask)
        return x * mask

    def backward(self, g):
        """gx = g * (x > 0)"""
        (mask,) = self.saved
        return g * mask


class AbsFn(Function):
    def forward(self, x):
        xp = get_array_module(x)
        self.save_for_backward(xp.sign(x))
        return xp.abs(x)

    def backward(self, g):
        """gx = g * sign(x)   (0 at x = 0, like PyTorch)"""
        (sign,) = self.saved
        return g * sign


class ClampFn(Function):
    def forward(self, x, low=None, high=None):
        xp = get_array_module(x)
        inside = xp.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        self.save_for_backward(inside)
        return xp.clip(x, low, high)

    def backward(self, g):
        """gx = g where low <= x <= high, else 0"""
        (inside,) = self.saved
        return g * inside


class Log1pFn(Function):
    """out = log(1 + x), accurate for tiny x (where 1 + x would round away x's digits), as NumPy's log1p."""

    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):  # log1p(-1) = -inf, below -1 nan, as in PyTorch
            return get_array_module(x).log1p(x)

    def backward(self, g):
        """gx = g / (1 + x)"""
        (x,) = self.saved
        return g / (1 + x)


class Expm1Fn(Function):
    """out = exp(x) - 1, accurate for tiny x (where exp(x) - 1 would cancel)."""

    def forward(self, x):
        out = get_array_module(x).expm1(x)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        """gx = g * exp(x) = g * (out + 1)"""
        (out,) = self.saved
        return g * (out + 1)


def _per_element(math_fn, x):
    """A Python `math` function applied to each element of x, in x's dtype and on x's device. NumPy has no erf;
    math.erf and math.erfc are exact to double precision, one element at a time (fast enough for the small models
    this serves; a GPU array makes a round trip through the host)."""
    out = np.asarray(np.frompyfunc(math_fn, 1, 1)(to_device(x, "cpu")), dtype=x.dtype)  # 0-d gives a float
    return to_device(out, device_of(x))


def erf_array(x):
    """erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt, elementwise on an array (exact GELU uses it)."""
    return _per_element(math.erf, x)


class ErfFn(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return erf_array(x)

    def backward(self, g):
        """gx = g * 2/sqrt(pi) * exp(-x^2)"""
        (x,) = self.saved
        return g * x.dtype.type(2 / math.sqrt(math.pi)) * get_array_module(x).exp(-x * x)


class ErfcFn(Function):
    """out = erfc(x) = 1 - erf(x), computed directly: for large x, 1 - erf(x) would round to 0 (erfc(6) = 2e-17)."""

    def forward(self, x):
        self.save_for_backward(x)
        return _per_element(math.erfc, x)

    def backward(self, g):
        """gx = -g * 2/sqrt(pi) * exp(-x^2)"""
        (x,) = self.saved
        return -g * x.dtype.type(2 / math.sqrt(math.pi)) * get_array_module(x).exp(-x * x)


class RemainderFn(Function):
    """out = x - y * q, q = x / y rounded toward zero (rounding "trunc": fmod, the sign of x) or toward -inf
    ("floor": remainder, the sign of y). The value comes from NumPy's fmod or remainder, exact in floating point
    (x - y * q written out would round)."""

    def forward(self, x, y, rounding):
        xp = get_array_module(x)
        self.shapes = x.shape, y.shape
        with np.errstate(divide="ignore", invalid="ignore"):  # a float divisor of 0 gives nan, as in PyTorch
            out = xp.fmod(x, y) if rounding == "trunc" else xp.remainder(x, y)
            if self.needs_grad[1]:
                self.q = xp.trunc(x / y) if rounding == "trunc" else xp.floor(x / y)
        return out

    def backward(self, g):
        """gx = g, gy = -g * q   (q is piecewise constant: its derivative is 0 almost everywhere)"""
        gy = unbroadcast(-g * self.q, self.shapes[1]) if self.needs_grad[1] else None
        return unbroadcast(g, self.shapes[0]), gy


# ----------------------------------------------------------------------------------------------------------------
# Trigonometric and hyperbolic functions (tan saves its output: its derivative is 1 + tan(x)**2)
# ----------------------------------------------------------------------------------------------------------------
class SinFn(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).sin(x)

    def backward(self, g):
        """gx = g * cos(x)"""
        (x,) = self.saved
        return g * get_array_module(x).cos(x)


class CosFn(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).cos(x)

    def backward(self, g):
        """gx = -g * sin(x)"""
        (x,) = self.saved
        return -g * get_array_module(x).sin(x)


class TanFn(Function):
    def forward(self, x):
        out = get_array_module(x).tan(x)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        """gx = g / cos(x)**2 = g * (1 + out**2)"""
        (out,) = self.saved
        return g * (1 + out * out)


class AsinFn(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).arcsin(x)

    def backward(self, g):
        """gx = g / sqrt(1 - x**2)   (infinite at |x| = 1, as in PyTorch)"""
        (x,) = self.saved
        return g / get_array_module(x).sqrt(1 - x * x)


class AcosFn(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).arccos(x)

    def backward(self, g):
        """gx = -g / sqrt(1 - x**2)"""
        (x,) = self.saved
        return -g / get_array_module(x).sqrt(1 - x * x)


class AtanFn(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).arctan(x)

    def backward(self, g):
        """gx = g / (1 + x**2)"""
        (x,) = self.saved
        return g / (1 + x * x)


class Atan2Fn(Function):
    """out = atan2(y, x), the angle of the point (x, y): note the order, y first, as in PyTorch and NumPy."""

    def forward(self, y, x):
        self.save_for_backward(y, x)
        return get_array_module(y).arctan2(y, x)

    def backward(self, g):
        """gy = g * x / (x**2 + y**2), gx = -g * y / (x**2 + y**2)"""
        y, x = self.saved
        r2 = x * x + y * y
        gy = unbroadcast(g * x / r2, y.shape) if self.needs_grad[0] else None
        gx = unbroadcast(-g * y / r2, x.shape) if self.needs_grad[1] else None
        return gy, gx


class SinhFn(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).sinh(x)

    def backward(self, g):
        """gx = g * cosh(x)"""
        (x,) = self.saved
        return g * get_array_module(x).cosh(x)


class CoshFn(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).cosh(x)

    def backward(self, g):
        """gx = g * sinh(x)"""
        (x,) = self.saved
        return g * get_array_module(x).sinh(x)


# ----------------------------------------------------------------------------------------------------------------
# Reductions
# ----------------------------------------------------------------------------------------------------------------
def _restore_reduced_axes(g, shape, axis, keepdim):
    """Reshape a reduced gradient so it broadcasts against the input: put back the axes that were summed away."""
    if axis is None:
        return g.reshape((1,) * len(shape))
    if keepdim:
        return g
    axes = sorted(a % len(shape) for a in axis)
    for a in axes:
        g = get_array_module(g).expand_dims(g, a)
    return g


class SumFn(Function):
    def forward(self, x, axis=None, keepdim=False):
        self.shape, self.axis, self.keepdim = x.shape, axis, keepdim
        return x.sum(axis=axis, keepdims=keepdim)

    def backward(self, g):
        """gx = g broadcast to x's shape (every summed element gets the same gradient)"""
        g = _restore_reduced_axes(g, self.shape, self.axis, self.keepdim)
        return get_array_module(g).broadcast_to(g, self.shape)


class MeanFn(Function):
    def forward(self, x, axis=None, keepdim=False):
        self.shape, self.axis, self.keepdim = x.shape, axis, keepdim
        out = x.mean(axis=axis, keepdims=keepdim)
        self.count = x.size // max(out.size, 1)
        return out

    def backward(self, g):
        """gx = g / n broadcast to x's shape, n = number of averaged elements"""
        g = _restore_reduced_axes(g, self.shape, self.axis, self.keepdim) / self.count
        return get_array_module(g).broadcast_to(g, self.shape)


class MaxFn(Function):
    """max over all elements, or over one axis (the min is max of -x)."""

    def forward(self, x, axis=None, keepdim=False):
        xp = get_array_module(x)
        self.shape, self.axis, self.keepdim = x.shape, axis, keepdim
        if axis is None:
            out = x.max()
            # Ties share the gradient equally (PyTorch's rule for a full reduction).
            winners = x == out
            self.save_for_backward(winners / winners.sum())
            return out
        index = xp.expand_dims(x.argmax(axis=axis), axis)
        # With an axis, the gradient goes to the one element argmax picked (PyTorch's rule for max(dim)).
        self.save_for_backward(index)
        out = xp.take_along_axis(x, index, axis=axis)
        return out if keepdim else out.squeeze(axis)

    def backward(self, g):
        """gx = g at the position of the maximum, 0 elsewhere"""
        (where,) = self.saved
        xp = get_array_module(g)
        if self.axis is None:
            return (g * where).astype(g.dtype, copy=False)
        gx = xp.zeros(self.shape, dtype=g.dtype)
        g = g if self.keepdim else xp.expand_dims(g, self.axis)
        xp.put_along_axis(gx, where, g, axis=self.axis)
        return gx


class AmaxFn(Function):
    """max over any set of axes (all of them for axis=None); ties share the gradient equally, as in torch.amax."""

    def forward(self, x, axis=None, keepdim=False):
        self.shape, self.axis, self.keepdim = x.shape, axis, keepdim
        out = x.max(axis=axis, keepdims=True)
        winners = x == out
        with np.errstate(invalid="ignore"):  # a slice holding NaN has no winner: 0 / 0 = nan, PyTorch's gradient too
            share = winners / winners.sum(axis=axis, keepdims=True)
        self.save_for_backward(share.astype(x.dtype, copy=False))
        return out if keepdim else out.squeeze(axis)

    def backward(self, g):
        """gx = g / k at each of the k elements equal to the maximum of their reduced slice, 0 elsewhere"""
        (share,) = self.saved
        return _restore_reduced_axes(g, self.shape, self.axis, self.keepdim) * share


class ProdFn(Function):
    """product over all elements, or over one axis. Zeros in the input are allowed: see backward."""

    def forward(self, x, axis=None, keepdim=False):
        self.shape, self.axis, self.keepdim = x.shape, axis, keepdim
        self.save_for_backward(x)
        return x.prod(axis=axis, keepdims=keepdim)

    def backward(self, g):
        """gx_i = g * (product of the other elements x_k, k != i)

        Dividing the product by x_i fails where x_i = 0, so the product of the others is built from the product of
        the nonzero elements P and the count of zeros Z (per reduced slice): it is P / x_i where Z = 0, P at the
        only zero where Z = 1, and 0 everywhere else (any other zero is among the others)."""
        (x,) = self.saved
        xp = get_array_module(x)
        is_zero = x == 0
        nonzero_x = xp.where(is_zero, 1, x)
        nonzero_product = nonzero_x.prod(axis=self.axis, keepdims=True)
        zeros_elsewhere = is_zero.sum(axis=self.axis, keepdims=True) - is_zero
        others = xp.where(zeros_elsewhere > 0, 0, xp.where(is_zero, nonzero_product, nonzero_product / nonzero_x))
        return _restore_reduced_axes(g, self.shape, self.axis, self.keepdim) * others


class CumsumFn(Function):
    def forward(self, x, axis):
        self.axis = axis
        return x.cumsum(axis=axis)

    def backward(self, g):
        """gx_i = sum of g_j over j >= i   (x_i is in every partial sum from out_i on): a reversed cumsum"""
        xp = get_array_module(g)
        return xp.flip(xp.flip(g, self.axis).cumsum(axis=self.axis), self.axis)


class CumprodFn(Function):
    def forward(self, x, axis):
        self.axis = axis
        self.save_for_backward(x)
        return x.cumprod(axis=axis)

    def backward(self, g):
        """gx_i = sum over j >= i of g_j * out_j / x_i, computed without dividing (x_i may be 0):

        out_j / x_i = E_i * (x_{i+1} ... x_j), where E_i = x_0 ... x_{i-1} is the exclusive product, so
        gx_i = E_i * S_i with S_i = g_i + x_{i+1} * S_{i+1}: one scan from the end, exact with zeros anywhere."""
        (x,) = self.saved
        xp = get_array_module(x)
        if x.shape[self.axis] == 0:
            return xp.zeros_like(g)
        x, g = xp.moveaxis(x, self.axis, 0), xp.moveaxis(g, self.axis, 0)  # scan along the first axis
        s = xp.empty_like(g)
        s[-1] = g[-1]
        for i in range(len(x) - 2, -1, -1):
            s[i] = g[i] + x[i + 1] * s[i + 1]
        exclusive = xp.concatenate([xp.ones_like(x[:1]), x[:-1].cumprod(axis=0)])
        return xp.moveaxis(exclusive * s, 0, self.axis)


class LogcumsumexpFn(Function):
    """out_i = log(exp(x_0) + ... + exp(x_i)) along an axis, as the scan out_i = logaddexp(out_{i-1}, x_i): each
    step is exact and cannot overflow, however far apart the values are."""

    def forward(self, x, axis):
        xp = get_array_module(x)
        self.axis = axis
        x = xp.moveaxis(x, axis, 0)  # scan along the first axis
        out = x.copy()
        for i in range(1, len(x)):
            out[i] = xp.logaddexp(out[i - 1], x[i])
        self.save_for_backward(x, out)
        return xp.moveaxis(out, 0, axis)

    def backward(self, g):
        """gx_j = sum over i >= j of g_i * exp(x_j - out_i), computed without overflow as exp(x_j - out_j) * S_j,
        S_j = g_j + exp(out_j - out_{j+1}) * S_{j+1}: every exponent is <= 0 (out grows along the axis).
        An element of -inf (and a prefix of them, where out is -inf too) gets 0 (PyTorch's gradient is nan there)."""
        x, out = self.saved
        xp = get_array_module(x)
        g = xp.moveaxis(g, self.axis, 0)
        s = g.copy()
        with np.errstate(invalid="ignore"):  # -inf - (-inf) = nan, where the `where`s put 0 instead
            for j in range(len(x) - 2, -1, -1):
                decay = xp.where(out[j] == -xp.inf, 0, xp.exp(out[j] - out[j + 1]))
                s[j] = g[j] + decay * s[j + 1]
            share = xp.where(x == -xp.inf, 0, xp.exp(x - out))
        return xp.moveaxis((share * s).astype(g.dtype, copy=False), 0, self.axis)


# ----------------------------------------------------------------------------------------------------------------
# Shape ops: they move numbers around, so each backward moves the gradient back the same way.
# ----------------------------------------------------------------------------------------------------------------
class ReshapeFn(Function):
    def forward(self, x, shape):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        """gx = g reshaped to x's shape"""
        return g.reshape(self.shape)


class PermuteFn(Function):
    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, g):
        """gx = g permuted by the inverse permutation"""
        inverse = tuple(np.argsort(self.axes).tolist())  # the axes are Python ints: sorted on the host
        return g.transpose(inverse)


class ExpandFn(Function):
    def forward(self, x, shape):
        self.shape = x.shape
        return get_array_module(x).broadcast_to(x, shape)

    def backward(self, g):
        """gx = g summed over the expanded axes"""
        return unbroadcast(g, self.shape)


class GetItemFn(Function):
    def forward(self, x, index):
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        return x[index]

    def backward(self, g):
        """gx = zeros like x, with g added at the indexed positions (repeated indices add up). It is handed back as
        an IndexedGradient (autograd.py), which backward() adds into x's gradient without building the zeros."""
        return IndexedGradient(self.shape, self.dtype, self.index, g)


class CatFn(Function):
    def forward(self, *xs, axis=0):
        self.axis = axis
        self.sizes = [x.shape[axis] for x in xs]
        return get_array_module(xs[0]).concatenate(xs, axis=axis)

    def backward(self, g):
        """each gx_i = the slice of g that came from x_i"""
        bounds = np.cumsum(self.sizes)[:-1].tolist()  # where each input's slice of g begins
        return tuple(get_array_module(g).split(g, bounds, axis=self.axis))


class StackFn(Function):
    def forward(self, *xs, axis=0):
        self.axis = axis
        return get_array_module(xs[0]).stack(xs, axis=axis)

    def backward(self, g):
        """each gx_i = g[..., i, ...] along the new axis"""
        xp = get_array_module(g)
        return tuple(xp.take(g, i, axis=self.axis) for i in range(g.shape[self.axis]))


# ----------------------------------------------------------------------------------------------------------------
# Matrix product
# ----------------------------------------------------------------------------------------------------------------
class MatMulFn(Function):
    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x @ y

    def backward(self, g):
        """gx = g @ y^T, gy = x^T @ g   (batch axes that were broadcast are summed back)"""
        x, y = self.saved
        xp = get_array_module(g)
        # A 1-D operand is a row (left) or a column (right) vector; give every array two matrix axes.
        x2 = x[None, :] if x.ndim == 1 else x
        y2 = y[:, None] if y.ndim == 1 else y
        # The output lost those vector axes; put them back in g, the column first (a 1-D @ 1-D g is 0-d).
        g2 = g[..., None] if y.ndim == 1 else g
        g2 = g2[..., None, :] if x.ndim == 1 else g2
        gx = gy = None
        if self.needs_grad[0]:
            gx = unbroadcast(g2 @ xp.swapaxes(y2, -1, -2), x2.shape).reshape(x.shape)
        if self.needs_grad[1] and y2.ndim == 2:
            # (..., M, K) @ (K, N), as in Linear on a sequence: the batch axes are more rows of one matrix product.
            # One GEMM over all rows costs as much as the batched product, without its (batch, K, N) temporary
            # and its sum (8x faster on a (32, 64, 96) input).
            gy = (x2.reshape(-1, x2.shape[-1]).T @ g2.reshape(-1, g2.shape[-1])).reshape(y.shape)
        elif self.needs_grad[1]:
            gy = unbroadcast(xp.swapaxes(x2, -1, -2) @ g2, y2.shape).reshape(y.shape)
        return gx, gy


# ----------------------------------------------------------------------------------------------------------------
# Softmax family: fused ops, because composing them from exp/sum overflows for large logits.
# ----------------------------------------------------------------------------------------------------------------
class SoftmaxFn(Function):
    def forward(self, x, axis):
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=axis, keepdims=True))  # shifting by the max keeps exp from overflowing
        out = e / e.sum(axis=axis, keepdims=True)
        self.axis = axis
        self.save_for_backward(out)
        return out

    def backward(self, g):
        """gx = out * (g - sum(g * out))   (the Jacobian diag(out) - out out^T applied to g)"""
        (out,) = self.saved
        return out * (g - (g * out).sum(axis=self.axis, keepdims=True))


class LogSoftmaxFn(Function):
    def forward(self, x, axis):
        xp = get_array_module(x)
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        self.axis = axis
        self.save_for_backward(out)
        return out

    def backward(self, g):
        """gx = g - softmax(x) * sum(g)"""
        (out,) = self.saved
        xp = get_array_module(g)
        return g - xp.exp(out) * g.sum(axis=self.axis, keepdims=True)


# ----------------------------------------------------------------------------------------------------------------
# Changes of dtype or device: the numbers stay, so the gradient goes back unchanged, in the input's dtype or device.
# ----------------------------------------------------------------------------------------------------------------
class CastFn(Function):
    def forward(self, x, dtype):
        self.dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        """gx = g, cast back to x's dtype"""
        return g.astype(self.dtype)


class ToDeviceFn(Function):
    def forward(self, x, device):
        self.source = device_of(x)
        return to_device(x, device)

    def backward(self, g):
        """gx = g, moved back to x's device"""
        return to_device(g, self.source)


# ----------------------------------------------------------------------------------------------------------------
# Elementwise maximum/minimum of two tensors, roll, clone, and the out-of-place forms of t[index] = value and +=
# ----------------------------------------------------------------------------------------------------------------
class MaximumFn(Function):
    def forward(self, x, y):
        self.save_for_backward(x, y)
        return get_array_module(x).maximum(x, y)

    def backward(self, g):
        """gx = g where x > y, gy = g where y > x; a tie sends g / 2 to each (PyTorch's rule)"""
        x, y = self.saved
        share_x = (x > y) + (x == y) * 0.5
        gx = unbroadcast(g * share_x.astype(g.dtype), x.shape) if self.needs_grad[0] else None
        gy = unbroadcast(g * (1 - share_x).astype(g.dtype), y.shape) if self.needs_grad[1] else None
        return gx, gy


class RollFn(Function):
    def forward(self, x, shifts, axes):
        self.shifts, self.axes = shifts, axes
        return get_array_module(x).roll(x, shifts, axes)

    def backward(self, g):
        """gx = g rolled back by the same shifts (a permutation's adjoint is its inverse)"""
        back = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return get_array_module(g).roll(g, back, self.axes)


class CloneFn(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, g):
        """gx = g"""
        return g


class SetItemFn(Function):
    """out = x with out[index] = value, as a new array: the graph form of `t[index] = value`."""

    def forward(self, x, value, index):
        self.index, self.value_shape = index, value.shape
        out = x.copy()
        out[index] = value
        return out

    def backward(self, g):
        """gx = g with zeros at the overwritten positions; gvalue = g[index], summed back to value's shape"""
        gx = g.copy()
        gx[self.index] = 0
        gv = unbroadcast(g[self.index], self.value_shape) if self.needs_grad[1] else None
        return gx, gv


class ScatterAddFn(Function):
    """out = x with src added at out[index], repeated positions adding up: the graph form of scatter_add and
    index_add (`index` is a NumPy index: a tuple of index arrays and slices, built by the Tensor method)."""

    def forward(self, x, src, index):
        self.index = index
        out = x.copy()
        scatter_add(out, index, src)
        return out

    def backward(self, g):
        """gx = g;  gsrc = g[index]   (each src element reads the gradient of the position it was added to)"""
        gsrc = g[self.index] if self.needs_grad[1] else None
        return g, gsrc


class WhereFn(Function):
    """out = x where condition, else y (condition: a boolean array, a constant of the graph)."""

    def forward(self, x, y, condition):
        self.condition, self.shapes = condition, (x.shape, y.shape)
        return get_array_module(x).where(condition, x, y)

    def backward(self, g):
        """gx = g where condition, else 0;  gy = g where not condition, else 0   (each summed back to its shape)"""
        gx = unbroadcast(g * self.condition, self.shapes[0]) if self.needs_grad[0] else None
        gy = unbroadcast(g * ~self.condition, self.shapes[1]) if self.needs_grad[1] else None
        return gx, gy
