"""The torch.* math twins and Tensor methods beyond the op table (tests/test_tensor_ops.py gradchecks each one and
compares it with PyTorch on random inputs): accuracy where a naive formula loses digits, integer and float rounding
of fmod/remainder/floor_divide, NaN and inf, ties, the non-differentiable helpers, float32, and PyTorch's errors.
"""
import numpy as np
import pytest

import tinygrad_bn as tg
from tinygrad_bn import gradcheck
from conftest import assert_close, import_torch, tensor, torch_tensor


def matches_torch(fn, arrays, device, torch_fn=None, rtol=1e-8, atol=1e-12):
    """fn on our tensors and on torch's (copies of `arrays`, same dtype): the same values and the same gradients."""
    torch = import_torch()
    ours = [tensor(a, device, requires_grad=True) for a in arrays]
    theirs = [torch_tensor(a, requires_grad=True) for a in arrays]
    out, expected = fn(*ours), (torch_fn or fn)(*theirs)
    assert out.dtype == np.dtype(str(expected.dtype).removeprefix("torch.")), f"dtype {out.dtype} != {expected.dtype}"
    assert_close(out, expected, rtol=rtol, atol=atol, what="forward")
    upstream = np.random.default_rng(1).standard_normal(tuple(expected.shape))
    out.backward(tensor(upstream, device, dtype=out.dtype))
    expected.backward(torch.tensor(upstream, dtype=expected.dtype))
    for i, (x, t) in enumerate(zip(ours, theirs)):
        assert_close(x.grad, t.grad, rtol=rtol, atol=atol, what=f"gradient of input {i}")


def same_values(ours, theirs):
    """Equal shapes, dtypes and elements (NaN equal to NaN) for results without a gradient."""
    theirs = theirs.numpy()
    assert ours.dtype == theirs.dtype, f"dtype {ours.dtype} != {theirs.dtype}"
    np.testing.assert_array_equal(ours.numpy(), theirs)


# ------------------------------------------------------------------------ accuracy where 1 + x or 1 - erf would lose it
TINY_AND_LARGE = np.array([-0.9, -1e-12, -1e-300, 0.0, 1e-300, 1e-12, 3e-8, 0.5, 5.0, 30.0])


@pytest.mark.parametrize("name", ["log1p", "expm1", "erf", "erfc"])
def test_functions_keep_their_relative_accuracy_like_torch(name, device):
    """log1p(1e-12) is 1e-12 to the last digit (log(1 + 1e-12) is off by 1e-4 relative), erfc(5) = 1.5e-12 (1 - erf(5)
    keeps 4 digits): values and gradients agree with PyTorch to rtol 1e-13, at zero too."""
    matches_torch(lambda x: getattr(x, name)(), [TINY_AND_LARGE], device, rtol=1e-13, atol=0)


@pytest.mark.parametrize("name", ["log1p", "expm1", "erf", "erfc", "log2", "log10", "logit"])
def test_float32_stays_float32_and_matches_torch(name, device):
    a = np.random.default_rng(3).uniform(0.05, 0.95, (3, 4)).astype(np.float32)
    matches_torch(lambda x: getattr(x, name)(), [a], device, rtol=2e-6, atol=1e-7)


def test_integer_inputs_to_log2_and_log10_give_float32_like_torch(device):
    torch = import_torch()
    for name in ("log2", "log10"):
        ours = getattr(tg, name)(tensor(np.array([1, 8, 100]), device))
        theirs = getattr(torch, name)(torch.tensor([1, 8, 100]))
        assert ours.dtype == np.float32
        assert_close(ours, theirs, rtol=1e-7)


def test_erf_is_shared_with_exact_gelu(device):
    """GELU's exact form calls the core's erf (ops.erf_array); both agree with PyTorch."""
    torch = import_torch()
    a = np.linspace(-4, 4, 9)
    assert_close(tg.nn.functional.gelu(tensor(a, device)), torch.nn.functional.gelu(torch_tensor(a)))
    assert_close(tg.erf(tensor(a, device)), torch.erf(torch_tensor(a)))


def test_erf_gradcheck_at_zero_and_in_the_tails(device):
    x = tensor(np.array([-3.0, -0.5, 0.0, 0.5, 3.0]), device, requires_grad=True)
    assert gradcheck(lambda t: t.erf() + t.erfc() * 2, [x])


# ---------------------------------------------------------------------------------- fmod, remainder, floor_divide
SIGNS = [(7, 3), (-7, 3), (7, -3), (-7, -3), (6, 3), (-6, 3), (0, -3), (1, 5)]


@pytest.mark.parametrize("dtype", ["int64", "float64", "float32"])
@pytest.mark.parametrize("name", ["fmod", "remainder", "floor_divide"])
def test_integer_and_float_rounding_is_pytorchs(name, dtype, device):
    """fmod takes the sign of the dividend, remainder that of the divisor, floor_divide rounds toward -inf; on
    integers and floats, with tensors and Python numbers on either side."""
    torch = import_torch()
    a = np.array([p for p, _ in SIGNS], dtype=dtype)
    b = np.array([q for _, q in SIGNS], dtype=dtype)
    ours, theirs = getattr(tg, name), getattr(torch, name)
    same_values(ours(tensor(a, device), tensor(b, device)), theirs(torch.tensor(a), torch.tensor(b)))
    same_values(ours(tensor(a, device), -3), theirs(torch.tensor(a), -3))
    fractions = np.array([5.5, -5.5, 1e10, -0.25], dtype=dtype if dtype != "int64" else "float64")
    same_values(ours(tensor(fractions, device), 0.7), theirs(torch.tensor(fractions), 0.7))


def test_percent_and_double_slash_operators_like_torch(device):
    torch = import_torch()
    a, b = np.array([7, -7, 5, -5]), np.array([3, 3, -2, -2])
    x, t = tensor(a, device), torch.tensor(a)
    same_values(x % tensor(b, device), t % torch.tensor(b))
    same_values(x // tensor(b, device), t // torch.tensor(b))
    same_values(x % 4, t % 4)
    same_values(10 % x, 10 % t)
    same_values(10 // x, 10 // t)
    same_values(tg.remainder(10, x), torch.remainder(10, t))
    same_values(x.float() // 2.5, t.float() // 2.5)


def test_remainder_of_a_float_tensor_by_an_integer_tensor_is_float(device):
    torch = import_torch()
    a, b = np.array([5.5, -5.5]), np.array([2, 2])
    same_values(tensor(a, device) % tensor(b, device), torch.tensor(a) % torch.tensor(b))


@pytest.mark.parametrize("call", [lambda lib, x: lib.fmod(x, 0), lambda lib, x: lib.remainder(x, x * 0),
                                  lambda lib, x: lib.floor_divide(x, 0), lambda lib, x: x // 0])
def test_integer_division_by_zero_raises_like_torch(call, device):
    torch = import_torch()
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        call(torch, torch.tensor([5, 3]))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        call(tg, tensor(np.array([5, 3]), device))


def test_float_division_by_zero_gives_nan_and_inf_like_torch(device):
    torch = import_torch()
    a = np.array([5.0, -5.0, 0.0])
    for name in ("fmod", "remainder", "floor_divide"):
        same_values(getattr(tg, name)(tensor(a, device), 0.0), getattr(torch, name)(torch.tensor(a), 0.0))


def test_floor_divide_has_no_gradient(device):
    """A step function: PyTorch records it and raises in backward; here the result is simply a constant."""
    out = tensor(np.array([5.0, -5.0]), device, requires_grad=True) // 3
    assert not out.requires_grad and out.tolist() == [1.0, -2.0]


def test_remainder_gradient_with_respect_to_the_divisor_is_minus_the_quotient(device):
    """d/dy (x - y * floor(x / y)) = -floor(x / y), summed over the broadcast rows."""
    a, b = np.array([[7.5, -7.5], [1.0, -1.0]]), np.array([2.0, 3.0])
    matches_torch(lambda x, y: x.remainder(y), [a, b], device)
    matches_torch(lambda x, y: x.fmod(y), [a, b], device)


# -------------------------------------------------------------------------------- nan_to_num, lerp, logaddexp, logit
SPECIAL = np.array([1.5, np.nan, np.inf, -np.inf, -2.0])


@pytest.mark.parametrize("kwargs", [{}, {"nan": 2.0}, {"nan": -1.0, "posinf": 10.0, "neginf": -10.0},
                                    {"posinf": 7.0}])
def test_nan_to_num_values_and_gradient_like_torch(kwargs, device):
    """The replaced elements get no gradient; the finite ones pass theirs through."""
    matches_torch(lambda x: x.nan_to_num(**kwargs), [SPECIAL], device)
    matches_torch(lambda x: x.nan_to_num(**kwargs), [SPECIAL.astype(np.float32)], device)


def test_nan_to_num_leaves_integers_alone(device):
    torch = import_torch()
    same_values(tg.nan_to_num(tensor(np.array([1, 2]), device)), torch.nan_to_num(torch.tensor([1, 2])))


def test_logaddexp_of_far_apart_and_minus_inf_values_like_torch(device):
    """exp(1000) would overflow; logaddexp(-inf, x) is x with the whole gradient on x."""
    a = np.array([1000.0, -1000.0, -np.inf, 3.0, 0.0])
    b = np.array([999.0, 5.0, 2.0, -np.inf, 0.0])
    matches_torch(lambda x, y: x.logaddexp(y), [a, b], device)


def test_lerp_with_a_tensor_weight_gets_all_three_gradients(device):
    rng = np.random.default_rng(4)
    start, end, weight = rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), rng.uniform(0, 1, (3,))
    matches_torch(lambda s, e, w: s.lerp(e, w), [start, end, weight], device)
    assert gradcheck(lambda s, e, w: s.lerp(e, w), [tensor(a, device, requires_grad=True)
                                                    for a in (start, end, weight)])


def test_logit_with_eps_clamps_and_cuts_the_gradient_outside_like_torch(device):
    a = np.array([0.0, 0.05, 0.1, 0.5, 0.9, 0.95, 1.0])
    matches_torch(lambda x: x.logit(eps=0.1), [a], device)
    torch = import_torch()
    outside = np.array([-0.5, 0.0, 1.0, 2.0])  # nan, -inf, inf, nan
    with np.errstate(divide="ignore", invalid="ignore"):
        same_values(tg.logit(tensor(outside, device)).detach(), torch.logit(torch.tensor(outside)))


def test_hypot_and_clamp_min_max_twins(device):
    torch = import_torch()
    a, b = np.array([3.0, -5.0, 1e-3]), np.array([4.0, 12.0, 0.0])
    assert_close(tg.hypot(tensor(a, device), tensor(b, device)), torch.hypot(torch.tensor(a), torch.tensor(b)))
    assert_close(tg.clamp_min(tensor(a, device), 0.5), torch.clamp_min(torch.tensor(a), 0.5))
    assert_close(tensor(a, device).clamp_max(0.5), torch.tensor(a).clamp_max(0.5))


# ----------------------------------------------------------------------------------------------------- reductions
TIES = np.array([[[3.0, 1.0, 3.0], [2.0, 3.0, 0.0]],
                 [[-1.0, -1.0, -1.0], [5.0, 5.0, 4.0]]])


@pytest.mark.parametrize("dim, keepdim", [((), False), (0, False), (-1, True), ((0, 2), False), ((1, 2), True),
                                          ((0, 1, 2), False)])
@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_share_the_gradient_among_ties_like_torch(name, dim, keepdim, device):
    matches_torch(lambda x: getattr(x, name)(dim, keepdim), [TIES], device)
    matches_torch(lambda x: getattr(x, name)(dim, keepdim), [TIES.astype(np.float32)], device, rtol=1e-6)


def test_amax_of_a_slice_of_minus_inf_and_nan_like_torch(device):
    """-inf ties share the gradient; a slice holding NaN returns NaN, with a NaN gradient, as in PyTorch."""
    torch = import_torch()
    a = np.array([[-np.inf, -np.inf], [np.nan, 1.0]])
    x, t = tensor(a, device, requires_grad=True), torch_tensor(a, requires_grad=True)
    out, expected = tg.amax(x, 1), torch.amax(t, 1)
    same_values(out.detach(), expected.detach())
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("dim, keepdim", [(None, False), (None, True), (1, False), (-1, True)])
def test_aminmax_is_a_named_pair_like_torch(dim, keepdim, device):
    torch = import_torch()
    ours = tg.aminmax(tensor(TIES, device), dim=dim, keepdim=keepdim)
    theirs = torch.aminmax(torch.tensor(TIES), dim=dim, keepdim=keepdim)
    assert_close(ours.min, theirs.min)
    assert_close(ours.max, theirs.max)
    assert_close(tensor(TIES, device).aminmax(dim=dim, keepdim=keepdim)[1], theirs[1])
    matches_torch(lambda x: (lambda r: r.min - 2 * r.max)(x.aminmax(dim=dim, keepdim=keepdim)), [TIES], device,
                  torch_fn=lambda x: (lambda r: r.min - 2 * r.max)(torch.aminmax(x, dim=dim, keepdim=keepdim)))


@pytest.mark.parametrize("dim", [None, 0, -1, (0, 1)])
def test_count_nonzero_like_torch(dim, device):
    torch = import_torch()
    a = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, np.nan]])
    same_values(tg.count_nonzero(tensor(a, device), dim), torch.count_nonzero(torch.tensor(a), dim))
    same_values(tensor(a, device).count_nonzero(dim=dim), torch.tensor(a).count_nonzero(dim=dim))


@pytest.mark.parametrize("kwargs", [{}, {"dim": 1}, {"dim": (0, 2), "keepdim": True}, {"dim": 2, "correction": 0},
                                    {"dim": -1, "unbiased": False}, {"dim": 1, "correction": 2, "keepdim": True}])
@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
def test_var_mean_and_std_mean_like_torch(name, kwargs, device):
    torch = import_torch()
    a = np.random.default_rng(5).standard_normal((2, 3, 4))
    spread, mean = getattr(tg, name)(tensor(a, device), **kwargs)
    expected_spread, expected_mean = getattr(torch, name)(torch.tensor(a), **kwargs)
    assert_close(spread, expected_spread)
    assert_close(mean, expected_mean)


def test_logcumsumexp_of_values_far_apart_like_torch(device):
    """A running sum of exp(x - max) would underflow to log(0) for the first elements here; the scan does not."""
    a = np.array([[-1000.0, 0.0, 1000.0, 999.0], [5.0, -800.0, 5.0, 700.0]])
    matches_torch(lambda x: x.logcumsumexp(1), [a], device)
    matches_torch(lambda x: x.logcumsumexp(0), [a.T.copy()], device)
    # float32 carries ~6e-5 absolute at 1000, so exp(x - out) is known to ~1e-4 in both libraries
    matches_torch(lambda x: x.logcumsumexp(1), [a.astype(np.float32)], device, rtol=1e-4, atol=1e-5)


def test_logcumsumexp_backward_agrees_with_the_composition(device):
    """LogcumsumexpFn's scan backward against the same math spelled with logsumexp over each prefix."""
    a = np.random.default_rng(6).standard_normal((3, 5)) * 3
    weights = tensor(np.random.default_rng(7).standard_normal((3, 5)), device)
    results = []
    for fn in (lambda x: x.logcumsumexp(1),
               lambda x: tg.stack([x[:, :i + 1].logsumexp(1) for i in range(5)], 1)):
        x = tensor(a, device, requires_grad=True)
        out = fn(x)
        (out * weights).sum().backward()
        results.append((out, x.grad))
    assert_close(results[0][0], results[1][0], what="forward")
    assert_close(results[0][1], results[1][1], what="gradient")


def test_logcumsumexp_of_a_leading_minus_inf_prefix(device):
    """The values are PyTorch's (-inf, then the running sum); the gradient of the -inf elements is 0 (PyTorch's is
    nan there), as logsumexp does for a fully masked row."""
    torch = import_torch()
    a = np.array([-np.inf, -np.inf, 1.0, 2.0])
    x = tensor(a, device, requires_grad=True)
    out = x.logcumsumexp(0)
    same_values(out.detach(), torch.tensor(a).logcumsumexp(0))
    out.sum().backward()
    assert np.isfinite(x.grad.numpy()).all() and x.grad.tolist()[:2] == [0.0, 0.0]
    t = torch.tensor(a, requires_grad=True)
    t.logcumsumexp(0).sum().backward()
    assert_close(x.grad[2:], t.grad[2:])


def test_logcumsumexp_of_a_0d_tensor_and_an_empty_dim(device):
    torch = import_torch()
    assert_close(tg.logcumsumexp(tensor(np.array(2.5), device), 0), torch.logcumsumexp(torch.tensor(2.5,
                                                                       dtype=torch.float64), 0))
    assert tensor(np.zeros((2, 0)), device).logcumsumexp(1).shape == (2, 0)


# ----------------------------------------------------------------------------------------------- matrix products
def test_addmm_with_beta_zero_ignores_nan_in_input_like_torch(device):
    torch = import_torch()
    rng = np.random.default_rng(8)
    bias, m1, m2 = np.full((2, 4), np.nan), rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    ours = tg.addmm(tensor(bias, device), tensor(m1, device), tensor(m2, device), beta=0, alpha=2)
    assert_close(ours, torch.addmm(torch.tensor(bias), torch.tensor(m1), torch.tensor(m2), beta=0, alpha=2))


@pytest.mark.parametrize("name, shapes", [("addmm", [(3, 4), (3, 4, 1), (4, 4)]),
                                          ("baddbmm", [(3, 4), (3, 4), (4, 4)]),
                                          ("addbmm", [(3, 4), (2, 3, 4), (4, 4)])])
def test_products_refuse_operands_of_the_wrong_rank(name, shapes):
    torch = import_torch()
    arrays = [np.ones(s) for s in shapes]
    with pytest.raises((RuntimeError, IndexError)):  # PyTorch's IndexError comes from reading a third dim
        getattr(torch, name)(*[torch.tensor(a) for a in arrays])
    with pytest.raises(RuntimeError, match=f"{name}: .* must be a [23]-D tensor"):
        getattr(tg, name)(*[tg.tensor(a) for a in arrays])


@pytest.mark.parametrize("shape, offset", [((3,), 0), ((3,), 2), ((3,), -1), ((3, 4), 0), ((3, 4), 3),
                                           ((3, 4), -2), ((4, 2), 5), ((0,), 1)])
def test_diag_of_vectors_and_matrices_like_torch(shape, offset, device):
    torch = import_torch()
    a = np.arange(float(np.prod(shape))).reshape(shape) + 1
    assert_close(tg.diag(tensor(a, device), offset), torch.diag(torch.tensor(a), offset))
    same_values(tg.diag(tensor(a.astype(np.int64), device), offset), torch.diag(torch.tensor(a).long(), offset))


def test_diagonal_of_a_batch_like_torch(device):
    torch = import_torch()
    a = np.arange(60.0).reshape(3, 4, 5)
    for offset, d1, d2 in [(0, 0, 1), (1, 1, 2), (-2, -1, 0), (2, 2, 1), (9, 1, 2)]:
        assert_close(tensor(a, device).diagonal(offset, d1, d2), torch.tensor(a).diagonal(offset, d1, d2))


def test_cross_without_dim_takes_the_first_dim_of_size_3(device):
    torch = import_torch()
    rng = np.random.default_rng(9)
    a, b = rng.standard_normal((3, 3, 2)), rng.standard_normal((3, 3, 2))
    with pytest.warns(UserWarning):  # PyTorch's deprecation warning; the behaviour is the one tested
        expected = torch.cross(torch.tensor(a), torch.tensor(b))
    assert_close(tg.cross(tensor(a, device), tensor(b, device)), expected)


def test_cross_product_of_the_unit_vectors(device):
    x, y = tensor(np.array([1.0, 0, 0]), device), tensor(np.array([0.0, 1, 0]), device)
    assert x.cross(y).tolist() == [0.0, 0.0, 1.0] and y.cross(x).tolist() == [0.0, 0.0, -1.0]


def test_kron_of_integer_tensors_like_torch(device):
    torch = import_torch()
    a, b = np.array([[1, 2], [3, 4]]), np.array([[0, 5], [6, 7]])
    same_values(tg.kron(tensor(a, device), tensor(b, device)), torch.kron(torch.tensor(a), torch.tensor(b)))
    same_values(tensor(a, device).kron(tensor(np.array([1, -1, 2]), device)),
                torch.kron(torch.tensor(a), torch.tensor([1, -1, 2])))


# ---------------------------------------------------------------------------------------------------- shape ops
def test_repeat_interleave_forms_like_torch(device):
    torch = import_torch()
    x, t = tensor(np.array([[1, 2], [3, 4]]), device), torch.tensor([[1, 2], [3, 4]])
    same_values(x.repeat_interleave(2), t.repeat_interleave(2))
    same_values(tg.repeat_interleave(x, tg.tensor([1, 2]), dim=0), torch.repeat_interleave(t, torch.tensor([1, 2]),
                                                                                             dim=0))
    same_values(tg.repeat_interleave(x, tg.tensor([3]), dim=1), torch.repeat_interleave(t, torch.tensor([3]), dim=1))
    same_values(tg.repeat_interleave(tg.tensor([2, 0, 1])), torch.repeat_interleave(torch.tensor([2, 0, 1])))
    with pytest.raises(RuntimeError, match="repeats must have the same size"):
        x.repeat_interleave(tg.tensor([1, 2, 3]), dim=0)
    with pytest.raises(RuntimeError, match="negative"):
        x.repeat_interleave(-1)


@pytest.mark.parametrize("sections", [3, 1, 7, 9, [1, 5], [2, 2], [5, 3], [0, 9], (4,)])
def test_tensor_split_pieces_like_torch(sections, device):
    torch = import_torch()
    ours = tg.tensor_split(tensor(np.arange(14).reshape(2, 7), device), sections, dim=1)
    theirs = torch.tensor_split(torch.arange(14).reshape(2, 7), sections, dim=1)
    assert len(ours) == len(theirs)
    for piece, expected in zip(ours, theirs):
        same_values(piece, expected)


@pytest.mark.parametrize("name, shape, sections", [("hsplit", (6,), 3), ("hsplit", (2, 6), [1, 4]),
                                                   ("vsplit", (4, 2), 2), ("dsplit", (2, 2, 4), [3])])
def test_hsplit_vsplit_dsplit_like_torch(name, shape, sections, device):
    torch = import_torch()
    a = np.arange(int(np.prod(shape))).reshape(shape)
    ours, theirs = getattr(tg, name)(tensor(a, device), sections), getattr(torch, name)(torch.tensor(a), sections)
    assert len(ours) == len(theirs)
    for piece, expected in zip(ours, theirs):
        same_values(piece, expected)


@pytest.mark.parametrize("tensors", [[(), (2,)], [(2,), (3,)], [(2, 3), (2, 1)], [(2, 3, 1), (2, 3, 2)]])
@pytest.mark.parametrize("name", ["hstack", "vstack", "dstack", "column_stack", "row_stack"])
def test_stacking_functions_like_torch(name, tensors, device):
    torch = import_torch()
    arrays = [np.arange(float(np.prod(s))).reshape(s) for s in tensors]
    try:
        with np.errstate(all="ignore"):
            expected = getattr(torch, name)([torch.tensor(a) for a in arrays])
    except RuntimeError:
        with pytest.raises((RuntimeError, ValueError)):
            getattr(tg, name)([tensor(a, device) for a in arrays])
        return
    assert_close(getattr(tg, name)([tensor(a, device) for a in arrays]), expected)


@pytest.mark.parametrize("name", ["atleast_1d", "atleast_2d", "atleast_3d"])
def test_atleast_nd_like_torch(name, device):
    torch = import_torch()
    for shape in [(), (2,), (2, 3), (2, 3, 4)]:
        a = np.ones(shape)
        assert getattr(tg, name)(tensor(a, device)).shape == tuple(getattr(torch, name)(torch.tensor(a)).shape)
    pair = getattr(tg, name)(tensor(np.ones(()), device), tensor(np.ones(3), device))
    assert [t.shape for t in pair] == [tuple(t.shape) for t in getattr(torch, name)(torch.ones(()), torch.ones(3))]


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_shapes_and_values_like_torch(indexing, device):
    torch = import_torch()
    arrays = [np.arange(3.0), np.arange(2.0) + 10, np.array(7.0), np.arange(4.0) - 5]
    ours = tg.meshgrid(*[tensor(a, device) for a in arrays], indexing=indexing)
    theirs = torch.meshgrid(*[torch.tensor(a) for a in arrays], indexing=indexing)
    for grid, expected in zip(ours, theirs):
        assert_close(grid, expected)
    for grid, expected in zip(tg.meshgrid([tensor(a, device) for a in arrays[:1]], indexing=indexing),
                              torch.meshgrid([torch.tensor(a) for a in arrays[:1]], indexing=indexing)):
        assert_close(grid, expected)


def test_cartesian_prod_and_block_diag_like_torch(device):
    torch = import_torch()
    same_values(tg.cartesian_prod(tg.tensor([1, 2]), tg.tensor([3, 4, 5]), tg.tensor([0, 9])),
                torch.cartesian_prod(torch.tensor([1, 2]), torch.tensor([3, 4, 5]), torch.tensor([0, 9])))
    same_values(tg.cartesian_prod(tg.tensor([1, 2])), torch.cartesian_prod(torch.tensor([1, 2])))
    ours = tg.block_diag(tg.tensor(1), tg.tensor([2.0, 3.0]), tg.ones(2, 2, dtype=tg.float64), tg.zeros(0, 2))
    theirs = torch.block_diag(torch.tensor(1), torch.tensor([2.0, 3.0]), torch.ones(2, 2, dtype=torch.float64),
                              torch.zeros(0, 2))
    same_values(ours, theirs)


@pytest.mark.parametrize("row, col, offset", [(3, 4, 0), (3, 4, 1), (4, 3, -1), (3, 3, -5), (2, 5, 3), (0, 3, 0)])
@pytest.mark.parametrize("name", ["triu_indices", "tril_indices"])
def test_triangle_indices_like_torch(name, row, col, offset):
    torch = import_torch()
    same_values(getattr(tg, name)(row, col, offset), getattr(torch, name)(row, col, offset))
    assert getattr(tg, name)(row, col, offset, dtype=tg.int32).dtype == np.int32


@pytest.mark.parametrize("k", [-3, -1, 0, 1, 2, 5])
def test_rot90_like_torch(k, device):
    torch = import_torch()
    a = np.arange(24).reshape(2, 3, 4)
    for dims in [(0, 1), (1, 0), (2, 0), (-1, -2)]:
        same_values(tensor(a, device).rot90(k, dims), torch.tensor(a).rot90(k, dims))


def test_take_along_dim_with_argsort_like_torch(device):
    """The idiom it exists for: reorder by argsort (or argmax with keepdim) along a dim."""
    torch = import_torch()
    a = np.random.default_rng(10).standard_normal((3, 5))
    x, t = tensor(a, device), torch.tensor(a)
    assert_close(x.take_along_dim(x.argsort(1), 1), t.take_along_dim(t.argsort(1), 1))
    assert_close(tg.take_along_dim(x, x.argmax(0, keepdim=True), 0), torch.take_along_dim(t, t.argmax(0, True), 0))


def test_masked_select_and_diff_of_integers_like_torch(device):
    torch = import_torch()
    a = np.array([[1, 4, 9], [16, 25, 36]])
    mask = np.array([[True, False, True], [False, False, True]])
    same_values(tensor(a, device).masked_select(tensor(mask, device)), torch.tensor(a).masked_select(torch.tensor(mask)))
    for n, dim in [(1, -1), (2, 1), (1, 0), (3, 1), (0, 1)]:
        same_values(tg.diff(tensor(a, device), n, dim), torch.diff(torch.tensor(a), n, dim))


def test_movedim_like_torch(device):
    torch = import_torch()
    a = np.zeros((2, 3, 4, 5))
    for source, destination in [(0, 3), (-1, 0), ((0, 1), (3, 2)), ([2, 0], [0, 1]), ((), ())]:
        assert tensor(a, device).movedim(source, destination).shape == \
            tuple(torch.tensor(a).movedim(source, destination).shape)


def test_every_new_torch_name_with_a_tensor_method_has_one_here():
    torch = import_torch()
    names = ["log1p", "expm1", "log2", "log10", "erf", "erfc", "lerp", "logaddexp", "hypot", "logit", "nan_to_num",
             "clamp_min", "clamp_max", "fmod", "remainder", "floor_divide", "amax", "amin", "aminmax",
             "count_nonzero", "logcumsumexp", "addmm", "baddbmm", "addbmm", "diag", "diagonal", "trace", "cross",
             "kron", "tile", "repeat_interleave", "movedim", "moveaxis", "swapaxes", "swapdims", "tensor_split",
             "hsplit", "vsplit", "dsplit", "rot90", "flipud", "fliplr", "narrow", "take_along_dim", "masked_select",
             "diff"]
    for name in names:
        assert hasattr(torch.Tensor, name) and hasattr(tg.Tensor, name), name
        assert callable(getattr(tg, name)), name
    for name in ["var_mean", "std_mean", "hstack", "vstack", "dstack", "column_stack", "meshgrid", "cartesian_prod",
                 "block_diag", "triu_indices", "tril_indices", "atleast_1d", "atleast_2d", "atleast_3d"]:
        assert callable(getattr(tg, name)), name


# --------------------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, message", [
    (lambda lib: lib.diag(lib.ones(2, 2, 2)), "diag"),
    (lambda lib: lib.trace(lib.ones(3)), "trace"),
    (lambda lib: lib.diagonal(lib.ones(2, 2), 0, 1, -1), "diagonal dimensions cannot be identical"),
    (lambda lib: lib.cross(lib.ones(2, 4), lib.ones(2, 4)), "no dimension of size 3"),
    (lambda lib: lib.cross(lib.ones(2, 3), lib.ones(2, 3), dim=0), "must have length 3"),
    (lambda lib: lib.cross(lib.ones(2, 3), lib.ones(3)), "same number of dimensions"),
    (lambda lib: lib.movedim(lib.ones(2, 3), (0, 1), (0,)), "should contain the same number of dims"),
    (lambda lib: lib.movedim(lib.ones(2, 3), (0, 0), (1, 0)), "repeated dim"),
    (lambda lib: lib.hsplit(lib.ones(2, 7), 3), "not divisible"),
    (lambda lib: lib.vsplit(lib.ones(7), 7), "at least 2 dimension"),
    (lambda lib: lib.tensor_split(lib.ones(4), 0), "number of sections must be larger than 0"),
    (lambda lib: lib.meshgrid(lib.ones(2), indexing="yx"), "indexing must be one of"),
    (lambda lib: lib.meshgrid(lib.ones(2, 2), indexing="ij"), "Expected 0D or 1D tensor"),
    (lambda lib: lib.take_along_dim(lib.ones(2, 3), lib.zeros(3, dtype=lib.int64), 1), "same number of dimensions"),
    (lambda lib: lib.masked_select(lib.ones(3), lib.ones(3)), "expected BoolTensor"),
    (lambda lib: lib.diff(lib.ones(3), -1), "order must be non-negative"),
    (lambda lib: lib.rot90(lib.ones(2, 2), 1, (1, 1)), "expected rotation dims to be different"),
    (lambda lib: lib.rot90(lib.ones(2, 2), 1, (0, 1, 2)), "expected total rotation dims == 2"),
    (lambda lib: lib.fliplr(lib.ones(3)), "Input must be >= 2-d"),
    (lambda lib: lib.block_diag(lib.ones(1, 1, 1)), "2 or fewer dimensions"),
])
def test_bad_arguments_raise_pytorchs_errors(call, message):
    torch = import_torch()
    with pytest.raises(RuntimeError, match=message):
        call(torch)
    with pytest.raises(RuntimeError, match=message):
        call(tg)
