"""1-D layers, padding modes and image ops, all composed from existing ops (no backward of their own):

- conv1d / Conv1d, max_pool1d, avg_pool1d, adaptive_avg_pool1d: the 2-D ops on (N, C, 1, L) views;
- F.pad modes "reflect", "replicate", "circular" (a gather), the padding layers, Conv1d/Conv2d padding_mode;
- pixel_shuffle / pixel_unshuffle (reshape + permute), instance_norm / InstanceNorm1d/2d, unfold / fold.

Each is compared with PyTorch (outputs and every gradient, float32 and float64), gradchecked in float64 where the
composition is new, and its errors are checked to name the bad value or shape.
"""
import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
import tinygrad_bn.nn.functional as F
from tinygrad_bn import gradcheck
from conftest import assert_close, import_torch, tensor, torch_tensor

DTYPES = [np.float32, np.float64]


def tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


def assert_same_as_torch(ours_fn, torch_fn, arrays, device="cpu", seed=0):
    """ours_fn(*Tensors) and torch_fn(*torch tensors) on the same arrays (None stays None) agree, and so do the
    gradients of every array after backward with the same random upstream gradient."""
    torch = import_torch()
    ours = [None if a is None else tensor(a, device, requires_grad=True) for a in arrays]
    theirs = [None if a is None else torch_tensor(a, requires_grad=True) for a in arrays]
    out, expected = ours_fn(*ours), torch_fn(*theirs)
    dtype = arrays[0].dtype
    assert out.dtype == dtype
    assert_close(out, expected, **tolerance(dtype), what="output")
    g = np.random.default_rng(seed).standard_normal(tuple(expected.shape)).astype(dtype)
    out.backward(tensor(g, device))
    expected.backward(torch.tensor(g))
    for k, (mine, reference) in enumerate(zip(ours, theirs)):
        if mine is not None:
            assert_close(mine.grad, reference.grad, **tolerance(dtype), what=f"gradient of input {k}")


def copy_parameters(ours, theirs):
    """Give our module the PyTorch module's parameters and buffers (state_dict keys must match)."""
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert set(ours.state_dict()) == set(state)
    ours.load_state_dict(state)


# ---------------------------------------------------------------------------------------------------------------
# conv1d and Conv1d
# ---------------------------------------------------------------------------------------------------------------
CONV1D_CASES = [  # (x shape, weight shape, stride, padding, dilation, groups, bias)
    ((2, 3, 9), (4, 3, 3), 1, 0, 1, 1, True),
    ((2, 4, 10), (6, 2, 3), 2, 1, 1, 2, False),        # groups, strided, padded
    ((2, 3, 11), (4, 3, 3), 1, 2, 2, 1, True),         # dilated
    ((1, 4, 8), (4, 1, 4), 1, "same", 1, 4, True),     # depthwise, "same" with an even kernel (odd padding)
    ((2, 3, 9), (2, 3, 3), 1, "same", 3, 1, False),    # "same" with dilation
    ((2, 3, 9), (2, 3, 2), 3, "valid", 1, 1, True),
    ((3, 7), (2, 3, 3), (2,), (1,), (1,), 1, True),    # unbatched (C, L), 1-tuples
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")   # PyTorch's note on its own copy
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups, bias", CONV1D_CASES)
def test_conv1d_matches_torch(x_shape, w_shape, stride, padding, dilation, groups, bias, dtype, device):
    torch = import_torch()
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype),
              rng.standard_normal(w_shape[0]).astype(dtype) if bias else None]
    assert_same_as_torch(lambda x, w, b: F.conv1d(x, w, b, stride, padding, dilation, groups),
                         lambda x, w, b: torch.nn.functional.conv1d(x, w, b, stride, padding, dilation, groups),
                         arrays, device)


def test_conv1d_gradcheck():
    rng = np.random.default_rng(2)
    x, w, b = (tg.Tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 4, 7), (4, 2, 3), (4,)))
    assert gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2), [x, w, b])


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [2, "same", "valid"])
def test_conv1d_layer_matches_torch(padding, padding_mode):
    torch = import_torch()
    ours = nn.Conv1d(3, 4, 3, padding=padding, dilation=2, padding_mode=padding_mode, dtype=tg.float64)
    theirs = torch.nn.Conv1d(3, 4, 3, padding=padding, dilation=2, padding_mode=padding_mode, dtype=torch.float64)
    assert ours.weight.shape == (4, 3, 3) and list(ours.state_dict()) == ["weight", "bias"]
    assert repr(ours) == repr(theirs)
    copy_parameters(ours, theirs)
    x = np.random.default_rng(3).standard_normal((2, 3, 8))
    assert_same_as_torch(ours, theirs, [x])
    assert_close(ours.weight.grad, theirs.weight.grad, what="weight gradient")
    assert_close(ours.bias.grad, theirs.bias.grad, what="bias gradient")


def test_conv1d_layer_init_and_repr():
    torch = import_torch()
    tg.manual_seed(0)
    layer = nn.Conv1d(4, 6, 5, stride=2, groups=2, bias=False)
    bound = 1 / np.sqrt(2 * 5)      # fan_in = in_channels / groups * kernel_size
    assert layer.bias is None and 0.8 * bound < np.abs(layer.weight.numpy()).max() <= bound
    assert repr(layer) == repr(torch.nn.Conv1d(4, 6, 5, stride=2, groups=2, bias=False))


@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [(1, 2), "same"])
def test_conv2d_padding_mode_matches_torch(padding, padding_mode):
    torch = import_torch()
    ours = nn.Conv2d(2, 3, (3, 2), padding=padding, padding_mode=padding_mode, dtype=tg.float64)
    theirs = torch.nn.Conv2d(2, 3, (3, 2), padding=padding, padding_mode=padding_mode, dtype=torch.float64)
    assert repr(ours) == repr(theirs)
    copy_parameters(ours, theirs)
    assert_same_as_torch(ours, theirs, [np.random.default_rng(4).standard_normal((2, 2, 5, 6))])


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.conv1d(tg.zeros(1, 2, 3, 4), tg.zeros(2, 2, 3)), RuntimeError, r"3D \(batched\).*\[1, 2, 3, 4\]"),
    (lambda: F.conv1d(tg.zeros(1, 3, 5), tg.zeros(2, 2, 3)), RuntimeError, "expected input.*2 channels.*got 3"),
    (lambda: F.conv1d(tg.zeros(1, 2, 5), tg.zeros(2, 2, 3, 3)), RuntimeError, r"3D.*weight.*\(2, 2, 3, 3\)"),
    (lambda: F.conv1d(tg.zeros(1, 2, 5), tg.zeros(2, 2, 3), stride=(1, 1)), ValueError, "stride"),
    (lambda: F.conv1d(tg.zeros(1, 2, 5), tg.zeros(2, 2, 3), stride=2, padding="same"), ValueError, "strided"),
    (lambda: nn.Conv1d(2, 2, 3, padding_mode="mirror"), ValueError, "padding_mode.*'mirror'"),
    (lambda: nn.Conv1d(3, 2, 3, groups=2), ValueError, "divisible"),
])
def test_conv1d_errors(call, error, words):
    with pytest.raises(error, match=words):
        call()


# ---------------------------------------------------------------------------------------------------------------
# 1-D pooling
# ---------------------------------------------------------------------------------------------------------------
POOL1D_CASES = [  # (name, args, kwargs)
    ("max_pool1d", (2,), {}),
    ("max_pool1d", (3, 2, 1), dict(ceil_mode=True)),
    ("avg_pool1d", (3,), dict(stride=2, padding=1)),
    ("avg_pool1d", (3, 2, 1), dict(ceil_mode=True, count_include_pad=False)),
    ("adaptive_avg_pool1d", (3,), {}),
    ("adaptive_avg_pool1d", (1,), {}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 8), (3, 9)], ids=["batched", "unbatched"])
@pytest.mark.parametrize("name, args, kwargs", POOL1D_CASES)
def test_pool1d_matches_torch(name, args, kwargs, shape, dtype):
    torch = import_torch()
    x = np.random.default_rng(5).standard_normal(shape).astype(dtype)
    assert_same_as_torch(lambda x: getattr(F, name)(x, *args, **kwargs),
                         lambda x: getattr(torch.nn.functional, name)(x, *args, **kwargs), [x])


@pytest.mark.parametrize("name, args", [("MaxPool1d", (3, 2, 1)), ("AvgPool1d", (3, 2, 1)),
                                        ("AdaptiveAvgPool1d", (4,))])
def test_pool1d_layers_match_torch(name, args):
    torch = import_torch()
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    assert_same_as_torch(ours, theirs, [np.random.default_rng(6).standard_normal((2, 3, 9))])


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.max_pool1d(tg.zeros(1, 2, 3, 4), 2), ValueError, r"2D \(C, L\) or 3D.*\(1, 2, 3, 4\)"),
    (lambda: F.max_pool1d(tg.zeros(1, 2, 6), 2, dilation=2), NotImplementedError, "dilation=2"),
    (lambda: F.avg_pool1d(tg.zeros(1, 2, 6), (2, 2)), ValueError, r"kernel_size.*\(2, 2\)"),
    (lambda: F.adaptive_avg_pool1d(tg.zeros(2, 6), (2, 3)), ValueError, r"output_size.*\(2, 3\)"),
    (lambda: nn.MaxPool1d(2, dilation=(2,)), NotImplementedError, r"MaxPool1d: dilation=\(2,\)"),
])
def test_pool1d_errors(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_batchnorm1d_on_sequences_matches_torch_in_train_and_eval():
    torch = import_torch()
    ours, theirs = nn.BatchNorm1d(3, dtype=tg.float64), torch.nn.BatchNorm1d(3, dtype=torch.float64)
    rng = np.random.default_rng(7)
    for _ in range(2):
        assert_same_as_torch(ours, theirs, [rng.standard_normal((4, 3, 5))])
    for key in ("running_mean", "running_var", "num_batches_tracked"):
        assert_close(getattr(ours, key), getattr(theirs, key), what=key)
    ours.eval(), theirs.eval()
    assert_same_as_torch(ours, theirs, [rng.standard_normal((2, 3, 5))])


# ---------------------------------------------------------------------------------------------------------------
# F.pad modes and the padding layers
# ---------------------------------------------------------------------------------------------------------------
PAD_CASES = [((2, 3, 5), (2, 1)), ((3, 5), (0, 4)), ((2, 3, 4, 5), (1, 2, 3, 0)), ((3, 4, 5), (3, 3, 2, 1)),
             ((2, 1, 3, 4, 5), (1, 2, 0, 1, 2, 2))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, sizes", PAD_CASES)
def test_pad_modes_match_torch(shape, sizes, mode, dtype):
    torch = import_torch()
    x = np.random.default_rng(8).standard_normal(shape).astype(dtype)
    assert_same_as_torch(lambda x: F.pad(x, sizes, mode=mode), lambda x: torch.nn.functional.pad(x, sizes, mode=mode),
                         [x])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes_gradcheck(mode):
    x = tg.Tensor(np.random.default_rng(9).standard_normal((1, 2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda x: F.pad(x, (3, 2, 2, 1), mode=mode), [x])


def test_pad_modes_on_a_small_example():
    x = tg.Tensor([[[1.0, 2.0, 3.0]]])
    assert F.pad(x, (2, 2), mode="reflect").tolist() == [[[3, 2, 1, 2, 3, 2, 1]]]
    assert F.pad(x, (2, 2), mode="replicate").tolist() == [[[1, 1, 1, 2, 3, 3, 3]]]
    assert F.pad(x, (2, 2), mode="circular").tolist() == [[[2, 3, 1, 2, 3, 1, 2]]]


@pytest.mark.parametrize("call, error, words", [
    (lambda x: F.pad(x, (3, 1), mode="reflect"), RuntimeError, r"\(3, 1\).*less than.*size 3"),
    (lambda x: F.pad(x, (4, 0), mode="circular"), RuntimeError, "wraps around more than once"),
    (lambda x: F.pad(x, (1, 1), mode="reflect", value=1.0), RuntimeError, "doesn't take in value"),
    (lambda x: F.pad(x, (1, 1, 1, 1, 1, 1), mode="replicate"), NotImplementedError, r"\(1, 2, 3\)"),
    (lambda x: F.pad(x, (1, 1), mode="mirror"), NotImplementedError, "mirror"),
])
def test_pad_errors(call, error, words):
    with pytest.raises(error, match=words):
        call(tg.zeros(1, 2, 3))


PAD_LAYERS = [("ReflectionPad1d", (2,)), ("ReflectionPad2d", ((1, 2, 0, 3),)), ("ReplicationPad1d", ((3, 1),)),
              ("ReplicationPad2d", (2,)), ("CircularPad1d", (1,)), ("CircularPad2d", ((1, 0, 2, 1),)),
              ("ConstantPad1d", ((1, 2), 3.5)), ("ConstantPad2d", (1, -2.0)), ("ZeroPad1d", (2,)),
              ("ZeroPad2d", ((1, 0, 2, 3),))]


@pytest.mark.parametrize("name, args", PAD_LAYERS, ids=[name for name, _ in PAD_LAYERS])
def test_pad_layers_match_torch(name, args):
    torch = import_torch()
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    shape = (2, 3, 4) if name.endswith("1d") else (2, 3, 4, 5)
    assert_same_as_torch(ours, theirs, [np.random.default_rng(10).standard_normal(shape)])


def test_pad_layer_rejects_wrong_sizes():
    with pytest.raises(ValueError, match=r"ReflectionPad2d.*4 ints.*\(1, 2\)"):
        nn.ReflectionPad2d((1, 2))


# ---------------------------------------------------------------------------------------------------------------
# pixel_shuffle, pixel_unshuffle
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, r", [((2, 8, 3, 4), 2), ((18, 2, 3), 3), ((2, 1, 4, 2, 2), 2)])
def test_pixel_shuffle_matches_torch(shape, r, dtype):
    torch = import_torch()
    x = np.random.default_rng(11).standard_normal(shape).astype(dtype)
    assert_same_as_torch(lambda x: F.pixel_shuffle(x, r), lambda x: torch.nn.functional.pixel_shuffle(x, r), [x])
    y = np.random.default_rng(12).standard_normal(shape[:-3] + (2, 2 * r, 3 * r)).astype(dtype)
    assert_same_as_torch(lambda y: F.pixel_unshuffle(y, r), lambda y: torch.nn.functional.pixel_unshuffle(y, r),
                         [y])


def test_pixel_shuffle_layers_invert_each_other():
    torch = import_torch()
    x = tg.Tensor(np.random.default_rng(13).standard_normal((2, 3, 4, 6)))
    assert_close(nn.PixelShuffle(2)(nn.PixelUnshuffle(2)(x)), x)
    assert repr(nn.PixelShuffle(2)) == repr(torch.nn.PixelShuffle(2))
    assert repr(nn.PixelUnshuffle(3)) == repr(torch.nn.PixelUnshuffle(3))


def test_pixel_shuffle_errors():
    with pytest.raises(RuntimeError, match="input.size.-3.=5 is not divisible by 4"):
        F.pixel_shuffle(tg.zeros(1, 5, 2, 2), 2)
    with pytest.raises(RuntimeError, match="at least 3 dimensions.*2 dimension"):
        F.pixel_shuffle(tg.zeros(4, 4), 2)
    with pytest.raises(RuntimeError, match="input.size.-2.=3.*divisible by 2"):
        F.pixel_unshuffle(tg.zeros(1, 1, 3, 4), 2)


# ---------------------------------------------------------------------------------------------------------------
# instance_norm, InstanceNorm1d / InstanceNorm2d
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 7), (2, 3, 4, 5)])
def test_instance_norm_matches_torch(shape, dtype):
    torch = import_torch()
    rng = np.random.default_rng(14)
    arrays = [rng.standard_normal(shape).astype(dtype) * 3 + 1, rng.standard_normal(3).astype(dtype),
              rng.standard_normal(3).astype(dtype)]
    assert_same_as_torch(lambda x, w, b: F.instance_norm(x, weight=w, bias=b, eps=1e-3),
                         lambda x, w, b: torch.nn.functional.instance_norm(x, weight=w, bias=b, eps=1e-3), arrays)


def test_instance_norm_gradcheck():
    rng = np.random.default_rng(15)
    x, w, b = (tg.Tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 3, 2, 3), (3,), (3,)))
    assert gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), [x, w, b])


@pytest.mark.parametrize("name, shape", [("InstanceNorm1d", (4, 3, 6)), ("InstanceNorm2d", (4, 3, 3, 5)),
                                         ("InstanceNorm2d", (3, 3, 5))])
@pytest.mark.parametrize("affine, track", [(False, False), (True, False), (False, True), (True, True)])
def test_instance_norm_layers_match_torch_in_train_and_eval(name, shape, affine, track):
    torch = import_torch()
    ours = getattr(nn, name)(3, momentum=0.2, affine=affine, track_running_stats=track, dtype=tg.float64)
    theirs = getattr(torch.nn, name)(3, momentum=0.2, affine=affine, track_running_stats=track, dtype=torch.float64)
    assert repr(ours) == repr(theirs)
    copy_parameters(ours, theirs)
    rng = np.random.default_rng(16)
    for _ in range(2):
        assert_same_as_torch(ours, theirs, [rng.standard_normal(shape) * 2 + 1])
        if affine:
            assert_close(ours.weight.grad, theirs.weight.grad, what="weight gradient")
    for key in ("running_mean", "running_var", "num_batches_tracked") if track else ():
        assert_close(getattr(ours, key), getattr(theirs, key), what=key)
    ours.eval(), theirs.eval()
    assert_same_as_torch(ours, theirs, [rng.standard_normal(shape)])


def test_instance_norm_errors():
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        nn.InstanceNorm2d(3)(tg.zeros(3, 4))
    with pytest.raises(ValueError, match=r"dim=1 to match num_features \(3\), but got: 4"):
        nn.InstanceNorm1d(3, affine=True)(tg.zeros(2, 4, 5))
    with pytest.raises(ValueError, match="running_mean and running_var"):
        F.instance_norm(tg.zeros(2, 3, 4), use_input_stats=False)
    with pytest.raises(ValueError, match=r"more than 1 spatial element.*\[2, 3, 1, 1\]"):
        F.instance_norm(tg.zeros(2, 3, 1, 1))


# ---------------------------------------------------------------------------------------------------------------
# unfold and fold
# ---------------------------------------------------------------------------------------------------------------
BLOCK_CASES = [  # (image shape (H, W), kernel_size, dilation, padding, stride)
    ((5, 6), 2, 1, 0, 1),
    ((6, 7), (3, 2), (1, 2), (1, 0), (2, 1)),
    ((7, 7), 3, 2, 2, 3),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hw, kernel_size, dilation, padding, stride", BLOCK_CASES)
def test_unfold_and_fold_match_torch(hw, kernel_size, dilation, padding, stride, dtype):
    torch = import_torch()
    options = dict(kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride)
    rng = np.random.default_rng(17)
    x = rng.standard_normal((2, 3) + hw).astype(dtype)
    assert_same_as_torch(lambda x: F.unfold(x, **options), lambda x: torch.nn.functional.unfold(x, **options), [x])
    columns = torch.nn.functional.unfold(torch.tensor(x), **options).numpy()
    assert_same_as_torch(lambda c: F.fold(c, hw, **options), lambda c: torch.nn.functional.fold(c, hw, **options),
                         [rng.standard_normal(columns.shape).astype(dtype)])
    assert_same_as_torch(lambda c: F.fold(c, hw, **options), lambda c: torch.nn.functional.fold(c, hw, **options),
                         [rng.standard_normal(columns.shape[1:]).astype(dtype)])   # unbatched


def test_unfold_and_fold_gradcheck():
    rng = np.random.default_rng(18)
    x = tg.Tensor(rng.standard_normal((1, 2, 4, 5)), requires_grad=True)
    assert gradcheck(lambda x: F.unfold(x, 2, dilation=(1, 2), padding=1, stride=(2, 1)), [x])
    c = tg.Tensor(rng.standard_normal((1, 8, 10)), requires_grad=True)
    assert gradcheck(lambda c: F.fold(c, (4, 5), 2, padding=(1, 0), stride=(1, 2)), [c])


def test_fold_is_the_adjoint_of_unfold():
    """<unfold(x), c> = <x, fold(c)>: fold adds each column back onto the pixels unfold copied it from."""
    rng = np.random.default_rng(19)
    x, c = tg.Tensor(rng.standard_normal((2, 3, 6, 5))), tg.Tensor(rng.standard_normal((2, 27, 9)))
    options = dict(kernel_size=3, padding=1, stride=2)
    left = float((F.unfold(x, **options) * c).sum())
    right = float((x * F.fold(c, (6, 5), **options)).sum())
    assert abs(left - right) < 1e-10 * abs(left)


def test_unfold_and_fold_layers_match_torch():
    torch = import_torch()
    pairs = [(nn.Unfold(2, padding=1), torch.nn.Unfold(2, padding=1)),
             (nn.Fold((4, 4), 2, stride=2), torch.nn.Fold((4, 4), 2, stride=2))]
    for (ours, theirs), shape in zip(pairs, [(2, 2, 3, 3), (2, 8, 4)]):
        assert repr(ours) == repr(theirs)
        assert_same_as_torch(ours, theirs, [np.random.default_rng(20).standard_normal(shape)])


@pytest.mark.parametrize("call, words", [
    (lambda: F.unfold(tg.zeros(2, 3), 2), r"Only 3D or 4D input.*got 2D"),
    (lambda: F.unfold(tg.zeros(1, 1, 2, 2), 3), "smaller than the kernel"),
    (lambda: F.fold(tg.zeros(1, 6, 9), (4, 4), 2), r"divisible by the product of kernel_size.*input.size.1.=6"),
    (lambda: F.fold(tg.zeros(1, 8, 8), (4, 4), 2), r"sliding blocks 3 \* 3 = 9, but got input.size.2.=8"),
    (lambda: F.fold(tg.zeros(8), (4, 4), 2), r"2D or 3D.*\[8\]"),
])
def test_unfold_and_fold_errors(call, words):
    with pytest.raises(RuntimeError, match=words):
        call()


# ---------------------------------------------------------------------------------------------------------------
# interpolate / Upsample on sequences (images: tests/test_conv_variants.py)
# ---------------------------------------------------------------------------------------------------------------
SEQUENCE_RESIZES = [dict(scale_factor=2), dict(size=11), dict(scale_factor=1.7), dict(size=(3,)),
                    dict(scale_factor=0.6, recompute_scale_factor=True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("linear", False), ("linear", True)])
@pytest.mark.parametrize("resize", SEQUENCE_RESIZES, ids=[str(r) for r in SEQUENCE_RESIZES])
def test_interpolate_sequences_matches_torch(resize, mode, align_corners, dtype):
    torch = import_torch()
    x = np.random.default_rng(21).standard_normal((2, 3, 7)).astype(dtype)
    assert_same_as_torch(lambda x: F.interpolate(x, mode=mode, align_corners=align_corners, **resize),
                         lambda x: torch.nn.functional.interpolate(x, mode=mode, align_corners=align_corners,
                                                                   **resize), [x])


def test_upsample_sequences_matches_torch_and_gradcheck():
    torch = import_torch()
    ours, theirs = nn.Upsample(scale_factor=3, mode="linear"), torch.nn.Upsample(scale_factor=3, mode="linear")
    assert repr(ours) == repr(theirs)
    assert_same_as_torch(ours, theirs, [np.random.default_rng(22).standard_normal((2, 3, 5))])
    x = tg.Tensor(np.random.default_rng(23).standard_normal((1, 2, 4)), requires_grad=True)
    assert gradcheck(lambda x: F.interpolate(x, size=7, mode="linear", align_corners=True), [x])


@pytest.mark.parametrize("shape, mode, words", [((1, 2, 4), "bilinear", "Got 3D input, but bilinear mode needs 4D"),
                                                ((1, 2, 4, 4), "linear", "Got 4D input, but linear mode needs 3D"),
                                                ((1, 2, 3, 4, 4), "nearest", r"\(1, 2, 3, 4, 4\)")])
def test_interpolate_rejects_a_mode_for_other_dims(shape, mode, words):
    with pytest.raises(NotImplementedError, match=words):
        F.interpolate(tg.zeros(*shape), size=3, mode=mode)
