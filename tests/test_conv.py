"""F.conv2d (im2col + one matrix product) against a plain reference convolution, gradcheck and PyTorch.

The reference below is the definition of a convolution written for clarity, one output pixel at a time:

    out[n, o, p, q] = b[o] + sum_{c, i, j} W[o, c, i, j] * x_pad[n, c, p*SH + i, q*SW + j]

and its backward is the same loop read as an adjoint: every output pixel's gradient flows back to the window of
x_pad it was computed from (gx) and to the filter (gW). The fast op must agree with it on every configuration,
whatever the memory layout of the input (channel-major, the layout conv2d itself produces, or NCHW-contiguous)
and however the batch is split into im2col chunks.
"""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
import tinygrad_bn.kernels.conv as im2col_module
from tinygrad_bn import gradcheck
from tinygrad_bn.nn.functional.conv import conv2d_simple
from tinygrad_bn.kernels.layout import is_channel_major
from conftest import assert_close, fast_kernels_only, import_torch, tensor, torch_tensor


# ---------------------------------------------------------------------------------------------------------------
# The references: nested loops over output pixels, NumPy only.
# ---------------------------------------------------------------------------------------------------------------
def pad_hw(x, padding):
    PH, PW = padding
    N, C, H, W = x.shape
    x_pad = np.zeros((N, C, H + 2 * PH, W + 2 * PW), dtype=x.dtype)
    x_pad[:, :, PH:PH + H, PW:PW + W] = x
    return x_pad


def reference_conv2d(x, w, b, stride, padding):
    """The package's own reference, conv2d_simple (the definition, composed from Tensor ops), on raw arrays."""
    return conv2d_simple(*(None if a is None else tg.Tensor(a) for a in (x, w, b)), stride, padding).array


def reference_conv2d_backward(x, w, g, stride, padding):
    """The adjoint of the loop above: gx, gW, gb for the upstream gradient g = dL/dout."""
    (SH, SW), (KH, KW), (PH, PW) = stride, w.shape[2:], padding
    x_pad = pad_hw(x, padding)
    gx_pad, gw = np.zeros_like(x_pad), np.zeros_like(w)
    for p in range(g.shape[2]):
        for q in range(g.shape[3]):
            rows, cols = slice(p * SH, p * SH + KH), slice(q * SW, q * SW + KW)
            gx_pad[:, :, rows, cols] += np.einsum("no,ocij->ncij", g[:, :, p, q], w)
            gw += np.einsum("no,ncij->ocij", g[:, :, p, q], x_pad[:, :, rows, cols])
    gx = gx_pad[:, :, PH:PH + x.shape[2], PW:PW + x.shape[3]]
    return gx, gw, g.sum(axis=(0, 2, 3))


def channel_major_copy(x):
    """The same (N, C, H, W) array, stored with C outermost (the layout conv2d's own outputs have)."""
    return np.ascontiguousarray(x.swapaxes(0, 1)).swapaxes(0, 1)


def as_pair(value):
    return value if isinstance(value, tuple) else (value, value)


def run_fast(x, w, b, stride, padding, g, device, x_requires_grad=True):
    """F.conv2d forward and backward (with upstream gradient g) on `device`; NumPy results."""
    xt = tensor(x, device, requires_grad=x_requires_grad)
    wt = tensor(w, device, requires_grad=True)
    bt = None if b is None else tensor(b, device, requires_grad=True)
    out = F.conv2d(xt, wt, bt, stride=stride, padding=padding)
    out.backward(tensor(g, device))
    grads = [None if t is None or t.grad is None else t.grad.numpy() for t in (xt, wt, bt)]
    return out, grads


def check_against_reference(N, C, OC, H, W, kernel, stride, padding, bias, channel_major, device, seed=0):
    rng = np.random.default_rng(seed)
    (KH, KW) = as_pair(kernel)
    x = rng.standard_normal((N, C, H, W))
    if channel_major:
        x = channel_major_copy(x)
    w = rng.standard_normal((OC, C, KH, KW))
    b = rng.standard_normal(OC) if bias else None
    expected = reference_conv2d(x, w, b, as_pair(stride), as_pair(padding))
    g = rng.standard_normal(expected.shape)
    out, (gx, gw, gb) = run_fast(x, w, b, stride, padding, g, device)
    ref_gx, ref_gw, ref_gb = reference_conv2d_backward(x, w, g, as_pair(stride), as_pair(padding))
    assert_close(out, expected, rtol=1e-10, atol=1e-10, what="output")
    assert_close(gx, ref_gx, rtol=1e-10, atol=1e-10, what="grad of input")
    assert_close(gw, ref_gw, rtol=1e-10, atol=1e-10, what="grad of weight")
    if bias:
        assert_close(gb, ref_gb, rtol=1e-10, atol=1e-10, what="grad of bias")


# ---------------------------------------------------------------------------------------------------------------
# Fast vs reference: every kernel x stride x padding, plus a table of non-square and layout cases.
# ---------------------------------------------------------------------------------------------------------------
SQUARE_CONFIGS = list(itertools.product([1, 2, 3, 5], [1, 2, 3], [0, 1, 2]))


@pytest.mark.parametrize("kernel, stride, padding", SQUARE_CONFIGS,
                         ids=[f"k{k}-s{s}-p{p}" for k, s, p in SQUARE_CONFIGS])
def test_matches_reference_square(kernel, stride, padding, device):
    # Vary the other options across the table so every combination of them is seen somewhere, at no extra cost.
    index = SQUARE_CONFIGS.index((kernel, stride, padding))
    check_against_reference(N=1 + index % 3, C=2, OC=3, H=7, W=8, kernel=kernel, stride=stride, padding=padding,
                            bias=index % 2 == 0, channel_major=index % 4 >= 2, device=device, seed=index)


# (N, C, OC, H, W, kernel, stride, padding, bias, channel_major)
TABLE = [
    (1, 1, 1, 5, 5, 3, 1, 0, False, False),             # the smallest: one channel in, one out
    (2, 3, 4, 6, 9, (2, 3), 1, 0, True, False),          # non-square kernel on a non-square image
    (2, 3, 4, 6, 9, (2, 3), 1, 0, True, True),
    (3, 2, 5, 9, 6, (3, 1), (2, 1), (1, 0), True, True), # every argument a pair, each dimension different
    (2, 2, 3, 7, 10, (1, 5), (1, 3), (0, 2), False, False),
    (2, 2, 3, 10, 7, (5, 2), (3, 2), (2, 1), True, True),
    (4, 3, 2, 4, 4, 4, 1, 0, True, False),               # kernel = image: a 1x1 output (a fully connected layer)
    (2, 4, 3, 3, 3, 5, 1, 1, True, True),                # kernel larger than the image, fitting thanks to padding
    (2, 3, 2, 8, 8, 3, 3, 0, True, False),               # stride = kernel: windows tile the image without overlap
    (1, 3, 2, 9, 9, 2, 3, 0, False, True),               # stride > kernel: some pixels never read (gx = 0 there)
    (5, 1, 6, 5, 4, 1, 1, 0, True, True),                # 1x1 convolution: a per-pixel linear layer
]


@pytest.mark.parametrize("N, C, OC, H, W, kernel, stride, padding, bias, channel_major", TABLE)
def test_matches_reference_table(N, C, OC, H, W, kernel, stride, padding, bias, channel_major, device):
    check_against_reference(N, C, OC, H, W, kernel, stride, padding, bias, channel_major, device)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_matches_reference_random(data):
    """Random shapes within small bounds; each draw is a valid configuration (the kernel fits the padded input)."""
    kernel = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
    padding = (data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2)))
    stride = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    H = data.draw(st.integers(max(1, kernel[0] - 2 * padding[0]), 7))
    W = data.draw(st.integers(max(1, kernel[1] - 2 * padding[1]), 7))
    check_against_reference(N=data.draw(st.integers(1, 3)), C=data.draw(st.integers(1, 3)),
                            OC=data.draw(st.integers(1, 3)), H=H, W=W, kernel=kernel, stride=stride,
                            padding=padding, bias=data.draw(st.booleans()), channel_major=data.draw(st.booleans()),
                            device="cpu")


def test_layouts_give_identical_results(device):
    """Channel-major and NCHW-contiguous copies of one input: bit-for-bit the same output and gradients."""
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((3, 4, 6, 7)), rng.standard_normal((2, 4, 3, 3)), rng.standard_normal(2)
    g = rng.standard_normal((3, 2, 3, 4))
    contiguous = run_fast(x, w, b, 2, 1, g, device)
    x_cm = channel_major_copy(x)
    assert is_channel_major(tensor(x_cm, device).array), "the test must really feed a channel-major array"
    channel_major = run_fast(x_cm, w, b, 2, 1, g, device)
    assert_close(channel_major[0], contiguous[0], rtol=0, atol=0, what="output")
    for name, a, b_ in zip(("x", "weight", "bias"), channel_major[1], contiguous[1]):
        assert_close(a, b_, rtol=0, atol=0, what=f"grad of {name}")
    assert channel_major[1][0].shape == x.shape


def test_output_is_an_nchw_view_stored_channel_major(device):
    x = tensor(np.ones((2, 3, 5, 5)), device)
    out = F.conv2d(x, tensor(np.ones((4, 3, 3, 3)), device))
    assert out.shape == (2, 4, 3, 3)
    assert is_channel_major(out.array)
    # A conv fed the previous conv's output (the layout inside a network) still gives the reference result.
    w2 = np.random.default_rng(0).standard_normal((2, 4, 3, 3))
    expected = reference_conv2d(out.numpy(), w2, None, (1, 1), (1, 1))
    assert_close(F.conv2d(out, tensor(w2, device), padding=1), expected, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# gradcheck (float64) and parity with PyTorch
# ---------------------------------------------------------------------------------------------------------------
GRADCHECK_CASES = [  # (x shape, weight shape, stride, padding, bias)
    ((2, 2, 5, 4), (3, 2, 3, 3), 1, 1, True),
    ((1, 3, 6, 5), (2, 3, 2, 3), (2, 1), (0, 1), True),
    ((2, 1, 4, 6), (2, 1, 3, 2), 3, 2, False),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, bias", GRADCHECK_CASES)
def test_gradcheck(x_shape, w_shape, stride, padding, bias):
    rng = np.random.default_rng(1)
    inputs = [tg.Tensor(rng.standard_normal(x_shape), requires_grad=True),
              tg.Tensor(rng.standard_normal(w_shape), requires_grad=True)]
    if bias:
        inputs.append(tg.Tensor(rng.standard_normal(w_shape[0]), requires_grad=True))
    assert gradcheck(lambda *t: F.conv2d(*t, stride=stride, padding=padding), inputs)


def test_gradcheck_channel_major_input():
    rng = np.random.default_rng(2)
    x = tg.Tensor(channel_major_copy(rng.standard_normal((2, 3, 4, 4))), requires_grad=True)
    w = tg.Tensor(rng.standard_normal((2, 3, 2, 2)), requires_grad=True)
    assert is_channel_major(x.array)
    assert gradcheck(lambda x, w: F.conv2d(x, w, padding=1), [x, w])


TORCH_CASES = [  # (x shape, weight shape, stride, padding, bias)
    ((2, 3, 9, 7), (4, 3, 3, 3), 1, 1, True),
    ((3, 2, 8, 11), (5, 2, 2, 4), (2, 3), (1, 2), True),
    ((1, 4, 6, 6), (2, 4, 5, 5), 1, 2, False),
    ((2, 3, 12, 12), (4, 3, 1, 1), 2, 0, True),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, bias", TORCH_CASES)
def test_matches_torch(x_shape, w_shape, stride, padding, bias, device):
    torch = import_torch()
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if bias else None
    ours = [tensor(a, device, requires_grad=True) for a in (x, w, b) if a is not None]
    theirs = [torch_tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    out = F.conv2d(*ours, stride=stride, padding=padding)
    expected = torch.nn.functional.conv2d(*theirs, stride=stride, padding=padding)
    assert_close(out, expected, rtol=1e-8, atol=1e-12, what="output")
    g = rng.standard_normal(expected.shape)
    out.backward(tensor(g, device))
    expected.backward(torch_tensor(g))
    for name, mine, theirs_ in zip(("input", "weight", "bias"), ours, theirs):
        assert_close(mine.grad, theirs_.grad, rtol=1e-8, atol=1e-11, what=f"grad of {name}")


def test_float32_stays_float32(device):
    rng = np.random.default_rng(4)
    x = tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32), device, requires_grad=True)
    w = tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), device, requires_grad=True)
    b = tensor(rng.standard_normal(4).astype(np.float32), device, requires_grad=True)
    out = F.conv2d(x, w, b, padding=1)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32
    expected = reference_conv2d(x.numpy().astype(np.float64), w.numpy().astype(np.float64),
                                b.numpy().astype(np.float64), (1, 1), (1, 1))
    assert_close(out, expected, rtol=1e-4, atol=1e-5)


def test_first_layer_input_without_grad(device):
    """The network's input image needs no gradient: it gets none, and the weight's gradient is still right."""
    rng = np.random.default_rng(6)
    x, w, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    g = rng.standard_normal((2, 4, 3, 3))
    out, (gx, gw, gb) = run_fast(x, w, b, 2, 1, g, device, x_requires_grad=False)
    assert gx is None
    _, ref_gw, ref_gb = reference_conv2d_backward(x, w, g, (2, 2), (1, 1))
    assert_close(gw, ref_gw, rtol=1e-10, atol=1e-10, what="grad of weight")
    assert_close(gb, ref_gb, rtol=1e-10, atol=1e-10, what="grad of bias")


def test_only_the_input_requires_grad(device):
    """Frozen filters: the input still gets its gradient, and the weight none."""
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    xt, wt = tensor(x, device, requires_grad=True), tensor(w, device)
    g = rng.standard_normal((2, 3, 3, 3))
    F.conv2d(xt, wt).backward(tensor(g, device))
    assert wt.grad is None
    assert_close(xt.grad, reference_conv2d_backward(x, w, g, (1, 1), (0, 0))[0], rtol=1e-10, atol=1e-10)


@fast_kernels_only
@pytest.mark.parametrize("chunk_columns, workers, expected_chunks", [
    (1, 1, [1] * 5), (25, 1, [1] * 5), (60, 1, [2, 2, 1]), (10**6, 1, [5]), (10**6, 2, [3, 2]), (60, 2, [2, 2, 1])],
    ids=["one-image", "exactly-one-image", "uneven", "whole-batch", "one-chunk-per-core", "parallel-uneven"])
def test_image_chunking_gives_the_same_result(chunk_columns, workers, expected_chunks, monkeypatch):
    """CPU im2col runs a few images at a time, at least one chunk per core; any split of the batch must give the
    same numbers (5x5 outputs: 25 columns per image, so 60 gives chunks of 2, 2, 1 images)."""
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal((5, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    g = rng.standard_normal((5, 4, 5, 5))
    calls, original_im2col = [], im2col_module.im2col

    def counting_im2col(x, *args):
        calls.append(x.shape[0])  # the number of images in this chunk
        return original_im2col(x, *args)

    monkeypatch.setattr(im2col_module, "im2col", counting_im2col)
    monkeypatch.setattr(im2col_module, "CHUNK_COLUMNS", chunk_columns)
    monkeypatch.setattr(im2col_module, "WORKERS", workers)
    out, (gx, gw, gb) = run_fast(x, w, b, 1, 0, g, "cpu")
    # chunks run on several threads, so they may finish in any order
    assert sorted(calls) == sorted(expected_chunks * 2), "forward and backward should each walk the batch in these chunks"
    ref_gx, ref_gw, ref_gb = reference_conv2d_backward(x, w, g, (1, 1), (0, 0))
    assert_close(out, reference_conv2d(x, w, b, (1, 1), (0, 0)), rtol=1e-10, atol=1e-10, what="output")
    assert_close(gx, ref_gx, rtol=1e-10, atol=1e-10, what="grad of input")
    assert_close(gw, ref_gw, rtol=1e-10, atol=1e-10, what="grad of weight")
    assert_close(gb, ref_gb, rtol=1e-10, atol=1e-10, what="grad of bias")


# ---------------------------------------------------------------------------------------------------------------
# Errors: clear ValueErrors that name what is wrong
# ---------------------------------------------------------------------------------------------------------------
def zeros(*shape):
    return tg.zeros(*shape, dtype=tg.float64)


def test_channel_mismatch_names_both_shapes():
    with pytest.raises(ValueError) as info:
        F.conv2d(zeros(2, 3, 8, 8), zeros(4, 5, 3, 3))
    message = str(info.value)
    assert "(2, 3, 8, 8)" in message and "(4, 5, 3, 3)" in message


@pytest.mark.parametrize("x_shape, w_shape, padding", [
    ((1, 1, 4, 4), (1, 1, 5, 5), 0),
    ((1, 1, 4, 9), (1, 1, 5, 3), 0),  # too tall only
    ((1, 1, 2, 2), (1, 1, 7, 7), 2),  # padding helps, not enough
])
def test_kernel_larger_than_input(x_shape, w_shape, padding):
    with pytest.raises(ValueError, match="larger than"):
        F.conv2d(zeros(*x_shape), zeros(*w_shape), padding=padding)


@pytest.mark.parametrize("stride", [0, -1, (1, 0), (1, 2, 3), (1.5, 1), 1.5])
def test_bad_stride(stride):
    with pytest.raises(ValueError, match="stride"):
        F.conv2d(zeros(1, 1, 5, 5), zeros(1, 1, 3, 3), stride=stride)


@pytest.mark.parametrize("padding", [-1, (0, -2), (1,)])
def test_bad_padding(padding):
    with pytest.raises(ValueError, match="padding"):
        F.conv2d(zeros(1, 1, 5, 5), zeros(1, 1, 3, 3), padding=padding)


@pytest.mark.parametrize("x_shape, w_shape, b_shape, words", [
    ((3, 8, 8), (4, 3, 3, 3), None, "4D"),
    ((1, 3, 8, 8), (4, 3, 3), None, "4D"),
    ((1, 3, 8, 8), (4, 3, 3, 3), (3,), "bias"),
])
def test_bad_ranks_and_bias(x_shape, w_shape, b_shape, words):
    bias = None if b_shape is None else zeros(*b_shape)
    with pytest.raises(ValueError, match=words):
        F.conv2d(zeros(*x_shape), zeros(*w_shape), bias)
