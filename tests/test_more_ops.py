"""The ops of issue 23 beyond the op table (tests/test_tensor_ops.py, which gradchecks each one and compares it with
PyTorch): the cases a table row does not reach. Zeros in prod and cumprod, ties and NaN in sort, PyTorch's errors
for bad indices, einsum's equations, multinomial's draws, one_hot's default, tril/triu on batches, float32.
"""
import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from tinygrad_bn import gradcheck
from conftest import assert_close, import_torch, tensor, torch_tensor


def matches_torch(fn, arrays, device, torch_fn=None, rtol=1e-8, atol=1e-12):
    """fn on our tensors and on torch's (float64 copies of `arrays`): the same values and the same gradients."""
    ours = [tensor(a, device, requires_grad=True) for a in arrays]
    theirs = [torch_tensor(a, requires_grad=True) for a in arrays]
    out, expected = fn(*ours), (torch_fn or fn)(*theirs)
    assert_close(out, expected, rtol=rtol, atol=atol, what="forward")
    upstream = np.random.default_rng(1).standard_normal(tuple(expected.shape))
    out.backward(tensor(upstream, device, dtype=out.dtype))
    expected.backward(torch_tensor(upstream).to(expected.dtype))
    for i, (x, t) in enumerate(zip(ours, theirs)):
        assert_close(x.grad, t.grad, rtol=rtol, atol=atol, what=f"gradient of input {i}")


# ------------------------------------------------------------------------------- products with zeros in the input
WITH_ZEROS = np.array([[2.0, 0.0, 3.0, -1.5],     # one zero
                       [0.0, 1.5, 0.0, 2.0],      # two zeros: every gradient of the row's product is 0
                       [1.2, -0.7, 2.0, 0.5]])    # none


@pytest.mark.parametrize("name, fn", [
    ("prod_all", lambda x: x.prod()),
    ("prod_rows", lambda x: x.prod(1)),
    ("prod_columns_keepdim", lambda x: x.prod(0, keepdim=True)),
    ("cumprod_rows", lambda x: x.cumprod(1)),
    ("cumprod_columns", lambda x: x.cumprod(0)),
])
def test_products_with_zeros_have_exact_gradients(name, fn, device):
    import_torch()
    assert gradcheck(fn, [tensor(WITH_ZEROS, device, requires_grad=True)])
    matches_torch(fn, [WITH_ZEROS], device)


def running(x, dim, combine):
    """The running sums or products along dim, composed from indexing, + or * and stack: slow, obviously right."""
    parts = [x[(slice(None),) * dim + (i,)] for i in range(x.shape[dim])]
    outputs = [parts[0]]
    for part in parts[1:]:
        outputs.append(combine(outputs[-1], part))
    return tg.stack(outputs, dim)


@pytest.mark.parametrize("name, fn, reference", [
    ("cumsum", lambda x: x.cumsum(1), lambda x: running(x, 1, lambda a, b: a + b)),
    ("cumprod_rows", lambda x: x.cumprod(1), lambda x: running(x, 1, lambda a, b: a * b)),
    ("cumprod_columns", lambda x: x.cumprod(0), lambda x: running(x, 0, lambda a, b: a * b)),
    ("prod_rows", lambda x: x.prod(1), lambda x: running(x, 1, lambda a, b: a * b)[:, -1]),
    ("prod_all", lambda x: x.prod(), lambda x: running(x.flatten(), 0, lambda a, b: a * b)[-1]),
])
def test_hand_written_backwards_agree_with_compositions(name, fn, reference, device):
    """CumsumFn, CumprodFn and ProdFn against the same math spelled with + and * (zeros included)."""
    weights = tensor(np.random.default_rng(7).standard_normal(fn(tg.Tensor(WITH_ZEROS)).shape), device)
    grads = []
    for f in (fn, reference):
        x = tensor(WITH_ZEROS, device, requires_grad=True)
        out = f(x)
        (out * weights).sum().backward()
        grads.append((out, x.grad))
    assert_close(grads[0][0], grads[1][0], what="forward")
    assert_close(grads[0][1], grads[1][1], what="gradient")


def test_prod_gradient_at_a_single_zero_is_the_product_of_the_others(device):
    x = tensor([2.0, 0.0, 3.0], device, requires_grad=True)
    x.prod().backward()
    assert x.grad.tolist() == [0.0, 6.0, 0.0]


def test_scans_and_products_keep_integer_dtypes_and_0d_inputs(device):
    torch = import_torch()
    a = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32)
    for name in ("cumsum", "cumprod"):
        ours, theirs = getattr(tensor(a, device), name)(1), getattr(torch.tensor(a), name)(1)
        assert ours.dtype == np.int64 and ours.tolist() == theirs.tolist()
    assert tensor(a, device).prod().item() == 720 and tensor(a, device).prod().dtype == np.int64
    assert tensor(a, device).cumsum(0, dtype=tg.float64).dtype == np.float64
    scalar = tensor(np.array(2.5), device, requires_grad=True)
    out = scalar.cumsum(0)
    out.backward()
    assert out.shape == () and out.item() == 2.5 and scalar.grad.item() == 1.0


# ----------------------------------------------------------------------------------------------------- float32
@pytest.mark.parametrize("name, fn", [
    ("sin", lambda x: x.sin()), ("cos", lambda x: x.cos()), ("tan", lambda x: x.tan()),
    ("asin", lambda x: (x * 0.5).asin()), ("acos", lambda x: (x * 0.5).acos()), ("atan", lambda x: x.atan()),
    ("atan2", lambda x: x.atan2(x.flip(1))), ("sinh", lambda x: x.sinh()), ("cosh", lambda x: x.cosh()),
    ("cumsum", lambda x: x.cumsum(1)), ("cumprod", lambda x: x.cumprod(1)), ("prod", lambda x: x.prod(0)),
    ("sort", lambda x: x.sort(1, descending=True).values), ("topk", lambda x: x.topk(2, dim=0).values),
    ("einsum", lambda x: (tg if isinstance(x, tg.Tensor) else import_torch()).einsum("ij,kj->ik", x, x)),
])
def test_float32_matches_torch(name, fn, device):
    """In float32 the values and gradients stay float32 and agree with PyTorch's float32 ones."""
    import_torch()
    a = np.random.default_rng(3).uniform(-1.2, 1.2, (3, 4)).astype(np.float32)
    x, t = tensor(a, device, requires_grad=True), torch_tensor(a, requires_grad=True)
    out, expected = fn(x), fn(t)
    assert out.dtype == np.float32
    assert_close(out, expected, rtol=1e-5, atol=1e-6)
    out.sum().backward()
    expected.sum().backward()
    assert x.grad.dtype == np.float32
    assert_close(x.grad, t.grad, rtol=1e-5, atol=1e-5)


def test_the_torch_twins_are_exported():
    for name in ("sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "arcsin", "arctan2", "prod",
                 "cumsum", "cumprod", "sort", "argsort", "topk", "gather", "scatter", "scatter_add", "index_add",
                 "einsum", "multinomial"):
        assert callable(getattr(tg, name)), name


def test_atan2_takes_y_first_and_covers_every_quadrant(device):
    y = tensor([1.0, 1.0, -1.0, -1.0, 0.0], device)
    x = tensor([1.0, -1.0, -1.0, 1.0, -1.0], device)
    assert_close(tg.atan2(y, x), np.array([0.25, 0.75, -0.75, -0.25, 1.0]) * np.pi)


# -------------------------------------------------------------------------------------------- sort, argsort, topk
def test_sort_is_stable_and_puts_nan_where_torch_does(device):
    """Ties keep their order in both directions (PyTorch's stable=True); NaN sorts last ascending, first descending."""
    torch = import_torch()
    a = np.array([[3.0, 1.0, 3.0, np.nan, 2.0, 1.0], [0.0, 0.0, 5.0, 1.0, 1.0, -1.0]])
    for descending in (False, True):
        values, indices = tensor(a, device).sort(descending=descending)
        expected = torch.sort(torch.tensor(a), descending=descending, stable=True)
        np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
        assert indices.dtype == np.int64 and indices.tolist() == expected.indices.tolist()
        assert tg.argsort(tensor(a, device), descending=descending).tolist() == expected.indices.tolist()


def test_sort_of_bool_and_unsigned_tensors_descending(device):
    torch = import_torch()
    for a in (np.array([True, False, True, False]), np.array([3, 250, 0, 250], dtype=np.uint8)):
        ours = tensor(a, device).sort(descending=True)
        expected = torch.tensor(a).sort(descending=True, stable=True)
        assert ours.values.tolist() == expected.values.tolist() and ours.indices.tolist() == expected.indices.tolist()


def test_sort_gradient_goes_back_to_where_each_value_came_from(device):
    x = tensor([3.0, 1.0, 2.0], device, requires_grad=True)
    values, indices = x.sort()
    (values * tensor([1.0, 10.0, 100.0], device)).sum().backward()
    assert indices.tolist() == [1, 2, 0] and x.grad.tolist() == [100.0, 1.0, 10.0]


def test_topk_returns_named_values_and_indices_like_torch(device):
    torch = import_torch()
    a = np.random.default_rng(4).standard_normal((3, 5))
    for k, dim, largest in [(1, -1, True), (3, 1, False), (2, 0, True), (5, 1, True), (0, 1, True)]:
        ours = tensor(a, device).topk(k, dim=dim, largest=largest)
        expected = torch.tensor(a).topk(k, dim=dim, largest=largest)
        assert_close(ours.values, expected.values)
        assert ours[1].tolist() == expected.indices.tolist()


def test_topk_refuses_a_k_larger_than_the_dim(device):
    with pytest.raises(ValueError, match=r"k=6 out of range for dim -1 of size 5"):
        tensor(np.zeros((2, 5)), device).topk(6)


# ---------------------------------------------------------------------------------- gather, scatter, index_add
def test_scatter_add_and_index_add_accumulate_repeats_like_torch(device):
    torch = import_torch()
    base = np.zeros((2, 4))
    index = np.array([[1, 1, 3], [0, 0, 0]])
    src = np.arange(1.0, 7.0).reshape(2, 3)
    ours = tensor(base, device).scatter_add(1, tensor(index, device), tensor(src, device))
    assert_close(ours, torch.tensor(base).scatter_add(1, torch.tensor(index), torch.tensor(src)))
    ours = tensor(base, device).index_add(1, tensor([2, 2, 0], device), tensor(src, device), alpha=3)
    assert_close(ours, torch.tensor(base).index_add(1, torch.tensor([2, 2, 0]), torch.tensor(src), alpha=3))


def test_in_place_scatter_idioms_change_the_tensor(device):
    x = tensor(np.zeros((2, 3)), device)
    assert x.scatter_(1, tensor([[2], [0]], device), 7.0) is x
    x.scatter_add_(0, tensor([[1, 1, 1]], device), tensor(np.ones((1, 3)), device))
    x.index_add_(0, tensor([0], device), tensor(np.full((1, 3), 0.5), device))
    assert x.tolist() == [[0.5, 0.5, 7.5], [8.0, 1.0, 1.0]]


def test_in_place_scatter_into_an_intermediate_is_differentiated(device):
    w = tensor(np.ones((2, 3)), device, requires_grad=True)
    src = tensor(np.full((2, 1), 2.0), device, requires_grad=True)
    h = w * 3
    h.scatter_(1, tensor([[0], [2]], device), src)
    (h * tensor(np.arange(6.0).reshape(2, 3), device)).sum().backward()
    assert w.grad.tolist() == [[0.0, 3.0, 6.0], [9.0, 12.0, 0.0]]
    assert src.grad.tolist() == [[0.0], [5.0]]


@pytest.mark.parametrize("call, error, message", [
    (lambda x: x.gather(1, tg.tensor([[3]])), IndexError, r"gather\(\): index 3 is out of bounds for dimension 1"),
    (lambda x: x.gather(1, tg.tensor([[-1]])), IndexError, r"index -1 is out of bounds for dimension 1 with size 3"),
    (lambda x: x.gather(0, tg.tensor([1])), ValueError, r"same number of dimensions.*\(1,\).*\(2, 3\)"),
    (lambda x: x.gather(1, tg.tensor([[0], [0], [0]])), ValueError, r"\[3, 1\] to be no larger than self \[2, 3\]"),
    (lambda x: x.gather(1, tg.tensor([[0.5]])), TypeError, r"integer index tensor, got dtype float32"),
    (lambda x: x.gather(2, tg.tensor([[0]])), IndexError, r"dim 2 is out of range"),
    (lambda x: x.scatter(1, tg.tensor([[0, 1]]), tg.ones(1, 1)), ValueError, r"no larger than src \[1, 1\]"),
    (lambda x: x.scatter(0, tg.tensor([[2]]), 1.0), IndexError, r"index 2 is out of bounds for dimension 0 with"),
    (lambda x: x.scatter(0, tg.tensor([[0]])), TypeError, r"exactly one of src"),
    (lambda x: x.scatter_add(1, tg.tensor([[5]]), tg.ones(1, 1)), IndexError, r"index 5 is out of bounds"),
    (lambda x: x.index_add(1, tg.tensor([3]), tg.ones(2, 1)), IndexError, r"index_add\(\): index 3 is out of bounds"),
    (lambda x: x.index_add(1, tg.tensor([0, 1]), tg.ones(2, 1)), ValueError, r"\(2, 1\).*2 indices.*\(2, 2\)"),
])
def test_bad_indices_raise_errors_that_name_them(call, error, message):
    with pytest.raises(error, match=message):
        call(tg.zeros(2, 3))


# ---------------------------------------------------------------------------------------------------------- einsum
EQUATIONS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),             # matrix product
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),    # batched
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),  # attention scores
    ("i,j->ij", [(3,), (4,)]),                   # outer
    ("i,i->", [(3,), (3,)]),                     # dot
    ("ij->", [(2, 3)]),                          # sum of everything
    ("ijk->kj", [(2, 3, 4)]),                    # sum one dim, permute the rest
    ("ii", [(3, 3)]),                            # trace (implicit output: nothing occurs once)
    ("iij->ji", [(2, 2, 3)]),                    # diagonal, then permute
    ("ba,ab", [(2, 3), (3, 2)]),                 # implicit output, nothing left: a scalar
    ("ij,jk", [(2, 3), (3, 4)]),                 # implicit output "ik"
    ("...ij->...ji", [(2, 1, 3, 4)]),            # ellipsis
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 4)]),  # ellipsis dims broadcast against each other
    ("ij,kj->ik", [(2, 1), (3, 4)]),             # a summed dim of size 1 broadcasts
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),  # a chain of three
    ("bi,bj,b->ij", [(3, 2), (3, 4), (3,)]),     # a batch dim summed at the end
]


@pytest.mark.parametrize("equation, shapes", EQUATIONS, ids=[e for e, _ in EQUATIONS])
def test_einsum_gradchecks_and_matches_torch(equation, shapes, device):
    torch = import_torch()
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(shape) for shape in shapes]
    assert gradcheck(lambda *xs: tg.einsum(equation, *xs), [tensor(a, device, requires_grad=True) for a in arrays])
    matches_torch(lambda *xs: tg.einsum(equation, *xs), arrays, device,
                  torch_fn=lambda *ts: torch.einsum(equation, *ts))


def test_einsum_takes_operands_as_a_list(device):
    x = tensor(np.eye(2), device)
    assert tg.einsum("ij,jk", [x, x]).tolist() == [[1.0, 0.0], [0.0, 1.0]]


@pytest.mark.parametrize("equation, shapes, message", [
    ("ij,jk->ik", [(2, 3), (2, 4)], r"j has size 2 for operand 1 which does not broadcast with .* size 3"),
    ("ij,jk->ik", [(2, 3)], r"subscripts for 2 operands, but 1 were given"),
    ("ijk->i", [(2, 3)], r"subscripts 'ijk' do not fit operand 0 of shape \(2, 3\)"),
    ("i1->i", [(2, 3)], r"invalid subscripts 'i1'"),
    ("ij->ii", [(2, 3)], r"output subscript i .* more than once or in no operand"),
    ("ij->k", [(2, 3)], r"output subscript k"),
    ("ii->i", [(2, 3)], r"subscript i is repeated for dims of sizes 2 and 3"),
])
def test_einsum_errors_name_the_problem(equation, shapes, message):
    with pytest.raises(ValueError, match=message):
        tg.einsum(equation, *[tg.zeros(*shape) for shape in shapes])


# ----------------------------------------------------------------------------------------------------- multinomial
def test_multinomial_draws_from_the_weights(device):
    weights = tensor([[0.0, 1.0, 3.0], [5.0, 0.0, 0.0]], device)
    draws = tg.multinomial(weights, 4000, replacement=True, generator=tg.Generator().manual_seed(0))
    assert draws.shape == (2, 4000) and draws.dtype == np.int64 and draws.device == device
    first = draws.numpy()[0]
    assert 0 not in first and abs((first == 2).mean() - 0.75) < 0.03
    assert (draws.numpy()[1] == 0).all()


def test_multinomial_without_replacement_never_repeats_and_is_seeded(device):
    weights = tensor(np.arange(1.0, 7.0), device)
    draws = weights.multinomial(6, generator=tg.Generator().manual_seed(1))
    assert sorted(draws.tolist()) == list(range(6))
    again = weights.multinomial(6, generator=tg.Generator().manual_seed(1))
    assert draws.tolist() == again.tolist()


@pytest.mark.parametrize("weights, n, replacement, message", [
    ([1.0, 2.0], 3, False, r"cannot sample 3 > 2 categories without replacement"),
    ([1.0, 0.0], 2, False, r"fewer than 2 categories of nonzero weight"),
    ([1.0, -1.0], 1, True, r"non-negative weights with a positive sum"),
    ([0.0, 0.0], 1, True, r"positive sum"),
    ([[[1.0]]], 1, True, r"1-D or 2-D, got shape \(1, 1, 1\)"),
    ([1.0], 0, True, r"num_samples must be positive, got 0"),
])
def test_multinomial_refuses_bad_input(weights, n, replacement, message):
    with pytest.raises(ValueError, match=message):
        tg.multinomial(tg.tensor(weights), n, replacement)


# ------------------------------------------------------------------------------------------ one_hot, tril, triu
def test_one_hot_defaults_to_one_more_class_than_the_largest_label_like_torch(device):
    torch = import_torch()
    labels = np.array([[0, 3], [1, 1]])
    for num_classes in (-1, 6):
        ours = F.one_hot(tensor(labels, device), num_classes)
        expected = torch.nn.functional.one_hot(torch.tensor(labels), num_classes)
        assert ours.dtype == np.int64 and ours.tolist() == expected.tolist()
    assert F.one_hot(tensor(labels, device)).shape == (2, 2, 4)


@pytest.mark.parametrize("shape", [(3, 4), (2, 4, 3), (2, 1, 3, 3)])
@pytest.mark.parametrize("diagonal", [-2, -1, 0, 1, 3])
def test_tril_triu_follow_torch_on_batches_and_diagonals(shape, diagonal, device):
    torch = import_torch()
    a = np.random.default_rng(6).standard_normal(shape)
    for name in ("tril", "triu"):
        matches_torch(lambda x, name=name: getattr(x, name)(diagonal), [a], device)
        assert_close(getattr(tg, name)(tensor(a, device), diagonal=diagonal),
                     getattr(torch, name)(torch.tensor(a), diagonal=diagonal))


def test_tril_refuses_a_vector():
    with pytest.raises(ValueError, match=r"tril: input tensor must have at least 2 dimensions, got shape \(3,\)"):
        tg.zeros(3).tril()


def test_hardswish_gradient_at_its_kinks_is_pytorchs():
    """At x = -3 and x = 3 the slope is PyTorch's choice, 0 and 1 (the middle piece would give -1/2 and 3/2)."""
    torch = import_torch()
    points = [-3.5, -3.0, -1.0, 0.0, 2.5, 3.0, 3.5]
    x = tg.tensor(points, dtype="float64", requires_grad=True)
    F.hardswish(x).sum().backward()
    expected = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.hardswish(expected).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), expected.grad.numpy())


def test_logsumexp_of_masked_rows_is_minus_inf_without_nan_gradients(device):
    """A row of only -inf (every position masked) gives -inf, as in PyTorch, and sends no gradient back (PyTorch's
    is nan there); the other rows, a tuple of dims and huge values match PyTorch."""
    torch = import_torch()
    values = np.array([[0.5, -np.inf, 2.0], [-np.inf, -np.inf, -np.inf], [1000.0, 999.0, -np.inf]])
    x = tensor(values, device, requires_grad=True)
    out = x.logsumexp(1)
    expected = torch.tensor(values, requires_grad=True).logsumexp(1)
    assert_close(out, expected)
    out[0].backward()
    assert np.isfinite(x.grad.numpy()).all()
    assert_close(x.grad[0], torch.softmax(torch.tensor(values[0]), 0))
    cube = np.random.default_rng(0).standard_normal((2, 3, 4))
    assert_close(tensor(cube, device).logsumexp((0, 2), keepdim=True), torch.tensor(cube).logsumexp((0, 2), True))
    assert gradcheck(lambda t: t.logsumexp((0, 2)), [tensor(cube, device, requires_grad=True)])
