"""torch.nn.utils: gradient clipping and the parameters as one vector, against PyTorch on the same gradients."""
import math

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
from conftest import assert_close, import_torch, tensor, torch_tensor

SHAPES = [(3, 4), (4,), (2, 2, 3)]


def parameters_with_gradients(device, scale, seed=0, dtype=np.float64):
    """Ours and torch's: the same values and the same .grad (scaled so that clipping does or does not happen)."""
    torch = import_torch()
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for shape in SHAPES:
        value, grad = rng.standard_normal(shape), scale * rng.standard_normal(shape)
        p = tensor(value, device, requires_grad=True, dtype=dtype)
        p.grad = tensor(grad, device, dtype=dtype)
        t = torch.tensor(value, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True)
        t.grad = torch.tensor(grad, dtype=t.dtype)
        ours.append(p)
        theirs.append(t)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf])
@pytest.mark.parametrize("scale", [0.01, 10.0], ids=["below-max-norm", "above-max-norm"])
def test_clip_grad_norm_matches_torch(norm_type, scale, device):
    torch = import_torch()
    ours, theirs = parameters_with_gradients(device, scale)
    total = nn.utils.clip_grad_norm_(iter(ours), max_norm=1.5, norm_type=norm_type)  # a generator, as in real code
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm=1.5, norm_type=norm_type)
    assert_close(total, expected, what="total norm")
    for p, t in zip(ours, theirs):
        assert_close(p.grad, t.grad, what="clipped gradient")
    if scale == 10.0:  # the clipped gradients now have (almost) the maximal norm
        norms = [np.linalg.norm(p.grad.numpy().ravel(), ord=norm_type) for p in ours]
        assert np.linalg.norm(norms, ord=norm_type) == pytest.approx(1.5, rel=1e-5)


def test_clip_grad_norm_in_float32_keeps_the_dtype(device):
    torch = import_torch()
    ours, theirs = parameters_with_gradients(device, 10.0, dtype=np.float32)
    total = nn.utils.clip_grad_norm_(ours, 0.5)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 0.5)
    assert total.dtype == tg.float32 and all(p.grad.dtype == tg.float32 for p in ours)
    assert_close(total, expected, rtol=1e-5)
    for p, t in zip(ours, theirs):
        assert_close(p.grad, t.grad, rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_leaves_out_parameters_without_gradients_and_takes_one_tensor(device):
    ours, _ = parameters_with_gradients(device, 10.0)
    no_grad = tensor(np.ones(3), device, requires_grad=True)
    total = nn.utils.clip_grad_norm_([no_grad] + ours, 1.0)
    assert no_grad.grad is None and total.item() > 1.0
    single = ours[0]
    before = single.grad.numpy().copy()
    nn.utils.clip_grad_norm_(single, 1e-3)
    assert_close(single.grad, before * 1e-3 / (np.linalg.norm(before) + 1e-6))
    assert nn.utils.clip_grad_norm_([no_grad], 1.0).item() == 0.0


def test_a_non_finite_norm_raises_when_asked(device):
    ours, _ = parameters_with_gradients(device, 1.0)
    ours[1].grad.array[0] = np.nan
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    assert math.isnan(nn.utils.clip_grad_norm_(ours, 1.0).item())  # PyTorch's default: scale by it anyway


def test_clip_grad_value_matches_torch(device):
    torch = import_torch()
    ours, theirs = parameters_with_gradients(device, 2.0)
    assert nn.utils.clip_grad_value_(ours, 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, t in zip(ours, theirs):
        assert_close(p.grad, t.grad)
        assert np.abs(p.grad.numpy()).max() <= 0.7


def test_parameters_to_vector_and_back(device):
    torch = import_torch()
    ours, theirs = parameters_with_gradients(device, 1.0)
    vector = nn.utils.parameters_to_vector(ours)
    assert_close(vector, torch.nn.utils.parameters_to_vector(theirs))
    old_grads = np.concatenate([t.grad.numpy().ravel() for t in theirs])
    weights = np.arange(vector.shape[0], dtype=np.float64)
    (vector * tensor(weights, device)).sum().backward()  # the vector carries gradients back to each parameter
    assert_close(tg.cat([p.grad.reshape(-1) for p in ours]), old_grads + weights)
    new = tensor(np.linspace(-1, 1, vector.shape[0]), device)
    nn.utils.vector_to_parameters(new, ours)
    assert_close(nn.utils.parameters_to_vector(ours), new)
    assert all(p.requires_grad and p.grad_fn is None for p in ours)  # still leaves: the copy recorded no graph
    with pytest.raises(RuntimeError, match=f"vector of {vector.shape[0]} elements.*shape \\(3,\\)"):
        nn.utils.vector_to_parameters(tensor(np.zeros(3), device), ours)
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        nn.utils.vector_to_parameters(np.zeros(vector.shape[0]), ours)


def test_the_word_language_model_idiom_is_importable():
    """`torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)`, as PyTorch's word_language_model writes it."""
    import tinygrad_bn as torch

    model = torch.nn.LSTM(3, 4)
    model(torch.randn(5, 2, 3))[0].sum().backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
    assert norm.item() > 0.25
    clipped = math.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in model.parameters()))
    assert clipped == pytest.approx(0.25, rel=1e-4)
