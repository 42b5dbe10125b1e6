"""PyTorch's remaining modules, as tinygrad_bn stands in for them: torch.utils.checkpoint (same values and gradients
as without checkpointing, and as PyTorch), torch.jit (an eager pass-through), torch.nn.parallel (one device, PyTorch's
state_dict keys), torch.utils.data's submodules and samplers, and layer constructors that take device and dtype
positionally."""
import importlib
import inspect
import warnings

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
from tinygrad_bn.utils.checkpoint import checkpoint, checkpoint_sequential
from conftest import assert_close, import_torch


def block(lib, seed=0):
    """A small float64 block whose weights are the same numbers in both libraries."""
    rng = np.random.default_rng(seed)
    model = lib.nn.Sequential(lib.nn.Linear(4, 5), lib.nn.Tanh(), lib.nn.Linear(5, 3), lib.nn.Sigmoid()).double()
    with lib.no_grad():
        for param in model.parameters():
            param.copy_(lib.tensor(rng.standard_normal(tuple(param.shape))))
    return model


# ---------------------------------------------------------------------------------------------------------------
# torch.utils.checkpoint
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpoint_gradchecks(use_reentrant):
    """CheckpointFn is a Function of its own (forward without a graph, backward by recomputing): its gradient is
    checked against central differences in float64, for every input, like every other op's."""
    rng = np.random.default_rng(3)
    x = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    assert tg.gradcheck(lambda a, b: checkpoint(lambda p, q: (p @ q).tanh() * p.sum(), a, b,
                                                use_reentrant=use_reentrant), (x, w))


def gradients(lib, use_checkpoint, values, **options):
    model = block(lib)
    x = lib.tensor(values, requires_grad=True)
    if use_checkpoint:
        out = lib.utils.checkpoint.checkpoint(model, x * 2, **options)
    else:
        out = model(x * 2)
    (out * out).sum().backward()
    return [out.detach().numpy(), x.grad.numpy()] + [p.grad.numpy() for p in model.parameters()]


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpoint_gives_the_same_values_and_gradients(use_reentrant):
    torch = import_torch()
    values = np.random.default_rng(1).standard_normal((2, 4))
    plain = gradients(tg, False, values)
    checkpointed = gradients(tg, True, values, use_reentrant=use_reentrant)
    expected = gradients(torch, True, values, use_reentrant=use_reentrant)
    for got, without, torch_value in zip(checkpointed, plain, expected):
        assert_close(got, without)
        assert_close(got, torch_value)


def test_checkpoint_keeps_no_activations_and_recomputes_in_backward():
    calls = []

    def function(x, scale):
        calls.append(tg.is_grad_enabled())
        return (x * scale).tanh()

    x = tg.tensor(np.array([0.5, -1.0]), requires_grad=True)
    out = checkpoint(function, x, 3.0, use_reentrant=False)
    assert calls == [False]                       # forward: under no_grad, nothing inside is recorded
    assert type(out.grad_fn).__name__ == "CheckpointFn"
    out.sum().backward()
    assert calls == [False, True]                 # backward: run again, recording
    assert_close(x.grad, 3 * (1 - np.tanh(3 * x.numpy()) ** 2))


def test_checkpoint_replays_dropout():
    tg.manual_seed(0)
    x = tg.tensor(np.ones((4, 50)), requires_grad=True)
    out = checkpoint(nn.functional.dropout, x, 0.5, True, use_reentrant=False)
    out.sum().backward()
    assert_close(x.grad, out.detach().numpy())    # the gradient's mask is the forward's mask (2 where kept, 0 else)


def test_checkpoint_with_no_input_that_requires_grad():
    model = block(tg)
    x = tg.tensor(np.ones((1, 4)))
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        assert not checkpoint(model, x, use_reentrant=True).requires_grad
    checkpoint(model, x, use_reentrant=False).sum().backward()  # recorded as usual: the parameters get gradients
    assert all(p.grad is not None for p in model.parameters())


def test_checkpoint_sequential_matches_pytorch():
    torch = import_torch()
    values = np.random.default_rng(2).standard_normal((3, 4))

    def run(lib):
        model = block(lib)
        x = lib.tensor(values, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = lib.utils.checkpoint.checkpoint_sequential(model, 2, x, use_reentrant=True)
        out.sum().backward()
        return [out.detach().numpy(), x.grad.numpy()] + [p.grad.numpy() for p in model.parameters()]

    for got, expected in zip(run(tg), run(torch)):
        assert_close(got, expected)


# ---------------------------------------------------------------------------------------------------------------
# torch.jit and torch.nn.parallel
# ---------------------------------------------------------------------------------------------------------------
def test_jit_is_an_eager_pass_through():
    import tinygrad_bn.jit as jit_by_path
    assert jit_by_path is tg.jit
    model = block(tg)
    assert tg.jit.script(model) is model
    assert tg.jit.trace(model, tg.ones(1, 4)) is model

    @tg.jit.ignore
    def ignored(x):
        return x

    @tg.jit.ignore(drop=True)
    def dropped(x):
        return x

    assert tg.jit.unused(ignored) is ignored and tg.jit.export(ignored) is ignored and dropped(3) == 3
    assert tg.jit.is_scripting() is False and tg.jit.is_tracing() is False
    assert tg.jit.annotate(list, [1]) == [1]
    assert tg.jit.Final is not None


def test_data_parallel_runs_the_module_and_keeps_pytorchs_keys():
    torch = import_torch()
    wrapped, torch_wrapped = nn.DataParallel(block(tg)), torch.nn.DataParallel(block(torch))
    assert list(wrapped.state_dict()) == list(torch_wrapped.state_dict())
    assert list(wrapped.state_dict())[0] == "module.0.weight"
    values = np.ones((2, 4))
    assert_close(wrapped(tg.tensor(values)), torch_wrapped(torch.tensor(values)))
    assert_close(nn.parallel.data_parallel(block(tg), tg.tensor(values)), wrapped(tg.tensor(values)))
    from tinygrad_bn.nn.parallel import DataParallel
    assert DataParallel is nn.DataParallel
    wrapped.load_state_dict(torch_wrapped.state_dict())  # a DataParallel checkpoint loads


# ---------------------------------------------------------------------------------------------------------------
# torch.utils.data's submodules and samplers
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("module, name", [("dataloader", "DataLoader"), ("dataloader", "default_collate"),
                                          ("dataset", "Dataset"), ("dataset", "TensorDataset"),
                                          ("dataset", "random_split"), ("sampler", "RandomSampler"),
                                          ("sampler", "BatchSampler")])
def test_utils_data_submodules_give_the_same_objects(module, name):
    by_torch_path = getattr(importlib.import_module(f"tinygrad_bn.utils.data.{module}"), name)
    assert by_torch_path is getattr(tg.utils.data, name)
    assert by_torch_path is getattr(importlib.import_module(f"tinygrad_bn.pytorch.utils.data.{module}"), name)
    torch = import_torch()
    assert hasattr(importlib.import_module(f"torch.utils.data.{module}"), name)


def test_samplers_match_pytorch_where_deterministic():
    torch = import_torch()
    data = list(range(7))
    for lib in (tg, torch):
        assert list(lib.utils.data.SequentialSampler(data)) == data
        batches = list(lib.utils.data.BatchSampler(lib.utils.data.SequentialSampler(data), 3, drop_last=False))
        assert batches == [[0, 1, 2], [3, 4, 5], [6]]
        assert len(lib.utils.data.BatchSampler(data, 3, drop_last=True)) == 2
    order = list(tg.utils.data.RandomSampler(data, generator=tg.Generator().manual_seed(0)))
    assert sorted(order) == data
    assert len(list(tg.utils.data.RandomSampler(data, replacement=True, num_samples=20))) == 20
    assert sorted(tg.utils.data.SubsetRandomSampler([2, 4, 6])) == [2, 4, 6]
    loader = tg.utils.data.DataLoader(data, batch_sampler=tg.utils.data.BatchSampler(data, 4, drop_last=False))
    assert [b.tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6]]
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        tg.utils.data.BatchSampler(data, 0, drop_last=False)


# ---------------------------------------------------------------------------------------------------------------
# Layer constructors: device and dtype, positionally too
# ---------------------------------------------------------------------------------------------------------------
def test_layer_constructors_take_device_and_dtype_positionally():
    torch = import_torch()

    class Wide(nn.Linear):
        def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
            super().__init__(in_features, out_features, bias, device, dtype)

    assert Wide(2, 3, True, "cpu", tg.float64).weight.dtype == tg.float64
    conv = nn.Conv2d(1, 2, 3, 1, 0, 1, 1, True, "zeros", "cpu", tg.float64)
    assert conv.weight.dtype == tg.float64
    for name in ("Linear", "Conv2d", "ConvTranspose2d", "BatchNorm2d"):  # the arguments that may be positional
        ours = inspect.signature(getattr(nn, name)).parameters.values()
        theirs = inspect.signature(getattr(torch.nn, name)).parameters.values()
        assert [(p.name, p.default) for p in ours if p.kind == p.POSITIONAL_OR_KEYWORD] == \
            [(p.name, p.default) for p in theirs if p.kind == p.POSITIONAL_OR_KEYWORD], name


# ---------------------------------------------------------------------------------------------------------------
# nn.init.orthogonal_ and nn.KLDivLoss (the differentiable kl_div is a row of test_compat.py's CASES)
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (4, 2, 3)])
def test_orthogonal_is_pytorchs_qr_of_a_gaussian(shape):
    """The result is Q of the Gaussian the library draws, with R's diagonal positive (what PyTorch computes from its
    own draw), and its rows (rows <= cols) or columns (rows >= cols) are orthonormal."""
    torch = import_torch()
    rows = shape[0]
    cols = int(np.prod(shape)) // rows
    tg.manual_seed(3)
    gaussian = tg.randn(rows, cols, dtype=tg.float64).numpy()
    tg.manual_seed(3)
    weight = nn.init.orthogonal_(tg.zeros(*shape, dtype=tg.float64), gain=2.0)
    q = weight.numpy().reshape(rows, cols) / 2
    tall = torch.tensor(gaussian if rows >= cols else gaussian.T)  # PyTorch's steps, on the same numbers
    torch_q, torch_r = torch.linalg.qr(tall)
    torch_q = torch_q * torch.diag(torch_r).sign()
    assert_close(q, torch_q.numpy() if rows >= cols else torch_q.numpy().T, atol=1e-12)
    small = min(rows, cols)
    assert_close(q @ q.T if rows <= cols else q.T @ q, np.eye(small), atol=1e-12)


def test_orthogonal_errors_and_float32():
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        nn.init.orthogonal_(tg.zeros(3))
    weight = nn.Linear(6, 4).weight
    nn.init.orthogonal_(weight)
    assert weight.dtype == tg.float32
    assert_close(weight.numpy() @ weight.numpy().T, np.eye(4), atol=1e-6)


def test_kl_div_loss_module_and_warning():
    torch = import_torch()
    rng = np.random.default_rng(4)
    logits, target = rng.standard_normal((3, 4)), rng.random((3, 4))
    target[1, 2] = 0.0  # 0 log 0 = 0, as PyTorch's xlogy
    for options in ({"reduction": "batchmean"}, {"reduction": "sum"}, {"reduction": "batchmean", "log_target": True}):
        ours = nn.KLDivLoss(**options)(tg.tensor(logits).log_softmax(1), tg.tensor(target))
        theirs = torch.nn.KLDivLoss(**options)(torch.tensor(logits).log_softmax(1), torch.tensor(target))
        assert_close(ours, theirs, what=str(options))
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        mean = nn.KLDivLoss()(tg.tensor(logits), tg.tensor(target))
    assert_close(mean, tg.nn.functional.kl_div(tg.tensor(logits), tg.tensor(target), reduction="sum") / 12)
    with pytest.raises(ValueError, match="batchmean"):
        tg.nn.functional.kl_div(tg.tensor(logits), tg.tensor(target), reduction="average")


@pytest.mark.parametrize("dim, start, length", [(0, 2, 3), (1, -3, 2), (-1, 0, 0), (0, 6, 0)])
def test_narrow_matches_pytorch(dim, start, length):
    torch = import_torch()
    values = np.arange(24.0).reshape(6, 4)
    x = tg.tensor(values, requires_grad=True)
    out = x.narrow(dim, start, length)
    expected = torch.tensor(values).narrow(dim, start, length)
    assert_close(out, expected)
    out.sum().backward()
    mask = torch.zeros(6, 4, dtype=torch.float64)
    mask.narrow(dim, start, length).fill_(1.0)
    assert_close(x.grad, mask)


def test_narrow_past_the_end_names_the_sizes():
    with pytest.raises(RuntimeError, match=r"start \(4\) \+ length \(3\) exceeds dimension size \(6\)"):
        tg.zeros(6, 4).narrow(0, 4, 3)
