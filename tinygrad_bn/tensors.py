"""The Tensor: an n-dimensional array (NumPy or CuPy) that remembers how it was computed.

A Tensor holds `array` (the raw NumPy or CuPy array), `requires_grad`, `grad` (a Tensor, filled by `backward()`),
and `grad_fn`, the Function that produced it (None for tensors made by the user: the leaves; see autograd.py).
Each method below checks its arguments (arguments.py) and applies an op of ops.py, where forward and backward live
side by side (from `x + y` to the math is one hop, `ops.AddFn`), or composes other methods (`var`, `minimum`).
The PyTorch idioms that add no op (x.eq(y), fill_, view_as, chunk, ...) are in tinygrad_bn/pytorch/tensor_methods.py.
"""
import collections
import numbers

import numpy as np

from . import autograd, ops
from .arguments import (binary_operands, check_index_values, check_matmul, dims, expand_target, is_device_name,
                        is_float, join_axis, lift, permutation, raw_index, reshape_target, scatter_positions,
                        shape_argument)
from .autograd import VersionCounter
from .backend import check_device, device_of, get_array_module, array_module, rng, to_device, to_numpy

float32, float64 = np.dtype("float32"), np.dtype("float64")
int32, int64, bool_ = np.dtype("int32"), np.dtype("int64"), np.dtype("bool")


class Tensor:
    # Make NumPy hand `ndarray + Tensor` to Tensor.__radd__ instead of treating the Tensor as an object scalar.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        if isinstance(data, Tensor):
            data = data.array
        if device is None and device_of(data) == "cuda":
            device = "cuda"
        device = check_device(device)
        dtype = None if dtype is None else np.dtype(dtype)
        if dtype is None and not hasattr(data, "dtype"):
            # Python numbers and lists: floats become float32 (PyTorch's default), ints stay int64.
            probe = np.asarray(data)
            dtype = float32 if is_float(probe.dtype) else probe.dtype
        # Like torch.tensor, the constructor copies: later in-place updates never write into the caller's array.
        if device_of(data) == "cpu":
            data = np.asarray(data)
        self.array = array_module(device).array(to_device(data, device), dtype=dtype, copy=True)
        self.grad = None
        self.grad_fn = None
        self.requires_grad = False
        self._version = VersionCounter()
        self.requires_grad_(requires_grad)

    @classmethod
    def _wrap(cls, array, version=None):
        """A Tensor around an existing array, without copying (used by ops for their outputs).

        `version` is given when the new tensor shares memory with an existing one through detach(): then both count
        the in-place changes of that memory together. (`.data` shares the memory but not the count, on purpose.)"""
        tensor = cls.__new__(cls)
        tensor.array, tensor.grad, tensor.grad_fn, tensor.requires_grad = array, None, None, False
        tensor._version = version if version is not None else VersionCounter()
        return tensor

    @property
    def data(self):
        """The same numbers as a Tensor cut from the graph, sharing memory (as in PyTorch): changes made through it,
        such as `layer.weight.data.normal_(0, 0.02)`, are not recorded by autograd. The raw array is `.array`."""
        return Tensor._wrap(self.array)

    @data.setter
    def data(self, value):
        self.array = value.array if isinstance(value, Tensor) else value

    def requires_grad_(self, requires_grad=True):
        if requires_grad and not is_float(self.array.dtype):
            raise ValueError(f"only floating-point tensors can require gradients, got dtype {self.array.dtype}; "
                             "convert first, e.g. Tensor(data, dtype='float32', requires_grad=True)")
        self.requires_grad = bool(requires_grad)
        return self

    # -------------------------------------------------------------------------------------------- attributes
    shape = property(lambda self: tuple(self.array.shape))
    ndim = property(lambda self: self.array.ndim)
    dtype = property(lambda self: self.array.dtype)
    device = property(lambda self: device_of(self.array))
    is_leaf = property(lambda self: self.grad_fn is None)
    T = property(lambda self: self.transpose(-2, -1) if self.ndim >= 2 else self)

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        return int(self.array.size)

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.array.size} elements is ambiguous; "
                               "use .any() or .all() on .numpy(), or compare one element")
        return bool(self.array)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        body = np.array2string(to_numpy(self.array), separator=", ", prefix="Tensor(")
        extras = []
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.dtype not in (float32, int64, bool_):
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{type(self.grad_fn).__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"Tensor({body}{''.join(', ' + e for e in extras)})"

    # ----------------------------------------------------------------------------------- autograd and exits
    def backward(self, gradient=None, retain_graph=False):
        """Compute d(self)/d(leaf) for every leaf that requires grad and add it into `leaf.grad`."""
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no grad_fn; set "
                               "requires_grad=True on the leaves (parameters) and compute it outside no_grad()")
        if gradient is None:
            if self.array.size != 1:
                raise RuntimeError(f"backward(): grad can be implicitly created only for scalar outputs, but this "
                                   f"tensor has shape {self.shape}; pass gradient= of that shape")
            gradient = get_array_module(self.array).ones_like(self.array)
        else:
            gradient = gradient.array if isinstance(gradient, Tensor) else gradient
            gradient = to_device(get_array_module(self.array).asarray(gradient), self.device)
            if tuple(gradient.shape) != self.shape:
                raise ValueError(f"backward(): gradient has shape {tuple(gradient.shape)} but the tensor has shape "
                                 f"{self.shape}")
            gradient = gradient.astype(self.dtype, copy=False)
        autograd.backward(self, gradient, retain_graph=retain_graph)

    def register_hook(self, hook):
        """Call `hook(grad)` when this tensor's gradient is computed; it may return a new gradient. Returns a handle
        whose remove() unregisters it (see autograd.register_hook)."""
        return autograd.register_hook(self, hook)

    def detach(self):
        """The same numbers, cut from the graph (shares memory, and so the count of in-place changes)."""
        return Tensor._wrap(self.array, self._version)

    def numpy(self):
        """A host NumPy array (a device-to-host copy for CUDA tensors)."""
        return to_numpy(self.array)

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to a number, got shape {self.shape}")
        return self.array.item()

    def tolist(self):
        return to_numpy(self.array).tolist()

    def to(self, device=None, dtype=None, non_blocking=False):
        """Move to a device and/or cast: t.to("cuda"), t.to(tg.float64), t.to("cpu", dtype=tg.float32)."""
        if device is not None and not is_device_name(device):
            device, dtype = None, device  # t.to(dtype): the one positional argument is a dtype
        out = self
        if device is not None and check_device(device) != self.device:
            out = ops.ToDeviceFn.apply(out, device=check_device(device))
        if dtype is not None and np.dtype(dtype) != self.dtype:
            out = out.astype(dtype)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def astype(self, dtype):
        """A copy in another dtype. Gradients flow through float-to-float casts."""
        dtype = np.dtype(dtype)
        if self.requires_grad and is_float(dtype):
            return ops.CastFn.apply(self, dtype=dtype)
        return Tensor._wrap(self.array.astype(dtype))

    def float(self):
        return self.astype(float32)

    def double(self):
        return self.astype(float64)

    def long(self):
        return self.astype(int64)

    # ------------------------------------------------------------------------------------------- arithmetic
    def _lift(self, other):
        """A Python number, list or array as a Tensor on self's device (arguments.lift)."""
        return lift(self, other)

    def _binary(self, fn, other, reverse=False):
        """fn applied to (self, other), or to (other, self): one dtype rule and a broadcast check first."""
        return fn.apply(*binary_operands(fn.__name__, self, other, reverse))

    def __add__(self, other): return self._binary(ops.AddFn, other)
    def __radd__(self, other): return self._binary(ops.AddFn, other, reverse=True)
    def __sub__(self, other): return self._binary(ops.SubFn, other)
    def __rsub__(self, other): return self._binary(ops.SubFn, other, reverse=True)
    def __mul__(self, other): return self._binary(ops.MulFn, other)
    def __rmul__(self, other): return self._binary(ops.MulFn, other, reverse=True)
    def __truediv__(self, other): return self._binary(ops.DivFn, other)
    def __rtruediv__(self, other): return self._binary(ops.DivFn, other, reverse=True)
    def __pow__(self, other): return self._binary(ops.PowFn, other)
    def __rpow__(self, other): return self._binary(ops.PowFn, other, reverse=True)
    def __neg__(self): return ops.NegFn.apply(self)
    def __matmul__(self, other): return self.matmul(other)
    def __rmatmul__(self, other): return self._lift(other).matmul(self)

    add, sub, mul, div, pow = __add__, __sub__, __mul__, __truediv__, __pow__

    def matmul(self, other):
        other = self._lift(other)
        check_matmul(self, other)
        return ops.MatMulFn.apply(self, other)

    # ---------------------------------------------------- comparisons (no gradient: their result is boolean)
    def _compare(self, op, other):
        other = other.array if isinstance(other, Tensor) else other
        return Tensor._wrap(op(self.array, other))

    def __eq__(self, other): return self._compare(lambda a, b: a == b, other)
    def __ne__(self, other): return self._compare(lambda a, b: a != b, other)
    def __lt__(self, other): return self._compare(lambda a, b: a < b, other)
    def __le__(self, other): return self._compare(lambda a, b: a <= b, other)
    def __gt__(self, other): return self._compare(lambda a, b: a > b, other)
    def __ge__(self, other): return self._compare(lambda a, b: a >= b, other)
    __hash__ = object.__hash__  # tensors are compared elementwise, but hashed (in sets, dicts) by identity

    # masks combine with the bitwise operators, as in PyTorch: logical on bool tensors, bitwise on integers
    def __invert__(self): return Tensor._wrap(~self.array)
    def __and__(self, other): return self._compare(lambda a, b: a & b, other)
    def __or__(self, other): return self._compare(lambda a, b: a | b, other)
    def __xor__(self, other): return self._compare(lambda a, b: a ^ b, other)

    # --------------------------------------------------------------------------------------- elementwise math
    def exp(self): return ops.ExpFn.apply(self)
    def log(self): return ops.LogFn.apply(self)
    def sqrt(self): return ops.SqrtFn.apply(self)
    def tanh(self): return ops.TanhFn.apply(self)
    def sigmoid(self): return ops.SigmoidFn.apply(self)
    def relu(self): return ops.ReLUFn.apply(self)
    def abs(self): return ops.AbsFn.apply(self)
    def log1p(self): return ops.Log1pFn.apply(self)
    def expm1(self): return ops.Expm1Fn.apply(self)
    def erf(self): return ops.ErfFn.apply(self)
    def erfc(self): return ops.ErfcFn.apply(self)

    def sin(self): return ops.SinFn.apply(self)
    def cos(self): return ops.CosFn.apply(self)
    def tan(self): return ops.TanFn.apply(self)
    def asin(self): return ops.AsinFn.apply(self)
    def acos(self): return ops.AcosFn.apply(self)
    def atan(self): return ops.AtanFn.apply(self)
    def sinh(self): return ops.SinhFn.apply(self)
    def cosh(self): return ops.CoshFn.apply(self)

    def atan2(self, other):
        """The angle of the point (other, self), in (-pi, pi]: self is y, other is x."""
        return self._binary(ops.Atan2Fn, other)

    arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        return ops.ClampFn.apply(self, low=min, high=max)

    clip = clamp

    # ------------------------------------------------------------------------------ remainders and floor division
    def _remainder(self, other, rounding, reverse=False):
        x, y = binary_operands("fmod" if rounding == "trunc" else "remainder", self, other, reverse)
        _refuse_integer_division_by_zero(x, y)
        return ops.RemainderFn.apply(x, y, rounding=rounding)

    def remainder(self, other):
        """self - other * floor(self / other): the sign of other, like Python's % (and `x % y`)."""
        return self._remainder(other, "floor")

    def fmod(self, other):
        """self - other * trunc(self / other): the sign of self, like C's fmod."""
        return self._remainder(other, "trunc")

    def floor_divide(self, other):
        """floor(self / other) (also `x // y`), in the operands' dtype. No gradient: it is a step function (PyTorch
        records one and raises in backward)."""
        return self._floor_divide(other)

    def _floor_divide(self, other, reverse=False):
        x, y = binary_operands("floor_divide", self, other, reverse)
        _refuse_integer_division_by_zero(x, y)
        with np.errstate(divide="ignore", invalid="ignore"):  # a float divisor of 0 gives inf or nan, as in PyTorch
            return Tensor._wrap(get_array_module(x.array).floor_divide(x.array, y.array))

    def __mod__(self, other): return self.remainder(other)
    def __rmod__(self, other): return self._remainder(other, "floor", reverse=True)
    def __floordiv__(self, other): return self._floor_divide(other)
    def __rfloordiv__(self, other): return self._floor_divide(other, reverse=True)

    # --------------------------------------------------------------------------------------------- reductions
    def _axes(self, dim):
        """`dim` (None, int or tuple, possibly negative) as a tuple of axes in range (arguments.dims)."""
        return dims(self, dim)

    def sum(self, dim=None, keepdim=False):
        return ops.SumFn.apply(self, axis=self._axes(dim), keepdim=keepdim)

    def mean(self, dim=None, keepdim=False):
        return ops.MeanFn.apply(self, axis=self._axes(dim), keepdim=keepdim)

    def var(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        """Variance; unbiased (divides by n - 1) by default, like torch.var."""
        correction = (1 if unbiased else 0) if correction is None else correction
        axes = self._axes(dim)
        n = self.numel() if axes is None else int(np.prod([self.shape[a] for a in axes]))
        centred = self - self.mean(dim=axes, keepdim=True)
        return (centred * centred).sum(dim=axes, keepdim=keepdim) / max(n - correction, 0)

    def amax(self, dim=(), keepdim=False):
        """max over the dims in `dim` (all of them for dim=()); ties share the gradient equally (ops.AmaxFn)."""
        axes = None if dim == () or dim == [] else self._axes(dim)
        return ops.AmaxFn.apply(self, axis=axes, keepdim=keepdim)

    def amin(self, dim=(), keepdim=False):
        return -(-self).amax(dim, keepdim)

    def logcumsumexp(self, dim):
        """Running log-sum-exp along dim: out[i] = log(exp(x[0]) + ... + exp(x[i])), stable (ops.LogcumsumexpFn)."""
        return self._scan(ops.LogcumsumexpFn, dim, None)

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        """Product over all elements, or along dim; the gradient is right where the input has zeros (ops.ProdFn)."""
        x = self if dtype is None else self.to(dtype=dtype)
        return ops.ProdFn.apply(x, axis=self._axes(dim), keepdim=keepdim and dim is not None)

    def cumsum(self, dim, *, dtype=None):
        """Running sums along dim: out[i] = x[0] + ... + x[i]."""
        return self._scan(ops.CumsumFn, dim, dtype)

    def cumprod(self, dim, *, dtype=None):
        """Running products along dim: out[i] = x[0] * ... * x[i] (zeros in x are fine, also for the gradient)."""
        return self._scan(ops.CumprodFn, dim, dtype)

    def _scan(self, fn, dim, dtype):
        x = self if dtype is None else self.to(dtype=dtype)
        axis = self._axes(dim)[0]
        if x.ndim == 0:  # a 0-d tensor is its own running sum or product
            return fn.apply(x.reshape(1), axis=0).reshape(())
        return fn.apply(x, axis=axis)

    def logsumexp(self, dim, keepdim=False):
        """log(sum(exp(x))) along dim, computed as m + log(sum(exp(x - m))) with m the max, so that exp cannot
        overflow (m is a constant of the graph: the result does not depend on it). Where every term is -inf (a fully
        masked row, a path CTC cannot take) the result is -inf with no gradient: there the shift is 0 and the sum is
        replaced by 1 before the log (PyTorch's gradient is nan there)."""
        xp, axes = get_array_module(self.array), self._axes(dim)
        m = self.array.max(axis=axes, keepdims=True)
        shift = Tensor._wrap(xp.where(xp.isfinite(m), m, m.dtype.type(0)))
        total = (self - shift).exp().sum(axes, keepdim=True).where(m > -xp.inf, 1.0)
        out = total.log() + Tensor._wrap(m)
        return out if keepdim else out.squeeze(axes)

    def max(self, dim=None, keepdim=False):
        """max over all elements, or (values, indices) along `dim`, like torch.max; max(other) is maximum(other)."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        if dim is None:
            return ops.MaxFn.apply(self)
        axis = self._axes(dim)[0]
        return MaxResult(ops.MaxFn.apply(self, axis=axis, keepdim=keepdim), self.argmax(axis, keepdim))

    def min(self, dim=None, keepdim=False):
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        if dim is None:
            return -ops.MaxFn.apply(-self)
        axis = self._axes(dim)[0]
        return MaxResult(-ops.MaxFn.apply(-self, axis=axis, keepdim=keepdim), self.argmin(axis, keepdim))

    def argmax(self, dim=None, keepdim=False):
        if dim is None:
            return Tensor._wrap(self.array.argmax())
        axis = self._axes(dim)[0]
        return Tensor._wrap(self.array.argmax(axis=axis, keepdims=keepdim))

    def argmin(self, dim=None, keepdim=False):
        if dim is None:
            return Tensor._wrap(self.array.argmin())
        axis = self._axes(dim)[0]
        return Tensor._wrap(self.array.argmin(axis=axis, keepdims=keepdim))

    def softmax(self, dim):
        return ops.SoftmaxFn.apply(self, axis=self._axes(dim)[0])

    def log_softmax(self, dim):
        return ops.LogSoftmaxFn.apply(self, axis=self._axes(dim)[0])

    # --------------------------------------------------------------------------------------------- shape ops
    def reshape(self, *shape):
        return ops.ReshapeFn.apply(self, shape=reshape_target(self, shape_argument(shape)))

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        start, end = self._axes((start_dim, end_dim))  # out of range raises IndexError (a modulo would wrap it)
        if start > end:
            raise RuntimeError(f"flatten() has invalid args: start_dim cannot come after end_dim, got "
                               f"start_dim={start_dim}, end_dim={end_dim} for a tensor of shape {self.shape}")
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1:])

    def permute(self, *dims):
        return ops.PermuteFn.apply(self, axes=permutation(self, shape_argument(dims)))

    def transpose(self, dim0, dim1):
        axes = list(range(self.ndim))
        d0, d1 = self._axes((dim0, dim1))
        axes[d0], axes[d1] = axes[d1], axes[d0]
        return ops.PermuteFn.apply(self, axes=tuple(axes))

    def unsqueeze(self, dim):
        if not -(self.ndim + 1) <= dim <= self.ndim:  # the new dim may go at any of ndim + 1 places
            raise IndexError(f"unsqueeze: dim {dim} is out of range for a tensor of shape {self.shape}")
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dims = self._axes(dim)
        return self.reshape(tuple(s for i, s in enumerate(self.shape) if not (i in dims and s == 1)))

    def expand(self, *shape):
        return ops.ExpandFn.apply(self, shape=expand_target(self, shape_argument(shape)))

    def clone(self):
        """A copy in new memory, still in the graph (gradients flow through it unchanged)."""
        return ops.CloneFn.apply(self)

    def contiguous(self):
        """self when its array is already C-contiguous, else a C-contiguous copy (in the graph)."""
        return self if self.array.flags.c_contiguous else ops.CloneFn.apply(self)

    def maximum(self, other):
        """Elementwise max(self, other) with broadcasting; a tie sends half the gradient to each side."""
        return self._binary(ops.MaximumFn, other)

    def minimum(self, other):
        return -(-self).maximum(-self._lift(other))

    def where(self, condition, other):
        """self where condition is true, else other: x.where(c, y) is torch.where(c, x, y)."""
        condition = condition.array if isinstance(condition, Tensor) else condition
        return ops.WhereFn.apply(*binary_operands("where", self, other), condition=condition)

    def masked_fill(self, mask, value):
        """value where mask is true, self elsewhere."""
        mask = mask.array if isinstance(mask, Tensor) else mask
        return self.where(~mask, value)

    def roll(self, shifts, dims=None):
        """Shift elements along dims, wrapping around; with dims=None the flattened tensor is rolled."""
        if dims is None:
            return ops.RollFn.apply(self.flatten(), shifts=shifts, axes=None).reshape(self.shape)
        shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else shifts
        dims = self._axes(dims) if isinstance(dims, (tuple, list)) else self._axes(dims)[0]
        return ops.RollFn.apply(self, shifts=shifts, axes=dims)

    # Gathering and scattering along one dim: `scatter_positions` turns (dim, index) into the NumPy index of the
    # positions reached: gather is indexing (ops.GetItemFn), scatter is `out[positions] = src` (ops.SetItemFn), and
    # scatter_add and index_add are `out[positions] += src` with repeats adding up (ops.ScatterAddFn).
    def gather(self, dim, index):
        """out[i][j][k] = self[i][index[i][j][k]][k] for dim=1: the index gives the coordinate along dim."""
        return ops.GetItemFn.apply(self, index=scatter_positions("gather", self, dim, index))

    def _scatter_source(self, name, dim, index, src):
        """The positions, and the values to put there: src cut to index's shape, or a number."""
        if isinstance(src, Tensor):
            positions = scatter_positions(name, self, dim, index, src)
            src = src[tuple(slice(0, n) for n in index.shape)]
            return positions, (src.astype(self.dtype) if src.dtype != self.dtype else src)
        return scatter_positions(name, self, dim, index), self._lift(src)

    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        """A copy with out[i][index[i][j][k]][k] = src[i][j][k] for dim=1 (or = value); where indices repeat, one
        of the values wins (PyTorch leaves which one undefined). src may be a number, like value. With reduce="add"
        or "multiply" the values are added to (multiplied into) self instead: scatter_reduce's "sum" and "prod"."""
        if (src is None) == (value is None):
            raise TypeError("scatter(): give exactly one of src (a tensor or a number) and value (a number)")
        if reduce is not None:
            if reduce not in ("add", "multiply"):
                raise RuntimeError(f"scatter(): reduce argument must be either add or multiply, got {reduce!r}")
            return self.scatter_reduce(dim, index, value if src is None else src,
                                       "sum" if reduce == "add" else "prod")
        positions, src = self._scatter_source("scatter", dim, index, value if src is None else src)
        return ops.SetItemFn.apply(self, src, index=positions)

    def scatter_add(self, dim, index, src):
        """A copy with src[i][j][k] added at [i][index[i][j][k]][k] for dim=1; repeated indices add up."""
        positions, src = self._scatter_source("scatter_add", dim, index, src)
        return ops.ScatterAddFn.apply(self, src.expand(tuple(index.shape)), index=positions)

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        """A copy where each position that index reaches holds the reduction ("sum", "prod", "mean", "amax" or
        "amin") of the src values sent to it, and of its own value when include_self; other positions keep self's.

        Composed, not a Function of its own: the values sent to each reached position are lined up in one row of a
        padded matrix (self's value first, when included; the padding is the reduction's identity: 0, 1, -inf,
        +inf), and each row is reduced by sum, prod, amax or amin. Their backwards are the gradients: prod's is the
        product of the others, zeros included; amax and amin share it evenly among ties (self too), as PyTorch's."""
        if reduce not in SCATTER_REDUCTIONS:
            raise RuntimeError(f"scatter_reduce(): reduce argument must be either sum, prod, mean, amax or amin, got "
                               f"{reduce!r}")
        positions, src = self._scatter_source("scatter_reduce", dim, index, src)
        xp = get_array_module(self.array)
        index_shape = np.broadcast_shapes(*(tuple(p.shape) for p in positions))
        # Each src element's target as a position in the flattened tensor (C order: strides of 1, n, n*m, ...).
        strides = np.cumprod((1,) + self.shape[:0:-1])[::-1].tolist()
        target = sum(p * stride for p, stride in zip(positions, strides)) + xp.zeros(index_shape, dtype=np.int64)
        target, values = target.reshape(-1), src.expand(index_shape).reshape(-1)
        if target.size == 0:
            return self.clone()
        # Sort the src elements by target: each target's elements are then one run, and an element's place in its
        # run (its slot) is its column in the padded matrix. `reached` are the distinct targets, one row each.
        order = xp.argsort(target, kind="stable")
        reached, first, counts = xp.unique(target[order], return_index=True, return_counts=True)
        row = xp.searchsorted(first, xp.arange(len(order)), side="right") - 1
        slot = xp.arange(len(order)) - first[row] + int(include_self)
        rows = full((len(reached), int(counts.max()) + int(include_self)), _reduction_identity(reduce, self.dtype),
                    dtype=self.dtype, device=self.device)
        rows[row, slot] = values[order]
        flat = self.reshape(-1)
        if include_self:
            rows[:, 0] = flat[reached]
        if reduce in ("sum", "mean"):
            reduced = rows.sum(1)
            if reduce == "mean":
                count = Tensor._wrap((counts + int(include_self)).astype(self.dtype))
                reduced = reduced / count if is_float(self.dtype) else reduced // count  # PyTorch floors integers
        else:
            reduced = getattr(rows, reduce)(1)
        out = flat.clone()
        out[reached] = reduced
        return out.reshape(self.shape)

    def index_add(self, dim, index, source, *, alpha=1):
        """A copy with alpha * source[..., i, ...] added at self[..., index[i], ...] along dim (repeats add up)."""
        axis = self._axes(dim)[0]
        index = index.array if isinstance(index, Tensor) else np.asarray(index)
        if index.ndim > 1:
            raise ValueError(f"index_add(): index must be a vector, got shape {tuple(index.shape)}")
        expected = self.shape[:axis] + (index.size,) + self.shape[axis + 1:]
        if source.shape != expected:
            raise ValueError(f"index_add(): source of shape {source.shape} does not match: {index.size} indices "
                             f"along dim {axis} of a tensor of shape {self.shape} need a source of shape {expected}")
        check_index_values("index_add", index, axis, self.shape[axis])
        source = source.astype(self.dtype) if source.dtype != self.dtype else source
        positions = (slice(None),) * axis + (raw_index(index.reshape(-1), self.device),)
        return ops.ScatterAddFn.apply(self, source * alpha if alpha != 1 else source, index=positions)

    def __getitem__(self, index):
        index = raw_index(index, self.device)
        return ops.GetItemFn.apply(self, index=index)

    # In-place updates: `t[index] = values` here; fill_, add_, normal_ and the other in-place idioms of the PyTorch
    # surface (tinygrad_bn/pytorch/tensor_methods.py) are all `self[...] = values`. PyTorch's rules:
    # - a leaf that requires grad (a parameter) may only be changed under no_grad() (optimizer steps, init), else
    #   PyTorch's error is raised;
    # - with no graph to record (no_grad, or nothing requires grad) the memory itself is written, so every tensor
    #   sharing it (.data, detach()) sees the change, and the version counter goes up: a backward that saved this
    #   array then refuses to run on changed numbers;
    # - when the change must be differentiated (an intermediate result, or a value that requires grad), the graph
    #   records it as SetItemFn on a copy and this tensor takes the copy over: arrays already saved for backward are
    #   not touched, so they need no version bump.
    def __setitem__(self, index, value):
        if autograd.is_grad_enabled() and self.requires_grad and self.grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        index = raw_index(index, self.device)
        value_needs_grad = isinstance(value, Tensor) and value.requires_grad
        if autograd.is_grad_enabled() and (self.requires_grad or value_needs_grad):
            value = self._lift(value)
            value = value.astype(self.dtype) if value.dtype != self.dtype else value
            out = ops.SetItemFn.apply(self, value, index=index)
            self.array, self.grad_fn, self.requires_grad = out.array, out.grad_fn, out.requires_grad
            return
        self.array[index] = self._lift(value).array
        self._version.value += 1


SCATTER_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def _reduction_identity(reduce, dtype):
    """The value that changes no reduction: scatter_reduce pads its rows with it."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    lowest, highest = (-np.inf, np.inf) if is_float(dtype) else (np.iinfo(dtype).min, np.iinfo(dtype).max)
    return lowest if reduce == "amax" else highest


def _refuse_integer_division_by_zero(x, y):
    """PyTorch raises for an integer divisor of 0 (NumPy would warn and return 0)."""
    if not is_float(x.dtype) and bool((y.array == 0).any()):
        raise RuntimeError("ZeroDivisionError: integer division or remainder by zero")


# What max(dim) and min(dim) return: (values, indices), like torch's named tuple.
MaxResult = collections.namedtuple("MaxResult", ["values", "indices"])


# ----------------------------------------------------------------------------------------------------- creation
def _creation(array_fn, shape, dtype, device, requires_grad):
    shape = shape_argument(shape)
    if any(int(size) < 0 for size in shape):  # NumPy's own error names neither the size nor the shape
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(int(s) for s in shape)}: "
                           f"{list(shape)}")
    device = check_device(device)
    out = Tensor._wrap(array_fn(tuple(int(s) for s in shape), np.dtype(dtype or float32), device))
    return out.requires_grad_(requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    return _creation(lambda s, d, dev: array_module(dev).zeros(s, dtype=d), shape, dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return _creation(lambda s, d, dev: array_module(dev).ones(s, dtype=d), shape, dtype, device, requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None and isinstance(fill_value, (bool, numbers.Integral)):
        dtype = bool_ if isinstance(fill_value, bool) else int64
    return _creation(lambda s, d, dev: array_module(dev).full(s, fill_value, dtype=d), (shape,), dtype, device,
                     requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal samples, drawn on the host from the seeded generator (same numbers on every device)."""
    return _creation(lambda s, d, dev: to_device(rng("cpu").standard_normal(s).astype(d), dev),
                     shape, dtype, device, requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1), drawn on the host from the seeded generator."""
    return _creation(lambda s, d, dev: to_device(rng("cpu").random(s).astype(d), dev),
                     shape, dtype, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if step == 0:  # PyTorch's RuntimeErrors; NumPy would divide by zero, or quietly return nothing
        raise RuntimeError(f"arange: step must be nonzero, got start={start}, end={end}, step={step}")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and lower bound inconsistent with step sign: start={start}, "
                           f"end={end}, step={step}")
    all_ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dtype = np.dtype(dtype) if dtype is not None else (int64 if all_ints else float32)
    out = Tensor._wrap(array_module(check_device(device)).arange(start, end, step).astype(dtype))
    return out.requires_grad_(requires_grad)


def zeros_like(tensor, dtype=None, device=None, requires_grad=False):
    return zeros(tensor.shape, dtype=dtype or tensor.dtype, device=device or tensor.device, requires_grad=requires_grad)


def ones_like(tensor, dtype=None, device=None, requires_grad=False):
    return ones(tensor.shape, dtype=dtype or tensor.dtype, device=device or tensor.device, requires_grad=requires_grad)


def cat(tensors, dim=0):
    """Join tensors along an existing dim; all other dims must match."""
    tensors = list(tensors)
    return ops.CatFn.apply(*tensors, axis=join_axis("cat", tensors, dim))


def stack(tensors, dim=0):
    """Join same-shaped tensors along a new dim."""
    tensors = list(tensors)
    return ops.StackFn.apply(*tensors, axis=join_axis("stack", tensors, dim))
