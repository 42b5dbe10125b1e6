"""Embedding: a lookup table. Row i of `weight` (num_embeddings, embedding_dim) is the vector of token i."""
from ...autograd import Function
from ...backend import get_array_module, scatter_add
from ...tensors import Tensor


class EmbeddingFn(Function):
    def forward(self, weight, indices, padding_idx=None):
        self.weight_shape, self.indices, self.padding_idx = weight.shape, indices, padding_idx
        return weight[indices]

    def backward(self, g):
        """gweight[i] = sum of g over the positions where indices == i (repeats add up); the row padding_idx gets
        no gradient, so it keeps its value (PyTorch's rule)."""
        xp = get_array_module(g)
        gw = xp.zeros(self.weight_shape, dtype=g.dtype)
        if self.padding_idx is not None:
            g = g * (self.indices != self.padding_idx)[..., None]
        scatter_add(gw, self.indices, g)
        return gw


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """out[..., :] = weight[input[...], :] for integer indices `input` of any shape; out has one more dim."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not supported")
    indices = input.array if isinstance(input, Tensor) else input
    if indices.dtype.kind not in "iu":
        raise ValueError(f"embedding: expected integer indices, got dtype {indices.dtype}")
    n = weight.shape[0]
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= n):
        raise IndexError(f"embedding: indices must be in [0, {n - 1}] for a weight of shape {weight.shape}, got "
                         f"values from {int(indices.min())} to {int(indices.max())}")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    return EmbeddingFn.apply(weight, indices=indices, padding_idx=padding_idx)


BAG_MODES = ("sum", "mean", "max")


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """One vector per bag of indices: the sum, mean or (per feature) max of the bag's embedding rows.

        out[b] = sum_{i in bag b} s_i * weight[input[i]]       mode="sum" (s_i = per_sample_weights[i], else 1)
        out[b] = (1 / |bag b|) * sum_{i in bag b} weight[input[i]]      mode="mean"
        out[b, d] = max_{i in bag b} weight[input[i], d]                mode="max"

    The bags: the rows of a 2-D input (B, N), or the slices input[offsets[b]:offsets[b + 1]] of a 1-D input, the
    last bag running to the end (with include_last_offset=True, offsets holds B + 1 boundaries, the last being
    len(input)). Entries equal to padding_idx are left out of their bag (and of the mean's count); an empty bag
    gives zeros. out: (B, dim).

    Composed from differentiable ops, so autograd gives the gradients of weight and per_sample_weights: the rows
    are looked up with `embedding`, and a sum adds each row into its bag with `index_add` (whose backward hands
    each row its bag's gradient); a max gathers the winning row of each bag and feature.
    """
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding_bag: max_norm, scale_grad_by_freq and sparse are not supported")
    if mode not in BAG_MODES:
        raise ValueError(f"embedding_bag: mode has to be one of sum, mean or max, got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights is only supported for mode='sum' (got "
                                  f"mode={mode!r})")
    indices = input.array if isinstance(input, Tensor) else input
    xp = get_array_module(indices)
    if per_sample_weights is not None and tuple(per_sample_weights.shape) != tuple(indices.shape):
        raise ValueError(f"embedding_bag: per_sample_weights of shape {tuple(per_sample_weights.shape)} must have "
                         f"the shape of the input {tuple(indices.shape)}")
    n_rows = weight.shape[0]
    if padding_idx is not None:
        if not -n_rows <= padding_idx < n_rows:
            raise ValueError(f"embedding_bag: padding_idx must be within the number of embeddings, {-n_rows} "
                             f"through {n_rows - 1}, but got {padding_idx}")
        padding_idx %= n_rows
    bag_of, n_bags = _bag_of_each_position(indices, offsets, include_last_offset, xp)
    indices = indices.reshape(-1)
    # The positions that take part: in a bag, and not padding.
    member = bag_of >= 0
    if padding_idx is not None:
        member &= indices != padding_idx
    positions = xp.nonzero(member)[0]
    rows = embedding(indices[positions], weight)                          # (members, dim)
    bag_of = bag_of[positions]
    if mode == "max":
        return _bag_max(rows, bag_of, n_bags)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1)[positions].reshape(-1, 1)
    totals = Tensor._wrap(xp.zeros((n_bags, weight.shape[1]), dtype=weight.dtype)).index_add(0, bag_of, rows)
    if mode == "sum":
        return totals
    counts = xp.bincount(bag_of, minlength=n_bags).astype(weight.dtype)
    return totals / Tensor._wrap(xp.maximum(counts, 1).reshape(-1, 1))    # an empty bag's total is 0, and stays 0


def _bag_of_each_position(indices, offsets, include_last_offset, xp):
    """(bag_of, n_bags): the bag each entry of the flattened input belongs to (-1: none), and the number of bags."""
    if indices.ndim == 2:
        if offsets is not None:
            raise ValueError("embedding_bag: if input is 2D, then offsets has to be None, as input is treated as a "
                             f"mini-batch of fixed length sequences; got offsets of shape {tuple(offsets.shape)}")
        n_bags, length = indices.shape
        return xp.repeat(xp.arange(n_bags), length), n_bags
    if indices.ndim != 1:
        raise ValueError(f"embedding_bag: input has to be a 1D or 2D Tensor, got shape {tuple(indices.shape)}")
    if offsets is None:
        raise ValueError("embedding_bag: offsets has to be a 1D Tensor when input is 1D, but got None")
    starts = offsets.array if isinstance(offsets, Tensor) else xp.asarray(offsets)
    if starts.ndim != 1 or starts.dtype.kind not in "iu":
        raise ValueError(f"embedding_bag: offsets has to be a 1D integer Tensor, got shape {tuple(starts.shape)} "
                         f"and dtype {starts.dtype}")
    n = indices.shape[0]
    if starts.size and int(starts[0]) != 0:
        raise ValueError(f"embedding_bag: offsets[0] has to be 0, i.e., the first bag has to start at position "
                         f"0; got {int(starts[0])}")
    if starts.size and (bool((xp.diff(starts) < 0).any()) or int(starts[-1]) > n):
        raise ValueError(f"embedding_bag: offsets must be non-decreasing and at most the input's length {n}, "
                         f"got {starts.tolist()}")
    # With include_last_offset the last boundary is meant to be len(input) and is not a bag's start; the last bag
    # runs to the end of the input either way (what PyTorch computes when the last boundary is smaller).
    n_bags = max(starts.size - 1, 0) if include_last_offset else starts.size
    # Position i is in the last bag whose start is <= i (-1: in none, when there are no bags).
    bag_of = xp.searchsorted(starts[:n_bags], xp.arange(n), side="right") - 1
    return bag_of, n_bags


def _bag_max(rows, bag_of, n_bags):
    """out[b, d] = max of rows[i, d] over the rows i of bag b (0 for an empty bag).

    The rows are laid out as a (bags, longest bag, dim) table, the missing places filled with -inf, and max(dim=1)
    takes each bag's maximum; its backward sends the gradient to the one row that won (PyTorch's rule)."""
    xp = get_array_module(rows.array)
    counts = xp.bincount(bag_of, minlength=n_bags)
    longest = int(counts.max()) if n_bags else 0
    if longest == 0:                                                   # only empty bags
        return Tensor._wrap(xp.zeros((n_bags, rows.shape[1]), dtype=rows.dtype))
    first_of_bag = xp.cumsum(counts) - counts                          # where each bag's rows begin among the rows
    place_in_bag = xp.arange(bag_of.size) - first_of_bag[bag_of]       # rows are in bag order already
    table = xp.full((n_bags, longest), -1)
    table[bag_of, place_in_bag] = xp.arange(bag_of.size)
    present = table >= 0
    laid_out = rows[xp.maximum(table, 0)].masked_fill(~present[..., None], -float("inf"))
    best = laid_out.max(dim=1)[0]
    return best.masked_fill((counts == 0)[:, None], 0.0)
