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
