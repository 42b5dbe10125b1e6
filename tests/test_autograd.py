"""The autograd engine itself, gradcheck, dtypes, devices, creation functions, and the errors bad input must raise."""
import gc
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.backend as backend
from tinygrad_bn import GradcheckError, Tensor, gradcheck, no_grad
from tinygrad_bn.autograd import Function
from conftest import FakeCudaArray, assert_close, tensor, to_numpy


# ------------------------------------------------------------------------------------------------ the engine
def test_reused_node_accumulates(device):
    """x * x uses x twice: d/dx = 2x, not x (the bug of a backward that overwrites instead of adding)."""
    x = tensor([1.0, -2.0, 3.0], device, requires_grad=True)
    (x * x).sum().backward()
    assert_close(x.grad, np.array([2.0, -4.0, 6.0]))


def test_node_used_in_several_branches(device):
    """L = sum(a * b) with a = 2x, b = a + a + exp(x): every path to x is summed, each exactly once."""
    values = np.array([0.5, -1.0, 2.0])
    x = tensor(values, device, requires_grad=True, dtype=np.float64)
    a = x * 2
    b = a + a + x.exp()
    (a * b).sum().backward()
    # L = sum(2x (4x + e^x)) = sum(8x^2 + 2x e^x)  =>  dL/dx = 16x + 2e^x + 2x e^x
    assert_close(x.grad, 16 * values + 2 * np.exp(values) + 2 * values * np.exp(values))


def test_diamond_graph_matches_torch(device):
    torch = pytest.importorskip("torch")
    values = np.array([[0.3, -0.7], [1.1, 0.2]])
    x = tensor(values, device, requires_grad=True)
    t = torch.tensor(values, requires_grad=True)
    for v in (x, t):
        h = v.tanh()
        out = (h * h.sigmoid() + h @ h - h.T).mean()
        out.backward()
    assert_close(x.grad, t.grad)


def test_deep_chain_has_no_recursion_limit():
    """10,000 ops in a row: the topological sort is iterative, so backward does not hit Python's recursion limit."""
    depth = 10_000
    assert depth > sys.getrecursionlimit()
    x = Tensor(1.0, requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(depth):
        y = y * 1.0001
    y.backward()
    assert_close(x.grad, np.array(1.0001 ** depth), rtol=1e-10)


def test_deep_chain_can_be_dropped_without_backward():
    """Freeing a long chain must not recurse either (a deep chain of objects freed one inside the next)."""
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + 1
    del y
    gc.collect()


def test_gradients_accumulate_until_zeroed(device):
    x = tensor([1.0, 2.0], device, requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    assert_close(x.grad, np.array([6.0, 6.0]))
    x.grad = None  # zeroing, as optimizer.zero_grad() does
    (x * 3).sum().backward()
    assert_close(x.grad, np.array([3.0, 3.0]))


def test_backward_does_not_alias_the_leaf_gradient(device):
    """Two leaves fed by one gradient array must get separate .grad arrays (adding into one must not change the
    other)."""
    x = tensor([1.0, 2.0], device, requires_grad=True)
    y = tensor([3.0, 4.0], device, requires_grad=True)
    (x + y).sum().backward()
    x.grad.array += 10
    assert_close(y.grad, np.array([1.0, 1.0]))


def test_slices_of_a_sequence_add_their_gradients_into_one_array(device):
    """h = sum over t of w_t * x[t], one slice at a time (an RNN's loop): dL/dx[t] = w_t, every row exactly once.
    Each slice's gradient is an IndexedGradient that backward() adds in place (autograd.py)."""
    x = tensor(np.random.default_rng(0).standard_normal((6, 3)), device, requires_grad=True)
    weights = [float(t + 1) for t in range(6)]
    loss = sum(w * x[t] for t, w in enumerate(weights)).sum()
    loss.backward()
    assert_close(x.grad, np.repeat(np.array(weights)[:, None], 3, axis=1))


@pytest.mark.parametrize("slice_first", [True, False], ids=["slice-arrives-first", "shared-array-arrives-first"])
def test_a_slice_gradient_never_changes_an_array_another_input_shares(slice_first, device):
    """z = a + c hands the same array g to a and to c (AddFn's backward returns g twice). Adding a[0]'s gradient
    into a's share in place would change c's too: backward() copies a received array before adding into it."""
    x = tensor([[1.0, 2.0], [3.0, 4.0]], device, requires_grad=True, dtype=np.float64)
    y = tensor([[5.0, 6.0], [7.0, 8.0]], device, requires_grad=True, dtype=np.float64)
    a, c = x * 2, y * 3
    slice_term = (a[0] * 10).sum()
    shared_term = (a + c).sum()
    (slice_term + shared_term if slice_first else shared_term + slice_term).backward()
    assert_close(x.grad, np.array([[22.0, 22.0], [2.0, 2.0]]))  # 2 * (1 + 10 on row 0)
    assert_close(y.grad, np.full((2, 2), 3.0))  # untouched by the slice


def test_indexed_gradient_dense_is_zeros_with_the_values_added(device):
    """The plain version of what backward() does in place: a full array, repeated indices adding up."""
    from tinygrad_bn.autograd import IndexedGradient

    values = tensor([1.0, 2.0, 4.0], device).array
    dense = IndexedGradient((4,), values.dtype, ([0, 0, 3],), values).dense()
    assert_close(dense, np.array([3.0, 0.0, 0.0, 4.0]))
    assert_close(IndexedGradient((2, 3), values.dtype, 1, values).dense(), np.array([[0, 0, 0], [1.0, 2.0, 4.0]]))


def test_no_grad_records_no_graph(device):
    x = tensor([1.0, 2.0], device, requires_grad=True)
    with no_grad():
        y = (x * 2).exp().sum()
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_is_restored_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0
    assert tg.is_grad_enabled()


def test_graph_is_freed_after_backward(device):
    """After backward the loss's function holds no parents and no saved arrays, so the activations can go."""
    x = tensor(np.ones((4, 3)), device, requires_grad=True)
    w = tensor(np.ones((3, 2)), device, requires_grad=True)
    hidden = (x @ w).relu()
    activation = weakref.ref(hidden.array)
    loss = (hidden * hidden).sum()  # Mul saves its inputs for backward
    del hidden
    gc.collect()
    assert activation() is not None  # still needed by the graph
    loss.backward()
    assert loss.grad_fn.parents is None and not loss.grad_fn.saved
    gc.collect()
    assert activation() is None, "the hidden activation outlived backward(): the graph was not freed"


def test_graph_does_not_keep_activations_that_backward_does_not_need(device):
    """The graph links functions, not tensors: an intermediate result no backward saved is freed at once."""
    x = tensor(np.ones((4, 3)), device, requires_grad=True)
    hidden = x * 2.0 + 1.0
    activation = weakref.ref(hidden.array)
    loss = hidden.sum()  # Sum's backward needs only the shape
    del hidden
    gc.collect()
    assert activation() is None, "an activation that no backward needs was kept alive by the graph"
    loss.backward()
    np.testing.assert_allclose(to_numpy(x.grad), np.full((4, 3), 2.0))


def test_second_backward_raises_a_clear_error(device):
    x = tensor([1.0, 2.0], device, requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
    with pytest.raises(RuntimeError, match="second time"):  # retain_graph now cannot bring the freed graph back
        loss.backward(retain_graph=True)


def test_retain_graph_allows_a_second_backward(device):
    x = tensor([1.0, 2.0], device, requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    assert_close(x.grad, np.array([4.0, 8.0]))


def test_memory_does_not_grow_over_training_steps():
    """50 steps of a small training loop: after a warm-up, traced allocations stay flat (the graph is freed)."""
    rng = np.random.default_rng(0)
    x, target = Tensor(rng.standard_normal((64, 16))), Tensor(rng.standard_normal((64, 1)))
    w1 = Tensor(rng.standard_normal((16, 32)) * 0.1, requires_grad=True)
    w2 = Tensor(rng.standard_normal((32, 1)) * 0.1, requires_grad=True)

    def step():
        loss = (((x @ w1).relu() @ w2 - target) ** 2).mean()
        loss.backward()
        with no_grad():
            for w in (w1, w2):
                w.array -= 0.01 * w.grad.array
                w.grad = None
        return loss

    tracemalloc.start()
    try:
        for _ in range(5):
            step()
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        losses = [step().item() for _ in range(50)]
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert losses[-1] < losses[0]
    assert growth < 64 * 1024, f"memory grew by {growth} bytes over 50 steps"


def test_detach_cuts_the_graph(device):
    x = tensor([1.0, 2.0], device, requires_grad=True)
    assert not x.detach().requires_grad and x.detach().grad_fn is None
    (x * x.detach()).sum().backward()  # d/dx of x * c is c = x, not 2x
    assert_close(x.grad, np.array([1.0, 2.0]))


def test_only_leaves_that_require_grad_get_gradients(device):
    x = tensor([1.0, 2.0], device, requires_grad=True)
    c = tensor([3.0, 4.0], device)
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None


# ---------------------------------------------------------------------------------------------------- dtypes
SCALAR_EXPRESSIONS = {
    "x + 2": lambda x: x + 2, "2.5 * x": lambda x: 2.5 * x, "x / 3": lambda x: x / 3, "1 - x": lambda x: 1 - x,
    "x ** 2": lambda x: x ** 2, "2 ** x": lambda x: 2 ** x, "x ** 0.5": lambda x: x.abs() ** 0.5,
    "np.float64(2) * x": lambda x: np.float64(2.0) * x, "x.clamp(0.1, 0.5)": lambda x: x.clamp(0.1, 0.5),
    "x.var()": lambda x: x.var(), "x.mean()": lambda x: x.mean(), "x.max()": lambda x: x.max(),
    "x + int tensor": lambda x: x + Tensor([1, 2, 3], device=x.device),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(SCALAR_EXPRESSIONS))
def test_python_scalars_keep_the_tensor_dtype(name, dtype, device):
    x = tensor([0.5, -1.5, 2.0], device, requires_grad=True, dtype=dtype)
    out = SCALAR_EXPRESSIONS[name](x)
    assert out.dtype == dtype
    out.sum().backward()
    assert x.grad.dtype == dtype


def test_default_dtypes():
    assert Tensor([1.0, 2.0]).dtype == np.float32  # Python floats: float32, PyTorch's default
    assert Tensor(np.zeros(2)).dtype == np.float64  # a float64 array stays float64
    assert Tensor([1, 2]).dtype == np.int64  # integers stay integers (labels)
    assert Tensor([True]).dtype == np.bool_
    assert Tensor([1, 2], dtype="float64").dtype == np.float64
    assert (Tensor([1, 2]) * 0.5).dtype == np.float32  # int tensor and Python float: float32, not float64


def test_float_casts_carry_gradients(device):
    x = tensor([1.0, 2.0], device, requires_grad=True, dtype=np.float64)
    y = x.float()
    assert y.dtype == np.float32
    (y * 3).double().sum().backward()
    assert x.grad.dtype == np.float64
    assert_close(x.grad, np.array([3.0, 3.0]))
    assert x.to(tg.float32).dtype == np.float32 and x.to(device, dtype="float32").dtype == np.float32
    assert x.long().dtype == np.int64 and not x.long().requires_grad


# ------------------------------------------------------------------------------------------------- gradcheck
class WrongSquare(Function):
    """forward x**2, but a backward that forgets the factor 2 (the kind of slip gradcheck exists to catch)."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, g):
        """wrong on purpose: gx = g * x (should be 2 g x)"""
        (x,) = self.saved
        return g * x


class WrongAtOneElement(Function):
    """out = x * y, with gy correct except at element (1, 2)."""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x * y

    def backward(self, g):
        """gx = g y, gy = g x, plus 1 at element (1, 2) of gy on purpose"""
        x, y = self.saved
        gy = g * x
        gy[1, 2] += 1.0
        return g * y, gy


def test_gradcheck_accepts_a_correct_backward(device):
    x = tensor(np.random.default_rng(0).standard_normal((2, 3)), device, requires_grad=True)
    assert gradcheck(lambda x: (x * x).tanh(), [x]) is True


def test_gradcheck_rejects_a_wrong_backward(device):
    x = tensor([[0.5, -1.0], [2.0, 1.5]], device, requires_grad=True)
    with pytest.raises(GradcheckError) as error:
        gradcheck(WrongSquare.apply, [x])
    message = str(error.value)
    assert "input 0" in message and "element" in message and "analytic" in message and "numeric" in message


def test_gradcheck_names_the_wrong_input_and_element(device):
    rng = np.random.default_rng(0)
    x = tensor(rng.standard_normal((2, 3)), device, requires_grad=True)
    y = tensor(rng.standard_normal((2, 3)), device, requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 1 .*element \(1, 2\).*analytic .* vs numeric"):
        gradcheck(WrongAtOneElement.apply, [x, y])


def test_gradcheck_leaves_the_callers_tensors_alone(device):
    x = tensor([1.0, 2.0], device, requires_grad=True, dtype=np.float32)
    gradcheck(lambda x: x * x, [x])
    assert x.dtype == np.float32 and x.grad is None
    assert_close(x, np.array([1.0, 2.0], dtype=np.float32))


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="requires grad"):
        gradcheck(lambda x: x * 2, [Tensor([1.0])])


# ---------------------------------------------------------------------------------------------------- errors
def test_matmul_shape_mismatch_names_both_shapes(device):
    a, b = tensor(np.ones((2, 3)), device), tensor(np.ones((4, 5)), device)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"\(2, 2, 3\).*\(3, 3, 1\)"):  # batch dims 2 and 3 do not broadcast
        tensor(np.ones((2, 2, 3)), device) @ tensor(np.ones((3, 3, 1)), device)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow"])
def test_broadcast_mismatch_names_both_shapes(op, device):
    a, b = tensor(np.ones((2, 3)), device), tensor(np.ones((4,)), device)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        getattr(a, op)(b)


def test_backward_on_a_non_scalar_needs_a_gradient(device):
    y = tensor([1.0, 2.0], device, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    with pytest.raises(ValueError, match="shape"):
        y.backward(tensor([1.0, 2.0, 3.0], device))
    y.backward(tensor([1.0, 1.0], device))  # with a gradient of the right shape it works


def test_backward_through_a_tensor_that_does_not_require_grad(device):
    with pytest.raises(RuntimeError, match="does not require grad"):
        (tensor([1.0, 2.0], device) * 2).sum().backward()


def test_integer_tensors_cannot_require_grad(device):
    with pytest.raises(ValueError, match="floating"):
        tensor([1, 2], device, requires_grad=True)
    with pytest.raises(ValueError, match="floating"):
        tg.arange(3, requires_grad=True)


def test_shape_op_arguments_are_checked():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(IndexError):
        x.unsqueeze(3)
    assert x.unsqueeze(-3).shape == (1, 2, 3) and x.unsqueeze(2).shape == (2, 3, 1)
    with pytest.raises(ValueError, match="-1"):
        x.expand(-1, 2, 3)  # -1 keeps a size, and a new leading dim has none to keep
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        x.expand(2, 4)
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        x.reshape(4, 4)
    with pytest.raises(ValueError, match="permutation"):
        x.permute(0, 0)
    with pytest.raises(IndexError, match="out of range"):
        x.sum(dim=2)


class WrongShape(Function):
    """A backward whose gradient has the wrong shape, (1, 3) for a (3,) input: it would broadcast silently."""

    def forward(self, x):
        return x * 2

    def backward(self, g):
        """wrong on purpose: gx = 2 g, with an extra leading axis"""
        return (2 * g)[None, :]


def test_a_gradient_of_the_wrong_shape_is_refused():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"WrongShape.*\(1, 3\).*\(3,\)"):
        WrongShape.apply(x).sum().backward()


def test_truth_value_of_a_tensor():
    assert bool(Tensor([0.5])) and not bool(Tensor(0.0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]))
    assert float(Tensor([2.5])) == 2.5 and int(Tensor(3)) == 3


# ---------------------------------------------------------------------------------------------------- devices
def test_mixing_devices_names_both_devices_without_a_gpu():
    cpu = Tensor([1.0, 2.0])
    fake_cuda = Tensor._wrap(np.array([1.0, 2.0], dtype=np.float32).view(FakeCudaArray))
    assert fake_cuda.device == "cuda"
    with pytest.raises(RuntimeError, match=r"cpu.*cuda"):
        cpu + fake_cuda
    with pytest.raises(RuntimeError, match=r"cuda.*cpu"):
        fake_cuda * cpu


def test_mixing_devices_names_both_devices(device):
    if device == "cpu":
        pytest.skip("needs a second device: the cpu/cpu pair cannot mix (see the test with a fake CuPy array)")
    with pytest.raises(RuntimeError, match=r"cuda.*cpu"):
        tensor([1.0], "cuda") + tensor([1.0], "cpu")


def test_to_moves_and_gradients_come_back(device):
    x = tensor([1.0, 2.0], "cpu", requires_grad=True)
    y = x.to(device)
    assert y.device == device and x.to("cpu") is x
    (y * 2).sum().backward()
    assert x.grad.device == "cpu"
    assert_close(x.grad, np.array([2.0, 2.0]))
    assert isinstance(y.numpy(), np.ndarray)


def test_cuda_without_cupy_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # `import cupy` now raises ImportError
    monkeypatch.setattr(backend, "_cupy", None)
    with pytest.raises(RuntimeError, match="pip install cupy"):
        Tensor([1.0], device="cuda")
    assert not tg.cuda_available()


def test_default_device_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("TINYGRAD_BN_DEVICE", "cpu")
    assert Tensor([1.0]).device == "cpu"
    monkeypatch.setenv("TINYGRAD_BN_DEVICE", "tpu")
    with pytest.raises(ValueError, match="TINYGRAD_BN_DEVICE"):
        Tensor([1.0])
    with pytest.raises(ValueError, match="tpu"):
        tg.zeros(2)


def test_unknown_device_name_is_refused():
    with pytest.raises(RuntimeError, match="unknown device"):  # PyTorch raises RuntimeError too
        Tensor([1.0], device="gpu")


# --------------------------------------------------------------------------------------------------- creation
@pytest.mark.parametrize("make", [tg.zeros, tg.ones, tg.randn, tg.rand])
def test_creation_shapes_dtypes_devices(make, device):
    assert make(2, 3, device=device).shape == (2, 3)
    assert make((2, 3), device=device).shape == (2, 3)
    t = make(4, device=device)
    assert t.dtype == np.float32 and t.device == device and not t.requires_grad
    assert make(2, dtype=tg.float64, device=device).dtype == np.float64
    assert make(2, device=device, requires_grad=True).requires_grad


def test_zeros_ones_full_values(device):
    assert_close(tg.zeros(2, 2, device=device), np.zeros((2, 2)))
    assert_close(tg.ones(3, device=device), np.ones(3))
    assert_close(tg.full((2, 3), 1.5, device=device), np.full((2, 3), 1.5))
    assert tg.full((2,), 1.5).dtype == np.float32
    assert tg.full((2,), 7).dtype == np.int64  # like torch.full: the dtype follows fill_value
    assert tg.full(3, True).dtype == np.bool_ and tg.full(3, True).shape == (3,)


def test_rand_and_randn_draw_sensible_numbers():
    tg.manual_seed(0)
    u, n = tg.rand(10_000).numpy(), tg.randn(10_000).numpy()
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.02
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05


def test_like_functions_copy_shape_dtype_device(device):
    x = tensor(np.ones((2, 3)), device)  # float64
    for like, value in ((tg.zeros_like, 0.0), (tg.ones_like, 1.0)):
        y = like(x)
        assert y.shape == (2, 3) and y.dtype == np.float64 and y.device == device
        assert_close(y, np.full((2, 3), value))
        assert like(x, dtype=tg.float32).dtype == np.float32


def test_arange(device):
    assert tg.arange(5, device=device).dtype == np.int64
    assert_close(tg.arange(5, device=device), np.arange(5))
    assert_close(tg.arange(2, 8, 2), np.arange(2, 8, 2))
    r = tg.arange(0, 1, 0.25)
    assert r.dtype == np.float32 and r.shape == (4,)
    assert tg.arange(3, dtype=tg.float64).dtype == np.float64


def test_manual_seed_makes_draws_reproducible():
    tg.manual_seed(123)
    a, b = tg.randn(3, 4).numpy(), tg.rand(5).numpy()
    tg.manual_seed(123)
    np.testing.assert_array_equal(tg.randn(3, 4).numpy(), a)
    np.testing.assert_array_equal(tg.rand(5).numpy(), b)
    tg.manual_seed(124)
    assert not np.array_equal(tg.randn(3, 4).numpy(), a)


def test_seeded_draws_are_the_same_on_every_device(device):
    tg.manual_seed(7)
    expected = tg.randn(4).numpy()
    tg.manual_seed(7)
    np.testing.assert_array_equal(tg.randn(4, device=device).numpy(), expected)


def test_cat_and_stack_errors():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))
    with pytest.raises(ValueError, match="non-empty"):
        tg.cat([])
    with pytest.raises(ValueError, match="non-empty"):
        tg.stack([])
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        tg.cat([a, b], dim=0)
    assert tg.cat([a, b], dim=1).shape == (2, 7)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        tg.stack([a, b])
    with pytest.raises(IndexError):
        tg.cat([a, a], dim=2)
    with pytest.raises(IndexError):
        tg.stack([a, a], dim=3)
    assert tg.stack([a, a], dim=-3).shape == (2, 2, 3)


def test_changing_a_saved_output_in_place_is_detected():
    """Exp saves its output, not its input: a change of y before backward would give a wrong gradient silently."""
    x = tg.randn(3, requires_grad=True)
    y = x.exp()
    with tg.no_grad():
        y[0] = 5.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation: a tensor saved by Exp"):
        y.sum().backward()


def test_an_optimizer_step_between_forward_and_backward_is_detected():
    import tinygrad_bn.optim as optim

    w, x = tg.randn(3, requires_grad=True), tg.randn(3)
    first, second = (w * x).sum(), (w * x).sum()
    first.backward()
    optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="a tensor saved by MulFn is at version 1"):
        second.backward()


def test_in_place_change_of_a_saved_input_is_detected_and_detach_shares_the_count():
    a, w = tg.Tensor([1.0, 2.0]), tg.Tensor([3.0, 4.0], requires_grad=True)
    loss = (w * a).sum()
    a.detach()[0] = 7.0  # detach() shares memory and the version counter: the change is seen
    with pytest.raises(RuntimeError, match="a tensor saved by MulFn is at version 1; expected version 0"):
        loss.backward()
    b = tg.Tensor([1.0, 2.0])
    loss = (w * b).sum()
    b.data[0] = 7.0  # .data is PyTorch's escape hatch: shared memory, but autograd does not watch it
    loss.backward()
    assert w.grad.tolist() == [7.0, 2.0]
