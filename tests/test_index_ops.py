"""Index and reduction ops beyond the CASES rows of test_tensor_ops.py (which gradcheck each one and compare it with
PyTorch on random inputs): ties, zeros, NaN, integer tensors, the in-place forms, PyTorch's errors, and the integer
helpers (bincount, unique, searchsorted, bucketize), each compared with PyTorch on the same inputs."""
import numpy as np
import pytest

import tinygrad_bn as tg
from conftest import assert_close, import_torch, tensor, torch_tensor


def both(fn, arrays, device, grad=True):
    """fn run on tinygrad_bn and on torch tensors made from the same float64 arrays; returns the two outputs and,
    after backward with the same upstream gradient, the two lists of input gradients."""
    ours = [tensor(a, device, requires_grad=grad) for a in arrays]
    theirs = [torch_tensor(a, requires_grad=grad) for a in arrays]
    out, expected = fn(ours, tg), fn(theirs, import_torch())
    if not grad:
        return out, expected, [], []
    upstream = np.random.default_rng(3).standard_normal(tuple(expected.shape))
    out.backward(tensor(upstream, device))
    expected.backward(torch_tensor(upstream))
    return out, expected, [x.grad for x in ours], [t.grad for t in theirs]


# ----------------------------------------------------------------------------------------------- scatter_reduce
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_with_ties_and_zeros_matches_torch(reduce, include_self, device):
    """Ties among src values (amax/amin share the gradient evenly) and zeros (prod's gradient is the product of
    the others, however many zeros there are); one position is reached by nothing and keeps self's value."""
    base = np.array([[2.0, 0.0, 5.0], [6.0, -1.0, 3.0], [1.0, 4.0, 0.5]])
    src = np.array([[7.0, 0.0, 2.0, 5.0], [7.0, 0.0, 5.0, 0.0]])
    index = np.array([[0, 0, 1, 1], [0, 1, 1, 1]])

    def fn(xs, lib):
        return xs[0].scatter_reduce(1, lib.tensor(index), xs[1], reduce, include_self=include_self)

    # no self element ties with the sent maximum (for that case see the next test)
    out, expected, grads, torch_grads = both(fn, [base, src], device)
    assert_close(out, expected, what="values")
    for ours, theirs in zip(grads, torch_grads):
        assert_close(ours, theirs, what="gradients")


def test_scatter_reduce_amax_without_self_shares_among_the_sent_values_only(device):
    """Differs from PyTorch 2.x on purpose: with include_self=False, a self element equal to the maximum is no
    contributor, yet PyTorch counts it among the ties (gradients 1/3, 1/3 that sum to 2/3, which fails PyTorch's
    own gradcheck). Here the two sent values share the gradient: 1/2 each, the derivative of the result."""
    x = tg.tensor([7.0, 5.0], dtype=tg.float64, requires_grad=True)
    src = tg.tensor([7.0, 7.0, 1.0], dtype=tg.float64, requires_grad=True)
    out = x.scatter_reduce(0, tg.tensor([0, 0, 1]), src, "amax", include_self=False)
    out.sum().backward()
    assert out.tolist() == [7.0, 1.0]
    assert x.grad.tolist() == [0.0, 0.0] and src.grad.tolist() == [0.5, 0.5, 1.0]


def test_scatter_reduce_of_integers_matches_torch(device):
    """Integer tensors: mean floors (PyTorch's rounding), amax and amin pad with the dtype's extremes."""
    torch = import_torch()
    base, index, src = np.array([1, -2, 3, 4]), np.array([0, 0, 1, 1, 3]), np.array([2, 3, -7, 4, 9])
    for reduce in ["sum", "prod", "mean", "amax", "amin"]:
        for include_self in [True, False]:
            ours = tensor(base, device).scatter_reduce(0, tensor(index, device), tensor(src, device), reduce,
                                                       include_self=include_self)
            theirs = torch.tensor(base).scatter_reduce(0, torch.tensor(index), torch.tensor(src), reduce,
                                                       include_self=include_self)
            assert ours.dtype == np.int64 and ours.tolist() == theirs.tolist(), (reduce, include_self)


def test_scatter_with_reduce_add_and_multiply_matches_torch(device):
    torch = import_torch()
    base, index, src = np.arange(1.0, 7.0).reshape(2, 3), np.array([[0, 0, 2]]), np.array([[2.0, 3.0, 4.0]])
    for reduce in ["add", "multiply"]:
        ours = tensor(base, device).scatter(1, tensor(index, device), tensor(src, device), reduce=reduce)
        assert_close(ours, torch.tensor(base).scatter(1, torch.tensor(index), torch.tensor(src), reduce=reduce))
        ours = tg.scatter(tensor(base, device), 1, tensor(index, device), value=2.5, reduce=reduce)
        assert_close(ours, torch.tensor(base).scatter(1, torch.tensor(index), 2.5, reduce=reduce))


def test_scatter_reduce_in_place_and_its_errors(device):
    x = tensor(np.zeros((2, 3)), device)
    assert x.scatter_reduce_(1, tensor([[0, 0], [2, 2]], device), tensor(np.ones((2, 2)), device), "sum") is x
    assert x.tolist() == [[2.0, 0.0, 0.0], [0.0, 0.0, 2.0]]
    with pytest.raises(RuntimeError, match="must be either sum, prod, mean, amax or amin, got 'max'"):
        x.scatter_reduce(1, tensor([[0]], device), tensor(np.ones((1, 1)), device), "max")
    with pytest.raises(IndexError, match=r"index 3 is out of bounds for dimension 1 with size 3"):
        x.scatter_reduce(1, tensor([[3]], device), tensor(np.ones((1, 1)), device), "sum")
    with pytest.raises(RuntimeError, match="either add or multiply"):
        x.scatter(1, tensor([[0]], device), 1.0, reduce="mean")


# ---------------------------------------------------------------------------- index_fill, index_copy, index_put
def test_index_writes_match_torch_with_negative_indices_masks_and_repeats(device):
    torch = import_torch()
    a = np.arange(12.0).reshape(3, 4)
    cases = [
        lambda x, lib: x.index_fill(0, lib.tensor([2, 2]), -1.0),
        lambda x, lib: x.index_copy(0, lib.tensor([2, 0]), x[:2] * 10),
        lambda x, lib: x.index_put((lib.tensor([-1, 0]), lib.tensor([1, -2])), lib.tensor(9.0, dtype=lib.float64)),
        lambda x, lib: x.index_put((lib.tensor([[True, False, True, False]] * 3),), lib.tensor(-1.0,
                                                                                                dtype=lib.float64)),
        lambda x, lib: x.index_put((lib.tensor([1, 1, -2]),), lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=lib.float64),
                                   accumulate=True),
        lambda x, lib: x.index_put((lib.tensor([0, 0]), lib.tensor([3, 3])), lib.tensor([1.0, 5.0],
                                                                                        dtype=lib.float64), True),
        lambda x, lib: x.masked_scatter(lib.tensor([True, False, False, True]), lib.arange(20.0, 30.0,
                                                                                             dtype=lib.float64)),
    ]
    for i, fn in enumerate(cases):
        assert_close(fn(tensor(a, device), tg), fn(torch.tensor(a), torch), what=f"case {i}")


def test_index_put_accumulate_sums_the_gradient_of_repeated_values(device):
    out, expected, grads, torch_grads = both(
        lambda xs, lib: xs[0].index_put((lib.tensor([2, 0, 2]),), xs[1], accumulate=True),
        [np.ones((3, 2)), np.arange(6.0).reshape(3, 2)], device)
    assert_close(out, expected)
    for ours, theirs in zip(grads, torch_grads):
        assert_close(ours, theirs)


def test_in_place_index_writes_change_the_tensor_and_are_differentiated(device):
    x = tensor(np.zeros((2, 3)), device)
    assert x.index_fill_(1, tensor([1], device), 2.0) is x
    x.index_copy_(0, tensor([0], device), tensor(np.ones((1, 3)), device))
    x.index_put_((tensor([1], device), tensor([2], device)), tg.tensor(5.0, dtype=tg.float64), accumulate=True)
    x.masked_scatter_(tensor([[False, False, False], [True, False, False]], device), tensor([7.0], device))
    assert x.tolist() == [[1.0, 1.0, 1.0], [7.0, 2.0, 5.0]]
    w = tensor(np.ones(3), device, requires_grad=True)
    h = w * 2
    h.index_fill_(0, tensor([1], device), 0.0)
    h.sum().backward()
    assert w.grad.tolist() == [2.0, 0.0, 2.0]


@pytest.mark.parametrize("call, error, message", [
    (lambda x: x.index_fill(1, tg.tensor([4]), 0.0), IndexError, r"index_fill\(\): index 4 is out of bounds for dim"),
    (lambda x: x.index_fill(1, tg.tensor([[0]]), 0.0), IndexError, r"index must be a vector"),
    (lambda x: x.index_copy(0, tg.tensor([0]), tg.ones(2, 4)), IndexError, r"Number of indices \(1\) should be equal"),
    (lambda x: x.index_copy(0, tg.tensor([3]), tg.ones(1, 4)), IndexError, r"index 3 is out of bounds for dimension 0"),
    (lambda x: x.index_put((tg.tensor([3]),), tg.tensor(1.0)), IndexError, r"index 3 is out of bounds for dim.* 3"),
    (lambda x: x.index_put((tg.tensor([0]),) * 3, tg.tensor(1.0)), IndexError, r"too many indices .* dimension 2"),
    (lambda x: x.masked_scatter(tg.tensor([True, True, False, True]), tg.ones(8)), RuntimeError,
     r"source \(8\) < number of ones in mask \(9\)"),
])
def test_index_writes_raise_pytorchs_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(tg.zeros(3, 4))


# ---------------------------------------------------------------------------- median, mode, cummax, quantile
def test_median_picks_the_lower_middle_and_shares_ties_like_torch(device):
    a = np.array([[1.0, 2.0, 2.0, 3.0], [5.0, 1.0, 1.0, 1.0]])
    out, expected, grads, torch_grads = both(lambda xs, lib: xs[0].median(), [a], device)
    assert_close(out, expected)
    assert_close(grads[0], torch_grads[0])  # the three 1.0s share the gradient evenly
    torch = import_torch()
    for row in ([2.0, 1.0, 2.0, 1.0, 2.0], [5.0, 1.0, 1.0, 0.0, 1.0], [1.0, np.nan, 2.0, np.nan]):
        ours, theirs = tg.tensor([row]).median(1), torch.tensor([row]).median(1)
        assert_close(ours.values, theirs.values)
        assert ours.indices.tolist() == theirs.indices.tolist(), row
    assert np.isnan(tg.tensor([1.0, np.nan]).median().item())
    with pytest.raises(IndexError, match="Expected reduction dim 1 to have non-zero size"):
        tg.zeros(2, 0).median(1)


def test_median_and_mode_gradients_go_to_the_selected_element(device):
    a = np.array([[3.0, 1.0, 3.0, 2.0, 1.0], [4.0, 4.0, 0.0, 0.0, 9.0]])
    for name in ("median", "mode"):
        out, expected, grads, torch_grads = both(
            lambda xs, lib, name=name: getattr(xs[0], name)(1, keepdim=True).values, [a], device)
        assert_close(out, expected, what=name)
        assert_close(grads[0], torch_grads[0], what=name)


def test_mode_takes_the_smallest_most_frequent_value_and_its_last_position(device):
    torch = import_torch()
    a = np.array([[1, 3, 3, 2, 2, 5, 3, 2], [0, 0, 7, 7, 7, 1, 1, 1]])
    ours, theirs = tensor(a, device).mode(), torch.tensor(a).mode()
    assert ours.values.tolist() == theirs.values.tolist() and ours.indices.tolist() == theirs.indices.tolist()
    ours, theirs = tg.mode(tensor(a, device), 0, keepdim=True), torch.mode(torch.tensor(a), 0, keepdim=True)
    assert ours.values.tolist() == theirs.values.tolist() and ours.indices.tolist() == theirs.indices.tolist()


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin_indices_with_ties_and_nan_match_torch(name, device):
    torch = import_torch()
    a = np.array([[1.0, 3.0, 3.0, 2.0, 5.0, 5.0], [3.0, 1.0, np.nan, 4.0, np.nan, 0.0]])
    ours, theirs = getattr(tensor(a, device), name)(1), getattr(torch.tensor(a), name)(1)
    assert_close(ours.values, theirs.values)
    assert ours.indices.dtype == np.int64 and ours.indices.tolist() == theirs.indices.tolist()
    _, _, grads, torch_grads = both(lambda xs, lib: getattr(lib, name)(xs[0], 0).values, [a[:1].T], device)
    assert_close(grads[0], torch_grads[0])  # a tie sends the gradient to the latest equal element


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_matches_torch_for_every_interpolation(interpolation, device):
    a = np.random.default_rng(0).standard_normal((3, 6))
    a[2, 4] = a[2, 1]  # a tie
    q = np.array([0.0, 0.1, 0.5, 0.7, 1.0])

    def fn(xs, lib):
        return lib.quantile(xs[0], lib.tensor(q), dim=1, interpolation=interpolation)

    out, expected, grads, torch_grads = both(fn, [a], device)
    assert_close(out, expected)
    assert_close(grads[0], torch_grads[0])
    torch = import_torch()
    assert_close(tg.tensor(a).quantile(0.3, interpolation=interpolation),
                 torch.tensor(a).quantile(0.3, interpolation=interpolation))


def test_quantile_of_nan_and_its_errors():
    torch = import_torch()
    a = np.array([[1.0, np.nan, 2.0], [3.0, 1.0, 2.0]])
    assert_close(tg.tensor(a).quantile(0.5, 1), torch.tensor(a).quantile(0.5, 1))
    for call, message in [(lambda t: t.quantile(1.5), r"q must be in the range \[0, 1\] but got 1.5"),
                          (lambda t: t.long().quantile(0.5), "either float or double dtype"),
                          (lambda t: t.quantile(0.5, interpolation="foo"), "but got foo"),
                          (lambda t: t.quantile(t.lib.tensor([[0.5]])), "scalar or 1D tensor")]:
        for lib, t in ((tg, tg.zeros(3)), (torch, torch.zeros(3))):
            t.lib = lib
            with pytest.raises(RuntimeError, match=message):
                call(t)


def test_nanmean_skips_nan_and_is_nan_for_a_slice_of_only_nan(device):
    """Values as PyTorch's; gradients too, but for a slice of only NaN: 0 here, NaN in PyTorch (0 * inf)."""
    a = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]])
    out, expected, grads, torch_grads = both(lambda xs, lib: xs[0].nanmean(1), [a], device)
    assert_close(out, expected)
    assert_close(grads[0][0], torch_grads[0][0])  # 1/2 for the two numbers of row 0, 0 for its NaN
    assert grads[0][1].tolist() == [0.0, 0.0, 0.0] and torch_grads[0][1].isnan().all()


# ------------------------------------------------------------------------------------ unflatten, tensordot
def test_unflatten_and_tensordot_errors_match_torch():
    torch = import_torch()
    for lib in (tg, torch):
        with pytest.raises(RuntimeError, match=r"Provided sizes \[2, 2\] don't multiply up to the size of dim 0 \(3\)"):
            lib.zeros(3).unflatten(0, (2, 2))
        with pytest.raises(RuntimeError, match="contracted dimensions need to match, but first has size 3 in dim"):
            lib.tensordot(lib.zeros(2, 3), lib.zeros(4, 3), dims=1)
    assert tg.tensordot(tg.ones(2, 3), tg.ones(3, 4), 0).shape == tuple(torch.tensordot(torch.ones(2, 3),
                                                                                       torch.ones(3, 4), 0).shape)


# ------------------------------------------------------------- bincount, unique, searchsorted, bucketize
def test_bincount_matches_torch_in_values_and_dtype(device):
    torch = import_torch()
    values = np.array([0, 2, 2, 5])
    for weights in (None, np.array([0.5, 1.0, 2.0, 3.0], dtype=np.float32), np.array([1, 2, 3, 4]),
                    np.array([0.5, 1.0, 2.0, 3.0])):
        ours = tg.bincount(tensor(values, device), None if weights is None else tensor(weights, device), 8)
        theirs = torch.bincount(torch.tensor(values), None if weights is None else torch.tensor(weights), 8)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "") and ours.tolist() == theirs.tolist()
    for bad in (np.array([-1, 2]), np.array([[1]]), np.array([0.5])):
        with pytest.raises(RuntimeError, match="bincount only supports 1-d non-negative integral inputs"):
            tensor(bad, device).bincount()


def test_unique_matches_torch(device):
    torch = import_torch()
    a = np.array([[3, 1, 3], [0, 1, 3], [3, 1, 3]])
    for options in ({}, {"return_inverse": True}, {"return_counts": True},
                    {"return_inverse": True, "return_counts": True}, {"dim": 0, "return_inverse": True},
                    {"dim": 1, "return_counts": True}):
        ours, theirs = tg.unique(tensor(a, device), **options), torch.unique(torch.tensor(a), **options)
        ours, theirs = (ours, theirs) if isinstance(ours, tuple) else ((ours,), (theirs,))
        assert [o.tolist() for o in ours] == [t.tolist() for t in theirs], options


def test_searchsorted_and_bucketize_match_torch(device):
    torch = import_torch()
    sequence, values = np.array([1.0, 3.0, 3.0, 5.0]), np.array([[0.0, 3.0, 4.0], [5.0, 6.0, 3.0]])
    rows = np.array([[1.0, 2.0, 3.0], [0.0, 4.0, 6.0]])
    for options in ({}, {"right": True}, {"side": "right"}, {"out_int32": True}):
        ours = tg.searchsorted(tensor(sequence, device), tensor(values, device), **options)
        theirs = torch.searchsorted(torch.tensor(sequence), torch.tensor(values), **options)
        assert ours.tolist() == theirs.tolist() and str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        ours = tg.searchsorted(tensor(rows, device), tensor(values, device), **options)
        assert ours.tolist() == torch.searchsorted(torch.tensor(rows), torch.tensor(values), **options).tolist()
    assert tg.searchsorted(tensor(sequence, device), 3.0).tolist() == torch.searchsorted(torch.tensor(sequence),
                                                                                         3.0).tolist()
    sorter = np.array([2, 0, 1])
    assert tg.searchsorted(tensor([5, 1, 3], device), tensor([2, 4], device), sorter=tensor(sorter, device)).tolist() \
        == torch.searchsorted(torch.tensor([5, 1, 3]), torch.tensor([2, 4]), sorter=torch.tensor(sorter)).tolist()
    for right in (False, True):
        assert tg.bucketize(tensor(values, device), tensor(sequence, device), right=right).tolist() == \
            torch.bucketize(torch.tensor(values), torch.tensor(sequence), right=right).tolist()
    with pytest.raises(RuntimeError, match="side and right can't be set to opposites"):
        tg.searchsorted(tg.tensor([1, 2]), tg.tensor([1]), right=True, side="left")
    with pytest.raises(RuntimeError, match="first N-1 dimensions"):
        tg.searchsorted(tg.zeros(2, 3), tg.zeros(3, 1))
