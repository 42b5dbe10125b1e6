"""Grad mode (no_grad, enable_grad, set_grad_enabled, inference_mode) and hooks (Tensor.register_hook, Module's
forward pre-hooks, forward hooks and full backward hooks), checked against PyTorch.

Most tests write one scenario as a function of the library (`tinygrad_bn` or `torch`, which share these names) and
run it in both from the same float64 numbers: the hooks must be called in the same order with the same values.
"""
import warnings

import numpy as np
import pytest

import tinygrad_bn as tg
from conftest import assert_close, import_torch


def numpy_of(t):
    return t.detach().numpy().copy()


# ---------------------------------------------------------------------------------------------------------------
# Grad mode
# ---------------------------------------------------------------------------------------------------------------
def grad_modes(lib):
    """What records a graph, and what mode is on, through every way of switching the mode."""
    x = lib.ones(2, dtype=lib.float64, requires_grad=True)
    seen = []
    with lib.no_grad():
        seen.append((x * 2).requires_grad)
        with lib.enable_grad():
            seen.append((x * 2).requires_grad)
        seen.append(lib.is_grad_enabled())
    with lib.set_grad_enabled(False):
        seen.append(lib.is_grad_enabled())
    seen.append(lib.is_grad_enabled())
    lib.set_grad_enabled(False)  # a plain call switches at once
    seen.append(lib.is_grad_enabled())
    lib.set_grad_enabled(True)
    with lib.inference_mode():
        seen.append(lib.is_grad_enabled())
        seen.append((x * 2).requires_grad)
    with lib.inference_mode(False):
        seen.append(lib.is_grad_enabled())

    @lib.no_grad()
    def called():
        return lib.is_grad_enabled()

    @lib.no_grad
    def bare():
        return lib.is_grad_enabled()

    @lib.inference_mode()
    def inferred():
        return lib.is_grad_enabled()

    @lib.set_grad_enabled(False)
    def recursive(n):  # a decorated function calling itself restores the mode it found each time
        return lib.is_grad_enabled() if n == 0 else recursive(n - 1)

    seen.append(lib.is_grad_enabled())  # decorating switches nothing
    seen += [called(), bare(), inferred(), recursive(3), lib.is_grad_enabled()]
    with lib.no_grad():
        seen.append(lib.enable_grad()(lambda: lib.is_grad_enabled())())
        seen.append(lib.is_grad_enabled())
    return seen


def test_grad_modes_match_pytorch():
    torch = import_torch()
    assert grad_modes(tg) == grad_modes(torch)
    assert tg.is_grad_enabled()


def test_grad_mode_is_restored_when_the_block_raises():
    with pytest.raises(ValueError):
        with tg.no_grad():
            raise ValueError
    assert tg.is_grad_enabled()


# ---------------------------------------------------------------------------------------------------------------
# Tensor.register_hook
# ---------------------------------------------------------------------------------------------------------------
def tensor_hooks(lib, values):
    """Hooks on a leaf and on an intermediate: what they see, what a replacement does, and that remove() works."""
    x = lib.tensor(values, requires_grad=True)
    calls = []
    y = x * 3
    y.register_hook(lambda g: calls.append(("y", numpy_of(g))) or g * 10)  # replaces dL/dy
    x.register_hook(lambda g: calls.append(("x", numpy_of(g))))            # observes dL/dx
    removed = x.register_hook(lambda g: calls.append(("removed", None)))
    removed.remove()
    (y * y + x).sum().backward()
    return calls, numpy_of(x.grad)


def test_tensor_hooks_match_pytorch():
    torch = import_torch()
    values = np.array([1.0, -2.0, 0.5])
    calls, grad = tensor_hooks(tg, values)
    torch_calls, torch_grad = tensor_hooks(torch, values)
    assert [name for name, _ in calls] == [name for name, _ in torch_calls] == ["y", "x"]
    for (_, seen), (_, expected) in zip(calls, torch_calls):
        assert_close(seen, expected)
    assert_close(grad, torch_grad)


def test_hook_on_the_root_and_on_a_shared_input():
    torch = import_torch()

    def run(lib):
        x = lib.tensor(np.array([2.0, 3.0]), requires_grad=True)
        loss = (x * x).sum() + x.sum()       # x reaches the loss twice: the hook sees the sum, once
        calls = []
        x.register_hook(lambda g: calls.append(numpy_of(g)))
        loss.register_hook(lambda g: g * 2)  # a hook on the root scales everything
        loss.backward()
        return calls, numpy_of(x.grad)

    (calls, grad), (torch_calls, torch_grad) = run(tg), run(torch)
    assert len(calls) == len(torch_calls) == 1
    assert_close(calls[0], torch_calls[0])
    assert_close(grad, torch_grad)


def test_register_hook_errors():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tg.ones(2).register_hook(lambda g: g)
    x = tg.ones(2, requires_grad=True)
    x.register_hook(lambda g: tg.ones(3))
    with pytest.raises(RuntimeError, match="changed the size"):
        (x * 2).sum().backward()


# ---------------------------------------------------------------------------------------------------------------
# Module hooks
# ---------------------------------------------------------------------------------------------------------------
def module_hooks(lib, weight, values):
    """A two-layer model with every kind of hook on both layers: the order of calls and what each one sees."""
    model = lib.nn.Sequential(lib.nn.Linear(3, 2).double(), lib.nn.Tanh())
    with lib.no_grad():
        model[0].weight.copy_(lib.tensor(weight))
        model[0].bias.zero_()
    calls = []

    def pre_hook(module, args):
        calls.append(("pre", type(module).__name__, numpy_of(args[0])))
        if isinstance(module, lib.nn.Linear):
            return args[0] * 2  # replaces the input (one value, not a tuple)

    def forward_hook(module, args, output):
        calls.append(("forward", type(module).__name__, numpy_of(output)))
        if isinstance(module, lib.nn.Tanh):
            return output + 1  # replaces the output

    def backward_hook(module, grad_input, grad_output):
        calls.append(("backward", type(module).__name__, [None if g is None else numpy_of(g) for g in grad_input],
                      numpy_of(grad_output[0])))
        if isinstance(module, lib.nn.Tanh):
            return (grad_input[0] * 3,)  # replaces dL/d(input) of Tanh

    handles = []
    for layer in model:
        handles += [layer.register_forward_pre_hook(pre_hook), layer.register_forward_hook(forward_hook),
                    layer.register_full_backward_hook(backward_hook)]
    x = lib.tensor(values, requires_grad=True)
    out = model(x)
    (out * out).sum().backward()
    first = (calls, numpy_of(out), numpy_of(x.grad), numpy_of(model[0].weight.grad))
    for handle in handles:
        handle.remove()
    calls = []
    model(x).sum().backward()
    return first, calls


def test_module_hooks_match_pytorch():
    torch = import_torch()
    rng = np.random.default_rng(0)
    weight, values = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    (calls, out, x_grad, w_grad), after_remove = module_hooks(tg, weight, values)
    (torch_calls, torch_out, torch_x_grad, torch_w_grad), torch_after_remove = module_hooks(torch, weight, values)
    assert [call[:2] for call in calls] == [call[:2] for call in torch_calls]
    for call, expected in zip(calls, torch_calls):
        if call[0] == "backward":
            assert_close(call[2][0], expected[2][0], what=f"{call[:2]} grad_input")
            assert_close(call[3], expected[3], what=f"{call[:2]} grad_output")
        else:
            assert_close(call[2], expected[2], what=str(call[:2]))
    assert_close(out, torch_out)
    assert_close(x_grad, torch_x_grad)
    assert_close(w_grad, torch_w_grad)
    assert after_remove == torch_after_remove == []


def test_backward_hook_with_an_input_that_needs_no_grad():
    torch = import_torch()

    def run(lib):
        layer = lib.nn.Linear(3, 2).double()
        with lib.no_grad():
            layer.weight.fill_(0.5)
        calls = []
        layer.register_full_backward_hook(lambda m, gi, go: calls.append((gi, numpy_of(go[0]))))
        layer(lib.tensor(np.ones((2, 3)))).sum().backward()
        return calls

    calls = run(tg)
    with warnings.catch_warnings():  # PyTorch says the hook fires at the output, since no input requires grad
        warnings.simplefilter("ignore")
        torch_calls = run(torch)
    assert len(calls) == len(torch_calls) == 1
    assert calls[0][0] == torch_calls[0][0] == (None,)
    assert_close(calls[0][1], torch_calls[0][1])


def test_prepend_puts_a_hook_first():
    layer = tg.nn.Identity()
    order = []
    layer.register_forward_hook(lambda m, a, o: order.append("first"))
    layer.register_forward_hook(lambda m, a, o: order.append("prepended"), prepend=True)
    layer(tg.ones(1))
    assert order == ["prepended", "first"]


def test_backward_hook_on_a_module_with_several_inputs():
    """grad_input has one entry per argument (None for a non-Tensor, zeros for a Tensor that needs no gradient), all
    at once; a returned replacement is what flows on. A replacement of None is a gradient of zeros here, and none at
    all in PyTorch (the only difference)."""
    torch = import_torch()
    rng = np.random.default_rng(2)
    a_values, b_values, c_values = rng.standard_normal((2, 3)), rng.standard_normal(3), rng.standard_normal(3)

    def run(lib):
        class Mix(lib.nn.Module):
            def forward(self, a, scale, b, c):
                return (a * b).tanh() * scale + c

        mix, calls = Mix(), []

        def hook(module, grad_input, grad_output):
            calls.append([None if g is None else numpy_of(g) for g in grad_input] + [numpy_of(grad_output[0])])
            return grad_input[0] * 2, None, None, None

        mix.register_full_backward_hook(hook)
        a, b = lib.tensor(a_values, requires_grad=True), lib.tensor(b_values, requires_grad=True)
        c = lib.tensor(c_values)
        (mix(a, 3.0, b, c) ** 2).sum().backward()
        return calls, numpy_of(a.grad), b.grad

    (calls, a_grad, b_grad), (torch_calls, torch_a_grad, torch_b_grad) = run(tg), run(torch)
    assert len(calls) == len(torch_calls) == 1
    for got, expected in zip(calls[0], torch_calls[0]):
        assert (got is None) == (expected is None)
        if got is not None:
            assert_close(got, expected)
    assert_close(a_grad, torch_a_grad)
    assert torch_b_grad is None and not b_grad.numpy().any()


def test_module_hook_limits_are_named():
    layer = tg.nn.Identity()
    with pytest.raises(NotImplementedError, match="with_kwargs"):
        layer.register_forward_hook(lambda *a: None, with_kwargs=True)

    class Pair(tg.nn.Module):
        def forward(self, a, b):
            return a.sum()

    pair = Pair()
    pair.register_full_backward_hook(lambda *a: None)
    with pytest.raises(NotImplementedError, match="share one dtype"):
        pair(tg.ones(1, requires_grad=True), tg.ones(1, requires_grad=True, dtype=tg.float64))
