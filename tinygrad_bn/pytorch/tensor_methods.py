"""The Tensor's PyTorch idioms: the methods real model code calls that the core Tensor does without.

The core Tensor (tinygrad_bn/tensors.py) has what autograd and the layers need: arithmetic, reductions, shapes,
indexing and `t[index] = value`. PyTorch code also writes `x.eq(y)`, `w.data.normal_(0, 0.02)`, `x.view_as(y)`,
`h.chunk(4, 1)`, `for row in x`, ..., and math that PyTorch offers as methods beyond the core's ops (`x.lerp(y, w)`,
`x.logaddexp(y)`, `x.diag()`, `x.kron(y)`, `x.rot90()`, `x.diff()`, ...). Those are here, each built from the core
Tensor's methods and ops (no new Function), and attached to Tensor in one visible place, `attach_to(Tensor)`, which
tinygrad_bn/pytorch/__init__.py calls.
"""
import collections
import math

import numpy as np

from tinygrad_bn.arguments import binary_operands, is_float
from tinygrad_bn.backend import get_array_module, rng, to_device
from tinygrad_bn.tensors import Tensor, cat, float32, float64, full, ones, stack, zeros
from .index_methods import IndexIdioms


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

    # -------------------------------------------------------------------------- elementwise math, composed
    def log2(self): return _floating(self).log() / math.log(2)
    def log10(self): return _floating(self).log() / math.log(10)

    def lerp(self, end, weight):
        """self + weight * (end - self); weight is a number or a tensor (then it gets a gradient too)."""
        return self + weight * (end - self)

    def logaddexp(self, other):
        """log(exp(self) + exp(other)), without overflow: the logsumexp of the pair (gradient: the softmax of it)."""
        x, y = binary_operands("logaddexp", self, other)
        shape = np.broadcast_shapes(x.shape, y.shape)
        return stack([x.expand(shape), y.expand(shape)]).logsumexp(0)

    def hypot(self, other):
        """sqrt(self^2 + other^2), the length of the vector (self, other)."""
        return (self * self + other * other).sqrt()

    def logit(self, eps=None):
        """log(p / (1 - p)), the inverse of sigmoid; with eps, p is first clamped to [eps, 1 - eps] (no gradient
        outside it, as in PyTorch)."""
        p = self if eps is None else self.clamp(eps, 1 - eps)
        return (p / (1 - p)).log()

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        """NaN, +inf and -inf replaced by `nan`, `posinf` and `neginf` (by default 0, the dtype's largest and its
        lowest finite value); the replaced elements get no gradient."""
        if not is_float(self.dtype):
            return self.clone()
        xp, a, finite = get_array_module(self.array), self.array, np.finfo(self.dtype)
        posinf = finite.max if posinf is None else posinf
        neginf = finite.min if neginf is None else neginf
        replacement = xp.where(xp.isnan(a), nan, xp.where(a > 0, posinf, neginf)).astype(self.dtype)
        return self.where(xp.isfinite(a), Tensor._wrap(replacement))

    def clamp_min(self, min): return self.clamp(min=min)
    def clamp_max(self, max): return self.clamp(max=max)

    # ------------------------------------------------------------------------------- reductions, composed
    def aminmax(self, *, dim=None, keepdim=False):
        """(min, max) over all elements or along one dim, each with amin's and amax's gradient (ties share it)."""
        dims = () if dim is None else self._axes(dim)
        return AminmaxResult(self.amin(dims, keepdim), self.amax(dims, keepdim))

    def count_nonzero(self, dim=None):
        """The number of nonzero elements (int64), over everything or over the dims in `dim`."""
        return Tensor._wrap((self.array != 0).sum(axis=self._axes(dim)).astype(np.int64))

    # ------------------------------------------------------------------------------------ matrix products
    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        """beta * self + alpha * (mat1 @ mat2), for matrices mat1 (n, m) and mat2 (m, p)."""
        _check_ndim("addmm", (("mat1", mat1), ("mat2", mat2)), 2)
        return _scaled_sum(self, mat1.matmul(mat2), beta, alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        """beta * self + alpha * (batch1 @ batch2), one matrix product per batch element."""
        _check_ndim("baddbmm", (("batch1", batch1), ("batch2", batch2)), 3)
        return _scaled_sum(self, batch1.matmul(batch2), beta, alpha)

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        """beta * self + alpha * (sum over b of batch1[b] @ batch2[b])."""
        _check_ndim("addbmm", (("batch1", batch1), ("batch2", batch2)), 3)
        return _scaled_sum(self, batch1.matmul(batch2).sum(0), beta, alpha)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        """The elements x[..., i, i + offset] of the matrices spanned by dim1 and dim2, in a new last dim."""
        d1, d2 = self._axes((dim1, dim2))
        if d1 == d2:
            raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
        x = self.permute([d for d in range(self.ndim) if d not in (d1, d2)] + [d1, d2])
        rows, cols = x.shape[-2:]
        length = max(min(rows - max(-offset, 0), cols - max(offset, 0)), 0)
        i = np.arange(length)
        return x[..., i + max(-offset, 0), i + max(offset, 0)]

    def diag(self, diagonal=0):
        """A vector -> the square matrix with it on the `diagonal`-th diagonal; a matrix -> that diagonal."""
        if self.ndim == 2:
            return self.diagonal(diagonal)
        if self.ndim != 1:
            raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {self.ndim}D (shape {self.shape})")
        n = self.shape[0]
        i = np.arange(n)
        out = self.new_zeros((n + abs(diagonal), n + abs(diagonal)))
        out[i + max(-diagonal, 0), i + max(diagonal, 0)] = self  # recorded in the graph when self needs a gradient
        return out

    def trace(self):
        """The sum of a matrix's diagonal."""
        if self.ndim != 2:
            raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {self.ndim} (shape {self.shape})")
        return self.diagonal().sum()

    def cross(self, other, dim=None):
        """The cross product of 3-vectors along dim (dim=None: the first dim of size 3, as torch.cross)."""
        x, y = binary_operands("cross", self, other)
        if x.ndim != y.ndim:
            raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions, got shapes {x.shape} "
                               f"and {y.shape}")
        shape = np.broadcast_shapes(x.shape, y.shape)
        if dim is None:
            if 3 not in shape:
                raise RuntimeError(f"no dimension of size 3 in input (shapes {x.shape} and {y.shape})")
            dim = shape.index(3)
        d = self._axes(dim)[0]
        lengths = [x.shape[d], y.shape[d]]
        if lengths != [3, 3]:  # the vectors' own dim is not broadcast, only the others
            raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {lengths[0]} and "
                               f"{lengths[1]}")
        x, y = x.expand(shape), y.expand(shape)
        a = [x[(slice(None),) * d + (k,)] for k in range(3)]
        b = [y[(slice(None),) * d + (k,)] for k in range(3)]
        return stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]], d)

    def kron(self, other):
        """The Kronecker product: out[i*m + k, j*n + l] = self[i, j] * other[k, l] (any number of dims)."""
        ndim = max(self.ndim, other.ndim)
        a = self.reshape((1,) * (ndim - self.ndim) + self.shape)
        b = other.reshape((1,) * (ndim - other.ndim) + other.shape)
        # each dim of a is followed by a new dim of size 1, each dim of b preceded by one: the product interleaves
        a = a.reshape(sum(((n, 1) for n in a.shape), ()))
        b = b.reshape(sum(((1, n) for n in b.shape), ()))
        return (a * b).reshape(tuple(m * n for m, n in zip(a.shape[::2], b.shape[1::2])))

    # ----------------------------------------------------------------------------------------- shape ops
    def tile(self, dims):
        """repeat(dims), with dims padded by leading 1s when there are fewer of them than self's dims."""
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        return self.repeat((1,) * (self.ndim - len(dims)) + dims)

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        """Each element (each slice along dim) repeated `repeats` times, or repeats[i] times for the i-th one; with
        dim=None the flattened tensor. A gather by index, so the gradient adds up over the copies."""
        x = self.flatten() if dim is None else self
        d = 0 if dim is None else self._axes(dim)[0]
        n = x.shape[d]
        counts = repeats.numpy() if isinstance(repeats, Tensor) else np.asarray(repeats)
        if counts.ndim > 1 or (counts.size != 1 and counts.shape != (n,)):
            raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats of shape "
                               f"{tuple(counts.shape)} and input.size({d}) = {n}")
        if (counts < 0).any():
            raise RuntimeError(f"repeats can not be negative, got {counts.tolist()}")
        index = np.repeat(np.arange(n), np.broadcast_to(counts.reshape(-1), (n,)))
        if output_size is not None and output_size != len(index):
            raise RuntimeError(f"repeat_interleave: output_size={output_size} but the repeats add up to {len(index)}")
        return x.index_select(d, index)

    def movedim(self, source, destination):
        """self with the dims in `source` moved to the positions in `destination`, the others kept in order."""
        source = self._axes(source if isinstance(source, (tuple, list)) else (source,))
        destination = self._axes(destination if isinstance(destination, (tuple, list)) else (destination,))
        if len(source) != len(destination):
            raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(source)} dims) should "
                               f"contain the same number of dims as destination ({list(destination)} dims)")
        for name, given in (("source", source), ("destination", destination)):
            if len(set(given)) != len(given):
                raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(given)})")
        order = [d for d in range(self.ndim) if d not in source]
        for position, d in sorted(zip(destination, source)):
            order.insert(position, d)
        return self.permute(order)

    moveaxis = movedim

    def swapaxes(self, axis0, axis1): return self.transpose(axis0, axis1)
    def swapdims(self, dim0, dim1): return self.transpose(dim0, dim1)

    def tensor_split(self, indices_or_sections, dim=0):
        """Views along dim: `n` sections (the first size % n of them one element longer), or the pieces between
        the given indices (like Python slices: an index past the end gives empty pieces)."""
        d = self._axes(dim)[0]
        size = self.shape[d]
        if isinstance(indices_or_sections, Tensor):
            indices_or_sections = indices_or_sections.tolist()
        if isinstance(indices_or_sections, int):
            sections = indices_or_sections
            if sections <= 0:
                raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
            lengths = [size // sections + (i < size % sections) for i in range(sections)]
            bounds = np.cumsum([0] + lengths).tolist()
        else:
            bounds = [0] + list(indices_or_sections) + [size]
        lead = (slice(None),) * d
        return tuple(self[lead + (slice(start, max(start, end)),)] for start, end in zip(bounds, bounds[1:]))

    def _split_evenly(self, name, dim, min_ndim, indices_or_sections):
        """hsplit, vsplit, dsplit: tensor_split along dim, whose number of sections must divide the dim's size."""
        if self.ndim < min_ndim:
            raise RuntimeError(f"torch.{name} requires a tensor with at least {min_ndim} dimension, but got a tensor "
                               f"with {self.ndim} dimensions!")
        if isinstance(indices_or_sections, int) and indices_or_sections != 0 and \
                self.shape[dim] % indices_or_sections:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the "
                               f"dimension {self.shape[dim]} is not divisible by the split_size "
                               f"{indices_or_sections}!")
        return self.tensor_split(indices_or_sections, dim)

    def hsplit(self, indices_or_sections):
        return self._split_evenly("hsplit", 1 if self.ndim > 1 else 0, 1, indices_or_sections)

    def vsplit(self, indices_or_sections): return self._split_evenly("vsplit", 0, 2, indices_or_sections)
    def dsplit(self, indices_or_sections): return self._split_evenly("dsplit", 2, 3, indices_or_sections)

    def rot90(self, k=1, dims=(0, 1)):
        """Rotate by k quarter turns in the plane of `dims`, from the first dim toward the second."""
        if len(dims) != 2:
            raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
        if self.ndim < 2:
            raise RuntimeError(f"expected total dims >= 2, but got total dims = {self.ndim}")
        d0, d1 = self._axes(tuple(dims))
        if d0 == d1:
            raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
        k %= 4
        if k == 1:
            return self.flip(d1).transpose(d0, d1)
        if k == 2:
            return self.flip((d0, d1))
        if k == 3:
            return self.flip(d0).transpose(d0, d1)
        return self.clone()

    def fliplr(self):
        if self.ndim < 2:
            raise RuntimeError(f"Input must be >= 2-d, got shape {self.shape}")
        return self.flip(1)

    def flipud(self):
        if self.ndim < 1:
            raise RuntimeError("Input must be >= 1-d, got a 0-d tensor")
        return self.flip(0)

    def take_along_dim(self, indices, dim=None):
        """The elements at `indices` along dim (gather, after broadcasting self and indices against each other in
        every other dim); dim=None: indices into the flattened tensor."""
        if dim is None:
            return self.flatten().gather(0, indices.flatten())
        if indices.ndim != self.ndim:
            raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of "
                               f"dimensions, but got {self.ndim} dimensions for input, and {indices.ndim} "
                               f"dimensions for indices")
        d = self._axes(dim)[0]
        try:
            others = np.broadcast_shapes(self.shape[:d] + (1,) + self.shape[d + 1:],
                                         indices.shape[:d] + (1,) + indices.shape[d + 1:])
        except ValueError:
            raise RuntimeError(f"take_along_dim(): input of shape {self.shape} and indices of shape "
                               f"{indices.shape} do not broadcast outside dim {d}") from None
        x = self.expand(others[:d] + (self.shape[d],) + others[d + 1:])
        return x.gather(d, indices.expand(others[:d] + (indices.shape[d],) + others[d + 1:]))

    def masked_select(self, mask):
        """The elements where the (broadcast) boolean mask is true, as a 1-D tensor in row-major order."""
        if mask.dtype != np.bool_:
            raise RuntimeError(f"masked_select: expected BoolTensor for mask, got dtype {mask.dtype}")
        shape = np.broadcast_shapes(self.shape, mask.shape)
        return self.expand(shape)[mask.expand(shape)]

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        """The n-th forward difference along dim, out[i] = x[i + 1] - x[i] applied n times, after prepend and
        append are joined on either side."""
        if n < 0:
            raise RuntimeError(f"order must be non-negative but got {n}")
        d = self._axes(dim)[0]
        x = cat([t for t in (prepend, self, append) if t is not None], d) if prepend is not None or \
            append is not None else self
        for _ in range(n):
            length = x.shape[d] - 1
            if length <= 0:
                return x.narrow(d, 0, 0)
            x = x.narrow(d, 1, length) - x.narrow(d, 0, length)
        return x

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
AminmaxResult = collections.namedtuple("AminmaxResult", ["min", "max"])


def _floating(x):
    """x itself when it is a floating tensor, else x as float32 (log2 of an integer tensor is float32 in PyTorch)."""
    return x if is_float(x.dtype) else x.astype(float32)


def _check_ndim(name, operands, ndim):
    for label, operand in operands:
        if operand.ndim != ndim:
            raise RuntimeError(f"{name}: {label} must be a {ndim}-D tensor, got shape {operand.shape}")


def _scaled_sum(input, product, beta, alpha):
    """beta * input + alpha * product; beta = 0 ignores input's values (its nan and inf too), as PyTorch does."""
    scaled = product if alpha == 1 else product * alpha
    if beta == 0:
        return scaled.expand(np.broadcast_shapes(input.shape, scaled.shape)) if input.shape != scaled.shape \
            else scaled
    return (input if beta == 1 else input * beta) + scaled


def attach_to(tensor_class):
    """Make every method (and property) of TensorIdioms and IndexIdioms a method of `tensor_class`; the core keeps
    its own.

    Python's own class attributes (__module__, __doc__, __firstlineno__, ...) are not methods to attach; of the
    dunders, only the two protocols below are. Attaching twice (a reload) is allowed: it sets the same objects."""
    protocols = ("__index__", "__iter__")
    idioms = {**vars(TensorIdioms), **vars(IndexIdioms)}  # index_methods.py: index writes, median, quantile, ...
    for name, value in idioms.items():
        if name.startswith("__") and name not in protocols:
            continue
        if name in vars(tensor_class) and vars(tensor_class)[name] is not value:
            raise RuntimeError(f"Tensor.{name} is defined in the core and in the PyTorch idioms: keep one")
        setattr(tensor_class, name, value)
