"""The convolution and pooling variants real PyTorch models use: grouped and dilated convolution (MobileNet's
depthwise blocks), transposed convolution (DCGAN's generator), ceil_mode and count_include_pad pooling (SqueezeNet),
and F.interpolate / nn.Upsample. Each is checked three ways: against the loop reference beside it
(conv2d_simple, conv_transpose2d_simple), with gradcheck in float64, and against PyTorch.
"""
import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
import tinygrad_bn.nn.functional as F
from tinygrad_bn import gradcheck
from tinygrad_bn.kernels.layout import is_channel_major
from tinygrad_bn.nn.functional.conv import conv2d_simple
from tinygrad_bn.nn.functional.conv_transpose import conv_transpose2d_simple
from conftest import assert_close, import_torch, tensor, torch_tensor


def run_both(ours_fn, torch_fn, arrays, device, seed=0):
    """ours_fn(*Tensors) and torch_fn(*torch tensors) on the same arrays (None stays None), then backward with
    the same random upstream gradient; returns (our out, torch out, [(our grad, torch grad)])."""
    torch = import_torch()
    ours = [None if a is None else tensor(a, device, requires_grad=True) for a in arrays]
    theirs = [None if a is None else torch_tensor(a, requires_grad=True) for a in arrays]
    out, expected = ours_fn(*ours), torch_fn(*theirs)
    g = np.random.default_rng(seed).standard_normal(tuple(expected.shape)).astype(arrays[0].dtype)
    out.backward(tensor(g, device))
    expected.backward(torch.tensor(g))
    return out, expected, [(o.grad, t.grad) for o, t in zip(ours, theirs) if o is not None]


def assert_matches_torch(out, expected, grads, rtol=1e-9, atol=1e-11):
    assert_close(out, expected, rtol=rtol, atol=atol, what="output")
    for k, (mine, theirs) in enumerate(grads):
        assert_close(mine, theirs, rtol=rtol, atol=atol, what=f"gradient of input {k}")


# ---------------------------------------------------------------------------------------------------------------
# conv2d: groups and dilation
# ---------------------------------------------------------------------------------------------------------------
CONV_CASES = [  # (x shape, weight shape, stride, padding, dilation, groups, bias)
    ((2, 4, 9, 8), (6, 2, 3, 3), 1, 1, 1, 2, True),           # two groups
    ((2, 6, 7, 7), (6, 1, 3, 3), 1, 1, 1, 6, False),          # depthwise (MobileNet)
    ((2, 6, 9, 9), (12, 1, 3, 3), 2, 1, 1, 6, True),          # depthwise with a channel multiplier, strided
    ((2, 3, 10, 9), (4, 3, 3, 3), 1, 2, 2, 1, True),          # dilated
    ((1, 4, 11, 9), (6, 2, 3, 2), (2, 1), (2, 1), (2, 3), 2, True),   # everything at once, unequal pairs
    ((2, 3, 8, 8), (6, 3, 2, 2), 1, "same", 1, 1, True),      # "same" with an even kernel: odd padding
    ((2, 4, 8, 7), (4, 2, 3, 3), 1, "same", 2, 2, False),     # "same" with dilation
    ((2, 4, 8, 7), (4, 4, 3, 3), 2, "valid", 1, 1, True),
    ((1, 2, 3, 3), (2, 2, 3, 3), 1, "same", 2, 1, False),     # "same" with a filter wider than the image
]
CONV_IDS = ["groups2", "depthwise", "depthwise_x2_stride2", "dilation2", "mixed", "same_even", "same_dilated",
            "valid", "same_wide"]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups, bias", CONV_CASES, ids=CONV_IDS)
def test_conv2d_matches_torch(x_shape, w_shape, stride, padding, dilation, groups, bias, device):
    torch = import_torch()
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[0]) if bias else None]
    out, expected, grads = run_both(
        lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups),
        lambda x, w, b: torch.nn.functional.conv2d(x, w, b, stride, padding, dilation, groups), arrays, device)
    assert_matches_torch(out, expected, grads)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups, bias",
                         [c for c in CONV_CASES if not isinstance(c[3], str)],
                         ids=[i for c, i in zip(CONV_CASES, CONV_IDS) if not isinstance(c[3], str)])
def test_conv2d_matches_the_loop_reference(x_shape, w_shape, stride, padding, dilation, groups, bias):
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out = F.conv2d(tg.Tensor(x), tg.Tensor(w), tg.Tensor(b) if bias else None, stride, padding, dilation, groups)
    expected = conv2d_simple(tg.Tensor(x), tg.Tensor(w), tg.Tensor(b) if bias else None, stride, padding, dilation,
                             groups)
    assert_close(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reference, fused, x_shape, w_shape, options", [
    (conv2d_simple, F.conv2d, (2, 4, 7, 6), (6, 2, 3, 2), dict(stride=2, padding=1, dilation=2, groups=2)),
    (conv_transpose2d_simple, F.conv_transpose2d, (2, 4, 4, 3), (4, 3, 3, 2),
     dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1)),
])
def test_the_composed_references_have_the_fused_ops_gradients(reference, fused, x_shape, w_shape, options):
    """conv2d_simple and conv_transpose2d_simple are Tensor-op compositions: autograd differentiates them op by op,
    and those gradients equal the fused ops' analytic ones."""
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    grads = []
    for op in (reference, fused):
        xt, wt = tg.Tensor(x, requires_grad=True), tg.Tensor(w, requires_grad=True)
        out = op(xt, wt, None, **options)
        out.backward(tg.Tensor(np.cos(np.arange(out.numel())).reshape(out.shape)))
        grads.append((out.numpy(), xt.grad.numpy(), wt.grad.numpy()))
    for name, composed, analytic in zip(("output", "dx", "dW"), *grads):
        assert_close(analytic, composed, rtol=1e-10, atol=1e-12, what=name)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", [
    ((2, 4, 6, 5), (4, 1, 3, 3), 1, 1, 1, 4),
    ((1, 4, 7, 6), (2, 2, 2, 3), (2, 1), 1, (2, 1), 2),
    ((1, 2, 6, 6), (2, 2, 2, 2), 1, "same", 3, 1),
])
def test_conv2d_gradcheck(x_shape, w_shape, stride, padding, dilation, groups):
    rng = np.random.default_rng(3)
    inputs = [tg.Tensor(rng.standard_normal(s), requires_grad=True) for s in (x_shape, w_shape, w_shape[:1])]
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups), inputs)


def test_grouped_output_is_stored_channel_major_like_the_plain_op():
    """Groups are joined along the channels in the layout the ungrouped op produces (see kernels/layout.py)."""
    rng = np.random.default_rng(4)
    x = tg.Tensor(rng.standard_normal((2, 4, 6, 6)))
    for groups in (1, 2, 4):
        out = F.conv2d(x, tg.Tensor(rng.standard_normal((8, 4 // groups, 3, 3))), groups=groups)
        assert is_channel_major(out.array)


def test_float32_grouped_and_dilated_stay_float32(device):
    rng = np.random.default_rng(5)
    x = tensor(rng.standard_normal((2, 4, 8, 8)).astype(np.float32), device, requires_grad=True)
    w = tensor(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), device, requires_grad=True)
    out = F.conv2d(x, w, padding=2, dilation=2, groups=2)
    out.sum().backward()
    assert out.dtype == x.grad.dtype == w.grad.dtype == np.float32


@pytest.mark.parametrize("call, words", [
    (lambda: F.conv2d(tg.zeros(1, 3, 5, 5), tg.zeros(4, 1, 3, 3), groups=2), "divisible|does not divide|channels"),
    (lambda: F.conv2d(tg.zeros(1, 4, 5, 5), tg.zeros(4, 1, 3, 3), groups=2), r"\(1, 4, 5, 5\).*\(4, 1, 3, 3\)"),
    (lambda: F.conv2d(tg.zeros(1, 4, 5, 5), tg.zeros(4, 2, 3, 3), groups=0), "groups"),
    (lambda: F.conv2d(tg.zeros(1, 4, 5, 5), tg.zeros(4, 4, 3, 3), stride=2, padding="same"), "strided"),
    (lambda: F.conv2d(tg.zeros(1, 4, 5, 5), tg.zeros(4, 4, 3, 3), padding="full"), "valid"),
    (lambda: F.conv2d(tg.zeros(1, 4, 5, 5), tg.zeros(4, 4, 3, 3), dilation=3), "larger than"),
])
def test_conv2d_errors_name_the_problem(call, words):
    with pytest.raises(ValueError, match=words):
        call()


# ---------------------------------------------------------------------------------------------------------------
# conv_transpose2d
# ---------------------------------------------------------------------------------------------------------------
TRANSPOSE_CASES = [  # (x shape, weight shape, stride, padding, output_padding, groups, dilation, bias)
    ((2, 4, 5, 4), (4, 6, 4, 4), 2, 1, 0, 1, 1, True),        # DCGAN's upsampling layer
    ((2, 16, 1, 1), (16, 8, 4, 4), 1, 0, 0, 1, 1, False),     # DCGAN's first layer: a vector to a 4x4 image
    ((2, 4, 5, 4), (4, 3, 3, 3), 2, 1, 1, 2, 1, True),        # output_padding, groups
    ((2, 4, 5, 6), (4, 1, 3, 3), 1, 1, 0, 4, 2, True),        # depthwise, dilated
    ((1, 3, 4, 5), (3, 2, 3, 2), (3, 2), (2, 0), (2, 1), 1, 1, True),   # unequal pairs
    ((2, 3, 6, 6), (3, 4, 3, 3), 1, 1, 0, 1, 1, True),        # stride 1: the fast path is a convolution
    ((1, 2, 6, 6), (2, 2, 2, 2), 1, 2, 0, 1, 1, False),       # padding >= kernel: cropped more than painted
    ((1, 2, 4, 4), (2, 3, 3, 3), 3, 3, 0, 1, 1, True),
]
TRANSPOSE_IDS = ["dcgan_up", "dcgan_first", "output_padding_groups", "depthwise_dilated", "pairs", "stride1",
                 "wide_padding_stride1", "wide_padding_stride3"]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, output_padding, groups, dilation, bias",
                         TRANSPOSE_CASES, ids=TRANSPOSE_IDS)
def test_conv_transpose2d_matches_torch(x_shape, w_shape, stride, padding, output_padding, groups, dilation, bias,
                                        device):
    torch = import_torch()
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[1] * groups) if bias else None]
    out, expected, grads = run_both(
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation),
        lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, stride, padding, output_padding, groups,
                                                             dilation), arrays, device)
    assert_matches_torch(out, expected, grads)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, output_padding, groups, dilation, bias",
                         TRANSPOSE_CASES, ids=TRANSPOSE_IDS)
def test_conv_transpose2d_matches_the_loop_reference(x_shape, w_shape, stride, padding, output_padding, groups,
                                                     dilation, bias):
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[1] * groups)
    b = b if bias else None
    out = F.conv_transpose2d(tg.Tensor(x), tg.Tensor(w), None if b is None else tg.Tensor(b), stride, padding,
                             output_padding, groups, dilation)
    expected = conv_transpose2d_simple(tg.Tensor(x), tg.Tensor(w), None if b is None else tg.Tensor(b), stride, padding,
                                       output_padding, groups, dilation)
    assert_close(out, expected, rtol=1e-10, atol=1e-12)


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    """<conv2d(y), x> == <y, conv_transpose2d(x)> for the same weight: the transposed convolution is exactly the
    input-gradient map of the convolution."""
    rng = np.random.default_rng(8)
    w = rng.standard_normal((6, 4, 3, 3))                    # conv2d: 4 -> 6 channels; transposed: 6 -> 4
    y, x = rng.standard_normal((2, 4, 9, 9)), rng.standard_normal((2, 6, 5, 5))
    conv_y = F.conv2d(tg.Tensor(y), tg.Tensor(w), stride=2, padding=1).numpy()
    transposed_x = F.conv_transpose2d(tg.Tensor(x), tg.Tensor(w), stride=2, padding=1).numpy()
    assert transposed_x.shape == y.shape
    assert np.isclose((conv_y * x).sum(), (y * transposed_x).sum(), rtol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, output_padding, groups, dilation", [
    ((1, 2, 3, 3), (2, 3, 3, 3), 2, 1, 1, 1, 1),
    ((2, 4, 3, 2), (4, 1, 2, 3), 1, 0, 0, 2, (2, 1)),
])
def test_conv_transpose2d_gradcheck(x_shape, w_shape, stride, padding, output_padding, groups, dilation):
    rng = np.random.default_rng(9)
    shapes = (x_shape, w_shape, (w_shape[1] * groups,))
    inputs = [tg.Tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation),
                     inputs)


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.conv_transpose2d(tg.zeros(1, 3, 4, 4), tg.zeros(4, 2, 3, 3)), ValueError, r"\(1, 3, 4, 4\)"),
    (lambda: F.conv_transpose2d(tg.zeros(1, 4, 4, 4), tg.zeros(4, 2, 3, 3), stride=2, output_padding=2),
     ValueError, "output padding must be smaller"),
    (lambda: F.conv_transpose2d(tg.zeros(1, 4, 4, 4), tg.zeros(4, 2, 3, 3), dilation=3, output_padding=2),
     NotImplementedError, "output_padding"),
    (lambda: F.conv_transpose2d(tg.zeros(1, 4, 1, 1), tg.zeros(4, 2, 3, 3), padding=2), ValueError, "too small"),
])
def test_conv_transpose2d_errors(call, error, words):
    with pytest.raises(error, match=words):
        call()


# ---------------------------------------------------------------------------------------------------------------
# the layers: nn.Conv2d(groups, dilation, padding) and nn.ConvTranspose2d against PyTorch's twins
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, args, kwargs", [
    ("Conv2d", (4, 6, 3), dict(stride=2, padding=2, dilation=2, groups=2)),
    ("Conv2d", (6, 6, 3), dict(padding=1, groups=6, bias=False)),
    ("Conv2d", (4, 8, (2, 3)), dict(padding="same", dilation=(1, 2))),
    ("ConvTranspose2d", (4, 6, 4), dict(stride=2, padding=1, bias=False)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1)),
    ("ConvTranspose2d", (4, 4, 3), dict(groups=4, dilation=2)),
])
def test_layers_match_torch(name, args, kwargs, device):
    torch = import_torch()
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    ours = getattr(nn, name)(*args, **kwargs).double()
    assert repr(ours) == repr(theirs)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: tuple(v.shape)
                                                                 for k, v in theirs.state_dict().items()}
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.to(device)
    x = np.random.default_rng(10).standard_normal((2, args[0], 7, 6))
    out, expected, grads = run_both(ours, theirs, [x], device)
    assert_matches_torch(out, expected, grads)
    for (key, p), q in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad, rtol=1e-9, atol=1e-11, what=f"gradient of {key}")


@pytest.mark.parametrize("name, args, kwargs, fan_in", [
    ("Conv2d", (8, 12, 3), dict(groups=4), 2 * 9),
    ("ConvTranspose2d", (8, 12, 4), dict(groups=2), 6 * 16),
])
def test_layer_init_uses_the_grouped_fan_in(name, args, kwargs, fan_in):
    """PyTorch's init: kaiming_uniform_(a=sqrt(5)) gives W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and so does b."""
    tg.manual_seed(0)
    layer = getattr(nn, name)(*args, **kwargs)
    bound = 1 / np.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        values = p.numpy()
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.8 * bound


def test_layer_rejects_what_it_does_not_support():
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 3, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="divisible"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(NotImplementedError, match="output_size"):
        nn.ConvTranspose2d(2, 2, 3, stride=2)(tg.zeros(1, 2, 3, 3), output_size=(7, 7))


# ---------------------------------------------------------------------------------------------------------------
# pooling: ceil_mode, count_include_pad, divisor_override
# ---------------------------------------------------------------------------------------------------------------
POOL_CASES = [  # (H, W, kernel, stride, padding)
    (7, 7, 3, 2, 0),       # SqueezeNet's MaxPool2d(3, 2, ceil_mode=True): one extra, partial window
    (6, 7, 2, 2, 0),
    (8, 5, 3, 2, 1),       # the last window would start in the right padding: PyTorch drops it
    (5, 9, (3, 2), (2, 3), (1, 0)),
    (6, 6, 4, 3, 2),
]


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("H, W, kernel, stride, padding", POOL_CASES)
def test_max_pool2d_ceil_mode_matches_torch(H, W, kernel, stride, padding, ceil_mode, device):
    torch = import_torch()
    x = np.random.default_rng(11).standard_normal((2, 3, H, W))
    out, expected, grads = run_both(
        lambda x: F.max_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode),
        lambda x: torch.nn.functional.max_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode), [x], device)
    assert_matches_torch(out, expected, grads)


@pytest.mark.parametrize("ceil_mode, count_include_pad, divisor_override", [
    (True, True, None), (False, False, None), (True, False, None), (False, True, 3), (True, True, 5)])
@pytest.mark.parametrize("H, W, kernel, stride, padding", POOL_CASES)
def test_avg_pool2d_options_match_torch(H, W, kernel, stride, padding, ceil_mode, count_include_pad,
                                        divisor_override, device):
    torch = import_torch()
    x = np.random.default_rng(12).standard_normal((2, 3, H, W))
    options = (ceil_mode, count_include_pad, divisor_override)
    out, expected, grads = run_both(lambda x: F.avg_pool2d(x, kernel, stride, padding, *options),
                                    lambda x: torch.nn.functional.avg_pool2d(x, kernel, stride, padding, *options),
                                    [x], device)
    assert_matches_torch(out, expected, grads)


def test_pooling_gradcheck_with_ceil_mode():
    rng = np.random.default_rng(13)
    x = tg.Tensor(rng.standard_normal((1, 2, 7, 6)), requires_grad=True)
    assert gradcheck(lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), [x])
    assert gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), [x])


def test_pool_modules_accept_pytorchs_arguments():
    torch = import_torch()
    x = np.random.default_rng(14).standard_normal((1, 2, 7, 7)).astype(np.float32)
    pairs = [(nn.MaxPool2d(3, 2, ceil_mode=True), torch.nn.MaxPool2d(3, 2, ceil_mode=True)),
             (nn.MaxPool2d(2, dilation=1), torch.nn.MaxPool2d(2, dilation=1)),
             (nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
              torch.nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False))]
    for ours, theirs in pairs:
        assert_close(ours(tg.Tensor(x)), theirs(torch.tensor(x)), rtol=1e-6, atol=1e-6, what=repr(ours))
    assert repr(pairs[0][0]) == repr(pairs[0][1])


def test_unsupported_pooling_options_say_so():
    x = tg.zeros(1, 1, 4, 4)
    with pytest.raises(NotImplementedError, match="return_indices"):
        F.max_pool2d(x, 2, return_indices=True)
    with pytest.raises(NotImplementedError, match="dilation"):
        F.max_pool2d(x, 2, dilation=2)
    with pytest.raises(NotImplementedError, match="return_indices"):
        nn.MaxPool2d(2, return_indices=True)


# ---------------------------------------------------------------------------------------------------------------
# interpolate and Upsample
# ---------------------------------------------------------------------------------------------------------------
RESIZES = [dict(scale_factor=2), dict(size=(9, 4)), dict(scale_factor=1.7), dict(scale_factor=(0.5, 2.5)),
           dict(size=1), dict(scale_factor=(1.2, 2.0)), dict(scale_factor=1.7, recompute_scale_factor=True)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("bilinear", False), ("bilinear", True),
                                                 ("bilinear", None)])
@pytest.mark.parametrize("resize", RESIZES, ids=[str(r) for r in RESIZES])
def test_interpolate_matches_torch(resize, mode, align_corners, dtype, device):
    torch = import_torch()
    x = np.random.default_rng(15).standard_normal((2, 3, 5, 7)).astype(dtype)
    out, expected, grads = run_both(
        lambda x: F.interpolate(x, mode=mode, align_corners=align_corners, **resize),
        lambda x: torch.nn.functional.interpolate(x, mode=mode, align_corners=align_corners, **resize), [x], device)
    assert out.dtype == dtype
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    assert_matches_torch(out, expected, grads, **tolerance)


@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("bilinear", False), ("bilinear", True)])
def test_interpolate_gradcheck(mode, align_corners):
    x = tg.Tensor(np.random.default_rng(16).standard_normal((1, 2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda x: F.interpolate(x, size=(5, 7), mode=mode, align_corners=align_corners), [x])


def test_upsample_modules_match_torch():
    torch = import_torch()
    x = np.random.default_rng(17).standard_normal((1, 2, 4, 5)).astype(np.float32)
    pairs = [(nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
             (nn.Upsample(size=(7, 3), mode="bilinear", align_corners=False),
              torch.nn.Upsample(size=(7, 3), mode="bilinear", align_corners=False)),
             (nn.UpsamplingNearest2d(scale_factor=3), torch.nn.UpsamplingNearest2d(scale_factor=3)),
             (nn.UpsamplingBilinear2d(size=6), torch.nn.UpsamplingBilinear2d(size=6))]
    for ours, theirs in pairs:
        assert_close(ours(tg.Tensor(x)), theirs(torch.tensor(x)), rtol=1e-5, atol=1e-6, what=repr(ours))
    assert repr(pairs[0][0]) == repr(pairs[0][1])


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(), ValueError, "size or scale_factor"),
    (dict(size=4, scale_factor=2), ValueError, "only one"),
    (dict(size=4, align_corners=True), ValueError, "align_corners"),
    (dict(size=4, mode="bicubic"), NotImplementedError, "bicubic"),
])
def test_interpolate_errors(kwargs, error, words):
    with pytest.raises(error, match=words):
        F.interpolate(tg.zeros(1, 1, 2, 2), **kwargs)
