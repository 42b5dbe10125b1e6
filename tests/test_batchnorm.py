"""Batch normalization: the fused op with its analytic backward, checked three ways.

1. gradcheck (float64) for x, gamma and beta, in training and in eval mode, for 2D, 3D and 4D inputs;
2. equality with a BN composed from primitive Tensor ops (mean, variance, sqrt, ...), whose backward autograd
   derives op by op: same values, same gradients;
3. parity with PyTorch's F.batch_norm and nn.BatchNorm1d/2d: outputs, every gradient, and the running statistics
   over several steps (momentum 0.1, 0.5, None; affine=False; track_running_stats=False; eval mode).

Then the edge cases PyTorch users rely on: constant channels, one value per channel, wrong ranks, eval outputs
that do not depend on the rest of the batch, and inputs stored channel-major (the layout conv2d produces).
"""
import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
import tinygrad_bn.nn.functional as F
from tinygrad_bn import gradcheck, kernels
from tinygrad_bn.nn.functional.batchnorm import batch_norm_simple
from tinygrad_bn.kernels.layout import is_channel_major
from conftest import FakeCudaArray, assert_close, import_torch, tensor, torch_tensor

SHAPES = {"2D": (6, 3), "3D": (4, 3, 5), "4D": (3, 2, 4, 3)}


def channel_major_copy(x):
    return np.ascontiguousarray(x.swapaxes(0, 1)).swapaxes(0, 1)


def random_inputs(shape, seed=0):
    """x with per-channel offsets and scales (so normalizing does something), gamma around 1, beta, and running
    statistics that differ from the batch's own (so eval mode visibly uses them)."""
    rng = np.random.default_rng(seed)
    C = shape[1]
    channel = (1, C) + (1,) * (len(shape) - 2)
    x = rng.standard_normal(shape) * rng.uniform(0.5, 3, C).reshape(channel) + rng.standard_normal(C).reshape(channel)
    gamma, beta = rng.uniform(0.5, 1.5, C), rng.standard_normal(C)
    running_mean, running_var = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    return x, gamma, beta, running_mean, running_var


# ---------------------------------------------------------------------------------------------------------------
# The reference: BN composed from primitive Tensor ops; autograd differentiates it op by op.
# ---------------------------------------------------------------------------------------------------------------
def composed_batch_norm(x, gamma, beta, running_mean, running_var, training, eps=1e-5):
    """y = (x - mean) / sqrt(var + eps) * gamma + beta, mean and biased var over every axis but 1 (training),
    or the running statistics (eval): the package's reference, batch_norm_simple, on copies of the statistics."""
    stats = [tensor(running_mean, x.device), tensor(running_var, x.device)]  # copies, on x's device
    return batch_norm_simple(x, *stats, gamma, beta, training=training, eps=eps)


# ---------------------------------------------------------------------------------------------------------------
# 1. gradcheck
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("rank", list(SHAPES))
def test_gradcheck(rank, training):
    x, gamma, beta, running_mean, running_var = random_inputs(SHAPES[rank])
    inputs = [tg.Tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    # Copies of the running statistics, because training updates them in place on every call gradcheck makes.
    fn = lambda x, g, b: F.batch_norm(x, running_mean.copy(), running_var.copy(), g, b, training=training)
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_gradcheck_without_affine(training):
    x, _, _, running_mean, running_var = random_inputs(SHAPES["3D"], seed=1)
    fn = lambda x: F.batch_norm(x, running_mean.copy(), running_var.copy(), training=training)
    assert gradcheck(fn, [tg.Tensor(x, requires_grad=True)])


# ---------------------------------------------------------------------------------------------------------------
# 2. The fused op equals the composed reference, values and gradients
# ---------------------------------------------------------------------------------------------------------------
def forward_backward(fn, arrays, g, device):
    """Run fn on fresh leaf Tensors built from `arrays` (None stays None), backprop g; output and grads."""
    leaves = [None if a is None else tensor(a, device, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    out.backward(tensor(g, device))
    return out.numpy(), [None if t is None else t.grad.numpy() for t in leaves]


@pytest.mark.parametrize("affine", [True, False], ids=["affine", "no-affine"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("rank", list(SHAPES))
def test_fused_equals_composed(rank, training, affine, device):
    x, gamma, beta, running_mean, running_var = random_inputs(SHAPES[rank], seed=2)
    if not affine:
        gamma = beta = None
    g = np.random.default_rng(3).standard_normal(x.shape)

    def fused(x, gamma, beta):
        mean, var = tensor(running_mean, device), tensor(running_var, device)
        return F.batch_norm(x, mean, var, gamma, beta, training=training)

    def composed(x, gamma, beta):
        return composed_batch_norm(x, gamma, beta, running_mean, running_var, training)

    out, grads = forward_backward(fused, (x, gamma, beta), g, device)
    ref_out, ref_grads = forward_backward(composed, (x, gamma, beta), g, device)
    assert_close(out, ref_out, rtol=1e-10, atol=1e-12, what="output")
    for name, mine, ref in zip(("x", "gamma", "beta"), grads, ref_grads):
        if ref is not None:
            assert_close(mine, ref, rtol=1e-9, atol=1e-12, what=f"grad of {name}")


# ---------------------------------------------------------------------------------------------------------------
# 3. Parity with PyTorch
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("momentum", [0.1, 0.5])
@pytest.mark.parametrize("rank", list(SHAPES))
def test_functional_matches_torch_over_steps(rank, momentum, device):
    """Three training steps updating the running statistics in place, then an eval step; all gradients."""
    torch = import_torch()
    x, gamma, beta, running_mean, running_var = random_inputs(SHAPES[rank], seed=4)
    ours_stats = [tensor(running_mean, device), tensor(running_var, device)]
    theirs_stats = [torch_tensor(running_mean), torch_tensor(running_var)]
    rng = np.random.default_rng(5)
    for step, training in enumerate([True, True, True, False]):
        x_step = x * (step + 1) + step  # batches with different statistics
        g = rng.standard_normal(x.shape)
        ours = [tensor(a, device, requires_grad=True) for a in (x_step, gamma, beta)]
        theirs = [torch_tensor(a, requires_grad=True) for a in (x_step, gamma, beta)]
        out = F.batch_norm(ours[0], *ours_stats, ours[1], ours[2], training=training, momentum=momentum)
        expected = torch.nn.functional.batch_norm(theirs[0], *theirs_stats, theirs[1], theirs[2], training=training,
                                                  momentum=momentum)
        assert_close(out, expected, rtol=1e-10, atol=1e-12, what=f"step {step}: output")
        out.backward(tensor(g, device))
        expected.backward(torch_tensor(g))
        for name, mine, theirs_ in zip(("x", "weight", "bias"), ours, theirs):
            assert_close(mine.grad, theirs_.grad, rtol=1e-9, atol=1e-12, what=f"step {step}: grad of {name}")
        for name, mine, theirs_ in zip(("running_mean", "running_var"), ours_stats, theirs_stats):
            assert_close(mine, theirs_, rtol=1e-12, atol=1e-14, what=f"step {step}: {name}")


@pytest.mark.parametrize("weight, bias", [(True, False), (False, True), (False, False)])
def test_functional_partial_affine_and_no_running_stats_match_torch(weight, bias):
    """weight without bias (or the reverse) and running statistics None, as torch allows."""
    torch = import_torch()
    x, gamma, beta, _, _ = random_inputs(SHAPES["4D"], seed=6)
    g = np.random.default_rng(7).standard_normal(x.shape)
    arrays = (x, gamma if weight else None, beta if bias else None)
    ours = [None if a is None else tg.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [None if a is None else torch_tensor(a, requires_grad=True) for a in arrays]
    out = F.batch_norm(ours[0], None, None, ours[1], ours[2], training=True)
    expected = torch.nn.functional.batch_norm(theirs[0], None, None, theirs[1], theirs[2], training=True)
    assert_close(out, expected, rtol=1e-10, atol=1e-12)
    out.backward(tg.Tensor(g))
    expected.backward(torch_tensor(g))
    for mine, theirs_ in zip(ours, theirs):
        if mine is not None:
            assert_close(mine.grad, theirs_.grad, rtol=1e-9, atol=1e-12)


MODULE_CASES = [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (4, 3, 5)), ("BatchNorm2d", (3, 3, 4, 5))]
MODULE_OPTIONS = [{"momentum": 0.1}, {"momentum": 0.5}, {"momentum": None}, {"affine": False},
                  {"track_running_stats": False}]


@pytest.mark.parametrize("options", MODULE_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("layer, shape", MODULE_CASES, ids=[f"{n}-{len(s)}D" for n, s in MODULE_CASES])
def test_module_matches_torch_with_gradients(layer, shape, options, device):
    """Three training steps with backward, then eval with backward: outputs, grads of x and of the parameters,
    running_mean, running_var and num_batches_tracked after every step."""
    torch = import_torch()
    theirs = getattr(torch.nn, layer)(shape[1], **options).double()
    if theirs.affine:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 1.5)
            theirs.bias.normal_()
    ours = getattr(nn, layer)(shape[1], **options).double()
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    ours.to(device)
    rng = np.random.default_rng(8)
    for step in range(4):
        if step == 3:
            ours.eval(), theirs.eval()
        x, g = rng.standard_normal(shape) * (step + 1) - step, rng.standard_normal(shape)
        x_ours, x_theirs = tensor(x, device, requires_grad=True), torch_tensor(x, requires_grad=True)
        out, expected = ours(x_ours), theirs(x_theirs)
        assert_close(out, expected, rtol=1e-10, atol=1e-12, what=f"step {step}: output")
        out.backward(tensor(g, device))
        expected.backward(torch_tensor(g))
        assert_close(x_ours.grad, x_theirs.grad, rtol=1e-9, atol=1e-12, what=f"step {step}: grad of x")
        their_params = dict(theirs.named_parameters())
        for name, param in ours.named_parameters():
            assert_close(param.grad, their_params[name].grad, rtol=1e-9, atol=1e-12, what=f"step {step}: {name}")
        their_state = theirs.state_dict()
        assert list(ours.state_dict()) == list(their_state)
        for key, value in ours.state_dict().items():
            assert_close(value, their_state[key], rtol=1e-12, atol=1e-14, what=f"step {step}: {key}")


# ---------------------------------------------------------------------------------------------------------------
# Edge cases
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_constant_channel_gives_finite_outputs_and_grads(dtype, device):
    """var = 0: inv_std = 1/sqrt(eps) is large but finite, x_hat = 0, so y = beta and every gradient is finite."""
    torch = import_torch()
    x, gamma, beta, _, _ = random_inputs((4, 3, 3, 3), seed=9)
    x[:, 1] = 0.1  # not exactly representable in float32: the mean may differ from it by a rounding error
    x, gamma, beta = x.astype(dtype), gamma.astype(dtype), beta.astype(dtype)
    g = np.random.default_rng(10).standard_normal(x.shape).astype(dtype)
    module = nn.BatchNorm2d(3, dtype=dtype).to(device)
    ours = [tensor(x, device, requires_grad=True), module.weight, module.bias]
    module.weight.array[:], module.bias.array[:] = tensor(gamma, device).array, tensor(beta, device).array
    out = module(ours[0])
    out.backward(tensor(g, device))
    assert np.isfinite(out.numpy()).all()
    assert all(np.isfinite(t.grad.numpy()).all() for t in ours)
    assert np.isfinite(module.running_var.numpy()).all()

    theirs = [torch_tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    expected = torch.nn.functional.batch_norm(theirs[0], None, None, theirs[1], theirs[2], training=True)
    expected.backward(torch_tensor(g))
    tolerance = dict(rtol=1e-9, atol=1e-9) if dtype == np.float64 else dict(rtol=1e-3, atol=1e-3)
    assert_close(out, expected, what="output", **tolerance)
    for name, mine, theirs_ in zip(("x", "weight", "bias"), ours, theirs):
        assert_close(mine.grad, theirs_.grad, what=f"grad of {name}", **tolerance)


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1), (1, 3, 1, 1)])
def test_one_value_per_channel_in_training_raises_torchs_message(shape):
    torch = import_torch()
    with pytest.raises(ValueError) as theirs:
        torch.nn.functional.batch_norm(torch.zeros(shape), None, None, training=True)
    with pytest.raises(ValueError) as ours:
        F.batch_norm(tg.zeros(*shape), None, None, training=True)
    prefix = "Expected more than 1 value per channel when training, got input size"
    assert str(theirs.value).startswith(prefix)
    assert str(ours.value).startswith(prefix)
    assert "3" in str(ours.value)[len(prefix):], "the message shows the input size"


def test_one_sample_with_several_pixels_trains(device):
    """N = 1 is fine when each channel still has several values (H*W > 1): statistics over H and W."""
    torch = import_torch()
    x, gamma, beta, _, _ = random_inputs((1, 2, 3, 4), seed=11)
    out = F.batch_norm(tensor(x, device), None, None, tensor(gamma, device), tensor(beta, device), training=True)
    expected = torch.nn.functional.batch_norm(torch_tensor(x), None, None, torch_tensor(gamma), torch_tensor(beta),
                                              training=True)
    assert_close(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("layer, shape", [("BatchNorm2d", (2, 3, 4)), ("BatchNorm2d", (2, 3)),
                                          ("BatchNorm2d", (2, 3, 4, 4, 4)), ("BatchNorm1d", (3,)),
                                          ("BatchNorm1d", (2, 3, 4, 4))])
def test_wrong_rank_raises_torchs_message(layer, shape):
    torch = import_torch()
    with pytest.raises(ValueError) as theirs:
        getattr(torch.nn, layer)(3)(torch.zeros(shape))
    with pytest.raises(ValueError) as ours:
        getattr(nn, layer)(3)(tg.zeros(*shape))
    assert str(ours.value) == str(theirs.value)


def test_functional_rejects_inputs_without_a_channel_dim_and_bad_stat_shapes():
    with pytest.raises(ValueError, match="channel"):
        F.batch_norm(tg.zeros(5), None, None, training=True)
    with pytest.raises(ValueError, match="running_mean"):
        F.batch_norm(tg.zeros(4, 3), np.zeros(2), np.ones(3), training=True)
    with pytest.raises(ValueError, match="running_mean and running_var are required"):
        F.batch_norm(tg.zeros(4, 3), None, None, training=False)


@pytest.mark.parametrize("batch_norm", [F.batch_norm, batch_norm_simple], ids=["fused", "composed"])
def test_running_stats_on_another_device_are_refused_by_name(batch_norm):
    """Statistics on the CPU with an input on the GPU (a module half moved with .to): a clear error naming both
    devices and the statistic, before anything is computed or updated (an array the backend takes for a CuPy one
    stands in for the GPU, so this runs without one)."""
    fake_cuda = tg.Tensor._wrap(np.zeros((4, 3)).view(FakeCudaArray))
    running_mean, running_var = np.zeros(3), np.ones(3)
    for training in (True, False):
        with pytest.raises(RuntimeError, match="input on cuda and running_mean on cpu"):
            batch_norm(fake_cuda, running_mean, running_var, training=training)
    assert (running_mean == 0).all() and (running_var == 1).all()


@pytest.mark.parametrize("rank", ["3D", "4D"])
def test_eval_output_of_a_sample_does_not_depend_on_the_batch(rank):
    x, gamma, beta, running_mean, running_var = random_inputs(SHAPES[rank], seed=12)

    def bn(batch):
        return F.batch_norm(tg.Tensor(batch), running_mean, running_var, tg.Tensor(gamma), tg.Tensor(beta)).numpy()

    together = bn(x)
    alone = np.concatenate([bn(x[i:i + 1]) for i in range(len(x))])
    other_company = bn(np.concatenate([x[:1], 100 + 10 * x[1:]]))[:1]  # wildly different companions
    assert_close(alone, together, rtol=1e-13, atol=1e-14)
    assert_close(other_company, together[:1], rtol=1e-13, atol=1e-14)
    # and it is the running statistics that normalize, not the batch's own
    channel = (1, -1) + (1,) * (x.ndim - 2)
    expected = (x - running_mean.reshape(channel)) / np.sqrt(running_var.reshape(channel) + 1e-5)
    assert_close(together, expected * gamma.reshape(channel) + beta.reshape(channel), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_channel_major_and_contiguous_inputs_agree(training, device):
    x, gamma, beta, running_mean, running_var = random_inputs((3, 4, 5, 6), seed=13)
    g = np.random.default_rng(14).standard_normal(x.shape)
    stats = {}

    def bn(layout):
        def fn(x, gamma, beta):
            stats[layout] = [tensor(running_mean, device), tensor(running_var, device)]
            return F.batch_norm(x, *stats[layout], gamma, beta, training=training, momentum=0.3)
        return fn

    x_cm, g_cm = channel_major_copy(x), channel_major_copy(g)
    assert is_channel_major(tensor(x_cm, device).array)
    out, grads = forward_backward(bn("contiguous"), (x, gamma, beta), g, device)
    out_cm, grads_cm = forward_backward(bn("channel-major"), (x_cm, gamma, beta), g_cm, device)
    assert_close(out_cm, out, rtol=1e-13, atol=1e-14, what="output")
    for name, a, b in zip(("x", "gamma", "beta"), grads_cm, grads):
        assert_close(a, b, rtol=1e-12, atol=1e-13, what=f"grad of {name}")
    for a, b in zip(stats["channel-major"], stats["contiguous"]):
        assert_close(a, b, rtol=1e-13, atol=1e-14, what="running statistics")


def test_running_stats_given_as_tensors_or_arrays_update_in_place(device):
    x, _, _, running_mean, running_var = random_inputs((5, 3), seed=15)
    as_tensors = [tensor(running_mean, device), tensor(running_var, device)]
    arrays = [running_mean.copy(), running_var.copy()]
    buffers_before = [t.array for t in as_tensors]
    F.batch_norm(tensor(x, device), *as_tensors, training=True, momentum=0.2)
    F.batch_norm(tg.Tensor(x), *arrays, training=True, momentum=0.2)
    assert all(t.array is before for t, before in zip(as_tensors, buffers_before)), "updated in place"
    expected_mean = 0.8 * running_mean + 0.2 * x.mean(axis=0)
    expected_var = 0.8 * running_var + 0.2 * x.var(axis=0, ddof=1)  # the unbiased variance is what is stored
    for stats in (as_tensors, arrays):
        assert_close(stats[0], expected_mean, rtol=1e-13, atol=1e-14)
        assert_close(stats[1], expected_var, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_a_numpy_float64_eps_keeps_float32_float32(training, device):
    rng = np.random.default_rng(17)
    x, gamma, beta = (tensor(rng.standard_normal(shape).astype(np.float32), device, requires_grad=True)
                      for shape in ((4, 3, 2, 2), (3,), (3,)))
    stats = [tensor(np.zeros(3, dtype=np.float32), device), tensor(np.ones(3, dtype=np.float32), device)]
    for plain in (False, True):
        with kernels.plain(plain):
            out = F.batch_norm(x, *stats, gamma, beta, training=training, eps=np.float64(1e-3))
            out.sum().backward()
        dtypes = {out.dtype, x.grad.dtype, gamma.grad.dtype, beta.grad.dtype, stats[1].dtype}
        assert dtypes == {np.dtype(np.float32)}, f"plain={plain}: {dtypes}"


def test_float32_stays_float32(device):
    x, gamma, beta, _, _ = random_inputs((4, 3, 2, 2), seed=16)
    module = nn.BatchNorm2d(3).to(device)
    xt = tensor(x.astype(np.float32), device, requires_grad=True)
    out = module(xt)
    out.sum().backward()
    assert out.dtype == xt.grad.dtype == module.weight.grad.dtype == module.running_var.dtype == np.float32
