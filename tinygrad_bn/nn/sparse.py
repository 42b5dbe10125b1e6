"""Embedding: a table of num_embeddings learnable vectors of size embedding_dim, looked up by integer index."""
from ..autograd import no_grad
from ..tensors import Tensor, float32, zeros
from . import functional as F
from . import init
from .module import Module, Parameter


class _EmbeddingTable(Module):
    """What Embedding and EmbeddingBag share: the (num_embeddings, embedding_dim) weight, PyTorch's init for it, and
    padding_idx (its row zeroed at init; a negative index counts from the end)."""

    def _make_table(self, num_embeddings, embedding_dim, padding_idx, unsupported, _weight, device, dtype):
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"padding_idx must be within num_embeddings: got padding_idx={padding_idx} for "
                                 f"{num_embeddings} embeddings")
            padding_idx %= num_embeddings
        if any(unsupported):  # max_norm, scale_grad_by_freq, sparse
            raise NotImplementedError(f"{type(self).__name__}: max_norm, scale_grad_by_freq and sparse are not "
                                      "supported")
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        if _weight is None:
            self.weight = Parameter(zeros((num_embeddings, embedding_dim), dtype=dtype or float32, device=device))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError("Shape of weight does not match num_embeddings and embedding_dim")
            self.weight = Parameter(Tensor(_weight, device=device))

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0


class Embedding(_EmbeddingTable):
    """out = weight[input]: (any shape of indices) -> (that shape, embedding_dim).

    Init (PyTorch's): weight ~ N(0, 1), with the row padding_idx zeroed; that row then receives no gradient.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, *, device=None, dtype=None):
        super().__init__()
        self._make_table(num_embeddings, embedding_dim, padding_idx, (max_norm is not None, scale_grad_by_freq,
                                                                      sparse), _weight, device, dtype)
        self.weight.requires_grad_(not _freeze)

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        """An Embedding holding `embeddings` (a 2-D Tensor or array); frozen (no gradient) unless freeze=False."""
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, _weight=embeddings,
                   _freeze=freeze)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}" + \
            (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")


class EmbeddingBag(_EmbeddingTable):
    """out[b] = the sum, mean or max of the embedding rows of bag b (F.embedding_bag): (B, N) indices, or 1-D
    indices with `offsets` where each bag starts -> (B, embedding_dim).

    Init (PyTorch's): weight ~ N(0, 1), with the row padding_idx zeroed; entries equal to padding_idx are left out of
    their bag.
    """

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 mode="mean", sparse=False, _weight=None, include_last_offset=False, padding_idx=None, device=None,
                 dtype=None):
        super().__init__()
        self.mode, self.include_last_offset = mode, include_last_offset
        self._make_table(num_embeddings, embedding_dim, padding_idx, (max_norm is not None, scale_grad_by_freq,
                                                                      sparse), _weight, device, dtype)

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, mode=self.mode, per_sample_weights=per_sample_weights,
                               include_last_offset=self.include_last_offset, padding_idx=self.padding_idx)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                        mode="mean", sparse=False, include_last_offset=False, padding_idx=None):
        """An EmbeddingBag holding `embeddings` (a 2-D Tensor or array); frozen (no gradient) unless freeze=False."""
        rows, dim = embeddings.shape
        bag = cls(rows, dim, max_norm, norm_type, scale_grad_by_freq, mode, sparse, embeddings, include_last_offset,
                  padding_idx)
        bag.weight.requires_grad_(not freeze)
        return bag

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}, mode={self.mode!r}" + \
            (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")
