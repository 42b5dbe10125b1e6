"""Attention and the Transformer (nn/functional/attention.py, nn/transformer.py) against PyTorch: outputs and the
gradients of every parameter and input, in float32 and float64, with PyTorch's weights loaded from a torch module's
state_dict; masks (boolean and float, key padding, causal); PyTorch's names, init and argument errors.

Every layer here is composed from Tensor ops, so matching PyTorch's gradients checks the composition end to end.
Parity runs in eval mode or with dropout=0 (dropout draws different numbers in each library).
"""
import copy

import numpy as np
import pytest
from conftest import assert_close, import_torch, tensor, torch_tensor

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
import tinygrad_bn.nn.functional as F

TOLERANCE = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float64: {"rtol": 1e-10, "atol": 1e-10}}
DTYPES = [np.float32, np.float64]
pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # PyTorch, about its fast path


@pytest.fixture(autouse=True)
def pytorch_without_fast_path():
    """PyTorch's fused inference path for attention (eval mode, no grad) computes the same function in another
    order; switching it off keeps the comparison to the documented math."""
    torch = import_torch()
    enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    yield
    torch.backends.mha.set_fastpath_enabled(enabled)


def random(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def pair(array, device, requires_grad=True):
    """The same numbers as a torch tensor and as our Tensor (booleans never require grad)."""
    requires_grad = requires_grad and array.dtype != bool
    return torch_tensor(array, requires_grad=requires_grad), tensor(array, device, requires_grad=requires_grad)


def twins(make_torch, make_ours, dtype, device, train=False):
    """A PyTorch module and ours with PyTorch's weights, in `dtype`, in eval mode (or train)."""
    torch = import_torch()
    torch.manual_seed(0)
    theirs = make_torch(torch.nn).to(torch.float64 if dtype == np.float64 else torch.float32).train(train)
    ours = make_ours(nn).to(dtype).train(train)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({key: value.detach().numpy() for key, value in theirs.state_dict().items()})
    return theirs, ours.to(device)


def compare(expected, actual, dtype, torch_inputs=(), our_inputs=(), theirs=None, ours=None):
    """Same outputs (a tensor or a tuple, None where PyTorch gives None); then the backward of a random weighting
    of the outputs gives the same gradients to every parameter and to every input that requires grad."""
    torch = import_torch()
    expected = expected if isinstance(expected, tuple) else (expected,)
    actual = actual if isinstance(actual, tuple) else (actual,)
    rng = np.random.default_rng(7)
    torch_loss = our_loss = 0
    for e, a in zip(expected, actual, strict=True):
        if e is None:
            assert a is None
            continue
        assert_close(a, e, **TOLERANCE[dtype], what="output")
        weights = rng.standard_normal(tuple(e.shape)).astype(dtype)
        torch_loss = torch_loss + (e * torch.tensor(weights)).sum()
        our_loss = our_loss + (a * tg.Tensor(weights, device=a.device)).sum()
    torch_loss.backward()
    our_loss.backward()
    if theirs is not None:
        for (name, param), (_, our_param) in zip(theirs.named_parameters(), ours.named_parameters(), strict=True):
            assert_close(our_param.grad, param.grad, **TOLERANCE[dtype], what=f"grad of {name}")
    for k, (t, o) in enumerate(zip(torch_inputs, our_inputs, strict=True)):
        if t is not None and t.requires_grad:
            assert_close(o.grad, t.grad, **TOLERANCE[dtype], what=f"grad of input {k}")


# ---------------------------------------------------------------------------------------------------------------
# F.scaled_dot_product_attention
# ---------------------------------------------------------------------------------------------------------------
def sdpa_mask(kind, dtype):
    """A mask over (L=4, S=5): boolean (True = may attend, every query sees at least one key) or float."""
    if kind == "bool":
        mask = np.random.default_rng(3).random((4, 5)) > 0.4
        mask[:, 0] = True
        return mask
    if kind == "float":
        return random((2, 1, 4, 5), dtype, seed=3)
    return None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask, options", [(None, {}), ("bool", {}), ("float", {}), (None, {"is_causal": True}),
                                           (None, {"scale": 0.3}), ("bool", {"scale": 2.0})])
def test_scaled_dot_product_attention_matches_torch(mask, options, dtype, device):
    torch = import_torch()
    (tq, q), (tk, k), (tv, v) = (pair(random(shape, dtype, seed), device) for seed, shape in
                                 enumerate([(2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)]))
    mask = sdpa_mask(mask, dtype)
    tm, m = pair(mask, device) if mask is not None else (None, None)
    expected = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, **options)
    actual = F.scaled_dot_product_attention(q, k, v, attn_mask=m, **options)
    compare(expected, actual, dtype, (tq, tk, tv, tm), (q, k, v, m))


def test_a_query_that_sees_no_key_gets_zeros_as_in_torch(device):
    """PyTorch's attention gives such a query zero weights (and zero gradient), not NaN; MultiheadAttention gives
    NaN when it returns the weights (need_weights=True), zeros when it does not."""
    torch = import_torch()
    (tq, q), (tk, k), (tv, v) = (pair(random((2, 3, 4), np.float64, seed), device) for seed in range(3))
    mask = np.array([[True, False, True], [False, False, False], [False, True, False]])
    tm, m = pair(mask, device)
    expected = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm)
    actual = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
    assert not actual.numpy()[:, 1].any()
    compare(expected, actual, np.float64, (tq, tk, tv), (q, k, v))

    theirs, ours = twins(lambda nn: nn.MultiheadAttention(4, 2), lambda nn: nn.MultiheadAttention(4, 2),
                         np.float64, device)
    tx, x = pair(random((3, 2, 4), np.float64, 1), device)
    tp, p = pair(np.array([[True] * 3, [False] * 3]), device)  # the first sequence's keys are all padding
    compare(theirs(tx, tx, tx, key_padding_mask=tp, need_weights=False),
            ours(x, x, x, key_padding_mask=p, need_weights=False), np.float64, (tx,), (x,), theirs, ours)
    with np.errstate(invalid="ignore"):  # the softmax of a row of -inf is 0/0, on purpose here
        output, weights = ours(x, x, x, key_padding_mask=p)
    assert np.isnan(output.numpy()[:, 0]).all() and np.isnan(weights.numpy()[0]).all()
    assert not np.isnan(output.numpy()[:, 1]).any()


def test_scaled_dot_product_attention_on_3d_input_and_gradcheck():
    q, k, v = (tg.Tensor(random(shape, np.float64, seed), requires_grad=True)
               for seed, shape in enumerate([(2, 3, 4), (2, 5, 4), (2, 5, 3)]))
    mask = tg.Tensor(sdpa_mask("bool", np.float64)[:3])
    assert tg.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask), (q, k, v))


def test_scaled_dot_product_attention_dropout_and_errors():
    q = tg.randn(2, 4, 8)
    plain = F.scaled_dot_product_attention(q, q, q)
    assert not np.allclose(F.scaled_dot_product_attention(q, q, q, dropout_p=0.5).numpy(), plain.numpy())
    assert np.array_equal(F.scaled_dot_product_attention(q, q, q, dropout_p=1.0).numpy(), np.zeros((2, 4, 8)))
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=tg.ones(4, 4), is_causal=True)
    with pytest.raises(RuntimeError, match="same last dim E"):
        F.scaled_dot_product_attention(q, tg.randn(2, 4, 5), q)
    with pytest.raises(RuntimeError, match="same number of keys"):
        F.scaled_dot_product_attention(q, q, tg.randn(2, 3, 8))


# ---------------------------------------------------------------------------------------------------------------
# nn.MultiheadAttention
# ---------------------------------------------------------------------------------------------------------------
def mha_masks(kind, dtype, N=2, H=2, L=3, S=5):
    """(key_padding_mask, attn_mask) as arrays: PyTorch's convention, True = may NOT attend."""
    padding = np.zeros((N, S), bool)
    padding[0, 3:] = True
    blocked = np.random.default_rng(4).random((L, S)) > 0.6
    blocked[:, 0] = False
    return {"none": (None, None), "padding": (padding, None), "bool": (None, blocked),
            "both": (padding, blocked), "float": (random((N, S), dtype, 5), random((N * H, L, S), dtype, 6))}[kind]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", [{}, {"kdim": 3, "vdim": 6}, {"bias": False}, {"batch_first": True},
                                     {"add_bias_kv": True}, {"add_zero_attn": True},
                                     {"add_bias_kv": True, "add_zero_attn": True, "kdim": 3, "vdim": 6}],
                         ids=["default", "kdim-vdim", "no-bias", "batch-first", "bias-kv", "zero-attn",
                              "bias-kv-zero-attn-kdim-vdim"])
@pytest.mark.parametrize("masks", ["none", "padding", "bool", "both", "float"])
def test_multihead_attention_matches_torch(masks, options, dtype, device):
    theirs, ours = twins(lambda nn: nn.MultiheadAttention(4, 2, **options),
                         lambda nn: nn.MultiheadAttention(4, 2, **options), dtype, device)
    L, S, N = 3, 5, 2
    shapes = [(L, N, 4), (S, N, options.get("kdim", 4)), (S, N, options.get("vdim", 4))]
    if options.get("batch_first"):
        shapes = [(N, length, E) for length, _, E in shapes]
    (tq, q), (tk, k), (tv, v) = (pair(random(shape, dtype, seed), device) for seed, shape in enumerate(shapes))
    padding, blocked = mha_masks(masks, dtype)
    tp, p = pair(padding, device, requires_grad=False) if padding is not None else (None, None)
    tb, b = pair(blocked, device, requires_grad=False) if blocked is not None else (None, None)
    expected = theirs(tq, tk, tv, key_padding_mask=tp, attn_mask=tb)
    actual = ours(q, k, v, key_padding_mask=p, attn_mask=b)
    compare(expected, actual, dtype, (tq, tk, tv), (q, k, v), theirs, ours)


@pytest.mark.parametrize("need_weights, average", [(False, True), (True, False)])
def test_multihead_attention_weights_per_head_or_none_and_unbatched(need_weights, average, device):
    theirs, ours = twins(lambda nn: nn.MultiheadAttention(4, 2), lambda nn: nn.MultiheadAttention(4, 2),
                         np.float64, device)
    for shape in [(3, 2, 4), (3, 4)]:  # batched, then one unbatched sequence
        (tx, x) = pair(random(shape, np.float64, 1), device)
        expected = theirs(tx, tx, tx, need_weights=need_weights, average_attn_weights=average)
        actual = ours(x, x, x, need_weights=need_weights, average_attn_weights=average)
        compare(expected, actual, np.float64, (tx,), (x,), theirs, ours)
        theirs.zero_grad(), ours.zero_grad()


def test_multihead_attention_causal_hint(device):
    theirs, ours = twins(lambda nn: nn.MultiheadAttention(4, 2), lambda nn: nn.MultiheadAttention(4, 2),
                         np.float64, device)
    tx, x = pair(random((3, 2, 4), np.float64, 1), device)
    causal = nn.Transformer.generate_square_subsequent_mask(3, dtype=np.float64).to(device)
    expected = theirs(tx, tx, tx, attn_mask=torch_tensor(causal), is_causal=True, need_weights=False)
    compare(expected, ours(x, x, x, attn_mask=causal, is_causal=True, need_weights=False), np.float64, (tx,), (x,))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        ours(x, x, x, is_causal=True)


def test_multihead_attention_dropout_only_in_training():
    attention = nn.MultiheadAttention(4, 2, dropout=0.5)
    x = tg.randn(3, 2, 4)
    attention.eval()
    first = attention(x, x, x)[0].numpy()
    assert np.array_equal(attention(x, x, x)[0].numpy(), first)
    attention.train()
    assert not np.allclose(attention(x, x, x)[0].numpy(), first)


def test_multihead_attention_init_and_names():
    torch = import_torch()
    tg.manual_seed(0)
    attention = nn.MultiheadAttention(64, 4)
    bound = np.sqrt(6 / (64 + 3 * 64))  # xavier_uniform_ on the (3E, E) in_proj_weight
    weight = attention.in_proj_weight.numpy()
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.95 * bound
    assert not attention.in_proj_bias.numpy().any() and not attention.out_proj.bias.numpy().any()
    assert np.abs(attention.out_proj.weight.numpy()).max() <= 1 / np.sqrt(64)  # Linear's init
    for options in [{}, {"kdim": 3, "vdim": 5}, {"bias": False}]:
        assert list(nn.MultiheadAttention(4, 2, **options).state_dict()) == \
            list(torch.nn.MultiheadAttention(4, 2, **options).state_dict())
    assert attention.head_dim == 16 and attention.in_proj_weight.shape == (192, 64)


@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.MultiheadAttention(5, 2), AssertionError, "embed_dim must be divisible by num_heads"),
    (lambda: nn.MultiheadAttention(0, 2), ValueError, "embed_dim and num_heads must be greater than 0"),
    (lambda: nn.MultiheadAttention(4, 2)(tg.zeros(3, 2, 5), tg.zeros(3, 2, 5), tg.zeros(3, 2, 5)), AssertionError,
     "was expecting embedding dimension of 4, but got 5"),
    (lambda: nn.MultiheadAttention(4, 2)(tg.zeros(3, 2, 4), tg.zeros(3, 4), tg.zeros(3, 4)), AssertionError,
     "expected `key` and `value` to be 3-D but found 2-D and 2-D"),
    (lambda: nn.MultiheadAttention(4, 2)(tg.zeros(3, 2, 4), tg.zeros(3, 2, 4), tg.zeros(3, 2, 4),
                                         attn_mask=tg.zeros(2, 3)), RuntimeError,
     r"The shape of the 2D attn_mask is \(2, 3\), but should be \(3, 3\)"),
    (lambda: nn.TransformerEncoderLayer(4, 2, activation="tanh"), RuntimeError,
     "activation should be relu/gelu, not tanh"),
])
def test_attention_argument_errors_are_pytorchs(make, error, match):
    with pytest.raises(error, match=match):
        make()


# ---------------------------------------------------------------------------------------------------------------
# Transformer layers
# ---------------------------------------------------------------------------------------------------------------
def tanh(x):
    """An activation given as a callable (the Tensor method exists in both libraries)."""
    return x.tanh()


LAYER_OPTIONS = [{}, {"norm_first": True}, {"activation": "gelu", "batch_first": True}, {"bias": False},
                 {"layer_norm_eps": 1e-3, "dropout": 0.0}, {"activation": tanh}]


def layer_id(options):
    return ",".join(f"{k}={getattr(v, '__name__', v)}" for k, v in options.items()) or "default"


def sequence_masks(device, L=4, N=2, dtype=np.float64):
    """A causal mask (L, L) and a key padding mask (N, L), both float (-inf = may not attend; PyTorch warns when
    the two kinds are mixed), as torch tensors and ours."""
    causal = nn.Transformer.generate_square_subsequent_mask(L, dtype=dtype)
    padding = np.zeros((N, L), dtype)
    padding[1, -1] = -np.inf
    return pair(causal.numpy(), device, requires_grad=False), pair(padding, device, requires_grad=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", LAYER_OPTIONS, ids=layer_id)
def test_encoder_layer_matches_torch(options, dtype, device):
    theirs, ours = twins(lambda nn: nn.TransformerEncoderLayer(4, 2, 8, **options),
                         lambda nn: nn.TransformerEncoderLayer(4, 2, 8, **options), dtype, device)
    tx, x = pair(random((2, 4, 4) if options.get("batch_first") else (4, 2, 4), dtype, 1), device)
    (tc, c), (tp, p) = sequence_masks(device, dtype=dtype)
    compare(theirs(tx, src_mask=tc, src_key_padding_mask=tp), ours(x, src_mask=c, src_key_padding_mask=p), dtype,
            (tx,), (x,), theirs, ours)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", LAYER_OPTIONS, ids=layer_id)
def test_decoder_layer_matches_torch(options, dtype, device):
    theirs, ours = twins(lambda nn: nn.TransformerDecoderLayer(4, 2, 8, **options),
                         lambda nn: nn.TransformerDecoderLayer(4, 2, 8, **options), dtype, device)
    shapes = [(2, 4, 4), (2, 5, 4)] if options.get("batch_first") else [(4, 2, 4), (5, 2, 4)]
    (tx, x), (tm, m) = (pair(random(shape, dtype, seed), device) for seed, shape in enumerate(shapes))
    (tc, c), (tp, p) = sequence_masks(device, dtype=dtype)
    memory_padding = np.zeros((2, 5), bool)
    memory_padding[0, -2:] = True
    (tmp, mp) = pair(memory_padding, device)
    expected = theirs(tx, tm, tgt_mask=tc, tgt_key_padding_mask=tp, memory_key_padding_mask=tmp)
    actual = ours(x, m, tgt_mask=c, tgt_key_padding_mask=p, memory_key_padding_mask=mp)
    compare(expected, actual, dtype, (tx, tm), (x, m), theirs, ours)


def test_encoder_and_decoder_stacks_copy_their_layer(device):
    theirs, ours = twins(
        lambda nn: nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8), 2, norm=nn.LayerNorm(4),
                                         enable_nested_tensor=False),
        lambda nn: nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8), 2, norm=nn.LayerNorm(4)),
        np.float64, device)
    assert "layers.1.self_attn.in_proj_weight" in ours.state_dict()
    assert ours.layers[0].linear1.weight is not ours.layers[1].linear1.weight
    tx, x = pair(random((4, 2, 4), np.float64, 1), device)
    (tc, c), (tp, p) = sequence_masks(device)
    compare(theirs(tx, mask=tc, src_key_padding_mask=tp), ours(x, mask=c, src_key_padding_mask=p), np.float64,
            (tx,), (x,), theirs, ours)

    theirs, ours = twins(lambda nn: nn.TransformerDecoder(nn.TransformerDecoderLayer(4, 2, 8), 2),
                         lambda nn: nn.TransformerDecoder(nn.TransformerDecoderLayer(4, 2, 8), 2), np.float64, device)
    tm, m = pair(random((5, 2, 4), np.float64, 2), device)
    compare(theirs(tx, tm, tgt_mask=tc), ours(x, m, tgt_mask=c), np.float64, (tx, tm), (x, m), theirs, ours)

    layer = nn.TransformerEncoderLayer(4, 2, 8)
    stack = nn.TransformerEncoder(layer, 2)
    stack.layers[0].linear1.weight.data.array[...] = 0
    assert layer.linear1.weight.numpy().any() and stack.layers[1].linear1.weight.numpy().any()
    assert copy.deepcopy(layer).activation is layer.activation


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", [{}, {"batch_first": True, "norm_first": True}])
def test_transformer_matches_torch(options, dtype, device):
    sizes = {"d_model": 4, "nhead": 2, "num_encoder_layers": 2, "num_decoder_layers": 2, "dim_feedforward": 8}
    theirs, ours = twins(lambda nn: nn.Transformer(**sizes, **options), lambda nn: nn.Transformer(**sizes, **options),
                         dtype, device)
    N, S, T = 2, 5, 4
    batch_first = options.get("batch_first")
    (ts, s), (tt, t) = (pair(random((N, length, 4) if batch_first else (length, N, 4), dtype, seed), device)
                        for seed, length in [(1, S), (2, T)])
    (tc, c), (tp, p) = sequence_masks(device, L=T, dtype=dtype)
    src_padding = np.zeros((N, S), dtype)
    src_padding[0, -2:] = -np.inf
    tsp, sp = pair(src_padding, device)
    expected = theirs(ts, tt, tgt_mask=tc, src_key_padding_mask=tsp, tgt_key_padding_mask=tp,
                      memory_key_padding_mask=tsp)
    actual = ours(s, t, tgt_mask=c, src_key_padding_mask=sp, tgt_key_padding_mask=p, memory_key_padding_mask=sp)
    compare(expected, actual, dtype, (ts, tt), (s, t), theirs, ours)


def test_transformer_init_names_mask_and_errors():
    torch = import_torch()
    sizes = {"d_model": 4, "nhead": 2, "num_encoder_layers": 1, "num_decoder_layers": 1, "dim_feedforward": 8}
    model = nn.Transformer(**sizes)
    assert list(model.state_dict()) == list(torch.nn.Transformer(**sizes).state_dict())
    bound = np.sqrt(6 / (8 + 4))  # xavier_uniform_ on every matrix, here linear1.weight (8, 4)
    assert np.abs(model.encoder.layers[0].linear1.weight.numpy()).max() <= bound
    assert not model.encoder.layers[0].self_attn.in_proj_bias.numpy().any()
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    assert mask.dtype == np.float32
    assert np.array_equal(mask.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(tg.zeros(5, 2, 4), tg.zeros(4, 3, 4))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        model(tg.zeros(5, 2, 4), tg.zeros(4, 2, 6))


@pytest.mark.parametrize("separate", [False, True], ids=["in-proj", "separate-proj"])
def test_multi_head_attention_forward_called_directly_matches_torch(separate, device):
    """F.multi_head_attention_forward with the weights passed in, as code that keeps its own weights calls it:
    outputs, per-head weights and the gradients of every weight and input agree with PyTorch's."""
    torch = import_torch()
    E, H, L, S, N = 4, 2, 3, 5, 2
    kdim = 3 if separate else E
    rng = np.random.default_rng(0)
    names = (["q_proj_weight", "k_proj_weight", "v_proj_weight"] if separate else ["in_proj_weight"]) + [
        "in_proj_bias", "bias_k", "bias_v", "out_proj_weight", "out_proj_bias"]
    shapes = {"in_proj_weight": (3 * E, E), "q_proj_weight": (E, E), "k_proj_weight": (E, kdim),
              "v_proj_weight": (E, kdim), "in_proj_bias": (3 * E,), "bias_k": (1, 1, E), "bias_v": (1, 1, E),
              "out_proj_weight": (E, E), "out_proj_bias": (E,)}
    arrays = {name: rng.standard_normal(shapes[name]) * 0.5 for name in names}
    arrays.update(query=rng.standard_normal((L, N, E)), key=rng.standard_normal((S, N, kdim)),
                  value=rng.standard_normal((S, N, kdim)))
    ours = {name: tensor(a, device, requires_grad=True) for name, a in arrays.items()}
    theirs = {name: torch_tensor(a, requires_grad=True) for name, a in arrays.items()}
    padding = np.zeros((N, S), dtype=bool)
    padding[1, -2:] = True

    def call(lib, t, mask):
        return lib.nn.functional.multi_head_attention_forward(
            t["query"], t["key"], t["value"], E, H, t.get("in_proj_weight"), t["in_proj_bias"], t["bias_k"],
            t["bias_v"], True, 0.0, t["out_proj_weight"], t["out_proj_bias"], training=True, key_padding_mask=mask,
            need_weights=True, use_separate_proj_weight=separate, q_proj_weight=t.get("q_proj_weight"),
            k_proj_weight=t.get("k_proj_weight"), v_proj_weight=t.get("v_proj_weight"), average_attn_weights=False)

    out, weights = call(tg, ours, tensor(padding, device))
    expected_out, expected_weights = call(torch, theirs, torch.tensor(padding))
    assert weights.shape == (N, H, L, S + 2)  # bias_k and the zero key: two more positions
    assert_close(out, expected_out)
    assert_close(weights, expected_weights)
    upstream = rng.standard_normal((L, N, E))
    (out * tensor(upstream, device)).sum().backward()
    (expected_out * torch.tensor(upstream)).sum().backward()
    for name in ours:
        assert_close(ours[name].grad, theirs[name].grad, what=f"grad of {name}")


@pytest.mark.parametrize("is_causal", [False, True])
def test_grouped_query_attention_matches_torch(is_causal, device):
    """enable_gqa: 6 query heads share 2 key/value heads (3 each); values and gradients as PyTorch's."""
    torch = import_torch()
    (tq, q), (tk, k), (tv, v) = (pair(random(shape, np.float64, seed), device)
                                 for seed, shape in enumerate([(2, 6, 4, 3), (2, 2, 5, 3), (2, 2, 5, 3)]))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal, enable_gqa=True)
    expected = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=is_causal, enable_gqa=True)
    compare(expected, out, np.float64, (tq, tk, tv), (q, k, v))
    with pytest.raises(RuntimeError, match="must divide the query's"):
        F.scaled_dot_product_attention(q, k[:, :1].expand(2, 4, 5, 3), v, enable_gqa=True)
