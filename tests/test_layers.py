"""The other layers and functions of a CNN: gradcheck in float64 and parity with PyTorch, values and gradients.

Most of them are one table, CASES: each row's function takes the functional module (ours or torch's, which share
names and signatures) and the input tensors, so the same line runs in both libraries from identical float64 inputs.
Behaviour that a table row cannot express (ties in max pooling, dropout's mask, numerical stability for huge
logits, the errors) has its own tests below.
"""
from dataclasses import dataclass

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
import tinygrad_bn.nn.functional as F
from tinygrad_bn import gradcheck
from tinygrad_bn.kernels.layout import is_channel_major
from conftest import assert_close, fast_kernels_only, import_torch, tensor, torch_tensor


# ---------------------------------------------------------------------------------------------------------------
# Inputs: each is a function of a NumPy random generator, so a row builds the same numbers for both libraries.
# ---------------------------------------------------------------------------------------------------------------
def normal(*shape):
    return lambda rng: rng.standard_normal(shape)


def away_from_zero(*shape):
    """|x| >= 0.1: relu's kink at 0 is out of reach of gradcheck's finite differences."""
    return lambda rng: rng.choice([-1, 1], size=shape) * (0.1 + rng.random(shape))


def labels(n, classes):
    return lambda rng: rng.integers(0, classes, size=n)


def probabilities(n, classes):
    return lambda rng: rng.dirichlet(np.ones(classes), size=n)


def uniform01(*shape):
    return lambda rng: rng.random(shape)


def zeros_and_ones(*shape):
    return lambda rng: rng.integers(0, 2, size=shape).astype(np.float64)


def positive(*shape):
    return lambda rng: 0.5 + rng.random(shape)


def channel_major(make):
    """The same numbers stored channel-major in memory (the layout conv2d and batch_norm hand out)."""
    return lambda rng: np.ascontiguousarray(make(rng).swapaxes(0, 1)).swapaxes(0, 1)


@dataclass
class Case:
    name: str
    fn: object                # fn(F, *tensors): the same code for tinygrad_bn and torch
    inputs: tuple             # input makers; float inputs require grad unless listed in `constant`
    constant: tuple = ()      # indices of float inputs that are data (targets), not differentiated

    def arrays(self, seed=0):
        rng = np.random.default_rng(seed)
        return [make(rng) for make in self.inputs]

    def requires_grad(self, index, array):
        return array.dtype.kind == "f" and index not in self.constant


CASES = [
    Case("relu", lambda F, x: F.relu(x), (away_from_zero(3, 4, 5),)),
    Case("max_pool2d-2", lambda F, x: F.max_pool2d(x, 2), (normal(2, 3, 6, 8),)),
    Case("max_pool2d-odd-size", lambda F, x: F.max_pool2d(x, 3), (normal(1, 2, 7, 8),)),  # remainder dropped
    Case("max_pool2d-overlap", lambda F, x: F.max_pool2d(x, 3, stride=1, padding=1), (normal(2, 2, 5, 4),)),
    Case("max_pool2d-s2-p1", lambda F, x: F.max_pool2d(x, 3, stride=2, padding=1), (normal(2, 2, 7, 6),)),
    Case("max_pool2d-pairs", lambda F, x: F.max_pool2d(x, (2, 3), stride=(1, 2), padding=(1, 1)),
         (normal(2, 2, 5, 7),)),
    Case("max_pool2d-channel-major", lambda F, x: F.max_pool2d(x, 2), (channel_major(normal(3, 2, 4, 6)),)),
    Case("avg_pool2d-2", lambda F, x: F.avg_pool2d(x, 2), (normal(2, 3, 6, 8),)),
    Case("avg_pool2d-s2-p1", lambda F, x: F.avg_pool2d(x, 3, stride=2, padding=1), (normal(2, 2, 7, 6),)),
    Case("avg_pool2d-pairs", lambda F, x: F.avg_pool2d(x, (3, 2), stride=(2, 1), padding=(1, 0)),
         (normal(2, 2, 7, 5),)),
    Case("avg_pool2d-channel-major", lambda F, x: F.avg_pool2d(x, 2, padding=1),
         (channel_major(normal(3, 2, 4, 6)),)),
    Case("adaptive_avg_pool2d-1", lambda F, x: F.adaptive_avg_pool2d(x, 1), (normal(2, 3, 5, 7),)),
    Case("adaptive_avg_pool2d-2x3", lambda F, x: F.adaptive_avg_pool2d(x, (2, 3)), (normal(2, 2, 4, 6),)),
    Case("adaptive_avg_pool2d-2x3-overlap", lambda F, x: F.adaptive_avg_pool2d(x, (2, 3)), (normal(2, 2, 5, 7),)),
    Case("adaptive_avg_pool2d-3", lambda F, x: F.adaptive_avg_pool2d(x, 3), (channel_major(normal(2, 2, 7, 5)),)),
    Case("flatten", lambda F, x: x.flatten(1), (normal(2, 3, 4, 5),)),
    Case("flatten-channel-major", lambda F, x: x.flatten(1), (channel_major(normal(2, 3, 4, 5)),)),
    Case("flatten-0-2", lambda F, x: x.flatten(0, 2), (normal(2, 3, 4, 5),)),
    Case("linear", lambda F, x, w, b: F.linear(x, w, b), (normal(5, 6), normal(4, 6), normal(4))),
    Case("linear-no-bias", lambda F, x, w: F.linear(x, w), (normal(5, 6), normal(4, 6))),
    Case("linear-3d", lambda F, x, w, b: F.linear(x, w, b), (normal(2, 3, 6), normal(4, 6), normal(4))),
    Case("softmax-1", lambda F, x: F.softmax(x, dim=1), (normal(4, 5),)),
    Case("softmax-0", lambda F, x: F.softmax(x, dim=0), (normal(4, 5),)),
    Case("softmax-last-3d", lambda F, x: F.softmax(x, dim=-1), (normal(2, 3, 4),)),
    Case("log_softmax-1", lambda F, x: F.log_softmax(x, dim=1), (normal(4, 5),)),
    Case("log_softmax-0", lambda F, x: F.log_softmax(x, dim=0), (normal(2, 3, 4),)),
    Case("cross_entropy-mean", lambda F, x, t: F.cross_entropy(x, t), (normal(6, 4), labels(6, 4))),
    Case("cross_entropy-sum", lambda F, x, t: F.cross_entropy(x, t, reduction="sum"), (normal(6, 4), labels(6, 4))),
    Case("cross_entropy-none", lambda F, x, t: F.cross_entropy(x, t, reduction="none"),
         (normal(6, 4), labels(6, 4))),
    Case("cross_entropy-smoothing", lambda F, x, t: F.cross_entropy(x, t, label_smoothing=0.1),
         (normal(6, 4), labels(6, 4))),
    Case("cross_entropy-smoothing-none", lambda F, x, t: F.cross_entropy(x, t, reduction="none", label_smoothing=0.3),
         (normal(6, 4), labels(6, 4))),
    Case("cross_entropy-probs", lambda F, x, t: F.cross_entropy(x, t), (normal(6, 4), probabilities(6, 4)), (1,)),
    Case("cross_entropy-probs-smoothing-sum",
         lambda F, x, t: F.cross_entropy(x, t, reduction="sum", label_smoothing=0.2),
         (normal(6, 4), probabilities(6, 4)), (1,)),
    Case("cross_entropy-two-classes", lambda F, x, t: F.cross_entropy(x, t), (normal(8, 2), labels(8, 2))),
    Case("bce_logits-mean", lambda F, x, t: F.binary_cross_entropy_with_logits(x, t), (normal(4, 3), uniform01(4, 3)),
         (1,)),
    Case("bce_logits-hard-targets-sum",
         lambda F, x, t: F.binary_cross_entropy_with_logits(x, t, reduction="sum"), (normal(7,), zeros_and_ones(7,)),
         (1,)),
    Case("bce_logits-weight-none",
         lambda F, x, t, w: F.binary_cross_entropy_with_logits(x, t, weight=w, reduction="none"),
         (normal(4, 3), uniform01(4, 3), positive(3)), (1, 2)),  # torch gives weight no gradient
    Case("bce_logits-pos_weight",
         lambda F, x, t, p: F.binary_cross_entropy_with_logits(x, t, pos_weight=p),
         (normal(4, 3), uniform01(4, 3), positive(3)), (1, 2)),
    Case("bce_logits-weight-and-pos_weight-sum",
         lambda F, x, t, w, p: F.binary_cross_entropy_with_logits(x, t, weight=w, reduction="sum", pos_weight=p),
         (normal(5, 2), uniform01(5, 2), positive(5, 2), positive(2)), (1, 2, 3)),
    Case("mse_loss-mean", lambda F, x, t: F.mse_loss(x, t), (normal(4, 5), normal(4, 5))),
    Case("mse_loss-sum", lambda F, x, t: F.mse_loss(x, t, reduction="sum"), (normal(3, 2, 2), normal(3, 2, 2))),
    Case("mse_loss-none", lambda F, x, t: F.mse_loss(x, t, reduction="none"), (normal(6,), normal(6,)), (1,)),
]
IDS = [case.name for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck(case):
    arrays = case.arrays()
    inputs = [tg.Tensor(a, requires_grad=case.requires_grad(i, a)) for i, a in enumerate(arrays)]
    assert gradcheck(lambda *t: case.fn(F, *t), inputs)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_torch(case, device):
    torch = import_torch()
    arrays = case.arrays(seed=1)
    ours = [tensor(a, device, requires_grad=case.requires_grad(i, a)) for i, a in enumerate(arrays)]
    theirs = [torch_tensor(a, requires_grad=case.requires_grad(i, a)) for i, a in enumerate(arrays)]
    out, expected = case.fn(F, *ours), case.fn(torch.nn.functional, *theirs)
    assert out.dtype == np.float64
    assert_close(out, expected, rtol=1e-10, atol=1e-12, what="output")
    g = np.random.default_rng(2).standard_normal(expected.shape)
    out.backward(tensor(g, device))
    expected.backward(torch_tensor(g))
    for i, (mine, theirs_) in enumerate(zip(ours, theirs)):
        if theirs_.requires_grad:
            assert_close(mine.grad, theirs_.grad, rtol=1e-9, atol=1e-12, what=f"grad of input {i}")


@pytest.mark.parametrize("make, call", [
    (lambda lib: lib.ReLU(), lambda F, x: F.relu(x)),
    (lambda lib: lib.MaxPool2d(3, stride=2, padding=1), lambda F, x: F.max_pool2d(x, 3, 2, 1)),
    (lambda lib: lib.AvgPool2d((2, 3), padding=(1, 1)), lambda F, x: F.avg_pool2d(x, (2, 3), padding=(1, 1))),
    (lambda lib: lib.AdaptiveAvgPool2d((2, 3)), lambda F, x: F.adaptive_avg_pool2d(x, (2, 3))),
    (lambda lib: lib.Flatten(), lambda F, x: x.flatten(1)),
    (lambda lib: lib.Identity(3, key="ignored"), lambda F, x: x),
], ids=["ReLU", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Flatten", "Identity"])
def test_modules_call_their_function(make, call):
    """Each parameter-free layer is its function, with the same arguments."""
    x = tg.Tensor(np.random.default_rng(3).standard_normal((2, 3, 6, 7)), requires_grad=True)
    out = make(nn)(x)
    assert_close(out, call(F, x), rtol=0, atol=0)
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


def test_relu_gradient_at_zero_is_zero_like_torch():
    torch = import_torch()
    x = np.array([-1.0, 0.0, -0.0, 2.0])
    ours, theirs = tg.Tensor(x, requires_grad=True), torch_tensor(x, requires_grad=True)
    F.relu(ours).sum().backward()
    torch.relu(theirs).sum().backward()
    assert_close(ours.grad, theirs.grad, rtol=0, atol=0)
    assert_close(ours.grad, [0.0, 0.0, 0.0, 1.0], rtol=0, atol=0)


def test_identity_returns_its_input():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    assert nn.Identity()(x) is x


# ---------------------------------------------------------------------------------------------------------------
# Max pooling with ties: each window gives its gradient to exactly one element, the one PyTorch picks
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (3, 1, 1), (3, 2, 1), ((2, 3), (1, 2), (1, 0))])
@pytest.mark.parametrize("layout", ["contiguous", "channel-major"])
def test_max_pool_ties_route_the_gradient_like_torch(kernel, stride, padding, layout, device):
    torch = import_torch()
    x = np.random.default_rng(4).integers(0, 3, size=(2, 3, 6, 7)).astype(np.float64)  # values 0, 1, 2: many ties
    x[0, 0] = 1.0                                                                          # one channel all tied
    if layout == "channel-major":
        x = np.ascontiguousarray(x.swapaxes(0, 1)).swapaxes(0, 1)
    ours, theirs = tensor(x, device, requires_grad=True), torch_tensor(x, requires_grad=True)
    out = F.max_pool2d(ours, kernel, stride, padding)
    expected = torch.nn.functional.max_pool2d(theirs, kernel, stride, padding)
    assert_close(out, expected, rtol=0, atol=0)
    g = np.random.default_rng(5).standard_normal(expected.shape)
    out.backward(tensor(g, device))
    expected.backward(torch_tensor(g))
    assert_close(ours.grad, theirs.grad, rtol=1e-14, atol=1e-14)
    # Every window's gradient lands somewhere, exactly once: nothing lost, nothing counted twice.
    assert np.isclose(ours.grad.numpy().sum(), g.sum())


def test_max_pool_tied_window_gives_one_element_the_whole_gradient():
    x = tg.Tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    grad = x.grad.numpy()[0, 0]
    windows = grad.reshape(2, 2, 2, 2).swapaxes(1, 2).reshape(4, 4)
    assert (np.sort(windows, axis=1) == [0, 0, 0, 1]).all()
    assert (grad[::2, ::2] == 1).all(), "the first element of the window in row-major order, as PyTorch"


@fast_kernels_only
def test_pooling_keeps_the_input_layout():
    """A channel-major activation (conv2d's output) stays channel-major through pooling, forward and backward, so
    the next op needs no layout copy. The backward is called on the op directly: a leaf's .grad is a plain copy."""
    x = np.random.default_rng(6).standard_normal((3, 4, 6, 6))
    x_cm = np.ascontiguousarray(x.swapaxes(0, 1)).swapaxes(0, 1)
    for pool in (lambda t: F.max_pool2d(t, 2), lambda t: F.avg_pool2d(t, 3, 1, 1)):
        out = pool(tg.Tensor(x_cm, requires_grad=True))
        assert is_channel_major(out.array)
        assert is_channel_major(out.grad_fn.backward(np.ones(out.shape)))
        assert_close(out, pool(tg.Tensor(x)), rtol=0, atol=0)


def test_max_pool_nan_window_routes_the_gradient_to_the_nan():
    torch = import_torch()
    x = np.array([[[[1.0, np.nan], [0.0, 2.0]]]])
    ours, theirs = tg.Tensor(x, requires_grad=True), torch_tensor(x, requires_grad=True)
    F.max_pool2d(ours, 2).sum().backward()
    torch.nn.functional.max_pool2d(theirs, 2).sum().backward()
    assert_close(ours.grad, theirs.grad, rtol=0, atol=0)


def test_max_pool_all_minus_inf_window_with_padding():
    torch = import_torch()
    x = np.full((1, 1, 3, 3), -np.inf)
    ours, theirs = tg.Tensor(x, requires_grad=True), torch_tensor(x, requires_grad=True)
    F.max_pool2d(ours, 3, 2, 1).sum().backward()
    torch.nn.functional.max_pool2d(theirs, 3, 2, 1).sum().backward()
    assert_close(ours.grad, theirs.grad, rtol=0, atol=0)


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
def test_pooling_errors(pool):
    with pytest.raises(ValueError, match="4D"):
        pool(tg.zeros(3, 6, 6), 2)
    with pytest.raises(ValueError, match="half of kernel_size"):
        pool(tg.zeros(1, 1, 6, 6), 2, padding=2)
    with pytest.raises(ValueError, match="does not fit"):
        pool(tg.zeros(1, 1, 2, 6), 3)


# ---------------------------------------------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_backward_uses_the_forward_mask(p, device):
    tg.manual_seed(0)
    x = tensor(np.random.default_rng(7).uniform(1, 2, size=(40, 50)), device, requires_grad=True)  # no zeros
    y = F.dropout(x, p=p, training=True)
    g = np.random.default_rng(8).standard_normal(x.shape)
    y.backward(tensor(g, device))
    kept = y.numpy() != 0
    assert 0 < kept.mean() < 1 and abs((1 - kept.mean()) - p) < 0.05
    assert_close(y.numpy()[kept], x.numpy()[kept] / (1 - p), rtol=1e-15, atol=0, what="kept values, rescaled")
    assert_close(x.grad, g * kept / (1 - p), rtol=1e-15, atol=0, what="the gradient flows through the same mask")


def test_dropout_is_reproducible_with_manual_seed():
    x = tg.ones(20, 30)
    tg.manual_seed(3)
    first = F.dropout(x).numpy()
    tg.manual_seed(3)
    assert_close(F.dropout(x), first, rtol=0, atol=0)
    assert not np.array_equal(F.dropout(x).numpy(), first), "a new mask for every call"


@pytest.mark.parametrize("p, training", [(0.0, True), (0.5, False), (1.0, False)])
def test_dropout_identity_cases(p, training):
    x = tg.Tensor(np.random.default_rng(9).standard_normal((5, 6)), requires_grad=True)
    y = F.dropout(x, p=p, training=training)
    assert_close(y, x, rtol=0, atol=0)
    y.sum().backward()
    assert_close(x.grad, np.ones(x.shape), rtol=0, atol=0)


def test_dropout_p_one_zeroes_values_and_gradients():
    x = tg.Tensor(np.random.default_rng(10).standard_normal((5, 6)), requires_grad=True)
    y = F.dropout(x, p=1.0)
    assert (y.numpy() == 0).all() and np.isfinite(y.numpy()).all()
    y.sum().backward()
    assert (x.grad.numpy() == 0).all()


def test_dropout_module_train_eval_and_dtype(device):
    layer = nn.Dropout(0.5)
    x = tensor(np.ones((30, 30), dtype=np.float32), device)
    y = layer(x)
    assert y.dtype == np.float32 and set(np.unique(y.numpy())) <= {0.0, 2.0}
    layer.eval()
    assert_close(layer(x), x, rtol=0, atol=0)
    for bad in (-0.1, 1.1):
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.dropout(x, p=bad)


# ---------------------------------------------------------------------------------------------------------------
# Numerical stability for huge logits (float64 and float32): finite, and equal to PyTorch
# ---------------------------------------------------------------------------------------------------------------
STABLE_CASES = [  # fn(F, logits, class labels, binary targets, pos_weight)
    ("softmax", lambda F, x, labels, targets, pos_weight: F.softmax(x, dim=1)),
    ("log_softmax", lambda F, x, labels, targets, pos_weight: F.log_softmax(x, dim=1)),
    ("cross_entropy", lambda F, x, labels, targets, pos_weight: F.cross_entropy(x, labels, reduction="none")),
    ("cross_entropy-smoothing",
     lambda F, x, labels, targets, pos_weight: F.cross_entropy(x, labels, label_smoothing=0.1)),
    ("bce_logits",
     lambda F, x, labels, targets, pos_weight: F.binary_cross_entropy_with_logits(x, targets, reduction="none")),
    ("bce_logits-pos_weight", lambda F, x, labels, targets, pos_weight: F.binary_cross_entropy_with_logits(
        x, targets, pos_weight=pos_weight, reduction="sum")),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, fn", STABLE_CASES, ids=[name for name, _ in STABLE_CASES])
def test_stable_for_huge_logits(name, fn, dtype):
    torch = import_torch()
    x = np.array([[1e4, -1e4, 0.0, 9999.0], [-1e4, -1e4, -1e4, -1e4], [5e3, -2e4, 1e4, 3.0]], dtype=dtype)
    labels_ = np.array([1, 0, 3])
    targets = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0]], dtype=dtype)
    pos_weight = np.array([3.0, 0.5, 1.0, 2.0], dtype=dtype)
    ours, theirs = tg.Tensor(x, requires_grad=True), torch_tensor(x, requires_grad=True)
    out = fn(F, ours, *(tg.Tensor(a) for a in (labels_, targets, pos_weight)))
    expected = fn(torch.nn.functional, theirs, *(torch_tensor(a) for a in (labels_, targets, pos_weight)))
    assert np.isfinite(out.numpy()).all()
    tolerance = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-4)
    assert_close(out, expected, what="output", **tolerance)
    g = np.ones(expected.shape, dtype=dtype)
    out.backward(tg.Tensor(g))
    expected.backward(torch_tensor(g))
    assert np.isfinite(ours.grad.numpy()).all()
    assert_close(ours.grad, theirs.grad, what="grad", **tolerance)


# ---------------------------------------------------------------------------------------------------------------
# Loss errors
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target, words", [
    (np.array([0, 3, 1]), r"\[0, 2\]"),                     # class index == C
    (np.array([0, -1, 1]), r"\[0, 2\]"),                    # negative index
    (np.array([0.0, 1.0, 2.0]), "integers"),                # class indices given as floats
    (np.array([0, 1]), r"shape \(3,\)"),                    # one label missing
    (np.zeros((3, 2)), "shape"),                            # probabilities of the wrong shape
])
def test_cross_entropy_bad_targets(target, words):
    logits = tg.Tensor(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=words):
        F.cross_entropy(logits, tg.Tensor(target, dtype=target.dtype))


def test_loss_argument_errors():
    logits, labels_ = tg.Tensor(np.zeros((3, 3))), tg.Tensor(np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, labels_, reduction="average")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(logits, labels_, label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        F.cross_entropy(tg.zeros(3), labels_)
    with pytest.raises(ValueError, match="shape"):
        F.binary_cross_entropy_with_logits(logits, tg.zeros(3, 2))
    with pytest.raises(ValueError, match="shape"):
        F.mse_loss(logits, tg.zeros(3))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(logits, logits, reduction="max")
    with pytest.raises(ValueError, match="features"):
        F.linear(tg.zeros(2, 5), tg.zeros(3, 4))


def test_losses_keep_float32():
    x = tg.Tensor(np.random.default_rng(11).standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    losses = [F.cross_entropy(x, tg.Tensor(np.array([0, 1, 2, 0]))),
              F.binary_cross_entropy_with_logits(x, tg.Tensor(np.ones((4, 3), dtype=np.float32))),
              F.mse_loss(x, tg.zeros(4, 3))]
    for loss in losses:
        assert loss.dtype == np.float32
        loss.backward()
    assert x.grad.dtype == np.float32
