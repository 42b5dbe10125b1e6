"""Distances (normalize, cosine_similarity, pairwise_distance, torch.cdist) and the margin, embedding and likelihood
losses, checked against PyTorch.

One table, CASES, as in test_compat.py: each row's function takes the library (`tinygrad_bn` or `torch`, which share
names) and input tensors, so the same line runs in both on identical inputs. Every row is gradchecked in float64 and
compared with PyTorch in value and gradient, in float64 and in float32; each loss has a row per reduction. Then the
edge cases (tiny and zero norms, ties, overflow), the modules, the deprecated size_average/reduce, and the errors.
"""
import math
from dataclasses import dataclass

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
import tinygrad_bn.nn.functional as F
from tinygrad_bn import gradcheck
from conftest import assert_close, import_torch, tensor, torch_tensor

REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------------------------------------------------------
# Inputs: functions of a NumPy generator, so a row builds the same numbers for both libraries.
# ---------------------------------------------------------------------------------------------------------------
def normal(*shape, scale=1.0):
    return lambda rng: rng.standard_normal(shape) * scale


def away_from(points, *shape, scale=1.0):
    """Normal samples (times scale) at least 0.05 away from each kink in `points` (where finite differences fail)."""
    def make(rng):
        a = rng.standard_normal(shape) * scale
        for p in points:
            a = np.where(np.abs(a - p) < 0.05, a + 0.1, a)
        return a
    return make


def signs(*shape, others=()):
    """Labels 1 or -1 (float), with `others` (flat index -> value) set to labels that are neither."""
    def make(rng):
        y = rng.choice([-1.0, 1.0], size=shape)
        for index, value in dict(others).items():
            y.flat[index] = value
        return y
    return make


def uniform(*shape, low=0.0, high=1.0):
    return lambda rng: rng.uniform(low, high, size=shape)


def counts(*shape, high=6):
    """Poisson-like counts 0..high as floats (targets of poisson_nll_loss; some <= 1, some > 1)."""
    return lambda rng: rng.integers(0, high + 1, size=shape).astype(np.float64)


def classes(shape, n):
    return lambda rng: rng.integers(0, n, size=shape)


def scalar_label(value):
    return lambda rng: np.array(value)


def margins_apart(*shape):
    """Scores whose pairwise gaps (multiples of 0.37, +-0.01) keep away from the margins used below (0.7, 0.8, 1)
    and from 0, so no multi-margin hinge sits on its kink."""
    return lambda rng: rng.permutation(np.prod(shape)).reshape(shape) * 0.37 + 0.01 * rng.random(shape)


@dataclass
class Case:
    name: str
    fn: object                # fn(lib, *tensors): lib is tinygrad_bn or torch
    inputs: tuple
    constant: tuple = ()      # indices of float inputs that are data (labels, weights), not differentiated
    true_gradient: bool = True  # False where PyTorch's rule is not the derivative (a clamp in value only)
    rtol: float = 1e-10       # relative tolerance against torch in float64

    def arrays(self, seed=0):
        rng = np.random.default_rng(seed)
        return [make(rng) for make in self.inputs]

    def requires_grad(self, index, array):
        return array.dtype.kind == "f" and index not in self.constant


def per_reduction(name, fn, inputs, constant=(), reductions=REDUCTIONS):
    """One row per reduction: fn(lib, reduction, *tensors)."""
    return [Case(f"{name}-{r}", lambda lib, *t, r=r: fn(lib, r, *t), inputs, constant) for r in reductions]


def f(lib):
    return lib.nn.functional


INF = math.inf
CASES = [
    # normalize: p-norms, dims, a row of zeros mixed in (its output is 0 and its gradient x / eps)
    Case("normalize", lambda lib, x: f(lib).normalize(x), (normal(4, 5),)),
    Case("normalize-p1-dim0", lambda lib, x: f(lib).normalize(x, p=1, dim=0), (away_from([0], 4, 5),)),
    Case("normalize-p3-last", lambda lib, x: f(lib).normalize(x, p=3, dim=-1), (normal(2, 3, 4),)),
    Case("normalize-p1.5-eps", lambda lib, x: f(lib).normalize(x * 1e-3, p=1.5, eps=0.02), (normal(4, 3),)),
    Case("normalize-inf", lambda lib, x: f(lib).normalize(x, p=INF), (normal(3, 5),)),
    Case("normalize-1d", lambda lib, x: f(lib).normalize(x, dim=0), (normal(6),)),
    # cosine_similarity: broadcasting, dims, one 1-D pair
    Case("cosine_similarity", lambda lib, a, b: f(lib).cosine_similarity(a, b), (normal(4, 5), normal(4, 5))),
    Case("cosine_similarity-broadcast", lambda lib, a, b: f(lib).cosine_similarity(a, b, dim=-1),
         (normal(3, 1, 5), normal(4, 5))),
    # b's norms fall below eps: clamped in value, not in gradient (PyTorch's rule), so compared with torch only
    Case("cosine_similarity-dim0-eps", lambda lib, a, b: f(lib).cosine_similarity(a, b * 1e-3, dim=0, eps=0.01),
         (normal(5, 3), normal(5, 3)), true_gradient=False),
    Case("cosine_similarity-1d", lambda lib, a, b: f(lib).cosine_similarity(a, b, dim=0), (normal(6), normal(6))),
    # pairwise_distance: p-norms, broadcasting, keepdim, eps
    Case("pairwise_distance", lambda lib, a, b: f(lib).pairwise_distance(a, b), (normal(4, 5), normal(4, 5))),
    Case("pairwise_distance-p1-broadcast", lambda lib, a, b: f(lib).pairwise_distance(a, b, p=1),
         (normal(2, 3, 5), away_from([0], 3, 5, scale=3))),
    Case("pairwise_distance-p3-keepdim", lambda lib, a, b: f(lib).pairwise_distance(a, b, p=3, keepdim=True),
         (normal(4, 5), normal(5))),
    Case("pairwise_distance-inf-eps", lambda lib, a, b: f(lib).pairwise_distance(a, b, p=INF, eps=0.1),
         (normal(4, 5), normal(4, 5))),
    Case("pairwise_distance-1d", lambda lib, a, b: f(lib).pairwise_distance(a, b), (normal(5), normal(5))),
    # torch.cdist (at most 25 rows a side: PyTorch then takes differences too, not its matrix-product shortcut)
    Case("cdist", lambda lib, a, b: lib.cdist(a, b), (normal(4, 3), normal(5, 3))),
    Case("cdist-p1", lambda lib, a, b: lib.cdist(a, b, p=1), (normal(4, 3), normal(5, 3))),
    Case("cdist-p3-batched", lambda lib, a, b: lib.cdist(a, b, p=3), (normal(2, 4, 3), normal(2, 5, 3))),
    Case("cdist-p0.5-broadcast", lambda lib, a, b: lib.cdist(a, b, p=0.5), (normal(2, 1, 4, 3), normal(3, 5, 3))),
    Case("cdist-inf", lambda lib, a, b: lib.cdist(a, b, p=INF), (normal(4, 3), normal(5, 3))),
    # losses, a row per reduction
    *per_reduction("margin_ranking_loss", lambda lib, r, a, b, y: f(lib).margin_ranking_loss(a, b, y, reduction=r),
                   (normal(6), away_from([0], 6), signs(6)), constant=(2,)),
    *per_reduction("margin_ranking_loss-margin-broadcast",
                   lambda lib, r, a, b, y: f(lib).margin_ranking_loss(a, b, y, margin=0.5, reduction=r),
                   (normal(3, 4), away_from([-0.5, 0.5], 1, 4), signs(3, 1)), constant=(2,)),
    *per_reduction("hinge_embedding_loss",
                   lambda lib, r, x, y: f(lib).hinge_embedding_loss(x, y, reduction=r),
                   (away_from([1.0], 4, 5, scale=2), signs(4, 5, others={3: 0.0, 7: 2.0})), constant=(1,)),
    *per_reduction("hinge_embedding_loss-margin-broadcast",
                   lambda lib, r, x, y: f(lib).hinge_embedding_loss(x, y, margin=0.3, reduction=r),
                   (away_from([0.3], 3, 4), signs(4)), constant=(1,)),
    *per_reduction("soft_margin_loss", lambda lib, r, x, y: f(lib).soft_margin_loss(x, y, reduction=r),
                   (normal(4, 5, scale=3), signs(4, 5)), constant=(1,)),
    *per_reduction("multilabel_soft_margin_loss",
                   lambda lib, r, x, y: f(lib).multilabel_soft_margin_loss(x, y, reduction=r),
                   (normal(4, 5, scale=3), uniform(4, 5))),
    *per_reduction("multilabel_soft_margin_loss-weight-3d",
                   lambda lib, r, x, y, w: f(lib).multilabel_soft_margin_loss(x, y, weight=w, reduction=r),
                   (normal(2, 3, 4), uniform(2, 3, 4), uniform(4, low=0.5, high=2)), constant=(2,)),
    *per_reduction("multi_margin_loss", lambda lib, r, x, y: f(lib).multi_margin_loss(x, y, reduction=r),
                   (margins_apart(5, 4), classes(5, 4))),
    *per_reduction("multi_margin_loss-p2-margin-weight",
                   lambda lib, r, x, y, w: f(lib).multi_margin_loss(x, y, p=2, margin=0.8, weight=w, reduction=r),
                   (margins_apart(5, 4), classes(5, 4), uniform(4, low=0.5, high=2)), constant=(2,)),
    Case("multi_margin_loss-1d", lambda lib, x, y: f(lib).multi_margin_loss(x, y, reduction="none"),
         (margins_apart(6), scalar_label(2))),
    *per_reduction("cosine_embedding_loss",
                   lambda lib, r, a, b, y: f(lib).cosine_embedding_loss(a, b, y, margin=0.1, reduction=r),
                   (normal(6, 4), normal(6, 4), signs(6, others={5: 0.0})), constant=(2,)),
    Case("cosine_embedding_loss-broadcast", lambda lib, a, b, y: f(lib).cosine_embedding_loss(a, b, y),
         (normal(5, 4), normal(1, 4), signs(5)), constant=(2,)),
    Case("cosine_embedding_loss-one-pair", lambda lib, a, b, y: f(lib).cosine_embedding_loss(a, b, y[0]),
         (normal(4), normal(4), signs(1)), constant=(2,)),
    *per_reduction("triplet_margin_loss",
                   lambda lib, r, a, p, n: f(lib).triplet_margin_loss(a, p, n, margin=2.0, reduction=r),
                   (normal(5, 4), normal(5, 4), normal(5, 4))),
    *per_reduction("triplet_margin_loss-p1-swap",
                   lambda lib, r, a, p, n: f(lib).triplet_margin_loss(a, p, n, margin=3.0, p=1, swap=True,
                                                                      reduction=r),
                   (normal(5, 4, scale=2), normal(5, 4, scale=2), normal(5, 4, scale=2))),
    Case("triplet_margin_loss-3d-broadcast",
         lambda lib, a, p, n: f(lib).triplet_margin_loss(a, p, n, margin=2.0, eps=1e-3, swap=True,
                                                         reduction="none"),
         (normal(2, 3, 4), normal(1, 3, 4), normal(2, 1, 4))),
    *per_reduction("poisson_nll_loss", lambda lib, r, x, t: f(lib).poisson_nll_loss(x, t, reduction=r),
                   (normal(4, 5), counts(4, 5)), constant=(1,)),
    *per_reduction("poisson_nll_loss-rates-full",
                   lambda lib, r, x, t: f(lib).poisson_nll_loss(x, t, log_input=False, full=True, reduction=r),
                   (uniform(4, 5, low=0.2, high=4), counts(4, 5)), constant=(1,)),
    Case("poisson_nll_loss-full-broadcast",
         lambda lib, x, t: f(lib).poisson_nll_loss(x, t, full=True, eps=1e-3, reduction="none"),
         (normal(3, 5), uniform(5, low=0.5, high=5))),
    *per_reduction("gaussian_nll_loss", lambda lib, r, x, t, v: f(lib).gaussian_nll_loss(x, t, v, reduction=r),
                   (normal(4, 3), normal(4, 3), uniform(4, 3, low=0.1, high=2))),
    *per_reduction("gaussian_nll_loss-full-var-per-row",
                   lambda lib, r, x, t, v: f(lib).gaussian_nll_loss(x, t, v, full=True, reduction=r),
                   (normal(4, 3), normal(4, 3), uniform(4, low=0.1, high=2))),
    Case("gaussian_nll_loss-var-size-1-dim", lambda lib, x, t, v: f(lib).gaussian_nll_loss(x, t, v, eps=0.05),
         (normal(2, 3, 4), normal(2, 3, 4), uniform(2, 1, 4, low=0.1, high=2))),
    Case("gaussian_nll_loss-target-broadcast", lambda lib, x, t, v: f(lib).gaussian_nll_loss(x, t, v),
         (normal(4, 3), normal(3), uniform(4, 1, low=0.1, high=2))),
]
IDS = [case.name for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck(case):
    if not case.true_gradient:
        pytest.skip("PyTorch's rule (a clamp in value only) is not the derivative here; compared with torch instead")
    arrays = case.arrays()
    inputs = [tg.Tensor(a, requires_grad=case.requires_grad(i, a)) for i, a in enumerate(arrays)]
    assert gradcheck(lambda *t: case.fn(tg, *t), inputs)


def compare_with_torch(case, device, dtype, rtol, atol):
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in case.arrays(seed=1)]
    ours = [tensor(a, device, requires_grad=case.requires_grad(i, a)) for i, a in enumerate(arrays)]
    theirs = [torch_tensor(a, requires_grad=case.requires_grad(i, a)) for i, a in enumerate(arrays)]
    out, expected = case.fn(tg, *ours), case.fn(import_torch(), *theirs)
    assert out.dtype == dtype and out.device == device
    assert_close(out, expected, rtol=rtol, atol=atol, what="output")
    g = np.random.default_rng(2).standard_normal(expected.shape).astype(dtype)
    out.backward(tensor(g, device))
    expected.backward(torch_tensor(g))
    for i, (mine, theirs_) in enumerate(zip(ours, theirs)):
        if theirs_.requires_grad:
            assert mine.grad.dtype == dtype
            assert_close(mine.grad, theirs_.grad, rtol=rtol, atol=atol, what=f"grad of input {i}")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_torch_float64(case, device):
    compare_with_torch(case, device, np.float64, case.rtol, 1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_torch_float32(case, device):
    compare_with_torch(case, device, np.float32, 2e-5, 1e-6)


# ---------------------------------------------------------------------------------------------------------------
# Small norms, zero norms, ties: PyTorch's exact behaviour there
# ---------------------------------------------------------------------------------------------------------------
def both(array, requires_grad=True):
    return tg.Tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad), \
        torch_tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def check_same(fn_ours, fn_theirs, arrays, weights_seed=3, constant=()):
    """fn on the same float64 inputs in both libraries: values, and gradients of a weighted sum of the output with
    respect to every input not in `constant`."""
    pairs = [both(a, requires_grad=i not in constant) for i, a in enumerate(arrays)]
    out, expected = fn_ours(*[p[0] for p in pairs]), fn_theirs(*[p[1] for p in pairs])
    assert_close(out, expected, rtol=1e-12, atol=0, what="output")
    w = np.random.default_rng(weights_seed).standard_normal(expected.shape)
    (out * tg.Tensor(w)).sum().backward()
    (expected * torch_tensor(w)).sum().backward()
    for i, (mine, theirs) in enumerate(pairs):
        if i in constant:
            continue
        assert np.isfinite(mine.grad.numpy()).all()
        assert_close(mine.grad, theirs.grad, rtol=1e-12, atol=0, what=f"grad of input {i}")


def test_cosine_similarity_small_and_zero_norms_like_torch():
    """PyTorch clamps each norm at eps in value only (under no_grad): a vector shorter than eps still sends its
    gradient through its own norm, and a zero vector gives cosine 0 with a finite gradient (no NaN)."""
    torch = import_torch()
    x1 = [[1e-9, 2e-9, 0.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [3e-9, -1.0, 2.0]]
    x2 = [[3.0, 4.0, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1e-10, 2e-10, -3e-10]]
    check_same(F.cosine_similarity, torch.nn.functional.cosine_similarity, [x1, x2])


def test_normalize_zero_and_tiny_rows_like_torch():
    """Below eps the denominator is eps, a constant: the gradient is the upstream gradient / eps, finite."""
    torch = import_torch()
    rows = [[0.0, 0.0, 0.0], [1e-13, 0.0, -2e-13], [1.0, -2.0, 3.0]]
    for p in (1, 2, 3, INF):
        check_same(lambda x, p=p: F.normalize(x, p=p), lambda x, p=p: torch.nn.functional.normalize(x, p=p), [rows])


def test_norm_of_zero_difference_has_zero_gradient_like_torch():
    """A distance that is exactly 0 has gradient 0 in PyTorch (a subgradient), where the chain rule gives 0/0."""
    torch = import_torch()
    x = [[1.0, 2.0], [3.0, 4.0]]
    for p in (1, 2, 3, 1.5):
        check_same(lambda a, b, p=p: F.pairwise_distance(a, b, p=p, eps=0.0),
                   lambda a, b, p=p: torch.nn.functional.pairwise_distance(a, b, p=p, eps=0.0), [x, x])
        check_same(lambda a, p=p: tg.cdist(a, a, p=p), lambda a, p=p: torch.cdist(a, a, p=p), [x])


def test_inf_norm_ties_share_the_gradient_like_torch():
    torch = import_torch()
    check_same(lambda a, b: F.pairwise_distance(a, b, p=INF, eps=0.0),
               lambda a, b: torch.nn.functional.pairwise_distance(a, b, p=INF, eps=0.0),
               [[[1.0, 2.0, 0.5]], [[3.0, 4.0, 0.0]]])
    check_same(lambda a: F.normalize(a, p=INF), lambda a: torch.nn.functional.normalize(a, p=INF),
               [[[2.0, -2.0, 1.0]]])


def test_p0_norm_counts_nonzeros_without_gradient():
    torch = import_torch()
    a, b = [[1.0, 2.0, 3.0], [0.0, 5.0, 3.0]], [[1.0, 0.0, 3.0]]
    check_same(lambda x, y: tg.cdist(x, y, p=0), lambda x, y: torch.cdist(x, y, p=0), [a, b])
    assert tg.cdist(tg.tensor(a), tg.tensor(b), p=0).tolist() == [[1.0], [2.0]]


def test_cdist_on_more_rows_than_torch_takes_differences_for():
    """Beyond 25 rows PyTorch computes p=2 from matrix products (||a||^2 - 2 a.b + ||b||^2); the differences used
    here agree with it to its rounding, and exactly with its difference-based mode."""
    torch = import_torch()
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((30, 4)), rng.standard_normal((27, 4))
    ours = tg.cdist(tg.tensor(a), tg.tensor(b))
    assert_close(ours, torch.cdist(torch_tensor(a), torch_tensor(b)), rtol=1e-9)
    assert_close(ours, torch.cdist(torch_tensor(a), torch_tensor(b), compute_mode="donot_use_mm_for_euclid_dist"),
                 rtol=1e-13)


def test_soft_margin_losses_stay_finite_where_torch_overflows():
    """PyTorch's soft_margin_loss computes log1p(exp(-y x)), inf (and a NaN gradient) once exp overflows; here
    softplus is computed as max(z, 0) + log(1 + exp(-|z|)), finite for every z, with the right gradient."""
    x = tg.tensor(np.array([1000.0, -1000.0, 0.0]), requires_grad=True)
    y = tg.tensor(np.array([-1.0, -1.0, 1.0]))
    loss = F.soft_margin_loss(x, y, reduction="none")
    assert_close(loss, [1000.0, 0.0, math.log(2.0)], rtol=1e-15)
    loss.sum().backward()
    assert_close(x.grad, [1.0, 0.0, -0.5], rtol=1e-15)
    big = tg.tensor(np.array([[800.0, -800.0]]), requires_grad=True)
    F.multilabel_soft_margin_loss(big, tg.tensor(np.array([[0.0, 1.0]]))).backward()
    assert_close(big.grad, [[0.5, -0.5]], rtol=1e-15)


def test_gaussian_nll_var_clamped_in_value_only_and_as_a_number():
    """var below eps counts as eps in the loss, but its gradient is that of the unclamped expression (PyTorch
    clamps under no_grad); a number var is one variance for every element."""
    torch = import_torch()
    x, t, v = [[0.5, -1.0], [2.0, 0.0]], [[0.0, 0.0], [1.0, 1.0]], [[1e-9, 0.5], [0.0, 2.0]]
    check_same(lambda a, b, c: F.gaussian_nll_loss(a, b, c, reduction="none"),
               lambda a, b, c: torch.nn.functional.gaussian_nll_loss(a, b, c, reduction="none"), [x, t, v])
    ours = F.gaussian_nll_loss(tg.tensor(np.array(x)), tg.tensor(np.array(t)), 0.7, full=True)
    expected = torch.nn.functional.gaussian_nll_loss(torch_tensor(np.array(x)), torch_tensor(np.array(t)), 0.7,
                                                     full=True)
    assert_close(ours, expected, rtol=1e-14)


def test_poisson_nll_full_with_zero_counts_has_finite_target_gradient():
    """The Stirling term is dropped where t <= 1; PyTorch computes t log t there first (NaN at t = 0, 0 * -inf)
    and its target gradient is NaN; here the term is computed on a stand-in value, so the gradient is 0."""
    torch = import_torch()
    x, t = [0.3, -0.2, 1.5, 0.0], [0.0, 1.0, 4.0, 1.5]
    check_same(lambda a, b: F.poisson_nll_loss(a, b, full=True, reduction="sum"),
               lambda a, b: torch.nn.functional.poisson_nll_loss(a, b, full=True, reduction="sum"), [x, t],
               constant=(1,))
    target = tg.tensor(np.array(t), requires_grad=True)
    F.poisson_nll_loss(tg.tensor(np.array(x)), target, full=True, reduction="sum").backward()
    # d/dt [-t x + t log t - t + log(2 pi t) / 2] = -x + log t + 1 / (2 t) where t > 1; -x elsewhere
    expected = [-0.3, 0.2, -1.5 + math.log(4.0) + 1 / 8, 0.0 + math.log(1.5) + 1 / 3]
    assert_close(target.grad, expected, rtol=1e-14)


# ---------------------------------------------------------------------------------------------------------------
# Modules, torch.cdist, the deprecated size_average/reduce
# ---------------------------------------------------------------------------------------------------------------
MODULES = [  # (name, constructor arguments, inputs)
    ("CosineSimilarity", dict(dim=0, eps=1e-6), (normal(5, 3), normal(5, 3))),
    ("PairwiseDistance", dict(p=1.0, eps=1e-4, keepdim=True), (normal(4, 3), normal(4, 3))),
    ("MarginRankingLoss", dict(margin=0.2, reduction="sum"), (normal(5), normal(5), signs(5))),
    ("HingeEmbeddingLoss", dict(margin=0.5), (normal(4, 3), signs(4, 3))),
    ("SoftMarginLoss", dict(reduction="none"), (normal(4, 3), signs(4, 3))),
    ("MultiLabelSoftMarginLoss", dict(weight="weight"), (normal(4, 3), uniform(4, 3))),
    ("MultiMarginLoss", dict(p=2, margin=0.7, weight="weight"), (margins_apart(4, 3), classes(4, 3))),
    ("CosineEmbeddingLoss", dict(margin=-0.2, reduction="none"), (normal(5, 3), normal(5, 3), signs(5))),
    ("TripletMarginLoss", dict(margin=1.5, p=3.0, eps=1e-5, swap=True), (normal(4, 3), normal(4, 3),
                                                                         normal(4, 3))),
    ("PoissonNLLLoss", dict(log_input=False, full=True, eps=1e-4), (uniform(4, 3, low=0.1, high=3),
                                                                     counts(4, 3))),
    ("GaussianNLLLoss", dict(full=True, eps=1e-3, reduction="sum"), (normal(4, 3), normal(4, 3),
                                                                     uniform(4, 1, low=0.1, high=1))),
]


@pytest.mark.parametrize("name, kwargs, inputs", MODULES, ids=[m[0] for m in MODULES])
def test_modules_match_torch(name, kwargs, inputs):
    torch = import_torch()
    rng = np.random.default_rng(0)
    arrays = [make(rng) for make in inputs]
    weight = rng.uniform(0.5, 2, size=3)
    ours = getattr(nn, name)(**{k: tg.tensor(weight) if v == "weight" else v for k, v in kwargs.items()})
    theirs = getattr(torch.nn, name)(**{k: torch_tensor(weight) if v == "weight" else v for k, v in kwargs.items()})
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    x_ours = [tg.tensor(a, requires_grad=i == 0) for i, a in enumerate(arrays)]
    x_theirs = [torch_tensor(a, requires_grad=i == 0) for i, a in enumerate(arrays)]
    out, expected = ours(*x_ours), theirs(*x_theirs)
    assert_close(out, expected, rtol=1e-10, what=name)
    out.sum().backward()
    expected.sum().backward()
    assert_close(x_ours[0].grad, x_theirs[0].grad, rtol=1e-10, atol=1e-12, what=f"{name}: grad of input 0")


def test_module_attributes_are_pytorchs():
    assert nn.PairwiseDistance(p=3.0).norm == 3.0  # PyTorch's name for p
    loss = nn.TripletMarginLoss(margin=2.0, p=1.0, eps=1e-3, swap=True)
    assert (loss.margin, loss.p, loss.eps, loss.swap, loss.reduction) == (2.0, 1.0, 1e-3, True, "mean")
    assert nn.MultiMarginLoss().p == 1 and nn.PoissonNLLLoss().log_input and not nn.GaussianNLLLoss().full


def test_cdist_is_a_torch_name():
    from tinygrad_bn.pytorch.twins import TORCH_NAMES
    assert TORCH_NAMES["cdist"] is tg.cdist
    x = tg.tensor(np.array([[0.0, 0.0], [3.0, 4.0]]))
    assert_close(tg.cdist(x, x), [[0.0, 5.0], [5.0, 0.0]], rtol=0)


@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")  # torch's own warning
@pytest.mark.parametrize("size_average, reduce", [(None, False), (False, None), (True, True), (False, True)])
def test_deprecated_size_average_and_reduce(size_average, reduce):
    torch = import_torch()
    rng = np.random.default_rng(0)
    a, b, y = rng.standard_normal(6), rng.standard_normal(6), rng.choice([-1.0, 1.0], 6)
    x, t = rng.standard_normal((4, 3)), rng.integers(0, 3, 4)
    calls = [
        lambda lib, *v: f(lib).margin_ranking_loss(*v, size_average=size_average, reduce=reduce),
        lambda lib, *v: f(lib).hinge_embedding_loss(v[0], v[2], size_average=size_average, reduce=reduce),
        lambda lib, *v: f(lib).soft_margin_loss(v[0], v[2], size_average=size_average, reduce=reduce),
        lambda lib, *v: f(lib).poisson_nll_loss(v[0], v[1].abs(), size_average=size_average, reduce=reduce),
        lambda lib, *v: f(lib).triplet_margin_loss(v[0][None], v[1][None], v[2][None], size_average=size_average,
                                                   reduce=reduce),
    ]
    for call in calls:
        assert_close(call(tg, tg.tensor(a), tg.tensor(b), tg.tensor(y)),
                     call(torch, torch_tensor(a), torch_tensor(b), torch_tensor(y)), rtol=1e-12)
    assert_close(F.multi_margin_loss(tg.tensor(x), tg.tensor(t), size_average=size_average, reduce=reduce),
                 torch.nn.functional.multi_margin_loss(torch_tensor(x), torch_tensor(t), size_average=size_average,
                                                       reduce=reduce), rtol=1e-12)
    assert nn.SoftMarginLoss(size_average, reduce).reduction == torch.nn.SoftMarginLoss(size_average, reduce).reduction


# ---------------------------------------------------------------------------------------------------------------
# Errors: the same exception type as PyTorch, with a message naming the value or shape
# ---------------------------------------------------------------------------------------------------------------
def arr(*shape, kind="f"):
    rng = np.random.default_rng(0)
    if kind == "i":
        return rng.integers(0, 3, size=shape)
    return rng.uniform(0.1, 1.0, size=shape)


ERRORS = [  # (name, fn(lib, wrap), exception type, a regex our message must match)
    ("cosine-shapes", lambda lib, w: f(lib).cosine_similarity(w(arr(3, 5)), w(arr(4, 5))), RuntimeError,
     r"\(3, 5\).*\(4, 5\)"),
    ("cosine-dim", lambda lib, w: f(lib).cosine_similarity(w(arr(5)), w(arr(5)), dim=1), IndexError, "dim 1"),
    ("cosine-int", lambda lib, w: f(lib).cosine_similarity(w(arr(2, 3, kind="i")), w(arr(2, 3, kind="i"))),
     RuntimeError, "int64"),
    ("pairwise-shapes", lambda lib, w: f(lib).pairwise_distance(w(arr(3, 5)), w(arr(4, 5))), RuntimeError,
     r"\(3, 5\).*\(4, 5\)"),
    ("cdist-1d", lambda lib, w: lib.cdist(w(arr(5)), w(arr(4, 5))), RuntimeError, "at least 2D"),
    ("cdist-columns", lambda lib, w: lib.cdist(w(arr(3, 5)), w(arr(4, 6))), RuntimeError, "X1: 5 X2: 6"),
    ("cdist-p", lambda lib, w: lib.cdist(w(arr(3, 5)), w(arr(4, 5)), p=-1), RuntimeError, "non-negative"),
    ("cdist-mode", lambda lib, w: lib.cdist(w(arr(3, 5)), w(arr(4, 5)), compute_mode="fast"), ValueError, "fast"),
    ("margin_ranking-dims", lambda lib, w: f(lib).margin_ranking_loss(w(arr(3)), w(arr(3)), w(arr())),
     RuntimeError, r"target: .*\(\)|target: torch.Size\(\[\]\)"),
    ("margin_ranking-reduction",
     lambda lib, w: f(lib).margin_ranking_loss(w(arr(3)), w(arr(3)), w(arr(3)), reduction="avg"), ValueError,
     "avg"),
    ("cosine_embedding-target-2d", lambda lib, w: f(lib).cosine_embedding_loss(w(arr(3, 4)), w(arr(3, 4)),
                                                                                w(arr(3, 1))),
     RuntimeError, "0D or 1D target"),
    ("cosine_embedding-input-dims", lambda lib, w: f(lib).cosine_embedding_loss(w(arr(3, 4)), w(arr(3, 4)),
                                                                                 w(arr())),
     RuntimeError, r"0D target tensor expects 1D input tensors.*\[3, 4\]"),
    ("triplet-margin", lambda lib, w: f(lib).triplet_margin_loss(w(arr(3, 4)), w(arr(3, 4)), w(arr(3, 4)),
                                                                  margin=0),
     ValueError, "got 0"),
    ("triplet-dims", lambda lib, w: f(lib).triplet_margin_loss(w(arr(3, 4)), w(arr(3, 4)), w(arr(4))),
     RuntimeError, "negative 1D"),
    ("poisson-reduction", lambda lib, w: f(lib).poisson_nll_loss(w(arr(3)), w(arr(3)), reduction="bad"),
     ValueError, "bad is not a valid value"),
    ("gaussian-var-size", lambda lib, w: f(lib).gaussian_nll_loss(w(arr(3, 4)), w(arr(3, 4)), w(arr(4))),
     ValueError, r"var is of incorrect size.*\(4,\)"),
    ("gaussian-var-two-dims", lambda lib, w: f(lib).gaussian_nll_loss(w(arr(3, 4)), w(arr(3, 4)), w(arr(1, 1))),
     ValueError, "var is of incorrect size"),
    ("gaussian-var-negative", lambda lib, w: f(lib).gaussian_nll_loss(w(arr(3)), w(arr(3)), w(-arr(3))),
     ValueError, "negative"),
    ("gaussian-var-negative-number", lambda lib, w: f(lib).gaussian_nll_loss(w(arr(3)), w(arr(3)), -0.5),
     ValueError, "negative"),
    ("gaussian-reduction", lambda lib, w: f(lib).gaussian_nll_loss(w(arr(3)), w(arr(3)), w(arr(3)), reduction="x"),
     ValueError, "x is not valid"),
    ("multilabel-reduction", lambda lib, w: f(lib).multilabel_soft_margin_loss(w(arr(3, 2)), w(arr(3, 2)),
                                                                                reduction="x"),
     ValueError, "'x'"),
    ("multi_margin-p", lambda lib, w: f(lib).multi_margin_loss(w(arr(3, 4)), w(arr(3, kind="i")), p=3),
     ValueError, "p == 1 and p == 2"),
    ("multi_margin-weight-2d", lambda lib, w: f(lib).multi_margin_loss(w(arr(3, 4)), w(arr(3, kind="i")),
                                                                        weight=w(arr(1, 4))),
     ValueError, "one-dimensional"),
    ("multi_margin-weight-size", lambda lib, w: f(lib).multi_margin_loss(w(arr(3, 4)), w(arr(3, kind="i")),
                                                                          weight=w(arr(3))),
     RuntimeError, r"expected 4 but got \[3\]"),
    ("multi_margin-target-range", lambda lib, w: f(lib).multi_margin_loss(w(arr(2, 3)), w(np.array([0, 3]))),
     RuntimeError, "target out of range.*0 to 3"),
    ("multi_margin-target-negative", lambda lib, w: f(lib).multi_margin_loss(w(arr(2, 3)), w(np.array([-1, 0]))),
     RuntimeError, "target out of range"),
    ("multi_margin-target-size", lambda lib, w: f(lib).multi_margin_loss(w(arr(3, 4)), w(arr(2, kind="i"))),
     RuntimeError, r"Expected target size \[3\], but got \[2\]"),
    ("multi_margin-3d", lambda lib, w: f(lib).multi_margin_loss(w(arr(2, 3, 4)), w(arr(2, kind="i"))),
     RuntimeError, r"\(2, 3, 4\)"),
    ("multi_margin-float-target", lambda lib, w: f(lib).multi_margin_loss(w(arr(3, 4)), w(arr(3))),
     RuntimeError, "float64"),
    ("MultiMarginLoss-p", lambda lib, w: lib.nn.MultiMarginLoss(p=3), ValueError, "p == 1 and p == 2"),
    ("TripletMarginLoss-margin", lambda lib, w: lib.nn.TripletMarginLoss(margin=-1.0), ValueError,
     "greater than 0"),
]


@pytest.mark.parametrize("name, fn, error, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_like_torch(name, fn, error, message):
    torch = import_torch()
    with pytest.raises(error):
        fn(torch, torch_tensor)
    with pytest.raises(error, match=message):
        fn(tg, tg.tensor)


def test_normalize_out_is_refused():
    with pytest.raises(TypeError, match="out="):
        F.normalize(tg.tensor(arr(2, 3)), out=tg.tensor(arr(2, 3)))
