"""Multi-head attention and the Transformer (Vaswani et al., 2017), composed from Linear, LayerNorm, Dropout and
scaled dot-product attention (nn/functional/attention.py): no layer here has a backward of its own.

    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O,   head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)

An encoder layer is self-attention then a feed-forward block, each with a residual connection and LayerNorm
(after the sum, or before the block with norm_first=True); a decoder layer adds attention over the encoder's output
(the memory) between the two. PyTorch's module names, state_dict keys, masks and defaults throughout.
"""
import copy

from ..backend import array_module
from ..tensors import Tensor, cat, float32, zeros
from . import functional as F
from . import init
from .containers import ModuleList
from .functional.attention import attention_weights
from .layers import Dropout, Linear
from .module import Module, Parameter
from .normalization import LayerNorm


def _as_bias(mask, dtype):
    """A mask in PyTorch's MultiheadAttention convention as a float to add to the scores: a boolean mask is True
    where attending is NOT allowed (-inf there, 0 elsewhere); a float mask is added as it is."""
    if mask is None or mask.dtype != bool:
        return mask
    xp = array_module(mask.device)
    return Tensor._wrap(xp.where(mask.array, dtype.type(float("-inf")), dtype.type(0)))


class MultiheadAttention(Module):
    """out = Concat(head_1, ..., head_h) W^O + b^O,  head_i = softmax(q_i k_i^T / sqrt(d) + mask) v_i,
    with q = query W_q^T + b_q, k = key W_k^T + b_k, v = value W_v^T + b_v split into num_heads heads of
    d = embed_dim / num_heads features.

    W_q, W_k, W_v are stacked in in_proj_weight (3 * embed_dim, embed_dim), or are q_proj_weight, k_proj_weight,
    v_proj_weight when kdim or vdim differ from embed_dim; the biases are in_proj_bias; W^O, b^O are out_proj (a
    Linear). Init (PyTorch's): xavier_uniform_ on the projection weights, zero biases, out_proj.weight as a Linear.
    Inputs (L, N, E) ((N, L, E) with batch_first, (L, E) unbatched). Masks: key_padding_mask (N, S) and attn_mask
    (L, S) or (N * num_heads, L, S), boolean (True = may NOT attend) or float (added to the scores).
    add_bias_kv appends one learned key bias_k and value bias_v (each (1, 1, E)) to every sequence's projected keys
    and values; add_zero_attn appends a key and a value of zeros to every head. Either gives each query one more
    position to attend to, which the masks never hide.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, *, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise AssertionError("embed_dim must be divisible by num_heads")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        dtype = dtype or float32

        def parameter(*shape):
            return Parameter(zeros(shape, dtype=dtype, device=device))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = parameter(3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = parameter(embed_dim, embed_dim)
            self.k_proj_weight = parameter(embed_dim, self.kdim)
            self.v_proj_weight = parameter(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = parameter(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        if add_bias_kv:
            self.bias_k, self.bias_v = parameter(1, 1, embed_dim), parameter(1, 1, embed_dim)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _projections(self, query, key, value):
        """q, k, v = query W_q^T + b_q, key W_k^T + b_k, value W_v^T + b_v."""
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            W_q, W_k, W_v = (self.in_proj_weight[i * E:(i + 1) * E] for i in range(3))
        else:
            W_q, W_k, W_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        b_q = b_k = b_v = None
        if self.in_proj_bias is not None:
            b_q, b_k, b_v = (self.in_proj_bias[i * E:(i + 1) * E] for i in range(3))
        return F.linear(query, W_q, b_q), F.linear(key, W_k, b_k), F.linear(value, W_v, b_v)

    def _check(self, query, key, value, key_padding_mask, attn_mask):
        batched = query.ndim == 3
        if query.ndim not in (2, 3):
            raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D "
                                 "query tensor")
        if key.ndim != query.ndim or value.ndim != query.ndim:
            kind = "batched (3-D)" if batched else "unbatched (2-D)"
            raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be {query.ndim}-D but found "
                                 f"{key.ndim}-D and {value.ndim}-D tensors respectively")
        if query.shape[-1] != self.embed_dim:
            raise AssertionError(f"was expecting embedding dimension of {self.embed_dim}, but got {query.shape[-1]}")
        if key.shape[:-1] != value.shape[:-1]:
            raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")
        if key_padding_mask is not None and key_padding_mask.ndim != query.ndim - 1:
            raise AssertionError(f"For {'batched (3-D)' if batched else 'unbatched (2-D)'} `query`, expected "
                                 f"`key_padding_mask` to be `None` or {query.ndim - 1}-D but found "
                                 f"{key_padding_mask.ndim}-D tensor instead")
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise AssertionError(f"attn_mask's dimension {attn_mask.ndim} is not supported")

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """Returns (output like query, attention weights (N, L, S) averaged over the heads, or (N, num_heads, L, S)
        with average_attn_weights=False, or None with need_weights=False)."""
        self._check(query, key, value, key_padding_mask, attn_mask)
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                               "method `generate_square_subsequent_mask` to create this mask.")
        batched = query.ndim == 3
        if not batched:  # one sequence: a batch of one, in dim 1
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            key_padding_mask = None if key_padding_mask is None else key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        L, N, E = query.shape
        S, H, d = key.shape[0], self.num_heads, self.head_dim

        q, k, v = self._projections(query, key, value)
        extra = 0  # keys appended by add_bias_kv and add_zero_attn, which every query may attend to
        if self.bias_k is not None:
            k, v = cat([k, self.bias_k.expand(1, N, E)]), cat([v, self.bias_v.expand(1, N, E)])
            extra += 1
        # (L, N, E) -> (N, H, L, d): head h of sample n holds features h*d .. (h+1)*d
        q = q.reshape(L, N, H, d).permute(1, 2, 0, 3)
        k = k.reshape(S + extra, N, H, d).permute(1, 2, 0, 3)
        v = v.reshape(S + extra, N, H, d).permute(1, 2, 0, 3)
        if self.add_zero_attn:
            no_key = zeros((N, H, 1, d), dtype=k.dtype, device=k.device)
            k, v = cat([k, no_key], dim=2), cat([v, no_key], dim=2)
            extra += 1

        use_causal = is_causal and key_padding_mask is None and not need_weights  # PyTorch's rule for the hint
        mask = None if use_causal else self._mask(attn_mask, key_padding_mask, query.dtype, N, L, S)
        if mask is not None and extra:
            mask = F.pad(mask, (0, extra))  # the appended keys are never masked
        # (N, H, L, S); a query that may see no key gets zeros, or NaN when the weights are returned (PyTorch's rule)
        weights = attention_weights(q, k, mask, is_causal=use_causal, empty_rows_to_zero=not need_weights)
        weights = F.dropout(weights, self.dropout, self.training)
        heads = weights @ v  # (N, H, L, d)
        out = self.out_proj(heads.permute(2, 0, 1, 3).reshape(L, N, E))  # Concat(head_1, ..., head_h) W^O + b^O

        if not batched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        weights = weights.mean(dim=1) if average_attn_weights else weights
        return out, weights if batched else weights.squeeze(0)

    def _mask(self, attn_mask, key_padding_mask, dtype, N, L, S):
        """attn_mask and key_padding_mask as one float bias, broadcastable to the scores (N, H, L, S)."""
        attn_mask, key_padding_mask = _as_bias(attn_mask, dtype), _as_bias(key_padding_mask, dtype)
        if attn_mask is not None:
            if attn_mask.ndim == 2 and attn_mask.shape != (L, S):
                raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be {(L, S)}.")
            if attn_mask.ndim == 3:
                if attn_mask.shape != (N * self.num_heads, L, S):
                    raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                                       f"{(N * self.num_heads, L, S)}.")
                attn_mask = attn_mask.reshape(N, self.num_heads, L, S)
        if key_padding_mask is not None:
            if key_padding_mask.shape != (N, S):
                raise AssertionError(f"expecting key_padding_mask shape of {(N, S)}, but got "
                                     f"{key_padding_mask.shape}")
            key_padding_mask = key_padding_mask.reshape(N, 1, 1, S)
            attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
        return attn_mask


def _activation(activation):
    """"relu" and "gelu" are F.relu and F.gelu; a callable (a function or a Module) is used as it is."""
    if isinstance(activation, str):
        if activation not in ("relu", "gelu"):
            raise RuntimeError(f"activation should be relu/gelu, not {activation}")
        return F.relu if activation == "relu" else F.gelu
    return activation


class TransformerEncoderLayer(Module):
    """x = norm1(x + sa(x)); x = norm2(x + ff(x))   (norm_first=False, the original Transformer), or
    x = x + sa(norm1(x)); x = x + ff(norm2(x))      (norm_first=True),
    sa(x) = dropout1(self_attn(x, x, x)), ff(x) = dropout2(linear2(dropout(activation(linear1(x)))))."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, *, device=None, dtype=None):
        super().__init__()
        options = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            **options)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **options)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **options)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **options)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **options)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """x = norm1(x + sa(x)); x = norm2(x + mha(x, memory)); x = norm3(x + ff(x))   (norm_first=False), or
    x = x + sa(norm1(x)); x = x + mha(norm2(x), memory); x = x + ff(norm3(x))    (norm_first=True),
    mha(x, m) = dropout2(multihead_attn(x, m, m)): each target position attends to the encoder's output."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, *, device=None, dtype=None):
        super().__init__()
        options = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            **options)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, **options)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **options)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **options)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **options)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **options)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **options)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, is_causal=is_causal,
                           need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, memory, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, memory, memory, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                is_causal=is_causal, need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


def _clones(layer, num_layers):
    """num_layers independent deep copies of `layer` (their own parameters, all starting from the same values)."""
    return ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])


class TransformerEncoder(Module):
    """num_layers copies of encoder_layer applied in turn (state_dict keys layers.0..., layers.1...), then norm."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                           is_causal=bool(is_causal))
        return output if self.norm is None else self.norm(output)


class TransformerDecoder(Module):
    """num_layers copies of decoder_layer applied in turn, each attending to the same memory, then norm."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        output = tgt
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=bool(tgt_is_causal),
                           memory_is_causal=memory_is_causal)
        return output if self.norm is None else self.norm(output)


class Transformer(Module):
    """The encoder-decoder Transformer: memory = encoder(src), output = decoder(tgt, memory), each a stack of
    layers followed by a LayerNorm. Init (PyTorch's): xavier_uniform_ on every parameter with more than one dim."""

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation="relu", custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, *, device=None, dtype=None):
        super().__init__()
        options = {"device": device, "dtype": dtype}
        layer_options = {"dim_feedforward": dim_feedforward, "dropout": dropout, "activation": activation,
                         "layer_norm_eps": layer_norm_eps, "batch_first": batch_first, "norm_first": norm_first,
                         "bias": bias, **options}
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(d_model, nhead, **layer_options),
                                              num_encoder_layers, LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                                                                            **options))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(d_model, nhead, **layer_options),
                                              num_decoder_layers, LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                                                                            **options))
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        batch = 0 if self.batch_first else 1
        if src.ndim == 3 and src.shape[batch] != tgt.shape[batch]:
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """(sz, sz) float mask: 0 on and below the diagonal, -inf above (position i may not see positions > i)."""
        xp = array_module(device or "cpu")
        upper = xp.triu(xp.ones((sz, sz), dtype=bool), k=1)
        values = xp.where(upper, float("-inf"), 0.0).astype(dtype or float32)
        return Tensor._wrap(values)
