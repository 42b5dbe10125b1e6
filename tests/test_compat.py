"""`import tinygrad_bn as torch`: the PyTorch surface that real model code touches (issue 11), checked against torch.

Differentiable ops are one table, CASES: each row's function takes the library (`tinygrad_bn` or `torch`, which
share names) and input tensors, so the same line runs in both from identical float64 inputs; each row is
gradchecked in float64 and compared with PyTorch in value and gradient. The rest are behaviour tests: package
attributes, devices, in-place rules, modules, utils.data, and the errors for what is not supported.
"""
import inspect
from dataclasses import dataclass

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
import tinygrad_bn.nn.functional as F
from tinygrad_bn import gradcheck
from conftest import assert_close, import_torch, tensor, torch_tensor


# ---------------------------------------------------------------------------------------------------------------
# Inputs: functions of a NumPy generator, so a row builds the same numbers for both libraries.
# ---------------------------------------------------------------------------------------------------------------
def normal(*shape):
    return lambda rng: rng.standard_normal(shape)


def away_from(points, *shape, scale=1.0):
    """Normal samples (times scale) at least 0.05 away from each kink in `points`."""
    def make(rng):
        a = rng.standard_normal(shape) * scale
        for p in points:
            a = np.where(np.abs(a - p) < 0.05, a + 0.1, a)
        return a
    return make


def labels(shape, classes, ignored=()):
    """Class indices; the positions in `ignored` (flat indices) are set to -100 (the default ignore_index)."""
    def make(rng):
        t = rng.integers(0, classes, size=shape)
        t.flat[list(ignored)] = -100
        return t
    return make


def probabilities01(*shape):
    return lambda rng: 0.05 + 0.9 * rng.random(shape)


def positive(*shape):
    return lambda rng: 0.5 + rng.random(shape)


def distinct(*shape):
    """Values far apart (so max/min picks and roll have no ties within finite-difference reach)."""
    return lambda rng: rng.permutation(np.prod(shape)).reshape(shape) * 0.5 + rng.random(shape) * 0.1


@dataclass
class Case:
    name: str
    fn: object                # fn(lib, *tensors): lib is tinygrad_bn or torch
    inputs: tuple
    constant: tuple = ()      # indices of float inputs that are data (targets, class weights), not differentiated
    true_gradient: bool = True  # False where PyTorch's rule differs from the derivative (embedding's padding row)
    rtol: float = 1e-10       # relative tolerance against torch (float64 everywhere, except where torch is not)

    def arrays(self, seed=0):
        rng = np.random.default_rng(seed)
        return [make(rng) for make in self.inputs]

    def requires_grad(self, index, array):
        return array.dtype.kind == "f" and index not in self.constant


def setitem_on_intermediate(lib, x, v):
    y = x * 1
    y[0, 1:] = v
    return y


def add_inplace_on_intermediate(lib, x, v):
    y = x * 2
    y.add_(v, alpha=3)
    return y.mul_(v)


def ramp(lib, x):
    """0, 1, 2, ... in x's shape, dtype and device: a weight that tells every position apart (so a roll or flip that
    moves the wrong entries changes the result and its gradient)."""
    return lib.arange(float(x.numel()), dtype=x.dtype, device=x.device).reshape(x.shape)


CASES = [
    # module-level twins of Tensor methods
    Case("flatten", lambda lib, x: lib.flatten(x, 1), (normal(2, 3, 4),)),
    Case("max_dim", lambda lib, x: lib.max(x, 1)[0], (distinct(3, 4),)),
    Case("min_dim_values", lambda lib, x: lib.min(x, dim=0).values, (distinct(3, 4),)),
    Case("max_two_tensors", lambda lib, x, y: lib.max(x, y), (distinct(3, 4), normal(4))),
    Case("min_two_tensors", lambda lib, x, y: lib.min(x, y), (distinct(3, 4), normal(3, 1))),
    Case("maximum", lambda lib, x, y: lib.maximum(x, y), (normal(3, 4), normal(3, 4))),
    Case("exp_log", lambda lib, x: lib.log(lib.exp(x) + 1), (normal(3, 4),)),
    Case("sigmoid_tanh_relu", lambda lib, x: lib.sigmoid(x) * lib.tanh(x) + lib.relu(x),
         (away_from([0.0], 3, 4),)),
    Case("sum_mean", lambda lib, x: lib.sum(x, 1) + lib.mean(x, dim=1), (normal(3, 4),)),
    Case("softmax_log_softmax", lambda lib, x: lib.softmax(x, 1) * lib.log_softmax(x, dim=1), (normal(3, 4),)),
    Case("matmul_reshape", lambda lib, x, y: lib.reshape(lib.matmul(x, y), (-1,)), (normal(3, 4), normal(4, 2))),
    Case("roll_dim", lambda lib, x: lib.roll(x, 1, 0) * ramp(lib, x), (normal(3, 4),)),
    Case("roll_dims", lambda lib, x: x.roll((1, -2), (0, 1)) * ramp(lib, x), (normal(3, 4),)),
    Case("roll_flat", lambda lib, x: lib.roll(x, 5) * ramp(lib, x), (normal(3, 4),)),
    Case("clamp_abs_sqrt", lambda lib, x: lib.sqrt(lib.abs(lib.clamp(x, -1.5, 1.5)) + 0.5),
         (away_from([-1.5, 0.0, 1.5], 3, 4),)),
    Case("clone", lambda lib, x: x.clone() * 2, (normal(3, 4),)),
    Case("std", lambda lib, x: x.std(1), (normal(3, 4),)),
    Case("view_as_expand_as", lambda lib, x, y: x.view_as(y) + y[:1].expand_as(y), (normal(12), normal(3, 4))),
    Case("where", lambda lib, x, y: lib.where(x > 0, x, y), (away_from([0.0], 3, 4), normal(4))),
    Case("where_number", lambda lib, x: lib.where(x > 0, 0.5, x), (away_from([0.0], 3, 4),)),
    Case("masked_fill", lambda lib, x: x.masked_fill(x > 0.5, -1.0), (away_from([0.5], 3, 4),)),
    Case("pad", lambda lib, x: lib.nn.functional.pad(x, (1, 2, 0, 1), value=0.5), (normal(2, 3, 4),)),
    Case("flip", lambda lib, x: lib.flip(x, (0, 2)) * ramp(lib, x), (normal(2, 3, 4),)),
    Case("repeat", lambda lib, x: x.repeat(2, 1, 3), (normal(3, 2),)),
    Case("split", lambda lib, x: lib.cat([p * (i + 1) for i, p in enumerate(lib.split(x, [1, 3], 1))], 1),
         (normal(2, 4),)),
    Case("split_size", lambda lib, x: lib.cat([p * (i + 1) for i, p in enumerate(x.split(2, 0))], 0),
         (normal(5, 2),)),
    Case("chunk", lambda lib, x: lib.stack([c.sum(0) * (i + 1) for i, c in enumerate(lib.chunk(x, 3, 0))]),
         (normal(6, 2),)),
    Case("index_select", lambda lib, x: lib.index_select(x, 1, lib.tensor([2, 0, 2])), (normal(3, 4),)),
    Case("outer_tril_triu", lambda lib, x, y: lib.tril(lib.outer(x, y), -1) + 2 * lib.triu(lib.outer(x, y), 1),
         (normal(4), normal(3))),
    Case("square_rsqrt_reciprocal", lambda lib, x: lib.square(x) + lib.rsqrt(x) + lib.reciprocal(x),
         (positive(3, 4),)),
    Case("norm", lambda lib, x: lib.norm(x) + x.norm(dim=1).sum() + x.norm(p=1, dim=0).sum(), (normal(3, 4),)),
    Case("logsumexp", lambda lib, x: lib.logsumexp(x * 100, 1) + x.logsumexp(dim=0, keepdim=True).sum(),
         (normal(3, 4),)),
    Case("setitem_on_intermediate", setitem_on_intermediate, (normal(3, 4), normal(3))),
    Case("inplace_add_mul_on_intermediate", add_inplace_on_intermediate, (normal(3, 4), normal(4))),
    # activations
    Case("relu6", lambda lib, x: lib.nn.functional.relu6(x * 4), (away_from([0.0, 1.5], 3, 5),)),
    Case("hardtanh", lambda lib, x: lib.nn.functional.hardtanh(x, -0.5, 0.8), (away_from([-0.5, 0.8], 3, 5),)),
    Case("leaky_relu", lambda lib, x: lib.nn.functional.leaky_relu(x, 0.2), (away_from([0.0], 3, 5),)),
    Case("leaky_relu_default", lambda lib, x: lib.nn.functional.leaky_relu(x), (away_from([0.0], 3, 5),)),
    Case("elu", lambda lib, x: lib.nn.functional.elu(x, alpha=0.7), (away_from([0.0], 3, 5),)),
    Case("gelu", lambda lib, x: lib.nn.functional.gelu(x), (normal(3, 5),)),
    Case("gelu_tanh", lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh"), (normal(3, 5),)),
    Case("silu", lambda lib, x: lib.nn.functional.silu(x * 3), (normal(3, 5),)),
    Case("softplus", lambda lib, x: lib.nn.functional.softplus(x), (normal(3, 5),)),
    Case("softplus_beta_threshold", lambda lib, x: lib.nn.functional.softplus(x, beta=2, threshold=3),
         (away_from([1.5], 3, 5, scale=2),)),
    # torch's CPU kernel multiplies by the float32 constant 1.0f/6 even in float64: agreement is to ~3e-8 only
    Case("hardsigmoid", lambda lib, x: lib.nn.functional.hardsigmoid(x), (away_from([-3.0, 3.0], 3, 5, scale=3),),
         rtol=1e-7),
    Case("hardswish", lambda lib, x: lib.nn.functional.hardswish(x), (away_from([-3.0, 3.0], 3, 5, scale=3),)),
    Case("F.sigmoid_tanh", lambda lib, x: lib.nn.functional.sigmoid(x) + lib.nn.functional.tanh(x), (normal(4),)),
    Case("prelu", lambda lib, x, w: lib.nn.functional.prelu(x, w), (away_from([0.0], 3, 5), normal(1))),
    Case("prelu-per-channel", lambda lib, x, w: lib.nn.functional.prelu(x, w), (away_from([0.0], 2, 3, 4), normal(3))),
    Case("prelu-1d", lambda lib, x, w: lib.nn.functional.prelu(x, w), (away_from([0.0], 5), normal(1))),
    Case("selu", lambda lib, x: lib.nn.functional.selu(x), (away_from([0.0], 3, 5),)),
    # alpha 0.5: torch's CPU backward rounds 1/alpha to float32 even in float64 (5e-8 off for alpha=0.6); 2 is exact
    Case("celu", lambda lib, x: lib.nn.functional.celu(x, alpha=0.5), (normal(3, 5),)),
    Case("mish", lambda lib, x: lib.nn.functional.mish(x * 3), (normal(3, 5),)),
    Case("logsigmoid", lambda lib, x: lib.nn.functional.logsigmoid(x * 5), (normal(3, 5),)),
    Case("softsign", lambda lib, x: lib.nn.functional.softsign(x), (away_from([0.0], 3, 5),)),
    Case("softmin", lambda lib, x: lib.nn.functional.softmin(x, dim=0) * ramp(lib, x), (normal(3, 5),)),
    Case("tanhshrink", lambda lib, x: lib.nn.functional.tanhshrink(x), (normal(3, 5),)),
    Case("threshold", lambda lib, x: lib.nn.functional.threshold(x, 0.3, -2.0), (away_from([0.3], 3, 5),)),
    Case("hardshrink", lambda lib, x: lib.nn.functional.hardshrink(x), (away_from([-0.5, 0.5], 3, 5),)),
    Case("softshrink", lambda lib, x: lib.nn.functional.softshrink(x, 0.7), (away_from([-0.7, 0.7], 3, 5),)),
    Case("glu", lambda lib, x: lib.nn.functional.glu(x), (normal(3, 6),)),
    Case("glu-dim1", lambda lib, x: lib.nn.functional.glu(x, 1), (normal(2, 4, 3),)),
    # losses
    Case("nll_loss", lambda lib, x, t: lib.nn.functional.nll_loss(x.log_softmax(1), t), (normal(6, 4), labels(6, 4))),
    Case("nll_loss-weight-ignore", lambda lib, x, t, w: lib.nn.functional.nll_loss(x, t, weight=w),
         (normal(6, 4), labels(6, 4, ignored=(2,)), positive(4)), (2,)),
    Case("nll_loss-4d-none", lambda lib, x, t: lib.nn.functional.nll_loss(x, t, reduction="none"),
         (normal(2, 3, 4, 5), labels((2, 4, 5), 3))),
    Case("cross_entropy-weight", lambda lib, x, t, w: lib.nn.functional.cross_entropy(x, t, w),
         (normal(6, 4), labels(6, 4), positive(4)), (2,)),
    Case("cross_entropy-ignore_index", lambda lib, x, t: lib.nn.functional.cross_entropy(x, t, ignore_index=1),
         (normal(8, 3), labels(8, 3))),
    Case("cross_entropy-4d-ignored", lambda lib, x, t: lib.nn.functional.cross_entropy(x, t),
         (normal(2, 3, 4, 5), labels((2, 4, 5), 3, ignored=(0, 7, 9)))),
    Case("cross_entropy-3d-sum", lambda lib, x, t: lib.nn.functional.cross_entropy(x, t, reduction="sum"),
         (normal(2, 5, 3), labels((2, 3), 5))),
    Case("cross_entropy-smoothing-weight-ignored",
         lambda lib, x, t, w: lib.nn.functional.cross_entropy(x, t, weight=w, label_smoothing=0.2),
         (normal(7, 4), labels(7, 4, ignored=(3,)), positive(4)), (2,)),
    Case("cross_entropy-smoothing-4d-none",
         lambda lib, x, t: lib.nn.functional.cross_entropy(x, t, reduction="none", label_smoothing=0.1),
         (normal(2, 3, 2, 2), labels((2, 2, 2), 3, ignored=(1,)))),
    Case("cross_entropy-probs-weight", lambda lib, x, t, w: lib.nn.functional.cross_entropy(x, t.softmax(1), w),
         (normal(5, 4), normal(5, 4), positive(4)), (1, 2)),
    Case("cross_entropy-unbatched", lambda lib, x, t: lib.nn.functional.cross_entropy(x, t[0]),
         (normal(5), labels(1, 5))),
    Case("binary_cross_entropy", lambda lib, p, t: lib.nn.functional.binary_cross_entropy(p, t),
         (probabilities01(4, 3), probabilities01(4, 3)), (1,)),
    Case("binary_cross_entropy-weight-sum",
         lambda lib, p, t, w: lib.nn.functional.binary_cross_entropy(p, t, weight=w, reduction="sum"),
         (probabilities01(4, 3), probabilities01(4, 3), positive(3)), (1, 2)),
    Case("l1_loss", lambda lib, x, t: lib.nn.functional.l1_loss(x, t), (normal(4, 3), normal(4, 3))),
    Case("smooth_l1_loss", lambda lib, x, t: lib.nn.functional.smooth_l1_loss(x * 2, t, beta=0.5),
         (normal(4, 3), normal(4, 3))),
    Case("smooth_l1_loss-default-none", lambda lib, x, t: lib.nn.functional.smooth_l1_loss(x * 2, t, reduction="none"),
         (normal(4, 3), normal(4, 3))),
    Case("huber_loss", lambda lib, x, t: lib.nn.functional.huber_loss(x * 2, t, delta=0.7, reduction="sum"),
         (normal(4, 3), normal(4, 3))),
    Case("kl_div-batchmean",
         lambda lib, x, t: lib.nn.functional.kl_div(x.log_softmax(1), t, reduction="batchmean"),
         (normal(4, 3), probabilities01(4, 3))),
    Case("kl_div-log_target-none",
         lambda lib, x, t: lib.nn.functional.kl_div(x, t, reduction="none", log_target=True), (normal(4, 3), normal(4, 3))),
    # normalization and embedding
    Case("layer_norm", lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (4,), w, b),
         (normal(3, 5, 4), normal(4), normal(4))),
    Case("layer_norm-2d-shape", lambda lib, x: lib.nn.functional.layer_norm(x, (5, 4)), (normal(3, 5, 4),)),
    Case("rms_norm", lambda lib, x, w: lib.nn.functional.rms_norm(x, (4,), w), (normal(3, 5, 4), normal(4))),
    Case("rms_norm-2d-shape-eps", lambda lib, x: lib.nn.functional.rms_norm(x, [5, 4], eps=0.1), (normal(3, 5, 4),)),
    Case("group_norm", lambda lib, x, w, b: lib.nn.functional.group_norm(x, 2, w, b),
         (normal(3, 4, 2, 3), normal(4), normal(4))),
    Case("group_norm-instance", lambda lib, x: lib.nn.functional.group_norm(x, 4), (normal(2, 4, 5),)),
    Case("embedding", lambda lib, w, i: lib.nn.functional.embedding(i, w), (normal(6, 3), labels((2, 4), 6))),
    Case("embedding-padding_idx", lambda lib, w, i: lib.nn.functional.embedding(i, w, padding_idx=0),
         (normal(6, 3), labels((3, 5), 6)), true_gradient=False),
]
IDS = [case.name for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck(case):
    if not case.true_gradient:
        pytest.skip("by definition not the derivative (PyTorch's rule); compared with torch instead")
    arrays = case.arrays()
    inputs = [tg.Tensor(a, requires_grad=case.requires_grad(i, a)) for i, a in enumerate(arrays)]
    assert gradcheck(lambda *t: case.fn(tg, *t), inputs)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_torch(case, device):
    torch = import_torch()
    arrays = case.arrays(seed=1)
    ours = [tensor(a, device, requires_grad=case.requires_grad(i, a)) for i, a in enumerate(arrays)]
    theirs = [torch_tensor(a, requires_grad=case.requires_grad(i, a)) for i, a in enumerate(arrays)]
    out, expected = case.fn(tg, *ours), case.fn(torch, *theirs)
    assert out.dtype == np.float64 and out.device == device
    assert_close(out, expected, rtol=case.rtol, atol=1e-12, what="output")
    g = np.random.default_rng(2).standard_normal(expected.shape)
    out.backward(tensor(g, device))
    expected.backward(torch_tensor(g))
    for i, (mine, theirs_) in enumerate(zip(ours, theirs)):
        if theirs_.requires_grad:
            assert_close(mine.grad, theirs_.grad, rtol=max(case.rtol, 1e-9), atol=1e-12, what=f"grad of input {i}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", [c for c in CASES if c.name in {"gelu", "gelu_tanh", "silu", "softplus", "elu",
                                                                   "hardswish", "binary_cross_entropy",
                                                                   "smooth_l1_loss", "layer_norm", "embedding",
                                                                   "prelu", "mish", "logsigmoid", "glu",
                                                                   "rms_norm"}],
                         ids=lambda c: c.name)
def test_dtype_is_kept(case, dtype):
    inputs = [tg.Tensor(a, requires_grad=case.requires_grad(i, a), dtype=dtype if a.dtype.kind == "f" else None)
              for i, a in enumerate(case.arrays())]
    out = case.fn(tg, *inputs)
    assert out.dtype == dtype
    out.sum().backward()
    assert all(x.grad.dtype == dtype for x in inputs if x.requires_grad)


def test_one_hot_like_torch():
    torch = import_torch()
    labels_ = np.array([[0, 3], [2, 1]])
    assert_close(F.one_hot(tg.tensor(labels_)), torch.nn.functional.one_hot(torch.tensor(labels_)), rtol=0, atol=0)
    assert F.one_hot(tg.tensor([1]), num_classes=4).tolist() == [[0, 1, 0, 0]]
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        F.one_hot(tg.tensor([4]), num_classes=4)


def test_constant_valued_functions_like_torch():
    torch = import_torch()
    a = np.array([[1.5, -0.5, 0.0], [np.inf, 2.5, -3.7]])
    for name in ("sign", "floor", "round", "isnan", "isfinite", "logical_not", "nonzero", "any", "all"):
        assert_close(getattr(tg, name)(tg.tensor(a)), getattr(torch, name)(torch.tensor(a)), rtol=0, atol=0,
                     what=name)
    assert tg.isnan(tg.tensor([np.nan, 1.0])).tolist() == [True, False]
    b = np.array([[3.0, 1.0, 2.0], [0.5, 0.25, 4.0]])
    for descending in (False, True):
        assert_close(tg.argsort(tg.tensor(b), 1, descending), torch.argsort(torch.tensor(b), 1, descending),
                     rtol=0, atol=0)
    assert_close(tg.linspace(0, 1, 5), torch.linspace(0, 1, 5), rtol=1e-7, atol=0)
    assert tg.tensor([1.0, 2.5]).int().tolist() == [1, 2] and tg.tensor([0, 2]).bool().tolist() == [False, True]
    assert tg.randn(2).type() == "float32" and tg.randn(2).type(tg.float64).dtype == np.float64
    x = tg.randn(3, requires_grad=True) * 2
    assert not x.detach_().requires_grad and x.grad_fn is None
    y = tg.zeros(3)
    assert y.masked_fill_(tg.tensor([True, False, True]), 1.0).tolist() == [1, 0, 1] and y.tolist() == [1, 0, 1]
    assert tg.get_default_dtype() == np.float32 and torch.get_default_dtype() == torch.float32


def test_maximum_splits_ties_like_torch():
    torch = import_torch()
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 4.0])
    x, y = tg.Tensor(a, requires_grad=True), tg.Tensor(b, requires_grad=True)
    tx, ty = torch_tensor(a, requires_grad=True), torch_tensor(b, requires_grad=True)
    tg.max(x, y).sum().backward()
    torch.max(tx, ty).sum().backward()
    assert_close(x.grad, tx.grad, rtol=0, atol=0)
    assert_close(y.grad, ty.grad, rtol=0, atol=0)


def test_relu6_and_hardtanh_corners_get_no_gradient_like_torch():
    torch = import_torch()
    a = np.array([-1.0, 0.0, 3.0, 6.0, 7.0])
    x, t = tg.Tensor(a, requires_grad=True), torch_tensor(a, requires_grad=True)
    F.relu6(x).sum().backward()
    torch.nn.functional.relu6(t).sum().backward()
    assert_close(x.grad, t.grad, rtol=0, atol=0)


def test_binary_cross_entropy_at_0_and_1_is_finite_like_torch():
    torch = import_torch()
    p, t = np.array([0.0, 1.0, 0.5, 1.0]), np.array([1.0, 0.0, 1.0, 1.0])
    ours = F.binary_cross_entropy(tg.Tensor(p), tg.Tensor(t), reduction="none")
    theirs = torch.nn.functional.binary_cross_entropy(torch_tensor(p), torch_tensor(t), reduction="none")
    assert_close(ours, theirs)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(tg.Tensor([1.5]), tg.Tensor([1.0]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_modules_match_torch(reduction):
    torch = import_torch()
    rng = np.random.default_rng(5)
    x, t, w = rng.standard_normal((6, 4)), rng.integers(0, 4, 6), 0.5 + rng.random(4)
    p, q = 0.05 + 0.9 * rng.random((6, 4)), rng.random((6, 4))
    pairs = [
        (lambda lib: lib.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1), x, t),
        (lambda lib: lib.nn.CrossEntropyLoss(weight=lib.tensor(w), ignore_index=2, reduction=reduction), x, t),
        (lambda lib: lib.nn.NLLLoss(reduction=reduction), x, t),
        (lambda lib: lib.nn.BCELoss(reduction=reduction), p, q),
        (lambda lib: lib.nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=lib.tensor(w)), x, q),
        (lambda lib: lib.nn.MSELoss(reduction=reduction), x, q),
        (lambda lib: lib.nn.L1Loss(reduction=reduction), x, q),
        (lambda lib: lib.nn.SmoothL1Loss(reduction=reduction, beta=0.3), x, q),
        (lambda lib: lib.nn.HuberLoss(reduction=reduction, delta=0.4), x, q),
    ]
    for make, a, b in pairs:
        ours = make(tg)(tg.tensor(a, requires_grad=True), tg.tensor(b))
        theirs = make(torch)(torch.tensor(a, requires_grad=True), torch.tensor(b))
        assert_close(ours, theirs, rtol=1e-10, atol=1e-12, what=type(make(tg)).__name__)


def test_legacy_size_average_and_reduce_pick_the_reduction():
    x, t = tg.randn(4, 3, dtype=tg.float64), tg.tensor([0, 1, 2, 0])
    assert_close(nn.CrossEntropyLoss(size_average=False)(x, t), F.cross_entropy(x, t, reduction="sum"))
    assert nn.NLLLoss(reduce=False)(x, t).shape == (4,)


def test_weighted_loss_keeps_weight_as_a_buffer_like_torch():
    torch = import_torch()
    ours, theirs = nn.CrossEntropyLoss(weight=tg.ones(3)), torch.nn.CrossEntropyLoss(weight=torch.ones(3))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]


def test_loss_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        F.nll_loss(tg.zeros(4, 3), tg.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        F.nll_loss(tg.zeros(2, 3), tg.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"\(3,\)"):
        F.cross_entropy(tg.zeros(2, 4), tg.tensor([0, 1]), weight=tg.ones(3))
    with pytest.raises(ValueError, match="target size"):
        F.binary_cross_entropy(tg.rand(3, 2), tg.rand(3))
    with pytest.raises(ValueError, match="shape"):
        F.l1_loss(tg.zeros(3), tg.zeros(2))


# ---------------------------------------------------------------------------------------------------------------
# Activation, normalization and embedding modules
# ---------------------------------------------------------------------------------------------------------------
ACTIVATION_MODULES = [
    ("ReLU", (True,), {}), ("ReLU", (), {"inplace": True}), ("Tanh", (), {}), ("Sigmoid", (), {}),
    ("LeakyReLU", (0.2, True), {}), ("ReLU6", (), {"inplace": True}), ("GELU", (), {}),
    ("GELU", (), {"approximate": "tanh"}), ("SiLU", (), {}), ("Hardswish", (), {}), ("Hardsigmoid", (), {}),
    ("ELU", (0.5,), {}), ("Softplus", (), {"beta": 2.0}), ("Softmax", (), {"dim": 1}), ("LogSoftmax", (1,), {}),
    ("Hardtanh", (-2.0, 2.0), {}), ("Identity", (), {}),
    ("Mish", (), {}), ("SELU", (), {}), ("CELU", (0.5,), {}), ("GLU", (), {"dim": 1}),
    ("LogSigmoid", (), {}), ("Softsign", (), {}), ("Softmin", (), {"dim": 1}), ("Tanhshrink", (), {}),
    ("Threshold", (0.1, 20.0), {}), ("Hardshrink", (), {}), ("Softshrink", (0.3,), {}),
]


@pytest.mark.parametrize("name, args, kwargs", ACTIVATION_MODULES,
                         ids=[f"{n}{a}{k}" for n, a, k in ACTIVATION_MODULES])
def test_activation_modules_match_torch(name, args, kwargs):
    torch = import_torch()
    a = np.random.default_rng(6).standard_normal((3, 4)) * 3
    x, t = tg.Tensor(a, requires_grad=True), torch_tensor(a, requires_grad=True)
    # `* 1`: torch refuses inplace=True on a leaf; an intermediate result is what such layers always get
    ours, theirs = getattr(nn, name)(*args, **kwargs)(x * 1), getattr(torch.nn, name)(*args, **kwargs)(t * 1)
    rtol = 1e-7 if name == "Hardsigmoid" else 1e-10  # torch's float32 constant 1/6, see CASES
    assert_close(ours, theirs, rtol=rtol, atol=1e-12)
    ours.sum().backward()
    theirs.sum().backward()
    assert_close(x.grad, t.grad, rtol=max(rtol, 1e-9), atol=1e-12)
    assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))


@pytest.mark.parametrize("make", [
    lambda lib: lib.nn.LayerNorm(4),
    lambda lib: lib.nn.LayerNorm((3, 4), elementwise_affine=False),
    lambda lib: lib.nn.LayerNorm(4, bias=False),
    lambda lib: lib.nn.GroupNorm(2, 6),
    lambda lib: lib.nn.GroupNorm(3, 6, affine=False),
    lambda lib: lib.nn.GroupNorm(3, 6, bias=False),
], ids=["LayerNorm", "LayerNorm-no-affine", "LayerNorm-no-bias", "GroupNorm", "GroupNorm-no-affine",
        "GroupNorm-no-bias"])
def test_norm_modules_match_torch_with_the_same_weights(make):
    torch = import_torch()
    if "bias" not in inspect.signature(torch.nn.GroupNorm).parameters:
        pytest.skip(f"torch {torch.__version__} predates GroupNorm(bias=) and the bias in the norm layers' repr, "
                    "which tinygrad_bn follows; the oracle is torch 2.13 (pyproject's test extra)")
    theirs, ours = make(torch).double(), make(tg).double()
    assert repr(ours) == repr(theirs)
    for p in theirs.parameters():
        p.data.normal_()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    shape = (2, 6, 3, 4) if isinstance(ours, nn.GroupNorm) else (2, 3, 4)
    a = np.random.default_rng(7).standard_normal(shape)
    x, t = tg.Tensor(a, requires_grad=True), torch_tensor(a, requires_grad=True)
    assert_close(ours(x), theirs(t), rtol=1e-10, atol=1e-12)
    ours(x).pow(2).sum().backward()
    theirs(t).pow(2).sum().backward()
    assert_close(x.grad, t.grad, rtol=1e-9, atol=1e-11)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad, q.grad, rtol=1e-9, atol=1e-11, what=name)


def test_embedding_module_like_torch():
    torch = import_torch()
    theirs, ours = torch.nn.Embedding(7, 3, padding_idx=2), nn.Embedding(7, 3, padding_idx=2)
    assert repr(ours) == repr(theirs)
    assert np.all(ours.weight.numpy()[2] == 0) and ours.weight.shape == (7, 3)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    idx = np.array([[2, 0, 6], [2, 2, 1]])
    out, expected = ours(tg.tensor(idx)), theirs(torch.tensor(idx))
    assert_close(out, expected, rtol=0, atol=0)
    (out * 2).sum().backward()
    (expected * 2).sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad, rtol=0, atol=0)
    frozen = nn.Embedding.from_pretrained(tg.ones(4, 2))
    assert not frozen.weight.requires_grad and frozen(tg.tensor([3])).shape == (1, 2)
    with pytest.raises(IndexError, match=r"\[0, 6\]"):
        ours(tg.tensor([7]))


def test_dropout2d_zeroes_whole_channels():
    tg.manual_seed(0)
    x = tg.ones(8, 16, 3, 3, requires_grad=True)
    out = nn.Dropout2d(p=0.5)(x)
    planes = out.numpy().reshape(8, 16, 9)
    assert set(np.unique(planes)) <= {0.0, 2.0}
    assert np.all(planes.min(axis=2) == planes.max(axis=2))  # each channel is all kept or all dropped
    out.sum().backward()
    assert_close(x.grad, out.detach())
    assert nn.Dropout2d().eval()(x) is x
    assert nn.Dropout(0.2, inplace=True).p == 0.2


def test_more_init_functions():
    tg.manual_seed(0)
    w = tg.zeros(200, 300)
    nn.init.xavier_normal_(w, gain=2.0)
    assert abs(w.numpy().std() / (2.0 * np.sqrt(2 / 500)) - 1) < 0.02
    nn.init.trunc_normal_(w, std=1.0, a=-1.0, b=0.5)
    assert w.numpy().min() >= -1.0 and w.numpy().max() <= 0.5 and w.numpy().std() > 0.3
    assert nn.init.eye_(tg.zeros(2, 3)).tolist() == [[1, 0, 0], [0, 1, 0]]


def test_unflatten_and_flatten_are_inverse():
    x = tg.randn(2, 12)
    assert nn.Unflatten(1, (3, 4))(x).shape == (2, 3, 4)
    assert_close(nn.Flatten()(nn.Unflatten(1, (3, 4))(x)), x, rtol=0, atol=0)


def test_module_list_dict_apply_and_state_dict_keys_like_torch():
    torch = import_torch()

    def build(lib):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.blocks = lib.nn.ModuleList([lib.nn.Linear(3, 3) for _ in range(2)])
                self.heads = lib.nn.ModuleDict({"a": lib.nn.Linear(3, 1), "b": lib.nn.LayerNorm(3)})
                self.embed = lib.nn.Embedding(5, 3)

            def forward(self, x):
                for block in self.blocks:
                    x = block(x)
                return self.heads["a"](self.heads["b"](x))
        return Net()

    ours, theirs = build(tg), build(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    seen = []
    ours.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Linear") == 3
    ours.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert all(np.all(m.weight.numpy() == 0) for m in ours.modules() if isinstance(m, nn.Linear))
    assert ours.get_submodule("blocks.1") is ours.blocks[1]
    assert ours.half().blocks[0].weight.dtype == np.float16
    assert ours.to(tg.float64).blocks[0].weight.dtype == np.float64


# ---------------------------------------------------------------------------------------------------------------
# The package as `torch`: attributes, functions, devices
# ---------------------------------------------------------------------------------------------------------------
def test_package_exposes_torch_namespaces():
    import tinygrad_bn as torch_like
    for name in ("nn", "optim", "utils", "cuda", "backends"):
        assert hasattr(torch_like, name)
    assert torch_like.nn.functional is F and torch_like.utils.data.DataLoader is not None
    torch_like.backends.cudnn.benchmark = True  # a harmless no-op
    assert torch_like.cuda.is_available() in (True, False)
    assert (torch_like.float, torch_like.long, torch_like.double) == (np.float32, np.int64, np.float64)


def test_tensor_is_a_function_and_the_module_still_imports():
    from tinygrad_bn.tensors import Tensor
    t = tg.tensor([[1, 2], [3, 4]], dtype=tg.float32, requires_grad=True)
    assert isinstance(t, Tensor) and t.dtype == np.float32 and t.requires_grad
    assert tg.tensor([1.5]).dtype == np.float32 and tg.tensor([1]).dtype == np.int64
    assert tg.tensor([tg.tensor(1.0), tg.tensor(2.0)]).tolist() == [1.0, 2.0]
    assert tg.tensor(np.zeros(2)).dtype == np.float64


def test_creation_functions_like_torch():
    x = tg.randn(2, 3, dtype=tg.float64)
    assert tg.randn_like(x).shape == (2, 3) and tg.randn_like(x).dtype == np.float64
    assert tg.rand_like(x).numpy().min() >= 0
    assert tg.empty(2, 3).shape == (2, 3) and tg.full_like(x, 7).numpy().max() == 7
    assert tg.zeros(2).tolist() == [0.0, 0.0] and tg.ones(1, 2).shape == (1, 2)
    a = np.arange(3.0)
    shared = tg.from_numpy(a)
    a[0] = 5
    assert shared.tolist()[0] == 5
    assert sorted(tg.randperm(5, generator=tg.Generator().manual_seed(1)).tolist()) == [0, 1, 2, 3, 4]
    assert tg.randint(0, 3, (10,)).numpy().max() < 3


def test_max_min_argmax_twins():
    x = tg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    values, indices = tg.max(x, 1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert tg.max(x).item() == 7.0 and tg.min(x, dim=0).indices.tolist() == [0, 1, 0]
    assert tg.argmax(x, dim=1).tolist() == [1, 0]
    assert tg.max(x, tg.tensor([2.0, 2.0, 2.0])).tolist() == [[2.0, 5.0, 2.0], [7.0, 2.0, 3.0]]


def test_device_object():
    d = tg.device("cpu")
    assert str(d) == "cpu" and d == "cpu" and tg.randn(2).device == d and d.type == "cpu"
    assert repr(tg.device("cuda:0")) == "device(type='cuda', index=0)" and tg.device("cuda", 0).index == 0
    x = tg.randn(2, requires_grad=True)
    assert x.to(d) is x and not x.is_cuda
    model = nn.Linear(2, 1).to(d)
    assert model(tg.randn(3, 2).to(d, non_blocking=True)).shape == (3, 1)
    with pytest.raises(RuntimeError, match="unknown device"):
        tg.device("tpu")


# ---------------------------------------------------------------------------------------------------------------
# Tensor methods: comparisons, conversions, in-place rules
# ---------------------------------------------------------------------------------------------------------------
def test_comparison_methods_and_conversions():
    a, b = tg.tensor([1, 2, 3]), tg.tensor([3, 2, 1])
    assert a.eq(b).tolist() == [False, True, False] and a.ne(b).sum().item() == 2
    assert a.lt(b).tolist() == [True, False, False] and a.ge(b).tolist() == [False, True, True]
    assert a.gt(2).tolist() == [False, False, True] and a.le(2).tolist() == [True, True, False]
    classes = ["cat", "dog", "bird"]
    assert classes[tg.tensor(2)] == "bird" and list(range(tg.tensor([3]))) == [0, 1, 2]
    with pytest.raises(TypeError, match="integer tensors of a single element"):
        classes[tg.tensor(1.0)]
    rows = [row.tolist() for row in tg.tensor([[1, 2], [3, 4]])]
    assert rows == [[1, 2], [3, 4]]
    first, second = tg.tensor([5, 6])
    assert (first.item(), second.item()) == (5, 6)
    assert tg.randn(2).half().dtype == np.float16 and tg.tensor([1, 2]).type_as(tg.randn(1)).dtype == np.float32
    assert tg.randn(2, 3).dim() == 2
    x = tg.randn(3, 4).T
    assert not x.array.flags.c_contiguous and x.contiguous().array.flags.c_contiguous


def test_inplace_on_a_parameter_needs_no_grad_like_torch():
    w = tg.randn(3, requires_grad=True)
    for change in (lambda: w.add_(1), lambda: w.fill_(0), lambda: w.zero_(), lambda: w.normal_(),
                   lambda: w.uniform_(), lambda: w.__setitem__(0, 1.0), lambda: w.mul_(2), lambda: w.copy_(w)):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            change()
    before = w._version.value
    with tg.no_grad():
        w.sub_(tg.ones(3), alpha=0.5)
        w[0] = 2.0
    assert w._version.value == before + 2 and w.grad_fn is None and w.tolist()[0] == 2.0


def test_data_shares_memory_for_inplace_init():
    layer = nn.Linear(4, 3)
    layer.weight.data.normal_(0, 0.02)
    layer.bias.data.zero_()
    layer.bias.data.fill_(0.5)
    assert abs(layer.weight.numpy().std() - 0.02) < 0.02 and np.all(layer.bias.numpy() == 0.5)
    layer.weight.data.uniform_(-0.1, 0.1, generator=tg.Generator().manual_seed(0))
    assert np.abs(layer.weight.numpy()).max() <= 0.1
    layer.weight.data.copy_(tg.ones(3, 4))
    assert np.all(layer.weight.numpy() == 1)


def test_inplace_change_of_a_saved_array_is_detected():
    x = tg.randn(3, requires_grad=True)
    y = x * 1
    z = y * y  # Mul saves its inputs
    with tg.no_grad():
        y.mul_(2)  # changes y's memory: the saved array is now wrong
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_setitem_on_a_constant_writes_memory_and_counts():
    x = tg.zeros(2, 3)
    view = x.detach()
    x[:, 1] = tg.tensor([1.0, 2.0])
    x[0] = 5
    x[x > 4] = -1
    assert x.tolist() == [[-1, -1, -1], [0, 2, 0]] and view.tolist() == x.tolist()
    assert x._version.value == 3


# ---------------------------------------------------------------------------------------------------------------
# utils.data
# ---------------------------------------------------------------------------------------------------------------
def test_tensor_dataset_and_dataloader_batches():
    from tinygrad_bn.utils.data import DataLoader, TensorDataset
    x, y = tg.arange(10.0).reshape(10, 1), tg.arange(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [b[0].shape for b in batches] == [(4, 1), (4, 1), (2, 1)]
    assert batches[2][1].tolist() == [8, 9] and batches[0][1].dtype == np.int64
    assert len(DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)) == 2
    assert len(list(DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True))) == 2
    with pytest.raises(ValueError, match=r"\(10, 1\), \(9,\)"):
        TensorDataset(x, y[:9])


def test_dataloader_shuffle_is_seeded_by_its_generator():
    from tinygrad_bn.utils.data import DataLoader
    data = list(range(20))
    orders = [[b.tolist() for b in DataLoader(data, batch_size=5, shuffle=True,
                                              generator=tg.Generator().manual_seed(3))] for _ in range(2)]
    assert orders[0] == orders[1] and sorted(sum(orders[0], [])) == data and sum(orders[0], []) != data
    numpy_gen = [b.tolist() for b in DataLoader(data, batch_size=5, shuffle=True,
                                                generator=np.random.default_rng(3))]
    assert sorted(sum(numpy_gen, [])) == data
    loader = DataLoader(data, batch_size=20, shuffle=True, generator=tg.Generator().manual_seed(3))
    assert next(iter(loader)).tolist() != next(iter(loader)).tolist()  # a new order every epoch


def test_default_collate_like_torch():
    import_torch()
    from tinygrad_bn.utils.data import default_collate
    from torch.utils.data import default_collate as torch_collate
    rng = np.random.default_rng(8)
    samples = [{"image": rng.standard_normal((2, 3)).astype(np.float32), "label": i, "weight": 0.5 * i,
                "name": f"s{i}", "pair": (np.int64(i), np.array([i, i]))} for i in range(3)]
    ours, theirs = default_collate(samples), torch_collate(samples)
    assert set(ours) == set(theirs)
    for key in ("image", "label", "weight"):
        assert ours[key].dtype == theirs[key].numpy().dtype, key
        assert_close(ours[key], theirs[key], rtol=0, atol=0, what=key)
    assert ours["name"] == theirs["name"]
    assert isinstance(ours["pair"], list) and len(ours["pair"]) == 2
    assert_close(ours["pair"][1], theirs["pair"][1], rtol=0, atol=0)
    tensors = default_collate([(tg.ones(2), 1), (tg.zeros(2), 0)])
    assert tensors[0].shape == (2, 2) and tensors[1].tolist() == [1, 0]


def test_random_split_and_subset():
    from tinygrad_bn.utils.data import Dataset, random_split

    class Squares(Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return i * i

    train, val = random_split(Squares(), [7, 3], generator=tg.Generator().manual_seed(0))
    assert len(train) == 7 and len(val) == 3
    assert sorted(list(train) + list(val)) == [i * i for i in range(10)]
    halves = random_split(Squares(), [0.5, 0.5])
    assert [len(h) for h in halves] == [5, 5]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(Squares(), [3, 3])


# ---------------------------------------------------------------------------------------------------------------
# What is not supported says so by name
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where, name", [(F, "fractional_max_pool2d"), (nn, "AdaptiveLogSoftmaxWithLoss"),
                                         (nn, "Conv3d"), (F, "conv3d"), (tg, "fft"), (nn, "Bilinear")])
def test_unsupported_names_raise_a_clear_error(where, name):
    with pytest.raises(AttributeError, match=f"{name}.*(not supported|does not support)") as error:
        getattr(where, name)
    assert "Coming from PyTorch" in str(error.value)
    assert not hasattr(where, name)
