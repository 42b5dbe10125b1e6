"""Scaled dot-product attention, composed from Tensor ops (matmul, softmax, where): autograd gives its backward.

    Attention(Q, K, V) = softmax(Q K^T * scale + bias) V,   scale = 1 / sqrt(E) by default,

with Q of shape (..., L, E), K (..., S, E), V (..., S, Ev), and `bias` (broadcast to (..., L, S)) -inf where a query
may not look at a key (a causal mask, or a boolean attn_mask that is False there) or any float added to the scores.
nn.MultiheadAttention (nn/transformer.py) projects its inputs into heads and applies the same formula.
"""
import math

from ...backend import array_module
from ...tensors import Tensor
from .activation import dropout


def causal_mask(L, S, device=None):
    """(L, S) booleans, True where query i may look at key j: j <= i (the lower triangle)."""
    xp = array_module(device or "cpu")
    return Tensor._wrap(xp.tril(xp.ones((L, S), dtype=bool)))


def attention_weights(query, key, attn_mask=None, is_causal=False, scale=None, empty_rows_to_zero=True):
    """softmax(query @ key^T * scale + mask) over the keys: (..., L, S), each row sums to 1.

    attn_mask: boolean (True = may attend, False becomes -inf) or float (added to the scores); is_causal masks the
    keys after each query. A query that may attend to no key (a row of -inf) gets a row of zeros, as PyTorch's
    scaled_dot_product_attention gives (its "safe softmax"), or a row of NaN with empty_rows_to_zero=False, as
    MultiheadAttention gives when it returns its weights.
    """
    L, S = query.shape[-2], key.shape[-2]
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = query @ key.transpose(-2, -1) * scale
    if is_causal:
        attn_mask = causal_mask(L, S, query.device)
    if attn_mask is not None:
        if attn_mask.dtype == bool:
            scores = scores.masked_fill(~attn_mask.array, float("-inf"))
        else:
            scores = scores + attn_mask
    empty = (scores.array == float("-inf")).all(axis=-1, keepdims=True)
    if not empty_rows_to_zero or not empty.any():
        return scores.softmax(-1)
    # softmax of a row of -inf is 0/0; give such rows finite scores first, so no NaN reaches the gradient either
    return scores.masked_fill(empty, 0.0).softmax(-1).masked_fill(empty, 0.0)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value, over the last two dims (any batch dims in front).

    attn_mask: boolean (True = this query may attend to this key; False becomes -inf) or float (added to the
    scores), broadcast to (..., L, S). is_causal=True masks the keys after each query (then attn_mask must be None).
    dropout_p: dropout on the attention weights (always applied, as in PyTorch: pass 0.0 in eval).
    """
    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention: enable_gqa is not supported by tinygrad_bn")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise ValueError(f"scaled_dot_product_attention: query, key and value need at least 2 dims (..., L, E), "
                         f"got shapes {query.shape}, {key.shape}, {value.shape}")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query of shape {query.shape} and key of shape "
                           f"{key.shape} must have the same last dim E")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: key of shape {key.shape} and value of shape "
                           f"{value.shape} must have the same number of keys S (dim -2)")
    weights = attention_weights(query, key, attn_mask, is_causal, scale)
    return dropout(weights, dropout_p) @ value
