"""Scaled dot-product attention, composed from Tensor ops (matmul, softmax, where): autograd gives its backward.

    Attention(Q, K, V) = softmax(Q K^T * scale + bias) V,   scale = 1 / sqrt(E) by default,

with Q of shape (..., L, E), K (..., S, E), V (..., S, Ev), and `bias` (broadcast to (..., L, S)) -inf where a query
may not look at a key (a causal mask, or a boolean attn_mask that is False there) or any float added to the scores.
multi_head_attention_forward projects its inputs into heads and applies the same formula to each: it is
nn.MultiheadAttention's math (nn/transformer.py holds the weights and calls it).
"""
import math

from ...backend import array_module
from ...tensors import Tensor, cat, zeros
from .activation import dropout, linear
from .padding import pad


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
    dropout_p: dropout on the attention weights (always applied, as in PyTorch: pass 0.0 in eval). enable_gqa:
    key and value may have fewer heads (dim -3) than query, each shared by a group of query heads.
    """
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
    if enable_gqa:
        key, value = _shared_heads(key, query), _shared_heads(value, query)
    weights = attention_weights(query, key, attn_mask, is_causal, scale)
    return dropout(weights, dropout_p) @ value


def _shared_heads(x, query):
    """Grouped-query attention (enable_gqa): x has fewer heads (dim -3) than the query, and each of its heads serves
    a group of consecutive query heads: x's heads are repeated to the query's count, head k of x becoming heads
    k * groups ... (k + 1) * groups - 1 (PyTorch's repeat_interleave)."""
    if query.ndim < 3 or x.ndim < 3 or query.shape[-3] % x.shape[-3]:
        raise RuntimeError(f"scaled_dot_product_attention: with enable_gqa, the number of heads (dim -3) of key and "
                           f"value must divide the query's: got query {query.shape}, key/value {x.shape}")
    groups = query.shape[-3] // x.shape[-3]
    lead, heads, tail = x.shape[:-3], x.shape[-3], x.shape[-2:]
    return x.unsqueeze(-3).expand(*lead, heads, groups, *tail).reshape(*lead, heads * groups, *tail)


# ----------------------------------------------------------------------------------------------------------------
# Multi-head attention: the math of nn.MultiheadAttention, with its weights passed in
# ----------------------------------------------------------------------------------------------------------------
def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """out = Concat(head_1, ..., head_h) W^O + b^O,  head_i = softmax(q_i k_i^T / sqrt(d) + mask) v_i,
    with q = query W_q^T + b_q, k = key W_k^T + b_k, v = value W_v^T + b_v split into num_heads heads of
    d = E / num_heads features.

    query (L, N, E), key and value (S, N, kdim / vdim), or unbatched (L, E), (S, ...). W_q, W_k, W_v are the three
    row blocks of in_proj_weight (3E, E), or q/k/v_proj_weight with use_separate_proj_weight; b_q, b_k, b_v the
    blocks of in_proj_bias. bias_k, bias_v (1, 1, E) are appended to every sequence's keys and values, and
    add_zero_attn appends a zero key and value to every head: positions every query may attend to. Masks:
    key_padding_mask (N, S), attn_mask (L, S) or (N * num_heads, L, S), boolean (True = may NOT attend) or float
    (added to the scores). Returns (out like query, the attention weights (N, L, S) averaged over the heads, or
    (N, num_heads, L, S) with average_attn_weights=False, or None with need_weights=False).
    """
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k and static_v are not supported by "
                                  "tinygrad_bn")
    _check_attention_inputs(query, key, value, key_padding_mask, attn_mask, embed_dim_to_check)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    batched = query.ndim == 3
    if not batched:  # one sequence: a batch of one, in dim 1
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        key_padding_mask = None if key_padding_mask is None else key_padding_mask.unsqueeze(0)
    L, N, E = query.shape
    S, H = key.shape[0], num_heads
    d = E // H
    if d * H != E:
        raise AssertionError(f"embed_dim {E} not divisible by num_heads {H}")

    weights_qkv = ((q_proj_weight, k_proj_weight, v_proj_weight) if use_separate_proj_weight
                   else tuple(in_proj_weight[i * E:(i + 1) * E] for i in range(3)))
    biases_qkv = (None,) * 3 if in_proj_bias is None else tuple(in_proj_bias[i * E:(i + 1) * E] for i in range(3))
    q, k, v = (linear(x, w, b) for x, w, b in zip((query, key, value), weights_qkv, biases_qkv))
    extra = 0  # keys appended by bias_k / bias_v and add_zero_attn, which every query may attend to
    if bias_k is not None:
        k, v = cat([k, bias_k.expand(1, N, E)]), cat([v, bias_v.expand(1, N, E)])
        extra += 1
    # (L, N, E) -> (N, H, L, d): head h of sample n holds features h*d .. (h+1)*d
    q = q.reshape(L, N, H, d).permute(1, 2, 0, 3)
    k = k.reshape(S + extra, N, H, d).permute(1, 2, 0, 3)
    v = v.reshape(S + extra, N, H, d).permute(1, 2, 0, 3)
    if add_zero_attn:
        no_key = zeros((N, H, 1, d), dtype=k.dtype, device=k.device)
        k, v = cat([k, no_key], dim=2), cat([v, no_key], dim=2)
        extra += 1

    use_causal = is_causal and key_padding_mask is None and not need_weights  # PyTorch's rule for the hint
    mask = None if use_causal else _merged_mask(attn_mask, key_padding_mask, query.dtype, N, H, L, S)
    if mask is not None and extra:
        mask = pad(mask, (0, extra))  # the appended keys are never masked
    # (N, H, L, S); a query that may see no key gets zeros, or NaN when the weights are returned (PyTorch's rule)
    weights = attention_weights(q, k, mask, is_causal=use_causal, empty_rows_to_zero=not need_weights)
    weights = dropout(weights, dropout_p, training)
    heads = weights @ v  # (N, H, L, d)
    out = linear(heads.permute(2, 0, 1, 3).reshape(L, N, E), out_proj_weight, out_proj_bias)  # Concat(...) W^O + b^O

    out = out if batched else out.squeeze(1)
    if not need_weights:
        return out, None
    weights = weights.mean(dim=1) if average_attn_weights else weights
    return out, weights if batched else weights.squeeze(0)


def _check_attention_inputs(query, key, value, key_padding_mask, attn_mask, embed_dim):
    batched = query.ndim == 3
    if query.ndim not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D "
                             "query tensor")
    if key.ndim != query.ndim or value.ndim != query.ndim:
        kind = "batched (3-D)" if batched else "unbatched (2-D)"
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be {query.ndim}-D but found "
                             f"{key.ndim}-D and {value.ndim}-D tensors respectively")
    if query.shape[-1] != embed_dim:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim}, but got {query.shape[-1]}")
    if key.shape[:-1] != value.shape[:-1]:
        raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")
    if key_padding_mask is not None and key_padding_mask.ndim != query.ndim - 1:
        raise AssertionError(f"For {'batched (3-D)' if batched else 'unbatched (2-D)'} `query`, expected "
                             f"`key_padding_mask` to be `None` or {query.ndim - 1}-D but found "
                             f"{key_padding_mask.ndim}-D tensor instead")
    if attn_mask is not None and attn_mask.ndim not in (2, 3):
        raise AssertionError(f"attn_mask's dimension {attn_mask.ndim} is not supported")


def _as_bias(mask, dtype):
    """A mask in PyTorch's MultiheadAttention convention as a float to add to the scores: a boolean mask is True
    where attending is NOT allowed (-inf there, 0 elsewhere); a float mask is added as it is."""
    if mask is None or mask.dtype != bool:
        return mask
    xp = array_module(mask.device)
    return Tensor._wrap(xp.where(mask.array, dtype.type(float("-inf")), dtype.type(0)))


def _merged_mask(attn_mask, key_padding_mask, dtype, N, H, L, S):
    """attn_mask and key_padding_mask as one float bias, broadcastable to the scores (N, H, L, S)."""
    attn_mask, key_padding_mask = _as_bias(attn_mask, dtype), _as_bias(key_padding_mask, dtype)
    if attn_mask is not None:
        if attn_mask.ndim == 2 and attn_mask.shape != (L, S):
            raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be {(L, S)}.")
        if attn_mask.ndim == 3:
            if attn_mask.shape != (N * H, L, S):
                raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(N * H, L, S)}.")
            attn_mask = attn_mask.reshape(N, H, L, S)
    if key_padding_mask is not None:
        if key_padding_mask.shape != (N, S):
            raise AssertionError(f"expecting key_padding_mask shape of {(N, S)}, but got {key_padding_mask.shape}")
        key_padding_mask = key_padding_mask.reshape(N, 1, 1, S)
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    return attn_mask
