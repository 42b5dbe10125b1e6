"""The Tensor's PyTorch idioms: the methods real model code calls that the core Tensor does without.

The core Tensor (tinygrad_bn/tensors.py) has what autograd and the layers need: arithmetic, reductions, shapes,
indexing and `t[index] = value`. PyTorch code also writes `x.eq(y)`, `w.data.normal_(0, 0.02)`, `x.view_as(y)`,
`h.chunk(4, 1)`, `for row in x`, ... Those are here, each built from the core Tensor's methods and ops (no new
math), and attached to Tensor in one visible place, `attach_to(Tensor)`, which tinygrad_bn/pytorch/__init__.py calls.
"""
import collections

import numpy as np

from tinygrad_bn.backend import get_array_module, rng, to_device
from tinygrad_bn.tensors import Tensor, float32, float64, full, ones, zeros


class TensorIdioms:
    """The methods below become methods of Tensor (`attach_to`): `self` is a Tensor."""

    def eq(self, other): return self == other
    def ne(self, other): return self != other
    def lt(self, other): return self < other
    def le(self, other): return self <= other
    def gt(self, other): return self > other
    def ge(self, other): return self >= other

    def dim(self):
        return self.ndim

    is_cuda = property(lambda self: self.device == "cuda")

    def view_as(self, other): return self.reshape(other.shape)
    def reshape_as(self, other): return self.reshape(other.shape)
    def expand_as(self, other): return self.expand(other.shape)

    def type_as(self, other):
        return self.to(other.device).astype(other.dtype) if other.dtype != self.dtype else self.to(other.device)

    def half(self):
        return self.astype(np.dtype("float16"))

    def std(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return zeros(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return ones(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                    requires_grad=requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return Tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    # conversions and shape helpers (differentiable where they only move or select elements)
    def int(self): return self.astype(np.dtype("int32"))
    def bool(self): return self.astype(np.dtype("bool"))
    def t(self): return self.T
    def mm(self, other): return self.matmul(other)
    def bmm(self, other): return self.matmul(other)
    def square(self): return self * self
    def reciprocal(self): return 1 / self
    def rsqrt(self): return 1 / self.sqrt()

    def type(self, dtype=None):
        """The dtype's name without an argument; a cast with one."""
        return str(self.dtype) if dtype is None else self.astype(dtype)

    def flip(self, dims):
        dims = self._axes(dims if isinstance(dims, (tuple, list)) else (dims,))
        return self[tuple(slice(None, None, -1) if d in dims else slice(None) for d in range(self.ndim))]

    def repeat(self, *sizes):
        """Tile the tensor sizes[i] times along dim i (new leading dims for extra sizes): expand, then merge."""
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} repeat sizes for a tensor of shape {self.shape} (needs "
                             f"{self.ndim} or more)")
        if any(s < 0 for s in sizes):  # else the reshape below would fail with a shape the caller never wrote
            raise RuntimeError(f"repeat: repeat sizes must be non-negative, got {sizes}")
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        interleaved = sum(((1, s) for s in shape), ())
        tiled = sum(((r, s) for r, s in zip(sizes, shape)), ())
        return self.reshape(interleaved).expand(tiled).reshape(tuple(r * s for r, s in zip(sizes, shape)))

    def split(self, split_size_or_sections, dim=0):
        """Pieces along dim: of split_size each (the last may be smaller), or of the listed sizes."""
        dim = self._axes(dim)[0]
        n = self.shape[dim]
        if isinstance(split_size_or_sections, int):
            size = split_size_or_sections
            if size < 0 or (size == 0 and n != 0):  # PyTorch's rule: pieces of 0 elements only from a dim of 0
                raise RuntimeError(f"split: split_size should be positive (0 only for a dim of size 0), but got "
                                   f"split_size={size} for dim {dim} of shape {self.shape}")
            sizes = [min(size, n - start) for start in range(0, n, size)] if size else [0]
        else:
            sizes = list(split_size_or_sections)
            if any(size < 0 for size in sizes):
                raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                                   f"split_sizes={sizes}")
            if sum(sizes) != n:
                raise ValueError(f"split: sizes {sizes} do not add up to {n}, the size of dim {dim} of shape "
                                 f"{self.shape}")
        starts = np.cumsum([0] + sizes[:-1]).tolist()
        lead = (slice(None),) * dim
        return tuple(self[lead + (slice(start, start + size),)] for start, size in zip(starts, sizes))

    def chunk(self, chunks, dim=0):
        if chunks <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        n = self.shape[self._axes(dim)[0]]
        return self.split(-(-n // chunks), dim)

    def narrow(self, dim, start, length):
        """The `length` elements from `start` along dim: self[..., start:start + length, ...] (a view in PyTorch)."""
        dim = self._axes(dim)[0]
        size = self.shape[dim]
        start = start + size if start < 0 else start
        if not 0 <= start <= size or length < 0 or start + length > size:
            raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({size}) of dim "
                             f"{dim} of shape {tuple(self.shape)}")
        return self[(slice(None),) * dim + (slice(start, start + length),)]

    def index_select(self, dim, index):
        dim = self._axes(dim)[0]
        return self[(slice(None),) * dim + (index,)]

    def norm(self, p=2, dim=None, keepdim=False):
        """The p-norm (p=2 by default, or "fro"), over everything or along dim."""
        if p in (2, "fro"):
            return (self * self).sum(dim, keepdim).sqrt()
        if p == 1:
            return self.abs().sum(dim, keepdim)
        return (self.abs() ** p).sum(dim, keepdim) ** (1.0 / p)

    def tril(self, diagonal=0):
        """The lower triangle of each matrix (the last two dims): j <= i + diagonal kept, the rest 0."""
        return self * Tensor._wrap(get_array_module(self.array).tri(*self._matrix_shape("tril"), k=diagonal,
                                                                    dtype=bool))

    def triu(self, diagonal=0):
        """The upper triangle of each matrix (the last two dims): j >= i + diagonal kept, the rest 0."""
        return self * Tensor._wrap(~get_array_module(self.array).tri(*self._matrix_shape("triu"), k=diagonal - 1,
                                                                     dtype=bool))

    def _matrix_shape(self, name):
        if self.ndim < 2:
            raise ValueError(f"{name}: input tensor must have at least 2 dimensions, got shape {self.shape}")
        return self.shape[-2:]

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        """num_samples category indices per row (1-D input: one distribution; 2-D: one per row), drawn with
        probabilities proportional to the row's non-negative weights; without replacement no index repeats in a
        row. Drawn on the host from `generator` (or the library's seeded one); int64, on self's device; no grad."""
        weights = self.numpy().astype(np.float64)
        if weights.ndim not in (1, 2):
            raise ValueError(f"multinomial(): input must be 1-D or 2-D, got shape {self.shape}")
        rows = weights.reshape(-1, weights.shape[-1])
        if num_samples <= 0:
            raise ValueError(f"multinomial(): num_samples must be positive, got {num_samples}")
        if not replacement and num_samples > rows.shape[1]:
            raise ValueError(f"multinomial(): cannot sample {num_samples} > {rows.shape[1]} categories without "
                             "replacement")
        if not np.isfinite(rows).all() or (rows < 0).any() or (rows.sum(axis=1) <= 0).any():
            raise ValueError("multinomial(): each row of input must hold finite, non-negative weights with a "
                             "positive sum")
        if not replacement and ((rows > 0).sum(axis=1) < num_samples).any():
            raise ValueError(f"multinomial(): a row has fewer than {num_samples} categories of nonzero weight to "
                             "draw without replacement")
        host = generator.rng if hasattr(generator, "rng") else (generator or rng("cpu"))
        draws = np.stack([host.choice(len(row), num_samples, replace=replacement, p=row / row.sum())
                          for row in rows])
        draws = draws.reshape(weights.shape[:-1] + (num_samples,)).astype(np.int64)
        return Tensor._wrap(to_device(draws, self.device))

    # Results that are constants of the graph: booleans and indices, or steps whose derivative is 0 almost everywhere
    def any(self, dim=None, keepdim=False): return Tensor._wrap(self.array.any(axis=self._axes(dim), keepdims=keepdim))
    def all(self, dim=None, keepdim=False): return Tensor._wrap(self.array.all(axis=self._axes(dim), keepdims=keepdim))
    def sign(self): return Tensor._wrap(get_array_module(self.array).sign(self.array))
    def floor(self): return Tensor._wrap(get_array_module(self.array).floor(self.array))
    def round(self): return Tensor._wrap(get_array_module(self.array).round(self.array))
    def isnan(self): return Tensor._wrap(get_array_module(self.array).isnan(self.array))
    def isfinite(self): return Tensor._wrap(get_array_module(self.array).isfinite(self.array))
    def logical_not(self): return Tensor._wrap(~self.array.astype(bool))

    def nonzero(self):
        """(number of nonzero elements, ndim) int64 indices of the nonzero elements."""
        xp = get_array_module(self.array)
        return Tensor._wrap(xp.stack(xp.nonzero(self.array), axis=1).astype(np.int64))

    # Sorting: the indices are computed on the array (a constant of the graph), the values are gathered with them, so
    # the gradient of the values goes back to the positions they came from (GetItemFn's backward).
    def argsort(self, dim=-1, descending=False, stable=False):
        """The indices that sort along dim; always stable (equal elements keep their order), whatever `stable` says.

        Descending order reverses an ascending sort of the reversed array: ties then keep their order too, and NaN
        comes first, as in PyTorch (negating the keys would do neither, and fails for unsigned and bool)."""
        if self.ndim == 0:
            return Tensor._wrap(get_array_module(self.array).zeros((), dtype=np.int64))
        axis = self._axes(dim)[0]
        xp = get_array_module(self.array)
        if not descending:
            return Tensor._wrap(self.array.argsort(axis=axis, kind="stable").astype(np.int64))
        ascending_of_reversed = xp.flip(self.array, axis).argsort(axis=axis, kind="stable")
        return Tensor._wrap((self.shape[axis] - 1 - xp.flip(ascending_of_reversed, axis)).astype(np.int64))

    def sort(self, dim=-1, descending=False, stable=False):
        """(values, indices) sorted along dim; differentiable through the values."""
        indices = self.argsort(dim, descending, stable)
        return SortResult(self.gather(dim, indices), indices)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """(values, indices) of the k largest (or smallest) elements along dim, largest first (smallest first)."""
        size = self.shape[self._axes(dim)[0]] if self.ndim else 1
        if not 0 <= k <= size:
            raise ValueError(f"topk(): selected index k={k} out of range for dim {dim} of size {size} (shape "
                             f"{self.shape})")
        indices = self.argsort(dim, descending=largest)
        if self.ndim:
            indices = indices[(slice(None),) * self._axes(dim)[0] + (slice(0, k),)]
        return TopkResult(self.gather(dim, indices), indices)

    def detach_(self):
        """Cut this tensor from the graph, in place."""
        self.grad_fn, self.requires_grad = None, False
        return self

    def masked_fill_(self, mask, value):
        self[...] = self.masked_fill(mask, value)
        return self

    def __index__(self):
        """An integer one-element tensor is an index: `classes[label]`, `range(n)`."""
        if self.array.size != 1 or self.dtype.kind not in "iu":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __iter__(self):
        """Iterating goes over dim 0, as in PyTorch: `for row in matrix`, `a, b = pair`."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))


    def fill_(self, value):
        self[...] = value
        return self

    def zero_(self):
        return self.fill_(0)

    def copy_(self, src, non_blocking=False):
        """Copy src's values into self (broadcasting src to self's shape, casting to self's dtype)."""
        self[...] = src
        return self

    def add_(self, other, alpha=1):
        self[...] = self + (other * alpha if alpha != 1 else other)
        return self

    def sub_(self, other, alpha=1):
        self[...] = self - (other * alpha if alpha != 1 else other)
        return self

    def mul_(self, other):
        self[...] = self * other
        return self

    def div_(self, other):
        self[...] = self / other
        return self

    def clamp_(self, min=None, max=None):
        self[...] = self.clamp(min, max)
        return self

    def scatter_(self, dim, index, src=None, *, value=None):
        self[...] = self.scatter(dim, index, src, value=value)
        return self

    def scatter_add_(self, dim, index, src):
        self[...] = self.scatter_add(dim, index, src)
        return self

    def index_add_(self, dim, index, source, *, alpha=1):
        self[...] = self.index_add(dim, index, source, alpha=alpha)
        return self

    def _random_fill(self, draw, generator):
        """Fill with host-drawn random numbers (the same on every device), from `generator` or the library's."""
        host = generator.rng if hasattr(generator, "rng") else (generator or rng("cpu"))
        draw_dtype = self.dtype if self.dtype in (float32, float64) else float32
        self[...] = Tensor._wrap(to_device(draw(host, draw_dtype).astype(self.dtype), self.device))
        return self

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        return self._random_fill(lambda g, d: mean + std * g.standard_normal(self.shape, dtype=d), generator)

    def uniform_(self, from_=0.0, to=1.0, *, generator=None):
        return self._random_fill(lambda g, d: from_ + (to - from_) * g.random(self.shape, dtype=d), generator)


# What sort and topk return, like torch.return_types: a tuple whose two parts also have names.
SortResult = collections.namedtuple("SortResult", ["values", "indices"])
TopkResult = collections.namedtuple("TopkResult", ["values", "indices"])


def attach_to(tensor_class):
    """Make every method (and property) of TensorIdioms a method of `tensor_class`; the core keeps its own.

    Python's own class attributes (__module__, __doc__, __firstlineno__, ...) are not methods to attach; of the
    dunders, only the two protocols below are. Attaching twice (a reload) is allowed: it sets the same objects."""
    protocols = ("__index__", "__iter__")
    for name, value in vars(TensorIdioms).items():
        if name.startswith("__") and name not in protocols:
            continue
        if name in vars(tensor_class) and vars(tensor_class)[name] is not value:
            raise RuntimeError(f"Tensor.{name} is defined in the core and in the PyTorch idioms: keep one")
        setattr(tensor_class, name, value)
