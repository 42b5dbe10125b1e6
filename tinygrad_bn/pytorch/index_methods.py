"""The Tensor's PyTorch index and reduction idioms: index_fill, index_copy, index_put, masked_scatter, median, mode,
quantile, nanmean, cummax/cummin, unflatten, and the integer helpers bincount, unique, searchsorted, bucketize.

Each is composed from the core Tensor's methods (no new Function): a selection (median, mode, cummax) computes its
indices on the array, a constant of the graph, and gathers the values with them, so the gradient goes back to the
selected element (GetItemFn's backward); a write (index_copy, index_put, masked_scatter) is `out[where] = values`
on a copy (SetItemFn). `attach_to` in tensor_methods.py makes these methods of Tensor.
"""
import collections

import numpy as np

from tinygrad_bn.arguments import check_index_values, is_float
from tinygrad_bn.backend import get_array_module, to_device
from tinygrad_bn.tensors import Tensor, stack

QUANTILE_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


class IndexIdioms:
    """The methods below become methods of Tensor (`attach_to` in tensor_methods.py): `self` is a Tensor."""

    # ------------------------------------------------------------------------------------- writes along a dim
    def _index_along(self, name, dim, index):
        """(axis, index array) for the index_* ops: a vector of positions along dim, each checked."""
        axis = self._axes(dim)[0]
        index = index.array if isinstance(index, Tensor) else to_device(np.asarray(index), self.device)
        if index.ndim > 1:
            raise IndexError(f"{name}(): index must be a vector (at most 1-D), got shape {tuple(index.shape)}")
        check_index_values(name, index.reshape(-1), axis, self.shape[axis] if self.ndim else 1)
        return axis, index.reshape(-1)

    def index_fill(self, dim, index, value):
        """A copy with every element whose coordinate along dim is in index set to value (a number, or a 0-d tensor
        that then gets the sum of the gradient over the filled elements)."""
        axis, index = self._index_along("index_fill", dim, index)
        mask = get_array_module(self.array).zeros(self.shape[axis] if self.ndim else 1, dtype=bool)
        mask[index] = True
        mask = mask.reshape((-1,) + (1,) * (self.ndim - axis - 1)) if self.ndim else mask.reshape(())
        return self.where(~mask, value)

    def index_copy(self, dim, index, source):
        """A copy with out[..., index[i], ...] = source[..., i, ...] along dim (a repeated index: one source wins)."""
        axis, index = self._index_along("index_copy", dim, index)
        copied = source.shape[axis] if source.ndim == self.ndim else source.numel()
        if copied != index.size:
            raise IndexError(f"index_copy(): Number of indices ({index.size}) should be equal to source.size(dim) "
                             f"({copied})")
        out = self.clone()
        out[(slice(None),) * axis + (index,)] = source
        return out

    def index_put(self, indices, values, accumulate=False):
        """A copy with out[indices] = values (indices: a tuple of index tensors, one per leading dim, or boolean
        masks), or out[indices] += values with accumulate=True, repeated positions adding up."""
        indices = tuple(indices)
        if len(indices) > self.ndim:
            raise IndexError(f"too many indices for tensor of dimension {self.ndim} (got {len(indices)})")
        arrays = []
        for d, index in enumerate(indices):
            index = index.array if isinstance(index, Tensor) else to_device(np.asarray(index), self.device)
            if index.dtype == bool:  # a mask over the next index.ndim dims is the tuple of its nonzero positions
                arrays.extend(get_array_module(index).nonzero(index))
                continue
            size = self.shape[len(arrays)]
            outside = index[(index < -size) | (index >= size)]
            if outside.size:
                raise IndexError(f"index {int(outside[0])} is out of bounds for dimension {len(arrays)} with size "
                                 f"{size}")
            arrays.append(index % size)  # negative indices count from the end, as in PyTorch
        values = self._lift(values)
        values = values.astype(self.dtype) if values.dtype != self.dtype else values
        if not accumulate:
            out = self.clone()
            out[tuple(arrays)] = values
            return out
        # Accumulate: the indexed leading dims become one dim of flat positions, and index_add adds into it.
        lead = len(arrays)
        flat = sum(a * int(np.prod(self.shape[d + 1:lead])) for d, a in enumerate(arrays))
        flat = flat + get_array_module(flat).zeros(np.broadcast_shapes(*(a.shape for a in arrays)), dtype=np.int64)
        rows = values.expand(tuple(flat.shape) + self.shape[lead:]).reshape((flat.size,) + self.shape[lead:])
        merged = self.reshape((-1,) + self.shape[lead:])
        return merged.index_add(0, Tensor._wrap(flat.reshape(-1)), rows).reshape(self.shape)

    def masked_scatter(self, mask, source):
        """A copy whose elements where the (broadcast) mask is true take source's first elements, in row-major
        order."""
        mask = mask.expand(self.shape) if mask.shape != self.shape else mask
        count = int(mask.array.sum())
        if source.numel() < count:
            raise RuntimeError(f"masked_scatter: Number of elements of source ({source.numel()}) < number of ones in "
                               f"mask ({count})")
        out = self.clone()
        out[mask.array] = source.reshape(-1)[:count]
        return out

    def index_fill_(self, dim, index, value):
        self[...] = self.index_fill(dim, index, value)
        return self

    def index_copy_(self, dim, index, source):
        self[...] = self.index_copy(dim, index, source)
        return self

    def index_put_(self, indices, values, accumulate=False):
        self[...] = self.index_put(indices, values, accumulate)
        return self

    def masked_scatter_(self, mask, source):
        self[...] = self.masked_scatter(mask, source)
        return self

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
        self[...] = self.scatter_reduce(dim, index, src, reduce, include_self=include_self)
        return self

    # ------------------------------------------------------------------------------------ selecting reductions
    def median(self, dim=None, keepdim=False):
        """The lower of the two middle values (no average, as PyTorch): over everything (the gradient shared
        evenly among elements equal to it), or (values, indices) along dim (the gradient to the selected one).
        A slice holding NaN has median NaN (index: its first NaN)."""
        if dim is None:
            if self.numel() == 0:
                return self.sum() * np.nan
            flat = self.reshape(-1)
            position = int(_median_index(flat.array, 0))
            chosen = flat.array[position]
            if is_float(self.dtype) and np.isnan(float(chosen)):  # no element equals NaN: return that one element
                return flat[position]
            return flat.masked_select(flat == chosen).amax()  # amax shares the gradient evenly among the ties
        axis = self._axes(dim)[0]
        if self.ndim and self.shape[axis] == 0:
            raise IndexError(f"median(): Expected reduction dim {axis} to have non-zero size.")
        x = self if self.ndim else self.reshape(1)
        index = Tensor._wrap(get_array_module(x.array).expand_dims(_median_index(x.array, axis), axis))
        return _selected(x, axis, index, keepdim and self.ndim, MedianResult)

    def mode(self, dim=-1, keepdim=False):
        """(values, indices): the most frequent value along dim (the smallest of equally frequent ones) and the
        last position where it occurs, as PyTorch; the gradient goes to that position."""
        axis = self._axes(dim)[0]
        x = self if self.ndim else self.reshape(1)
        a = np.moveaxis(x.numpy(), axis, -1)
        rows = a.reshape(-1, a.shape[-1])
        positions = np.empty(len(rows), dtype=np.int64)
        for r, row in enumerate(rows):
            values, counts = np.unique(row, return_counts=True)
            winner = values[np.argmax(counts)]  # argmax takes the first of the equal counts: the smallest value
            positions[r] = len(row) - 1 - np.argmax(row[::-1] == winner)
        index = np.expand_dims(positions.reshape(a.shape[:-1]), axis)
        return _selected(x, axis, Tensor._wrap(to_device(index, self.device)), keepdim and self.ndim, ModeResult)

    def _cumulative_extreme(self, dim, better, result):
        """(values, indices) of the running max (better = np.greater_equal) or min along dim: an element equal to
        the running extreme, or NaN, becomes the new one (the latest of ties wins, NaN stays), as in PyTorch."""
        axis = self._axes(dim)[0]
        x = self if self.ndim else self.reshape(1)
        a = np.moveaxis(x.numpy(), axis, 0)
        index = np.zeros(a.shape, dtype=np.int64)
        best = a[:1].copy()
        for i in range(1, len(a)):
            takes_over = np.isnan(a[i]) | (~np.isnan(best[0]) & better(a[i], best[0]))
            index[i] = np.where(takes_over, i, index[i - 1])
            best[0] = np.where(takes_over, a[i], best[0])
        index = Tensor._wrap(to_device(np.moveaxis(index, 0, axis), self.device))
        values = x.gather(axis, index)
        return result(values.reshape(self.shape), index.reshape(self.shape))

    def cummax(self, dim):
        return self._cumulative_extreme(dim, np.greater_equal, CummaxResult)

    def cummin(self, dim):
        return self._cumulative_extreme(dim, np.less_equal, CumminResult)

    def nanmean(self, dim=None, keepdim=False):
        """The mean of the elements that are not NaN (NaN where all are); NaN elements get no gradient."""
        xp = get_array_module(self.array)
        present = ~xp.isnan(self.array)
        count = present.sum(axis=self._axes(dim), keepdims=keepdim)
        # A slice of only NaN divides by 1 and is then replaced by NaN: a division by 0 would send inf * 0 = NaN
        # back as the gradient of its elements, which get 0.
        mean = self.where(present, 0.0).sum(dim, keepdim) / Tensor._wrap(xp.maximum(count, 1).astype(self.dtype))
        return mean.where(count > 0, np.nan)

    def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        """The q-th quantiles along dim (over everything for dim=None), read off the sorted values at position
        q * (n - 1); between two values, `interpolation` picks: "linear" (a + (b - a) * fraction), "lower",
        "higher", "midpoint" or "nearest" (half to even). q is a number or a 1-D tensor (then its dim comes first).
        Differentiable through the sort: each quantile's gradient goes to the one or two values it was made of."""
        if not is_float(self.dtype):
            raise RuntimeError("quantile() input tensor must be either float or double dtype")
        if interpolation not in QUANTILE_INTERPOLATIONS:
            raise RuntimeError(f"quantile() interpolation must be one of linear, lower, higher, midpoint or nearest, "
                               f"but got {interpolation}")
        qs = np.asarray(q.numpy() if isinstance(q, Tensor) else q, dtype=np.float64)
        if qs.ndim > 1:
            raise RuntimeError("quantile() q must be a scalar or 1D tensor")
        if ((qs < 0) | (qs > 1)).any():
            raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {q}")
        x, axis = (self.reshape(-1), 0) if dim is None else (self, self._axes(dim)[0])
        n = x.shape[axis]
        if n == 0:
            raise IndexError("quantile() input tensor must be non-empty")
        ordered = x.sort(axis).values
        out = []
        for fraction_of_n in qs.reshape(-1):
            position = fraction_of_n * (n - 1)
            below, above = int(np.floor(position)), int(np.ceil(position))
            if interpolation == "nearest":
                below = above = int(np.round(position))  # NumPy and PyTorch round half to even
            low, high = ordered.narrow(axis, below, 1), ordered.narrow(axis, above, 1)
            if interpolation in ("lower", "nearest"):
                value = low
            elif interpolation == "higher":
                value = high
            elif interpolation == "midpoint":
                value = low + (high - low) * 0.5
            else:
                value = low + (high - low) * (position - below)
            # A slice holding NaN sorts it last; its quantile is NaN, as in PyTorch.
            has_nan = get_array_module(x.array).isnan(x.array).any(axis=axis, keepdims=True)
            value = value.where(~has_nan, np.nan) if has_nan.any() else value
            if dim is None:
                value = value.reshape((1,) * self.ndim if keepdim else ())
            elif not keepdim:
                value = value.squeeze(axis)
            out.append(value)
        return out[0] if qs.ndim == 0 else stack(out)

    # ------------------------------------------------------------------------------------------------ shapes
    def unflatten(self, dim, sizes):
        """dim split into dims of the given sizes (one may be -1): the inverse of flatten."""
        axis = self._axes(dim)[0]
        sizes = tuple(int(s) for s in sizes)
        if not sizes:
            raise RuntimeError("unflatten: sizes must be non-empty")
        known = int(np.prod([s for s in sizes if s != -1]))
        if sizes.count(-1) > 1 or (-1 not in sizes and known != self.shape[axis]) or \
                (-1 in sizes and (known == 0 or self.shape[axis] % known)):
            raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {axis} "
                               f"({self.shape[axis]}) in the input tensor")
        return self.reshape(self.shape[:axis] + sizes + self.shape[axis + 1:])

    # ------------------------------------------------------------------ integer results (no gradient)
    def bincount(self, weights=None, minlength=0):
        """How often each value 0, 1, ..., max occurs in a 1-D non-negative integer tensor (at least minlength
        bins); with weights, the sum of the weights of each value's elements."""
        if self.ndim != 1 or self.dtype.kind not in "iu" or (self.numel() and int(self.array.min()) < 0):
            raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
        if weights is not None and weights.shape != self.shape:
            raise RuntimeError(f"weights should be 1-d and have the same length as input, got shape {weights.shape} "
                               f"for input of shape {self.shape}")
        xp = get_array_module(self.array)
        if weights is None:
            return Tensor._wrap(xp.bincount(self.array, minlength=minlength).astype(np.int64))
        # PyTorch sums float32 weights in float32 and every other dtype of weights in float64.
        dtype = weights.dtype if weights.dtype == np.float32 else np.dtype("float64")
        return Tensor._wrap(xp.bincount(self.array, weights.array, minlength=minlength).astype(dtype))

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        """The distinct elements (or distinct slices along dim), always sorted; with return_inverse, where each
        element (slice) of self is in them; with return_counts, how often each occurs."""
        xp = get_array_module(self.array)
        axis = None if dim is None else self._axes(dim)[0]
        values, inverse, counts = xp.unique(self.array, return_inverse=True, return_counts=True, axis=axis)
        inverse = inverse.reshape(self.shape if axis is None else (-1,)).astype(np.int64)
        out = (Tensor._wrap(values),)
        out += (Tensor._wrap(inverse),) if return_inverse else ()
        out += (Tensor._wrap(counts.astype(np.int64)),) if return_counts else ()
        return out[0] if len(out) == 1 else out


def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None, sorter=None):
    """For each value, the index where it would be inserted into the sorted innermost dim of sorted_sequence to keep
    it sorted: before equal elements (side "left"), or after them (right=True or side "right"). A 1-D sequence
    serves every value; an N-D one has one row per row of values (their leading dims equal)."""
    if side is not None and side not in ("left", "right"):
        raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
    if side is not None and right and side == "left":
        raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left while "
                           "right was True")
    side = side or ("right" if right else "left")
    sequence = sorted_sequence.numpy()
    if sorter is not None:
        sequence = np.take_along_axis(sequence, sorter.numpy(), -1)
    scalar = not isinstance(values, Tensor)
    points = np.asarray(values) if scalar else values.numpy()
    if sequence.ndim == 1:
        found = np.searchsorted(sequence, points, side=side)
    else:
        if points.ndim != sequence.ndim or points.shape[:-1] != sequence.shape[:-1]:
            raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                               f"dimensions of boundaries tensor and input value tensor must match, but we got "
                               f"boundaries tensor {list(sequence.shape)} and input value tensor {list(points.shape)}")
        rows, row_points = sequence.reshape(-1, sequence.shape[-1]), points.reshape(-1, points.shape[-1])
        found = np.stack([np.searchsorted(r, p, side=side) for r, p in zip(rows, row_points)]).reshape(points.shape)
    found = np.asarray(found).astype(np.int32 if out_int32 else np.int64)
    return Tensor._wrap(to_device(found, sorted_sequence.device))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each element: i with boundaries[i-1] < x <= boundaries[i] (right=False), or with
    boundaries[i-1] <= x < boundaries[i] (right=True); boundaries is 1-D and sorted."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def _median_index(a, axis):
    """The position, along axis, of each slice's lower middle value (a stable sort's, so ties resolve as in
    PyTorch), or of its first NaN."""
    xp = get_array_module(a)
    n = a.shape[axis]
    middle = xp.take(xp.argsort(a, axis=axis, kind="stable"), (n - 1) // 2, axis=axis)
    if not is_float(a.dtype):
        return middle
    nan = xp.isnan(a)
    return xp.where(nan.any(axis=axis), nan.argmax(axis=axis), middle)


def _selected(x, axis, index, keepdim, result):
    """(values, indices) of the elements at `index` (keepdim-shaped) along axis; the gradient goes to them."""
    values = x.gather(axis, index)
    if not keepdim:
        values, index = values.squeeze(axis), index.squeeze(axis)
    return result(values, index)


# What median, mode, cummax and cummin return, like torch.return_types.
MedianResult = collections.namedtuple("MedianResult", ["values", "indices"])
ModeResult = collections.namedtuple("ModeResult", ["values", "indices"])
CummaxResult = collections.namedtuple("CummaxResult", ["values", "indices"])
CumminResult = collections.namedtuple("CumminResult", ["values", "indices"])
